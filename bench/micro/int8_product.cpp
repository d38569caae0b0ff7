// The int8 product of one step in isolation, on the calling thread: C[rows, N] = A[rows, K] @ W^T
// with W packed once by Int8Weights (csrc/core/int8_gemm.h) and A quantized at every call, as
// a frozen int8 layer's recurrent product runs. Prints microseconds per call (best of 5 rounds)
// and the weight bytes read per second. Built and run by bench/bench_kernels.py.
//
//   int8_product N K rows
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/int8_gemm.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: int8_product N K rows\n");
    return 2;
  }
  const int N = std::atoi(argv[1]), K = std::atoi(argv[2]), rows = std::atoi(argv[3]);
  std::mt19937 generator(1);
  std::normal_distribution<float> normal;
  std::vector<float> W(size_t(N) * K), A(size_t(rows) * K), C(size_t(rows) * N);
  for (float& w : W) w = normal(generator);
  for (float& a : A) a = normal(generator);
  const rnnfast::Int8Weights packed(W.data(), N, K, /*w_is_nk=*/true);
  const int calls = int(std::max(20.0, 2e8 / (double(N) * K * rows)));
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) {
      packed.multiply(rows, A.data(), K, C.data(), N, /*accumulate=*/false);
      A[0] += 1e-6f * C[1];  // each call depends on the last, as a step on the one before
    }
    const std::chrono::duration<double, std::micro> spent = std::chrono::steady_clock::now() - start;
    best = std::min(best, spent.count() / calls);
  }
  std::printf("int8 product N=%d K=%d rows=%d: %.3f us per call, %.1f GB/s of weights, %.1f "
              "GOP/s (%s)\n",
              N, K, rows, best, double(N) * K / best / 1e3, 2.0 * N * K * rows / best / 1e3,
              rnnfast::int8_kernel());
  return 0;
}
