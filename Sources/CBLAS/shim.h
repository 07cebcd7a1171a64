// OpenBLAS's cblas (all dense math) plus the LAPACK routines qaft calls (GPTQ's Cholesky).
#include <cblas.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
// Exported by OpenBLAS though absent from its headers: re-read OPENBLAS_* variables, stop the
// worker threads (the next threaded call starts them again, with what was read), and the spin
// timeout read (log2 of cycles).
void openblas_read_env(void);
int blas_thread_shutdown_(void);
int openblas_thread_timeout(void);

// LAPACK (Fortran ABI, bundled with OpenBLAS): Cholesky factorisation and inverse from it.
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s, float *u, const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork, int *iwork, int *info);
