// The per-step recurrent product C[rows, N] (= or +=) A[rows, K] @ W^T with W packed once per
// layer call and reused for all T steps. A BLAS call per step re-packs W every step (24% of an
// LSTM training step in the profile) and is tuned for larger matrices than one step's batch.
//
// Layout: W's N rows are cut into panels of kLanes (one 64-byte vector); panel p stores, for
// every k, the kLanes values W[p * kLanes + c][k] contiguously, zero-padded past N. The kernel
// keeps kRows x 1 vectors of C in registers and streams one panel per row block.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <vector>

#include "blas.h"

namespace rnnfast {

template <typename T>
struct Vec64;  // one 64-byte vector of T (AVX-512 register; split by the compiler elsewhere)
template <>
struct Vec64<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct Vec64<double> {
  typedef double type __attribute__((vector_size(64)));
};

template <typename T>
class PackedWeights {
 public:
  static constexpr int kLanes = int(64 / sizeof(T));
  static constexpr int kRows = 8;  // rows of C per register block: 8 independent FMA chains

  // W: [N, K] row-major (w_is_nk) or [K, N] row-major (its transpose); used as C = A @ W^T.
  PackedWeights(const T* W, int N, int K, bool w_is_nk)
      : N_(N), K_(K), panels_((N + kLanes - 1) / kLanes),
        data_(size_t(panels_) * K * kLanes, T(0)) {
    for (int n = 0; n < N; ++n) {
      T* dst = panel(n / kLanes) + n % kLanes;
      for (int k = 0; k < K; ++k)
        dst[size_t(k) * kLanes] = w_is_nk ? W[size_t(n) * K + k] : W[size_t(k) * N + n];
    }
  }

  // C[rows, N] (+)= A[rows, K] @ W^T; lda, ldc: leading dimensions of A and C.
  void multiply(int rows, const T* A, int lda, T* C, int ldc, bool accumulate) const {
    for (int p = 0; p < panels_; ++p) {  // panel outer: it stays in L1 across row blocks
      int r = 0;
      for (; r + kRows <= rows; r += kRows)
        block<kRows>(p, A + size_t(r) * lda, lda, C + size_t(r) * ldc, ldc, accumulate);
      dispatch_tail(rows - r, p, A + size_t(r) * lda, lda, C + size_t(r) * ldc, ldc, accumulate);
    }
  }

 private:
  using V = typename Vec64<T>::type;

  const T* panel(int p) const { return data_.data() + size_t(p) * K_ * kLanes; }
  T* panel(int p) { return data_.data() + size_t(p) * K_ * kLanes; }

  template <int R>
  void block(int p, const T* A, int lda, T* C, int ldc, bool accumulate) const {
    V acc[R];
    for (int r = 0; r < R; ++r) acc[r] = V{};
    const T* w = panel(p);
    for (int k = 0; k < K_; ++k) {
      V wk;
      std::memcpy(&wk, w + size_t(k) * kLanes, sizeof(V));
      for (int r = 0; r < R; ++r) acc[r] += A[size_t(r) * lda + k] * wk;
    }
    const int n0 = p * kLanes, width = std::min(kLanes, N_ - n0);
    for (int r = 0; r < R; ++r) {
      T* c = C + size_t(r) * ldc + n0;
      for (int j = 0; j < width; ++j) c[j] = accumulate ? c[j] + acc[r][j] : acc[r][j];
    }
  }

  void dispatch_tail(int rows, int p, const T* A, int lda, T* C, int ldc, bool acc) const {
    switch (rows) {
      case 7: return block<7>(p, A, lda, C, ldc, acc);
      case 6: return block<6>(p, A, lda, C, ldc, acc);
      case 5: return block<5>(p, A, lda, C, ldc, acc);
      case 4: return block<4>(p, A, lda, C, ldc, acc);
      case 3: return block<3>(p, A, lda, C, ldc, acc);
      case 2: return block<2>(p, A, lda, C, ldc, acc);
      case 1: return block<1>(p, A, lda, C, ldc, acc);
      default: return;
    }
  }

  int N_, K_, panels_;
  std::vector<T> data_;
};

// The recurrent product of every step, C (+)= A @ W^T, by whichever path suits the shape: the
// packed kernel when each thread multiplies a few rows per step (packing W once beats BLAS
// re-packing it every call), BLAS when the rows per call are many and its per-call packing is
// amortised (measured: B = 256 split over 2 threads, H = 1024).
template <typename T>
class RecurrentProduct {
 public:
  static constexpr int kMaxPackedRows = 64;

  // W: [N, K] (w_is_nk) or [K, N]; rows_per_call: the most rows one multiply() will get.
  RecurrentProduct(const T* W, int N, int K, bool w_is_nk, int rows_per_call)
      : W_(W), N_(N), K_(K), w_is_nk_(w_is_nk) {
    if (rows_per_call <= kMaxPackedRows) packed_.emplace(W, N, K, w_is_nk);
  }

  void multiply(int rows, const T* A, int lda, T* C, int ldc, bool accumulate) const {
    if (packed_) return packed_->multiply(rows, A, lda, C, ldc, accumulate);
    blas::gemm<T>(false, w_is_nk_, rows, N_, K_, T(1), A, lda, W_, w_is_nk_ ? K_ : N_,
                  accumulate ? T(1) : T(0), C, ldc);
  }

 private:
  const T* W_;
  int N_, K_;
  bool w_is_nk_;
  std::optional<PackedWeights<T>> packed_;  // W packed, when the packed kernel is used
};

}  // namespace rnnfast
