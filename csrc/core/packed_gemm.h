// The per-step recurrent product C[rows, N] (= or +=) A[rows, K] @ W^T with W packed once per
// layer call and reused for all T steps. A BLAS call per step re-packs W every step (24% of an
// LSTM training step in the profile) and is tuned for larger matrices than one step's batch.
//
// Layout: W's N rows are cut into panels of kWidth = kVectors 64-byte vectors; panel p stores,
// for every k, the kWidth values W[p * kWidth + c][k] contiguously, zero-padded past N. The
// kernel keeps a kRows x kVectors tile of C in registers (24 accumulators of the 32 AVX-512
// registers): per k it loads kVectors vectors of W and broadcasts kRows values of A, so the
// FMAs, not the loads, bound it. Measured on one core of the project machine at the grid's
// shapes: the former 8 x 1 tile (9 loads per 8 FMAs) ran at 55-60 GFLOP/s, this 6 x 4 tile at
// 85-130. Each output is one FMA chain over k = 0..K-1, in order, as before.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#include "bfloat16.h"
#include "blas.h"
#include "parallel.h"
#include "workspace.h"

namespace rnnfast {

// The register tile follows the vector registers the build's CPU level targets (CMakeLists.txt
// compiles this once per level). AVX-512: 32 registers of 64 bytes, a 6 x 4 tile (24
// accumulators). AVX2: 16 registers of 32 bytes, a 4 x 3 tile (12 accumulators, 3 loads of W
// and one broadcast); the AVX-512 tile there took 48 registers and spilled, running at ~10
// GFLOP/s on an AVX2 machine. The baseline (SSE, 16 registers of 16 bytes) keeps the 4 x 3
// tile with 16-byte vectors: 32-byte ones are split in two by the compiler and spilled
// (an LSTM ran 5.8x slower with them, measured).
//
// kFewRowsMaxPanels caps how many panels a tile shorter than kTileRows (a batch of 1 or 2)
// spans; see few_rows. At AVX-512, 2 panels (8 accumulators per row, enough FMA chains) beat
// the 6 that fill the registers: on an AMD Zen 4 core at batch 1, 6 panels ran an LSTM
// H = 1024 step at 8.7 ms per 50 steps, 2 panels at 5.8 (GRU 1024: 7.95 -> 3.9; bfloat16
// weights 8.5 -> 3.0) and below the AVX2 build's 7.2; batch 2 ran 2 panels as fast as 1 and
// faster than 3. Each row of a wide tile streams its own panel, and more concurrent streams
// than the prefetchers follow stall the loads. (The 6-panel tile was chosen on an Intel
// Xeon and has not been re-measured there.) AVX2's 4-panel tile was not slower there.
#if defined(__AVX512F__)
constexpr int kVectorBytes = 64, kTileRows = 6, kTileVectors = 4, kFewRowsMaxPanels = 2;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32, kTileRows = 4, kTileVectors = 3, kFewRowsMaxPanels = kTileRows;
#else
constexpr int kVectorBytes = 16, kTileRows = 4, kTileVectors = 3, kFewRowsMaxPanels = kTileRows;
#endif

template <typename T>
struct VecN;  // one vector register of T
template <>
struct VecN<float> {
  typedef float type __attribute__((vector_size(kVectorBytes)));
};
template <>
struct VecN<double> {
  typedef double type __attribute__((vector_size(kVectorBytes)));
};

// Rows [row, row + rows) of a weight matrix W, whose products go to C's columns
// [column, column + rows).
struct RowBlock {
  int row, rows, column;
};

// How a panel stores W: as T itself, or (T = float) as bfloat16, widened to float32 vectors
// as the kernel loads them. Everything else, the tile and its order of FMAs, is shared.
//   kVectors: vectors of C per row of a tile. slot(c): where column c of a panel's k-row sits.
//   load(row, out): the k-row's kVectors vectors, as T.
template <typename T, typename S>
struct WeightStorage {
  static constexpr int kVectors = kTileVectors;
  static constexpr int slot(int c) { return c; }
  static S narrow(T value) { return value; }
  template <typename V>
  static void load(const S* row, V* out) {
    constexpr int kLanes = int(sizeof(V) / sizeof(S));
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) std::memcpy(&out[v], row + v * kLanes, sizeof(V));
  }
};

// bf16 columns are stored in pairs of vectors, interleaved: the 32-bit lane i of a pair holds
// column i in its low half and column kLanes + i in its high half. One load then gives both
// vectors with one instruction each: the high columns are the lanes with the low half masked
// off (exactly the float whose top half they are), the low ones the lanes shifted up 16 bits.
// (A zero-extending load per vector took two, and GCC's generic conversion five.) The tile
// has an even number of vectors, so every k-row is whole pairs.
template <>
struct WeightStorage<float, BFloat16> {
  static constexpr int kLanes = kVectorBytes / 4;
  static constexpr int kVectors = kVectorBytes == 64 ? 4 : 2;
  static constexpr int slot(int c) {
    const int pair = c / (2 * kLanes), in_pair = c % (2 * kLanes);
    return pair * 2 * kLanes + (in_pair % kLanes) * 2 + in_pair / kLanes;
  }
  static BFloat16 narrow(float value) { return to_bfloat16(value); }

  template <typename V>
  static void load(const BFloat16* row, V* out) {
    typedef uint32_t Bits __attribute__((vector_size(kVectorBytes)));
#pragma GCC unroll 2
    for (int v = 0; v < kVectors; v += 2) {
      Bits bits;
      std::memcpy(&bits, row + v * kLanes, sizeof(Bits));
      const Bits top_halves = Bits{} + 0xFFFF0000u;
      const Bits low = bits << 16, high = bits & top_halves;
      std::memcpy(&out[v], &low, sizeof(V));
      std::memcpy(&out[v + 1], &high, sizeof(V));
    }
  }
};

// S: how the packed panels store W (T, or BFloat16 for a float32 layer served in bf16).
template <typename T, typename S = T>
class PackedWeights {
 public:
  static constexpr int kLanes = int(kVectorBytes / sizeof(T));
  using Storage = WeightStorage<T, S>;
  static constexpr int kVectors = Storage::kVectors;  // vectors of C per row in a tile
  static constexpr int kWidth = kVectors * kLanes;   // columns of W per panel
  static constexpr int kRows = kTileRows;            // rows of C per tile

  // W: [N, K] row-major (w_is_nk) or [K, N] row-major (its transpose); used as C = A @ W^T.
  PackedWeights(const T* W, int N, int K, bool w_is_nk) : PackedWeights(N, K) {
    pack_panels(W, w_is_nk, 0, panels_);
  }

  // Room for an [N, K] W, to be filled by pack_panels (threads may share the panels).
  PackedWeights(int N, int K) : PackedWeights({RowBlock{0, N, 0}}, K, N) {}

  // Room for blocks of rows of an [N, K] W (w_is_nk only), each block starting on a panel of
  // its own: C's columns are the blocks' `column`s, not W's row numbers. A column split packs
  // a thread's units of every gate block as one matrix, so a batch-1 step gets the wide tile
  // that four gates' panels together allow, where one gate's slice had a single panel.
  PackedWeights(const std::vector<RowBlock>& blocks, int K)
      : PackedWeights(blocks, K, /*kn_columns=*/0) {}

  // Packs panels [p0, p1) of W (as the constructor that made the room describes it).
  void pack_panels(const T* W, bool w_is_nk, int p0, int p1) {
    // A blocked transpose when W is [N, K]: for a block of kPackBlock values of k, each of a
    // panel's rows of W is read contiguously and written down the block, which stays in L1
    // (k outer, reading a value from each of kWidth rows 4 KiB apart per k, ran at ~1.6 GB/s).
    constexpr int kPackBlock = 64;
    for (int p = p0; p < p1; ++p) {
      const PanelSpan& span = spans_[p];
      S* dst = panel(p);
      for (int k0 = 0; k0 < K_; k0 += kPackBlock) {
        const int k1 = std::min(K_, k0 + kPackBlock);
        for (int c = 0; c < span.width; ++c) {
          if (w_is_nk) {
            const T* row = W + size_t(span.row + c) * K_;
            for (int k = k0; k < k1; ++k)
              dst[size_t(k) * kWidth + Storage::slot(c)] = Storage::narrow(row[k]);
          } else {
            for (int k = k0; k < k1; ++k)
              dst[size_t(k) * kWidth + Storage::slot(c)] =
                  Storage::narrow(W[size_t(k) * kn_columns_ + span.row + c]);
          }
        }
        for (int k = k0; k < k1; ++k)  // padding: the pool's blocks are not zeroed
          for (int c = span.width; c < kWidth; ++c)
            dst[size_t(k) * kWidth + Storage::slot(c)] = Storage::narrow(T(0));
      }
    }
  }

  // C[rows, N] (+)= A[rows, K] @ W^T; lda, ldc: leading dimensions of A and C.
  void multiply(int rows, const T* A, int lda, T* C, int ldc, bool accumulate) const {
    multiply_panels(0, panels_, rows, A, lda, C, ldc, accumulate);
  }

  // Columns of W (panels of kWidth rows of W), what threads split when rows are few.
  int panels() const { return panels_; }

  // The columns of C in panels [p0, p1) only: the same sums multiply() gives there, bit for
  // bit (each output is its own FMA chain, whichever call computes it).
  void multiply_panels(int p0, int p1, int rows, const T* A, int lda, T* C, int ldc,
                       bool accumulate) const {
    // K is cut into blocks so that a block of a panel and of A's rows stay in L2 while the
    // row tiles sweep them (unblocked, a K = 4096 panel is 1 MiB and the rows 2 MiB).
    for (int k0 = 0; k0 < K_; k0 += kKBlock) {
      const int k1 = std::min(K_, k0 + kKBlock);
      const Start start = k0 > 0 ? Start::kContinue : accumulate ? Start::kAdd : Start::kSet;
      if (rows < kRows) {  // small batches: one short tile, widened over panels
        few_rows<kRows - 1>(rows, p0, p1, k0, k1, A, lda, C, ldc, start);
        continue;
      }
      for (int p = p0; p < p1; ++p) {  // panel outer: it stays in cache across row tiles
        int r = 0;
        for (; r + kRows <= rows; r += kRows)
          tile<kRows>(p, k0, k1, A + size_t(r) * lda, lda, C + size_t(r) * ldc, ldc, start);
        tail<kRows - 1>(rows - r, p, k0, k1, A + size_t(r) * lda, lda, C + size_t(r) * ldc, ldc,
                        start);
      }
    }
  }

 private:
  using V = typename VecN<T>::type;
  static constexpr int kKBlock = 512;

  // How a tile's sums meet C: C = sums, C += sums, or (later K blocks) the sums start from C,
  // which continues each output's FMA chain exactly where the previous block left it.
  enum class Start { kSet, kAdd, kContinue };

  // Where panel p comes from and goes: W's rows [row, row + width) and C's columns
  // [column, column + width), width <= kWidth (the rest of the panel is zero padding).
  struct PanelSpan {
    int row, column, width;
  };

  static std::vector<PanelSpan> spans_of(const std::vector<RowBlock>& blocks) {
    std::vector<PanelSpan> spans;
    for (const RowBlock& block : blocks)
      for (int c = 0; c < block.rows; c += kWidth)
        spans.push_back({block.row + c, block.column + c, std::min(kWidth, block.rows - c)});
    return spans;
  }

  // kn_columns: W's row length when it comes as [K, N] (w_is_nk false); 0: [N, K] only.
  PackedWeights(const std::vector<RowBlock>& blocks, int K, int kn_columns)
      : K_(K),
        kn_columns_(kn_columns),
        spans_(spans_of(blocks)),
        panels_(int(spans_.size())),
        data_(size_t(panels_) * K * kWidth) {}

  const S* panel(int p) const { return data_.data() + size_t(p) * K_ * kWidth; }
  S* panel(int p) { return data_.data() + size_t(p) * K_ * kWidth; }

  // The loops over the tile are unrolled by hand-placed pragmas: without them GCC keeps the
  // accumulators in memory and the kernel runs 3x slower. A tile covers R rows of C and the
  // columns of P consecutive panels.
  template <int R, int P = 1>
  void tile(int p, int k0, int k1, const T* A, int lda, T* C, int ldc, Start start) const {
    constexpr int kAcc = P * kVectors;  // accumulators per row
    V acc[R][kAcc];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
      for (int v = 0; v < kAcc; ++v) acc[r][v] = V{};
    if (start == Start::kContinue) {
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < P; ++q) {
          const PanelSpan& span = spans_[p + q];
          std::memcpy(&acc[r][q * kVectors], C + size_t(r) * ldc + span.column,
                      sizeof(T) * span.width);
        }
    }
    const S* w[P];
    for (int q = 0; q < P; ++q) w[q] = panel(p + q);
    for (int k = k0; k < k1; ++k) {
      V wk[kAcc];
#pragma GCC unroll 16
      for (int q = 0; q < P; ++q) Storage::load(w[q] + size_t(k) * kWidth, &wk[q * kVectors]);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const T a = A[size_t(r) * lda + k];
#pragma GCC unroll 16
        for (int v = 0; v < kAcc; ++v) acc[r][v] += a * wk[v];
      }
    }
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < P; ++q) {
        const PanelSpan& span = spans_[p + q];
        T* c = C + size_t(r) * ldc + span.column;
        const T* tile_row = reinterpret_cast<const T*>(&acc[r][q * kVectors]);
        if (start == Start::kAdd) {
          for (int j = 0; j < span.width; ++j) c[j] += tile_row[j];
        } else {
          std::memcpy(c, tile_row, sizeof(T) * span.width);
        }
      }
  }

  // rows < kRows: a tile of exactly that height, over as many panels at once as keeps the
  // accumulators within a full tile's registers, and at most kFewRowsMaxPanels. At batch 1 a
  // one-panel tile has kVectors accumulator chains, too few to hide the FMA latency, so it ran
  // at half the rate the memory feeds; wider, each output is still one FMA chain over k in
  // order, so the width changes no result.
  template <int R>
  void few_rows(int rows, int p0, int p1, int k0, int k1, const T* A, int lda, T* C, int ldc,
                Start start) const {
    if constexpr (R >= 1) {
      if (rows != R) return few_rows<R - 1>(rows, p0, p1, k0, k1, A, lda, C, ldc, start);
      constexpr int kPanels = std::clamp(kRows / R, 1, kFewRowsMaxPanels);
      int p = p0;
      for (; p + kPanels <= p1; p += kPanels)
        tile<R, kPanels>(p, k0, k1, A, lda, C, ldc, start);
      if constexpr (kPanels > 2)  // the remaining panels two at a time while they last
        for (; p + 2 <= p1; p += 2) tile<R, 2>(p, k0, k1, A, lda, C, ldc, start);
      for (; p < p1; ++p) tile<R>(p, k0, k1, A, lda, C, ldc, start);
    }
  }

  // The last rows % kRows rows, by the tile of exactly that height.
  template <int R>
  void tail(int rows, int p, int k0, int k1, const T* A, int lda, T* C, int ldc,
            Start start) const {
    if constexpr (R >= 1) {
      if (rows == R) return tile<R>(p, k0, k1, A, lda, C, ldc, start);
      tail<R - 1>(rows, p, k0, k1, A, lda, C, ldc, start);
    }
  }

  int K_, kn_columns_;
  std::vector<PanelSpan> spans_;
  int panels_;
  PooledArray<S> data_;  // kept across calls by the pool: no fresh pages to fault in
};

// A float32 layer's weights stored as bfloat16 (inference only).
using BFloat16Weights = PackedWeights<float, BFloat16>;

// W packed with the panels shared among threads: packing the weights is part of every layer
// call, and at batch 1 it was most of one (16 MiB at H = 1024).
// Weights: any pack with PackedWeights' interface (a reduced-precision one too).
template <class Weights, typename T>
Weights pack_weights_in_parallel(const T* W, int N, int K, bool w_is_nk) {
  Weights packed(N, K);
  parallel_blocks(packed.panels(), 1, [&](int64_t p0, int64_t p1) {
    packed.pack_panels(W, w_is_nk, int(p0), int(p1));
  });
  return packed;
}

template <typename T>
PackedWeights<T> pack_in_parallel(const T* W, int N, int K, bool w_is_nk) {
  return pack_weights_in_parallel<PackedWeights<T>>(W, N, K, w_is_nk);
}

// The recurrent product of every step, C (+)= A @ W^T, by whichever path suits the shape: the
// packed kernel while each thread multiplies at most kMaxPackedRows rows per step (packing W
// once beats BLAS re-packing it every call), BLAS beyond, where its per-call packing is
// amortised. Measured single-threaded against OpenBLAS's SkylakeX SGEMM on the project
// machine: packed 85-107 vs 75-85 GFLOP/s at 128-256 rows (K = 1024, N = 3072-4096), level
// at 512 rows.
//
// Weights: the pack's kind. A reduced-precision one (bf16, int8) is always used, whatever the
// rows: BLAS multiplies float32 weights only.
template <typename T, class Weights = PackedWeights<T>>
class RecurrentProduct {
 public:
  static constexpr int kMaxPackedRows = 256;
  static constexpr bool kFullPrecision = std::is_same_v<Weights, PackedWeights<T>>;

  // W: [N, K] (w_is_nk) or [K, N]; rows_per_call: the most rows one multiply() will get.
  // prepacked: W packed beforehand as matrices whose columns together are all of C's (a
  // frozen layer's slices), used instead of packing here; null: pack here when needed.
  RecurrentProduct(const T* W, int N, int K, bool w_is_nk, int rows_per_call,
                   const std::vector<Weights>* prepacked = nullptr)
      : W_(W), N_(N), K_(K), w_is_nk_(w_is_nk) {
    if (kFullPrecision && rows_per_call > kMaxPackedRows) return;
    if (prepacked) {
      prepacked_ = prepacked;
    } else {
      packed_.emplace(pack_weights_in_parallel<Weights>(W, N, K, w_is_nk));
    }
  }

  void multiply(int rows, const T* A, int lda, T* C, int ldc, bool accumulate) const {
    if (packed_) return packed_->multiply(rows, A, lda, C, ldc, accumulate);
    if (prepacked_) {
      for (const Weights& part : *prepacked_) part.multiply(rows, A, lda, C, ldc, accumulate);
      return;
    }
    blas::gemm<T>(false, w_is_nk_, rows, N_, K_, T(1), A, lda, W_, w_is_nk_ ? K_ : N_,
                  accumulate ? T(1) : T(0), C, ldc);
  }

 private:
  const T* W_;
  int N_, K_;
  bool w_is_nk_;
  std::optional<Weights> packed_;  // W packed here, when the packed kernel is used
  const std::vector<Weights>* prepacked_ = nullptr;  // or W packed beforehand
};

}  // namespace rnnfast
