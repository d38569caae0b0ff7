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
//
// The rows are cut into chunks that depend on the shape only, never on the thread count, and
// each chunk is one BLAS call; threads share out the chunks. OpenBLAS's kernels on some CPUs
// (its Haswell kernel, which AVX2 CPUs get) round a row differently by its position in a call,
// so a split that followed the thread count would make results depend on it.
template <typename T>
void parallel_gemm(bool trans_a, bool trans_b, int M, int N, int K, T alpha, const T* A, int lda,
                   const T* B, int ldb, T beta, T* C, int ldc) {
  constexpr int64_t kMinChunkFlops = int64_t(1) << 21;  // below this a chunk is not worth it
  constexpr int64_t kMaxChunks = 8, kAlign = 16;
  if (M <= 0) return;  // no rows of C (an empty batch)
  const int64_t wanted = std::clamp<int64_t>(int64_t(M) * N * K / kMinChunkFlops, 1, kMaxChunks);
  const int64_t rows = (int64_t(M) + wanted - 1) / wanted;
  const int64_t chunk = (rows + kAlign - 1) / kAlign * kAlign;
  const int64_t chunks = (int64_t(M) + chunk - 1) / chunk;
  parallel_blocks(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t m0 = c * chunk, m1 = std::min<int64_t>(M, m0 + chunk);
      const T* A_block = A + (trans_a ? m0 : m0 * lda);
      gemm<T>(trans_a, trans_b, int(m1 - m0), N, K, alpha, A_block, lda, B, ldb, beta,
              C + m0 * ldc, ldc);
    }
  });
}

}  // namespace rnnfast::blas
