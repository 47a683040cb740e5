// Uses the installed headers and library: a 2x2 mimic_sgemm whose result is exact.
#include <stdio.h>

#include <mimic/mimic.h>

int main(void) {
    const float A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    const float want[4] = {19, 22, 43, 50};
    float C[4] = {0, 0, 0, 0};
    mimic_status st = mimic_sgemm('N', 'N', 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    if (st != MIMIC_OK) {
        fprintf(stderr, "mimic_sgemm: %s\n", mimic_status_str(st));
        return 1;
    }
    for (int i = 0; i < 4; i++) {
        if (C[i] != want[i]) {
            fprintf(stderr, "C[%d] = %g, want %g\n", i, (double)C[i], (double)want[i]);
            return 1;
        }
    }
    printf("consumer ok: mimic %s, isa %s\n", mimic_version(), mimic_isa_name(mimic_isa_active()));
    return 0;
}
