#include "CKernels.h"
#include <math.h>
#include <string.h>

// LSQ+ fake quantization and its backward (Methods' `LearnedStepQuantizer`), written as loops over
// 16 lanes that clang vectorizes for whatever vector width the build targets. Every lane does the
// same IEEE operations in the same order on every target, and the per-group sums run over the
// lanes in a fixed order, so results do not depend on the vector width. No operation may be fused
// behind the code's back (a fused g·Σ + dStep would round once instead of twice).
#pragma clang fp contract(off)

enum { LANES = 16 };

// One group's constants: step s, offset b, the zero z = −Q_N − b/s of the stored form s·(c − z).
typedef struct { float s, b, z, qn, qp; } lsq_group;

static inline lsq_group group_at(const float *step, const float *offset, long i, float qn, float qp) {
    lsq_group k = {step[i], offset[i], 0, qn, qp};
    k.z = -qn - k.b / k.s;
    return k;
}

// w̃ = round-half-even(clamp((w − b)/s, Q_N, Q_P)), the clamp as two ordered comparisons (a NaN
// passes through both, as the comparisons it fails leave it).
static inline float lsq_ratio(lsq_group k, float w) { return (w - k.b) / k.s; }
static inline float lsq_clamp_round(lsq_group k, float r) {
    float c = r < k.qn ? k.qn : r;
    c = c > k.qp ? k.qp : c;
    return rintf(c);
}
// s·((w̃ − Q_N) − z): PackedWeights' s·(c − z) with c the stored code.
static inline float lsq_dequantize(lsq_group k, float c) { return k.s * ((c - k.qn) - k.z); }

// The lanes a 16-wide vector starting at `j` holds of a group `group` long (the rest are padding
// that reads 0, as a zero-padded vector load).
static inline long lanes_at(long j, long group) { return group - j < LANES ? group - j : LANES; }

void qaft_lsq_fake_quantize(float *w, long groups, long group, const float *step, const float *offset,
                            float qn, float qp) {
    for (long i = 0; i < groups; i++) {
        lsq_group k = group_at(step, offset, i, qn, qp);
        float *p = w + i * group;
        for (long j = 0; j < group; j++) p[j] = lsq_dequantize(k, lsq_clamp_round(k, lsq_ratio(k, p[j])));
    }
}

void qaft_lsq_codes(const float *w, long groups, long group, const float *step, const float *offset,
                    float qn, float qp, uint8_t *codes) {
    for (long i = 0; i < groups; i++) {
        lsq_group k = group_at(step, offset, i, qn, qp);
        for (long j = 0; j < group; j++) codes[i * group + j] = (uint8_t)(lsq_clamp_round(k, lsq_ratio(k, w[i * group + j])) - qn);
    }
}

void qaft_lsq_backward(const float *w, long groups, long group, const float *step, const float *offset,
                       float qn, float qp, float g, const float *gradient, float *masked, float *quantized,
                       float *d_step, float *d_offset) {
    for (long i = 0; i < groups; i++) {
        lsq_group k = group_at(step, offset, i, qn, qp);
        const float *wp = w + i * group;
        const float *gp = gradient + i * group;
        float *mp = masked ? masked + i * group : 0, *qp_out = quantized ? quantized + i * group : 0;
        float ds[LANES] = {0}, db[LANES] = {0};
        for (long j = 0; j < group; j += LANES) {
            long n = lanes_at(j, group);
            float wv[LANES] = {0}, gv[LANES] = {0}, mg[LANES], wq[LANES];
            if (n == LANES) {  // the constant-size copies become vector loads
                memcpy(wv, wp + j, sizeof wv);
                memcpy(gv, gp + j, sizeof gv);
            } else {
                memcpy(wv, wp + j, (size_t)n * sizeof(float));
                memcpy(gv, gp + j, (size_t)n * sizeof(float));
            }
            for (int l = 0; l < LANES; l++) {
                float r = lsq_ratio(k, wv[l]), c = lsq_clamp_round(k, r);
                int inside = r >= qn && r <= qp;
                // ∂W_q/∂s: w̃ − w inside the grid, the clamp bound w̃ outside; ∂W_q/∂b: 1 outside.
                ds[l] = fmaf(gv[l], c - (inside ? r : 0.0f), ds[l]);
                db[l] = db[l] + (inside ? 0.0f : gv[l]);
                mg[l] = inside ? gv[l] : 0.0f;
                wq[l] = lsq_dequantize(k, c);
            }
            if (mp) memcpy(mp + j, mg, (size_t)n * sizeof(float));
            if (qp_out) memcpy(qp_out + j, wq, (size_t)n * sizeof(float));
        }
        float sum_s = -0.0f, sum_b = -0.0f;
        for (int l = 0; l < LANES; l++) {
            sum_s += ds[l];
            sum_b += db[l];
        }
        d_step[i] += g * sum_s;
        d_offset[i] += g * sum_b;
    }
}
