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
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "bfloat16.h"
#include "blas.h"
#include "cpu_features.h"
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

// The AVX-512 level also carries a bf16 kernel for CPUs with AVX512-BF16 (Cooper Lake,
// Sapphire Rapids, Zen 4 and later), chosen at run time.
#if defined(__AVX512F__)
#define RNNFAST_BF16_NATIVE 1
#endif

// Which bf16 kernel runs (show_config reports it).
inline const char* bfloat16_kernel() {
#if defined(RNNFAST_BF16_NATIVE)
  if (cpu_prefers_bf16_dot_products())
    return "avx512-bf16 (vdpbf16ps, 32 products per instruction)";
#endif
  if (kVectorBytes == 64) return "bf16 widened to float32 in 512-bit vectors";
  if (kVectorBytes == 32) return "bf16 widened to float32 in 256-bit vectors";
  return "bf16 widened to float32 in 128-bit vectors";
}

// How a panel stores W and how a tile multiplies it: as T itself, or (T = float) as bfloat16.
// Everything else, the tiles and how they cover C, is shared.
//   kVectors: vectors of C per row of a tile; kWidth: columns of W per panel.
//   stored_k(K): the k-rows a panel stores; offset(k, c): where W[column c][k] sits in one.
//   Operand: what A is read as; operand(A, ...): A in that form (lda: its row length).
//   sweep(acc, w, k0, k1, A, lda): acc[r] += A[r, k0:k1] @ the P panels w, k in order.
template <typename T, typename S>
struct WeightStorage {
  static constexpr int kVectors = kTileVectors;
  static constexpr int kLanes = int(kVectorBytes / sizeof(T));
  static constexpr int kWidth = kVectors * kLanes;
  using Operand = T;
  static constexpr int stored_k(int K) { return K; }
  static constexpr size_t offset(int k, int c) { return size_t(k) * kWidth + c; }
  static S narrow(T value) { return value; }

  static const T* operand(const T* A, int /*rows*/, int /*K*/, int& /*lda*/) { return A; }

  // One FMA chain per output over k in order.
  template <int R, int kAcc, int P, typename V>
  __attribute__((always_inline)) static void sweep(V (&acc)[R][kAcc], const S* const (&w)[P],
                                                   int k0, int k1, const T* A, int lda) {
    for (int k = k0; k < k1; ++k) {
      V wk[kAcc];
#pragma GCC unroll 16
      for (int v = 0; v < kAcc; ++v)
        std::memcpy(&wk[v], w[v / kVectors] + offset(k, (v % kVectors) * kLanes), sizeof(V));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const T a = A[size_t(r) * lda + k];
#pragma GCC unroll 16
        for (int v = 0; v < kAcc; ++v) acc[r][v] += a * wk[v];
      }
    }
  }
};

// bf16 panels store W in pairs of k-rows: the 32-bit lane c of pair-row k/2 holds W[c][k] in
// its high half and W[c][k + 1] in its low half (k even). That is vdpbf16ps's operand, and it
// adds the high product first: the order of a chain over k. A is rounded to bf16 too, in the
// same pairs, so every product is exact and every kernel sums the same values in the same
// order. Without the instruction one load gives both k-rows, one instruction each: the lanes
// with the low half masked off (exactly the float whose top half they are) and the lanes
// shifted up 16 bits.
template <>
struct WeightStorage<float, BFloat16> {
  static constexpr int kVectors = kVectorBytes == 64 ? 4 : 2;
  static constexpr int kLanes = kVectorBytes / 4;
  static constexpr int kWidth = kVectors * kLanes;
  using Operand = uint32_t;
  static constexpr int stored_k(int K) { return K + (K & 1); }  // whole pairs
  // The 32-bit lane of column c in pair-row i, and the bf16 of W[c][k] in it.
  static constexpr size_t pair_offset(int i, int c) { return size_t(i) * 2 * kWidth + 2 * c; }
  static constexpr size_t offset(int k, int c) { return pair_offset(k / 2, c) + 1 - (k & 1); }
  static BFloat16 narrow(float value) { return to_bfloat16(value); }

  // Whether vdpbf16ps runs here.
  static bool native() {
#if defined(RNNFAST_BF16_NATIVE)
    return cpu_prefers_bf16_dot_products();
#else
    return false;
#endif
  }

  // A's rows rounded to bf16, into a buffer of the calling thread that lives until its next
  // call, as the kernel reads them: for vdpbf16ps, pairs (bf16(a[k]) << 16 | bf16(a[k + 1]),
  // k even); for the widening kernel, the rounded floats (broadcast from memory). After an odd
  // K, a zero.
  static const uint32_t* operand(const float* A, int rows, int K, int& lda) {
    thread_local std::vector<uint32_t> words;
    const int n = stored_k(K);
    words.resize(size_t(rows) * n);
    const bool pairs = native();
    for (int r = 0; r < rows; ++r) {
      const float* a = A + size_t(r) * lda;
      uint32_t* out = words.data() + size_t(r) * (pairs ? n / 2 : n);
      if (pairs) {
        for (int i = 0; i < K / 2; ++i)
          out[i] = activation_bits(a[2 * i]) << 16 | activation_bits(a[2 * i + 1]);
        if (K & 1) out[n / 2 - 1] = activation_bits(a[K - 1]) << 16;
      } else {
        for (int k = 0; k < K; ++k) out[k] = activation_bits(a[k]) << 16;
        if (K & 1) out[K] = 0;
      }
    }
    lda = pairs ? n / 2 : n;
    return words.data();
  }

  template <int R, int kAcc, int P, typename V>
  __attribute__((always_inline)) static void sweep(V (&acc)[R][kAcc],
                                                   const BFloat16* const (&w)[P], int k0,
                                                   int k1, const uint32_t* A, int lda) {
#if defined(RNNFAST_BF16_NATIVE)
    if (native()) return sweep_native<R, kAcc, P>(acc, w, k0, k1, A, lda);
#endif
    typedef uint32_t Bits __attribute__((vector_size(kVectorBytes)));
    const Bits top_halves = Bits{} + 0xFFFF0000u;
    // The even k-row's products for every row of the tile, then the odd one's.
    auto half = [&](int i, bool even) __attribute__((always_inline)) {
      V wk[kAcc];
#pragma GCC unroll 16
      for (int v = 0; v < kAcc; ++v) {
        Bits bits;
        std::memcpy(&bits, w[v / kVectors] + pair_offset(i, (v % kVectors) * kLanes),
                    sizeof(Bits));
        bits = even ? bits & top_halves : bits << 16;
        std::memcpy(&wk[v], &bits, sizeof(V));
      }
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        float a;
        std::memcpy(&a, A + size_t(r) * lda + 2 * i + (even ? 0 : 1), sizeof a);
#pragma GCC unroll 16
        for (int v = 0; v < kAcc; ++v) acc[r][v] += a * wk[v];
      }
    };
    for (int i = k0 / 2; i < stored_k(k1) / 2; ++i) {
      half(i, true);
      half(i, false);
    }
  }

#if defined(RNNFAST_BF16_NATIVE)
  // One vdpbf16ps per vector and pair of k (compiled for AVX512-BF16, called only where
  // cpu_prefers_bf16_dot_products()). Local sums, copied in and out: the caller cannot
  // inline this function, and sums kept through the reference would live in memory.
  template <int R, int kAcc, int P, typename V>
  __attribute__((target("avx512bf16"))) static void sweep_native(
      V (&acc)[R][kAcc], const BFloat16* const (&w)[P], int k0, int k1, const uint32_t* A,
      int lda) {
    __m512 sums[R][kAcc];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < kAcc; ++v) sums[r][v] = __m512(acc[r][v]);
    for (int i = k0 / 2; i < stored_k(k1) / 2; ++i) {
      __m512i wk[kAcc];
#pragma GCC unroll 16
      for (int v = 0; v < kAcc; ++v)
        wk[v] = _mm512_loadu_si512(w[v / kVectors] + pair_offset(i, (v % kVectors) * kLanes));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const __m512i a = _mm512_set1_epi32(int(A[size_t(r) * lda + i]));
#pragma GCC unroll 16
        for (int v = 0; v < kAcc; ++v)
          sums[r][v] = _mm512_dpbf16_ps(sums[r][v], __m512bh(a), __m512bh(wk[v]));
      }
    }
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < kAcc; ++v) acc[r][v] = V(sums[r][v]);
  }
#endif
};

// S: how the packed panels store W (T, or BFloat16 for a float32 layer served in bf16).
template <typename T, typename S = T>
class PackedWeights {
 public:
  static constexpr int kLanes = int(kVectorBytes / sizeof(T));
  using Storage = WeightStorage<T, S>;
  using Operand = typename Storage::Operand;
  static constexpr int kVectors = Storage::kVectors;  // vectors of C per row in a tile
  static constexpr int kWidth = Storage::kWidth;     // columns of W per panel
  static constexpr int kRows = kTileRows;            // rows of C per tile
  static constexpr int kBytesPerWeight = int(sizeof(S));

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
            for (int k = k0; k < k1; ++k) dst[Storage::offset(k, c)] = Storage::narrow(row[k]);
          } else {
            for (int k = k0; k < k1; ++k)
              dst[Storage::offset(k, c)] =
                  Storage::narrow(W[size_t(k) * kn_columns_ + span.row + c]);
          }
        }
        for (int k = k0; k < k1; ++k)  // padding: the pool's blocks are not zeroed
          for (int c = span.width; c < kWidth; ++c)
            dst[Storage::offset(k, c)] = Storage::narrow(T(0));
      }
      for (int k = K_; k < Storage::stored_k(K_); ++k)  // the half of a last pair past K
        for (int c = 0; c < kWidth; ++c) dst[Storage::offset(k, c)] = Storage::narrow(T(0));
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
    // A as the panels' storage reads it (T: A itself).
    const Operand* operand = Storage::operand(A, rows, K_, lda);
    // K is cut into blocks so that a block of a panel and of A's rows stay in L2 while the
    // row tiles sweep them (unblocked, a K = 4096 panel is 1 MiB and the rows 2 MiB). The
    // blocks are even: a bf16 pair of k-rows is never split.
    for (int k0 = 0; k0 < K_; k0 += kKBlock) {
      const int k1 = std::min(K_, k0 + kKBlock);
      const Start start = k0 > 0 ? Start::kContinue : accumulate ? Start::kAdd : Start::kSet;
      if (rows < kRows) {  // small batches: one short tile, widened over panels
        few_rows<kRows - 1>(rows, p0, p1, k0, k1, operand, lda, C, ldc, start);
        continue;
      }
      for (int p = p0; p < p1; ++p) {  // panel outer: it stays in cache across row tiles
        int r = 0;
        for (; r + kRows <= rows; r += kRows)
          tile<kRows>(p, k0, k1, operand + size_t(r) * lda, lda, C + size_t(r) * ldc, ldc,
                      start);
        tail<kRows - 1>(rows - r, p, k0, k1, operand + size_t(r) * lda, lda,
                        C + size_t(r) * ldc, ldc, start);
      }
    }
  }

 private:
  using V = typename VecN<T>::type;
  static constexpr int kKBlock = 512;
  static_assert(kKBlock % 2 == 0);

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
        data_(panel_size() * panels_) {}

  size_t panel_size() const { return size_t(Storage::stored_k(K_)) * kWidth; }
  const S* panel(int p) const { return data_.data() + p * panel_size(); }
  S* panel(int p) { return data_.data() + p * panel_size(); }

  // The loops over the tile are unrolled by hand-placed pragmas: without them GCC keeps the
  // accumulators in memory and the kernel runs 3x slower. A tile covers R rows of C and the
  // columns of P consecutive panels.
  template <int R, int P = 1>
  void tile(int p, int k0, int k1, const Operand* A, int lda, T* C, int ldc,
            Start start) const {
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
    Storage::template sweep<R, kAcc, P>(acc, w, k0, k1, A, lda);
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
  void few_rows(int rows, int p0, int p1, int k0, int k1, const Operand* A, int lda, T* C,
                int ldc, Start start) const {
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
  void tail(int rows, int p, int k0, int k1, const Operand* A, int lda, T* C, int ldc,
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
