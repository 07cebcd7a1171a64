// Per-block int8 quantization of the decode activation vector, and its arrangement for the kernel.
#include "CKernels.h"

#include <math.h>
#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

void qaft_quantize_activations(const float *x, int cols, int padded_cols, int block_size,
                               int8_t *q, float *scale, int32_t *sum) {
    int blocks = (cols + block_size - 1) / block_size;
    for (int b = 0; b < blocks; ++b) {
        int start = b * block_size, end = start + block_size < cols ? start + block_size : cols;
        float amax = 0;
        for (int j = start; j < end; ++j) amax = fmaxf(amax, fabsf(x[j]));
        // |x_j · inv| ≤ 127 up to one rounding, so every q_j lies in −127…127 (never −128).
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        int32_t s = 0;
        int j = start;
#if defined(__AVX2__)
        // cvtps2dq rounds half to even (the default MXCSR mode), as nearbyintf does below.
        __m256 vinv = _mm256_set1_ps(inv);
        __m256i vs = _mm256_setzero_si256();
        for (; j + 16 <= end; j += 16) {
            __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), vinv));
            __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), vinv));
            vs = _mm256_add_epi32(vs, _mm256_add_epi32(a, c));
            // packs interleaves 128-bit lanes: the permute restores column order before the byte pack.
            __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a, c), 0xD8);
            _mm_storeu_si128((__m128i *)(q + j),
                             _mm_packs_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1)));
        }
        __m128i h = _mm_add_epi32(_mm256_castsi256_si128(vs), _mm256_extracti128_si256(vs, 1));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
        h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
        s = _mm_cvtsi128_si32(h);
#endif
        for (; j < end; ++j) {
            int8_t v = (int8_t)nearbyintf(x[j] * inv);
            q[j] = v;
            s += v;
        }
        scale[b] = amax / 127.0f;
        sum[b] = s;
    }
    memset(q + cols, 0, (size_t)(padded_cols - cols));
}

#if defined(__AVX2__)
/// Within a run of 16 columns, the column each kernel byte holds (see Int8GEMV.c for the planes).
/// 3 and 4 bits: four patterns (8-code unit u, low/high code of each byte pair), byte m = code
/// 8u + 2m (+1 for the high pattern). 2 bits: pattern t, byte m = code 4m + t. 8 bits: identity.
static const int8_t arrangement[3][16] = {
    {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15},
    {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
};

#endif

void qaft_arrange_activations(int bits, const int8_t *q, int padded_cols, int8_t *out) {
#if defined(__AVX2__)
    const int8_t *perm = arrangement[bits == 2 ? 0 : bits == 8 ? 2 : 1];
    __m128i control = _mm_loadu_si128((const __m128i *)perm);
    for (int j = 0; j < padded_cols; j += 16)
        _mm_storeu_si128((__m128i *)(out + j), _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(q + j)), control));
#else
    (void)bits;
    memcpy(out, q, (size_t)padded_cols);
#endif
}
