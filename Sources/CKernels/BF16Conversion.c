#include "CKernels.h"
#include <string.h>
#if defined(__AVX512BF16__) && defined(__AVX512F__)
#include <immintrin.h>
#endif

// Round to nearest even on the upper 16 bits: add 0x7FFF plus the lowest kept bit, truncate.
// A NaN could carry into the exponent or lose its payload's high bits, so it is made quiet instead.
// Subnormals become signed zeros, as vcvtne2ps2bf16 treats them, so both paths give the same bits.
static inline uint16_t bf16_round(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);
    if ((u & 0x7F800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static void convert_row(const float *in, long n, uint16_t *out) {
    long j = 0;
#if defined(__AVX512BF16__) && defined(__AVX512F__)
    for (; j + 32 <= n; j += 32) {
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + j + 16), _mm512_loadu_ps(in + j));
        _mm512_storeu_si512((void *)(out + j), (__m512i)v);
    }
    if (j < n) {
        long left = n - j;
        __mmask16 lo = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __mmask16 hi = left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
        __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, in + j + 16), _mm512_maskz_loadu_ps(lo, in + j));
        _mm512_mask_storeu_epi16(out + j, ((__mmask32)hi << 16) | lo, (__m512i)v);
        return;
    }
#endif
    for (; j < n; j++) out[j] = bf16_round(in[j]);
}

void qaft_f32_to_bf16(const float *in, long ld_in, long rows, long cols, uint16_t *out, long ld_out) {
    if (ld_in == cols && ld_out == cols) {
        convert_row(in, rows * cols, out);
        return;
    }
    for (long r = 0; r < rows; r++) convert_row(in + r * ld_in, cols, out + r * ld_out);
}

void qaft_bf16_to_f32(const uint16_t *in, long count, float *out) {
    uint32_t *bits = (uint32_t *)out;
    for (long i = 0; i < count; i++) bits[i] = (uint32_t)in[i] << 16;
}

void qaft_round_bf16_in_place(float *x, long count, uint16_t *bits) {
    // Blocks small enough to stay in L1 between the rounding and the expansion.
    for (long j = 0; j < count; j += 1024) {
        long n = count - j < 1024 ? count - j : 1024;
        convert_row(x + j, n, bits + j);
        qaft_bf16_to_f32(bits + j, n, x + j);
    }
}
