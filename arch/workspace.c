// Per-thread scratch buffers: one per slot, freed when the thread exits.
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "arch/workspace.h"

#define WS_ALIGN 64

typedef struct {
    float *buf[MIMIC_WS_COUNT];
    size_t cap[MIMIC_WS_COUNT];
} ws_set;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void ws_free(void *p)
{
    ws_set *set = p;
    for (int i = 0; i < MIMIC_WS_COUNT; i++)
        free(set->buf[i]);
    free(set);
}

static void ws_init(void)
{
    (void)pthread_key_create(&ws_key, ws_free);
}

float *mimic_workspace(mimic_ws_slot slot, size_t floats)
{
    (void)pthread_once(&ws_once, ws_init);
    ws_set *set = pthread_getspecific(ws_key);
    if (!set) {
        set = calloc(1, sizeof *set);
        if (!set || pthread_setspecific(ws_key, set) != 0) {
            free(set);
            return NULL;
        }
    }
    if (floats == 0)
        floats = 1;
    if (set->cap[slot] >= floats)
        return set->buf[slot];
    if (floats > (SIZE_MAX - WS_ALIGN) / sizeof(float))
        return NULL;
    // Round the byte count up to the alignment, as aligned_alloc requires.
    const size_t bytes = (floats * sizeof(float) + WS_ALIGN - 1) / WS_ALIGN * WS_ALIGN;
    float *p = aligned_alloc(WS_ALIGN, bytes);
    if (!p)
        return NULL;
    free(set->buf[slot]);
    set->buf[slot] = p;
    set->cap[slot] = bytes / sizeof(float);
    return p;
}
