// Names of status codes and the library version.
#include <mimic/mimic.h>

const char *mimic_status_str(mimic_status s)
{
    switch (s) {
    case MIMIC_OK: return "ok";
    case MIMIC_EINVAL: return "invalid argument";
    case MIMIC_ENOMEM: return "out of memory";
    case MIMIC_EUNSUPPORTED: return "unsupported on this CPU or build";
    case MIMIC_EIO: return "input/output error";
    case MIMIC_EFORMAT: return "corrupt or unexpected file format";
    }
    return "unknown status";
}

const char *mimic_version(void)
{
    return MIMIC_VERSION_STRING;
}
