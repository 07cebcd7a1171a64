// oneDNN (Debian libdnnl-dev, OpenMP runtime): the bf16 × bf16 → fp32 GEMM and CPU ISA query.
#include <stdint.h>
#include <oneapi/dnnl/dnnl.h>

// Exported by libdnnl (a C symbol oneDNN's own tests and frameworks declare) but absent from its
// public headers: C[M×N] = alpha · op(A) · op(B) + beta · C, row-major, bf16 operands as raw
// uint16 bit patterns, fp32 accumulation and output.
dnnl_status_t dnnl_gemm_bf16bf16f32(char transa, char transb, dnnl_dim_t M, dnnl_dim_t N, dnnl_dim_t K,
                                    float alpha, const uint16_t *A, dnnl_dim_t lda, const uint16_t *B,
                                    dnnl_dim_t ldb, float beta, float *C, dnnl_dim_t ldc);

// libgomp, oneDNN's threading runtime here: the thread count of the calling thread's next
// parallel region.
void omp_set_num_threads(int n);
