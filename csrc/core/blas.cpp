#include "blas.h"

#include <cblas.h>

#include <algorithm>

namespace rnnfast::blas {
namespace {

CBLAS_TRANSPOSE op(bool trans) { return trans ? CblasTrans : CblasNoTrans; }

// BLAS rejects zero-sized leading dimensions even when a matrix is empty; empty products
// (K == 0) must still apply beta, which OpenBLAS does not guarantee for every kernel.
template <typename T>
bool handle_degenerate(int M, int N, int K, T beta, T* C, int ldc) {
  if (M == 0 || N == 0) return true;
  if (K > 0) return false;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) C[m * ldc + n] = beta == T(0) ? T(0) : beta * C[m * ldc + n];
  return true;
}

}  // namespace

template <>
void gemm<float>(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  if (handle_degenerate(M, N, K, beta, C, ldc)) return;
  scipy_cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), M, N, K, alpha, A, lda, B, ldb,
                    beta, C, ldc);
}

template <>
void gemm<double>(bool trans_a, bool trans_b, int M, int N, int K, double alpha,
                  const double* A, int lda, const double* B, int ldb, double beta, double* C,
                  int ldc) {
  if (handle_degenerate(M, N, K, beta, C, ldc)) return;
  scipy_cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), M, N, K, alpha, A, lda, B, ldb,
                    beta, C, ldc);
}

std::string corename() { return scipy_openblas_get_corename(); }
std::string config() { return scipy_openblas_get_config(); }
int num_threads() { return scipy_openblas_get_num_threads(); }
void set_num_threads(int n) { scipy_openblas_set_num_threads(std::max(1, n)); }

}  // namespace rnnfast::blas
