// Packed low-bit codes × int8 activations for batch-1 decode (llama.cpp's Q8 activation idea).
//
// One 16-row tile at a time, as the float kernel: per group g and row r,
//   y_r += s_rg · d_g · (Σ_{j∈g} c_rj · q_j − z_rg · Σ_{j∈g} q_j),
// so the only float work is once per group; inside it, codes and activations meet in vpmaddubsw
// (unsigned code byte × signed activation byte, adjacent pairs summed to int16) and vpmaddwd
// (int16 pairs summed to int32).
//
// The layout already suits this: a 256-bit load of word k of a block holds one 32-bit word for
// each of 8 rows, so the int32 results stay one row per lane, and a plane — the word shifted and
// masked so that each byte holds one code — meets a 4-byte activation pattern broadcast to all
// lanes. `qaft_arrange_activations` stores those patterns in the order the planes are read.
#include "CKernels.h"

#include <string.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

int qaft_int8_gemv_supports(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

#if defined(__AVX2__)

static inline __attribute__((always_inline)) __m256i load(const uint8_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/// The 4-byte activation pattern at p in every lane.
static inline __attribute__((always_inline)) __m256i pattern(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

static inline __attribute__((always_inline)) __m256i bytes(int v) { return _mm256_set1_epi8((char)v); }

/// Σ code·q over a pair of planes whose bytes hold code pairs (2m, 2m+1) of an 8-code unit at
/// bits 0… and `shift`… of each byte (masked by `mask`): patterns p (even codes) and p + 4 (odd).
static inline __attribute__((always_inline)) __m256i pair_planes(__m256i v, int shift, int mask, const int8_t *p) {
    __m256i lo = _mm256_and_si256(v, bytes(mask));
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, shift), bytes(mask));
    return _mm256_add_epi16(_mm256_maddubs_epi16(lo, pattern(p)), _mm256_maddubs_epi16(hi, pattern(p + 4)));
}

/// A 3-bit 8-code unit (24 bits at the bottom of each lane) spread so that byte m holds codes 2m
/// and 2m+1 at bits 0–2 and 3–5: 12-bit halves to 16-bit halves, then 6-bit quarters to bytes.
static inline __attribute__((always_inline)) __m256i spread3(__m256i v) {
    __m256i a = _mm256_or_si256(_mm256_and_si256(v, _mm256_set1_epi32(0xFFF)),
                                _mm256_and_si256(_mm256_slli_epi32(v, 4), _mm256_set1_epi32(0x0FFF0000)));
    return _mm256_or_si256(_mm256_and_si256(a, _mm256_set1_epi32(0x003F003F)),
                           _mm256_and_si256(_mm256_slli_epi32(a, 2), _mm256_set1_epi32(0x3F003F00)));
}

/// Σ_j c_rj · q_j over one half chunk (16 codes) for 8 rows, as int32 lanes. `blk` points at the
/// block's first word for those rows (word k at blk + 64k); `p` at the half's 16 arranged
/// activations. Every int16 sum stays within ±15240 (no saturation): at most 8 products c·q with
/// c ≤ 15 and |q| ≤ 127.
static inline __attribute__((always_inline)) __m256i half_dot(int bits, const uint8_t *blk, int half, const int8_t *p) {
    const __m256i ones = _mm256_set1_epi16(1);
    switch (bits) {
    case 2: {
        // Word `half` holds the half's 16 codes; byte m holds codes 4m … 4m+3 at bits 0, 2, 4, 6.
        __m256i w = load(blk + 64 * half);
        __m256i s = _mm256_add_epi16(pair_planes(w, 2, 3, p), pair_planes(_mm256_srli_epi16(w, 4), 2, 3, p + 8));
        return _mm256_madd_epi16(s, ones);
    }
    case 3: {
        // Units 2·half and 2·half+1 (24 stream bits each) run across the three words.
        __m256i w0 = load(blk), w1 = load(blk + 64), w2 = load(blk + 128), u0, u1;
        if (half == 0) {
            u0 = w0;
            u1 = _mm256_or_si256(_mm256_srli_epi32(w0, 24), _mm256_slli_epi32(w1, 8));
        } else {
            u0 = _mm256_or_si256(_mm256_srli_epi32(w1, 16), _mm256_slli_epi32(w2, 16));
            u1 = _mm256_srli_epi32(w2, 8);
        }
        __m256i s = _mm256_add_epi16(pair_planes(spread3(u0), 3, 7, p), pair_planes(spread3(u1), 3, 7, p + 8));
        return _mm256_madd_epi16(s, ones);
    }
    case 4: {
        // Words 2·half and 2·half+1; byte m holds codes 2m, 2m+1 as nibbles.
        __m256i s = _mm256_add_epi16(pair_planes(load(blk + 128 * half), 4, 15, p),
                                     pair_planes(load(blk + 128 * half + 64), 4, 15, p + 8));
        return _mm256_madd_epi16(s, ones);
    }
    default: {
        // 8 bits: words 4·half … 4·half+3, byte m = code 4k+m. A code up to 255 would saturate the
        // int16 pair sum, so it is split into nibbles: Σ c·q = Σ lo·q + 16 · Σ hi·q.
        __m256i lo = _mm256_setzero_si256(), hi = lo;
        for (int k = 0; k < 4; ++k) {
            __m256i w = load(blk + 64 * (4 * half + k)), x = pattern(p + 4 * k);
            lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(_mm256_and_si256(w, bytes(15)), x));
            hi = _mm256_add_epi16(hi, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(w, 4), bytes(15)), x));
        }
        return _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, _mm256_set1_epi16(16)));
    }
    }
}

/// The tile loop for one width (a constant after inlining, so every switch above folds).
static inline __attribute__((always_inline)) void
gemv_tiles(int bits, const uint32_t *words, int rows, int chunks, int group_size, int groups,
           const float *lane_scales, const float *lane_zeros, const int8_t *xq, const float *x_scale,
           const int32_t *x_sum, int tile_begin, int tile_end, float *y) {
    const int block_bytes = 64 * bits;
    for (int t = tile_begin; t < tile_end; ++t) {
        const uint8_t *tile = (const uint8_t *)words + (size_t)t * chunks * block_bytes;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
        for (int g = 0; g < groups; ++g) {
            // Groups are whole half chunks; the last one also covers the zero padding codes.
            int half = g * group_size / 16, end = g == groups - 1 ? 2 * chunks : (g + 1) * group_size / 16;
            __m256i i0 = _mm256_setzero_si256(), i1 = i0;
            for (; half < end; ++half) {
                const uint8_t *blk = tile + (half >> 1) * block_bytes;
                const int8_t *p = xq + 16 * half;
                i0 = _mm256_add_epi32(i0, half_dot(bits, blk, half & 1, p));
                i1 = _mm256_add_epi32(i1, half_dot(bits, blk + 32, half & 1, p));
            }
            const float *s = lane_scales + ((size_t)t * groups + g) * 16, *z = lane_zeros + ((size_t)t * groups + g) * 16;
            __m256 d = _mm256_set1_ps(x_scale[g]), sq = _mm256_set1_ps((float)x_sum[g]);
            acc0 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(s), d),
                                   _mm256_fnmadd_ps(_mm256_loadu_ps(z), sq, _mm256_cvtepi32_ps(i0)), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(s + 8), d),
                                   _mm256_fnmadd_ps(_mm256_loadu_ps(z + 8), sq, _mm256_cvtepi32_ps(i1)), acc1);
        }
        int r0 = 16 * t;
        if (r0 + 16 <= rows) {
            _mm256_storeu_ps(y + r0, acc0);
            _mm256_storeu_ps(y + r0 + 8, acc1);
        } else {
            float out[16];
            _mm256_storeu_ps(out, acc0);
            _mm256_storeu_ps(out + 8, acc1);
            memcpy(y + r0, out, sizeof(float) * (size_t)(rows - r0));
        }
    }
}

void qaft_int8_gemv(const uint32_t *words, int bits, int rows, int chunks, int group_size, int groups,
                    const float *lane_scales, const float *lane_zeros,
                    const int8_t *xq, const float *x_scale, const int32_t *x_sum,
                    int tile_begin, int tile_end, float *y) {
#define QAFT_TILES(b) gemv_tiles(b, words, rows, chunks, group_size, groups, lane_scales, lane_zeros, xq, x_scale, x_sum, tile_begin, tile_end, y)
    switch (bits) {
    case 2: QAFT_TILES(2); break;
    case 3: QAFT_TILES(3); break;
    case 4: QAFT_TILES(4); break;
    default: QAFT_TILES(8); break;
    }
#undef QAFT_TILES
}

#else

/// Code j (0…31) of lane i in a block: `bits` words at a stride of 16 lanes, a little-endian stream.
static uint32_t code_at(const uint32_t *blk, int bits, int lane, int j) {
    int bit = bits * j, word = bit >> 5, offset = bit & 31;
    uint32_t v = blk[16 * word + lane] >> offset;
    if (offset + bits > 32) v |= blk[16 * (word + 1) + lane] << (32 - offset);
    return v & ((1u << bits) - 1);
}

void qaft_int8_gemv(const uint32_t *words, int bits, int rows, int chunks, int group_size, int groups,
                    const float *lane_scales, const float *lane_zeros,
                    const int8_t *xq, const float *x_scale, const int32_t *x_sum,
                    int tile_begin, int tile_end, float *y) {
    for (int t = tile_begin; t < tile_end; ++t) {
        for (int lane = 0; lane < 16 && 16 * t + lane < rows; ++lane) {
            float acc = 0;
            for (int g = 0; g < groups; ++g) {
                int c = g * group_size, end = g == groups - 1 ? 32 * chunks : (g + 1) * group_size;
                int32_t dot = 0;
                for (; c < end; ++c)
                    dot += (int32_t)code_at(words + ((size_t)t * chunks + c / 32) * bits * 16, bits, lane, c % 32) * xq[c];
                size_t p = ((size_t)t * groups + g) * 16 + lane;
                acc += lane_scales[p] * x_scale[g] * ((float)dot - lane_zeros[p] * (float)x_sum[g]);
            }
            y[16 * t + lane] = acc;
        }
    }
}

#endif
