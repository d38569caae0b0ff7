// Thin typed wrapper over the packaged OpenBLAS (scipy_openblas32, symbols prefixed `scipy_`).
// Row-major everywhere; C = alpha * op(A) @ op(B) + beta * C with op = transpose when flagged.
#pragma once

#include <string>

namespace rnnfast::blas {

template <typename T>
void gemm(bool trans_a, bool trans_b, int M, int N, int K, T alpha, const T* A, int lda,
          const T* B, int ldb, T beta, T* C, int ldc);

std::string corename();   // CPU kernel OpenBLAS selected at load time, e.g. "SkylakeX"
std::string config();     // OpenBLAS build configuration string
int num_threads();        // threads OpenBLAS uses for one call (1: OpenMP drives threads)
void set_num_threads(int n);

}  // namespace rnnfast::blas

#include <algorithm>
#include <cstdint>

#include "parallel.h"

namespace rnnfast::blas {

// gemm with the M rows of C split across OpenMP threads (each block a single-threaded BLAS
// call). Used for the large GEMMs outside the time loop.
template <typename T>
void parallel_gemm(bool trans_a, bool trans_b, int M, int N, int K, T alpha, const T* A, int lda,
                   const T* B, int ldb, T beta, T* C, int ldc) {
  constexpr int64_t kMinBlockFlops = int64_t(1) << 21;  // below this a thread is not worth it
  const int64_t grain = std::max<int64_t>(8, kMinBlockFlops / (int64_t(N) * K + 1));
  parallel_blocks(M, grain, [&](int64_t m0, int64_t m1) {
    const T* A_block = A + (trans_a ? m0 : m0 * lda);
    gemm<T>(trans_a, trans_b, int(m1 - m0), N, K, alpha, A_block, lda, B, ldb, beta,
            C + m0 * ldc, ldc);
  });
}

}  // namespace rnnfast::blas
