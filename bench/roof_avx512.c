// FMA roof for AVX-512: independent zmm FMA chains, enough to cover latency x pipes.
#include <immintrin.h>

#include "roof.h"

double bench_fma_loop_avx512(long iters)
{
    __m512 v0 = _mm512_set1_ps(0.0f), v1 = _mm512_set1_ps(0.1f), v2 = _mm512_set1_ps(0.2f);
    __m512 v3 = _mm512_set1_ps(0.3f), v4 = _mm512_set1_ps(0.4f), v5 = _mm512_set1_ps(0.5f);
    __m512 v6 = _mm512_set1_ps(0.6f), v7 = _mm512_set1_ps(0.7f), v8 = _mm512_set1_ps(0.8f);
    __m512 v9 = _mm512_set1_ps(0.9f), v10 = _mm512_set1_ps(1.0f), v11 = _mm512_set1_ps(1.1f);
    // x * 1 + 0 keeps the values fixed: no overflow, no denormals, however long the loop.
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (long i = 0; i < iters; i++) {
        v0 = _mm512_fmadd_ps(v0, one, zero);
        v1 = _mm512_fmadd_ps(v1, one, zero);
        v2 = _mm512_fmadd_ps(v2, one, zero);
        v3 = _mm512_fmadd_ps(v3, one, zero);
        v4 = _mm512_fmadd_ps(v4, one, zero);
        v5 = _mm512_fmadd_ps(v5, one, zero);
        v6 = _mm512_fmadd_ps(v6, one, zero);
        v7 = _mm512_fmadd_ps(v7, one, zero);
        v8 = _mm512_fmadd_ps(v8, one, zero);
        v9 = _mm512_fmadd_ps(v9, one, zero);
        v10 = _mm512_fmadd_ps(v10, one, zero);
        v11 = _mm512_fmadd_ps(v11, one, zero);
    }
    const __m512 s = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(v0, v1), _mm512_add_ps(v2, v3)),
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(v4, v5), _mm512_add_ps(v6, v7)),
                      _mm512_add_ps(_mm512_add_ps(v8, v9), _mm512_add_ps(v10, v11))));
    return (double)_mm512_reduce_add_ps(s);
}
