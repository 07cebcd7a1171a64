#ifndef QAFT_CKERNELS_H
#define QAFT_CKERNELS_H

#include <stdint.h>

/// Integer-SIMD kernels for batch-1 decode on packed low-bit weights (layout: Quantization's
/// `BitPacking`), with the activation vector quantized to int8 per block. Written in C because
/// Swift cannot reach vpmaddubsw: its SIMD integer conversions and even/odd lane sums compile to
/// out-of-line calls and scalar loops. Built with -march=native on release; without AVX2 every
/// function falls back to a portable scalar form with the same integer results.

/// x[cols] to int8 per block of `block_size` columns (the last block may be short):
/// amax = max |x_j|, scale = amax / 127, q_j = round-half-even(x_j · (127 / amax)) (0 for an all-zero
/// block), sum = Σ q_j. Writes q[0..<padded_cols] (zero past cols), scale[blocks], sum[blocks].
void qaft_quantize_activations(const float *x, int cols, int padded_cols, int block_size,
                               int8_t *q, float *scale, int32_t *sum);

/// The order the kernel reads int8 activations in: within each run of 16 columns, the permutation
/// that lines x up with the bytes the `bits`-wide codes are unpacked into (identity for the scalar
/// form). q and out hold padded_cols bytes (a multiple of 32).
void qaft_arrange_activations(int bits, const int8_t *q, int padded_cols, int8_t *out);

/// Whether `qaft_int8_gemv` has an integer kernel for this code width (2, 3, 4 and 8 bits).
int qaft_int8_gemv_supports(int bits);

/// y[r] = Σ_g s[r,g] · d_g · (Σ_{j∈g} c[r,j] · q_j − z[r,g] · Σ_{j∈g} q_j) for the rows of tiles
/// [tile_begin, tile_end) (y indexed by row; rows ≥ `rows` are not written).
/// words: packed codes (`chunks` 32-column chunks per tile); lane_scales, lane_zeros: the
/// (tile, group, lane) parameters; xq: `qaft_arrange_activations` output for the same bits; x_scale,
/// x_sum: per group, as `qaft_quantize_activations` computed them with block = group size.
void qaft_int8_gemv(const uint32_t *words, int bits, int rows, int chunks, int group_size, int groups,
                    const float *lane_scales, const float *lane_zeros,
                    const int8_t *xq, const float *x_scale, const int32_t *x_sum,
                    int tile_begin, int tile_end, float *y);

/// bf16 operands for the mixed-precision GEMM: out[r·ld_out + c] = bf16(in[r·ld_in + c]) for r < rows,
/// c < cols, rounded to nearest, ties to even (NaN stays a quiet NaN, overflow rounds to ±inf as IEEE
/// rounding gives, subnormal inputs become signed zeros — what the AVX512_BF16 instruction does). With AVX512_BF16 (release builds on such a CPU) 32 values per vcvtne2ps2bf16;
/// otherwise the same rounding by integer arithmetic.
void qaft_f32_to_bf16(const float *in, long ld_in, long rows, long cols, uint16_t *out, long ld_out);

/// The fp32 value of each of `count` bf16 bit patterns (exact: the bits shifted into the high half).
void qaft_bf16_to_f32(const uint16_t *in, long count, float *out);

/// bits[i] = bf16(x[i]) as qaft_f32_to_bf16 rounds, and x[i] = its fp32 value, in one pass over x.
void qaft_round_bf16_in_place(float *x, long count, uint16_t *bits);

/// LSQ+ fake quantization in place over `groups` consecutive groups of `group` weights, group i
/// with step[i] and offset[i]: w ← s·((w̃ − Q_N) − z), w̃ = round-half-even(clamp((w − b)/s, qn, qp)),
/// z = −qn − b/s (Methods' `LearnedStepQuantizer`, which documents the math).
void qaft_lsq_fake_quantize(float *w, long groups, long group, const float *step, const float *offset,
                            float qn, float qp);

/// The stored codes w̃ − qn of the same groups.
void qaft_lsq_codes(const float *w, long groups, long group, const float *step, const float *offset,
                    float qn, float qp, uint8_t *codes);

/// The STE backward of the same groups: d_step[i] += g·Σ ∂L/∂W_q·∂W_q/∂s and d_offset[i] += g·Σ
/// ∂L/∂W_q·∂W_q/∂b, each sum taken over 16 lanes (lane l holding elements l, l + 16, …, accumulated
/// with fused multiply–adds for s) and the lanes then added in order from −0. With `masked` (may
/// equal gradient), M ⊙ gradient is written there; with `quantized` (may equal w), W_q.
void qaft_lsq_backward(const float *w, long groups, long group, const float *step, const float *offset,
                       float qn, float qp, float g, const float *gradient, float *masked, float *quantized,
                       float *d_step, float *d_offset);

#endif
