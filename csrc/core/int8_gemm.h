// C[rows, N] = A[rows, K] @ W^T with W quantized to int8 once (per output row: a scale, the
// row's largest |w| over 127) and each row of A quantized when it is multiplied (dynamic
// quantization, as torch's quantize_dynamic does): 7-bit unsigned values with a zero point,
// scale and zero point per row, so a sample's result does not depend on the rest of its batch.
// The int8 x uint7 products are summed exactly in int32; only the final scaling is float:
//   C[r, j] = scale_a[r] * scale_w[j] * (sum_k qa[r, k] * qw[j, k] - zero[r] * sum_k qw[j, k]).
// The integer sums are the same on every CPU level, so the portable kernel and the AVX2 one
// give identical outputs.
//
// Why 7 bits for A: AVX2's vpmaddubsw multiplies unsigned by signed bytes and adds pairs into
// int16 with saturation; 2 * 127 * 127 fits, 2 * 255 * 127 would not (fbgemm's reduce_range).
//
// Layout: W's rows are cut into panels of kWidth = 8 (one 32-byte vector of int32 sums); a
// panel holds, for every quad of k, the 4 bytes of each of its 8 rows: 32 bytes per quad.
// A quad of a row of A is broadcast to all 8 lanes, so one vpmaddubsw + vpmaddwd gives each
// lane its row's 4 products: no horizontal sums. Panels are stored in groups of kGroup,
// interleaved by quad: a group's quad k is kGroup * 32 contiguous bytes (the last group has
// fewer panels, so a shorter stride). A batch-1 tile over a group then reads one stream, not
// kGroup streams 2 KiB apart (as many streams as the prefetchers follow): on one AMD Zen 5
// core, the [512, 256] product of one thread's share of an LSTM H = 256 step took 1.46 us
// with a stream per panel and 0.92 us interleaved, with the 512-bit kernel below (the
// weights in L2 either way; the loop alone, 256-bit, interleaved: 0.93 us against 1.2).
//
// The same interface as PackedWeights<float> (packed_gemm.h), so a layer's packs can be either.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "cpu_features.h"
#include "packed_gemm.h"
#include "parallel.h"
#include "workspace.h"

namespace rnnfast {

// The AVX-512 level also carries a kernel for CPUs with AVX512-VNNI (Cascade Lake, Ice Lake,
// Sapphire Rapids, Zen 4 and later), chosen at run time: vpdpbusd does vpmaddubsw + vpmaddwd
// + vpaddd in one instruction, on the same 7-bit activations (it would not saturate on 8
// bits, but the integer sums stay those of every other kernel). Two neighbouring panels of a
// group are one 64-byte vector, so it multiplies them with one 512-bit instruction.
#if defined(__AVX512F__) && defined(__AVX512VL__)
#define RNNFAST_INT8_VNNI 1
#endif

// Which int8 kernel runs (show_config reports it).
inline const char* int8_kernel() {
#if defined(RNNFAST_INT8_VNNI)
  if (cpu_has_avx512vnni()) return "avx512-vnni (vpdpbusd, 64 products per instruction)";
#endif
#if defined(__AVX2__)
  return "avx2 (vpmaddubsw, 32 products per instruction)";
#else
  return "portable (scalar int32 sums)";
#endif
}

// One row of A quantized: q[k] = clamp(rint(a[k] / scale) + zero, 0, 127), zero included in
// the range so that a zero input is exact.
struct QuantizedRow {
  float scale;
  int32_t zero;
};

// The row's range, zero included.
inline void row_range(const float* a, int K, float& lo, float& hi) {
  lo = 0.0f;
  hi = 0.0f;
  int k = 0;
#if defined(__AVX2__)
  __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
  for (; k + 8 <= K; k += 8) {
    const __m256 v = _mm256_loadu_ps(a + k);
    vlo = _mm256_min_ps(vlo, v);
    vhi = _mm256_max_ps(vhi, v);
  }
  alignas(32) float lanes_lo[8], lanes_hi[8];
  _mm256_store_ps(lanes_lo, vlo);
  _mm256_store_ps(lanes_hi, vhi);
  for (int i = 0; i < 8; ++i) {
    lo = std::min(lo, lanes_lo[i]);
    hi = std::max(hi, lanes_hi[i]);
  }
#endif
  for (; k < K; ++k) {
    lo = std::min(lo, a[k]);
    hi = std::max(hi, a[k]);
  }
}

inline QuantizedRow quantize_row(const float* a, int K, int quads, uint8_t* q) {
  float lo, hi;
  row_range(a, K, lo, hi);
  constexpr float kLevels = 127.0f;
  const float scale = hi > lo ? (hi - lo) / kLevels : 1.0f;
  const float inverse = 1.0f / scale;
  const int32_t zero = int32_t(std::clamp(std::nearbyint(-lo * inverse), 0.0f, kLevels));
  int k = 0;
#if defined(__AVX2__)
  // 32 values at a time: rounded to nearest even as nearbyint does (the default rounding
  // mode), shifted by the zero point, clamped, packed to bytes (the packs interleave the
  // 128-bit lanes; the permutation puts them back in order).
  const __m256 v_inverse = _mm256_set1_ps(inverse);
  const __m256i v_zero = _mm256_set1_epi32(zero), v_top = _mm256_set1_epi32(127);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  auto quantized = [&](int at) {
    const __m256i v = _mm256_add_epi32(
        _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + at), v_inverse)), v_zero);
    return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_setzero_si256()), v_top);
  };
  for (; k + 32 <= K; k += 32) {
    const __m256i low = _mm256_packs_epi32(quantized(k), quantized(k + 8));
    const __m256i high = _mm256_packs_epi32(quantized(k + 16), quantized(k + 24));
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(low, high), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k), bytes);
  }
#endif
  for (; k < K; ++k) {
    const int32_t v = int32_t(std::nearbyint(a[k] * inverse)) + zero;
    q[k] = uint8_t(std::clamp(v, 0, 127));
  }
  for (; k < quads * 4; ++k) q[k] = 0;  // meets zero weights: adds nothing
  return {scale, zero};
}

// One row of W quantized symmetrically: q[k] = clamp(rint(w[k] / scale), -127, 127) with
// scale = max |w| / 127 (1 for a row of zeros); returns the scale. The packer and the
// exporters (through the bindings) share it, so an exported model holds exactly the integers
// rnnfast multiplies.
inline float quantize_weight_row(const float* w, int K, int8_t* q) {
  float largest = 0.0f;
  for (int k = 0; k < K; ++k) largest = std::max(largest, std::fabs(w[k]));
  const float scale = largest > 0.0f ? largest / 127.0f : 1.0f;
  const float inverse = 1.0f / scale;
  for (int k = 0; k < K; ++k)
    q[k] = int8_t(std::clamp(int32_t(std::nearbyint(w[k] * inverse)), -127, 127));
  return scale;
}

class Int8Weights {
 public:
  static constexpr int kWidth = 8;  // rows of W (columns of C) per panel
  static constexpr int kGroup = 8;  // panels interleaved by quad (see the layout above)
  static constexpr int kLanes = 8;  // what a column split aligns its slices to
  static constexpr int kMaxK = 1 << 17;  // int32 sums of K products of 127 * 127 do not overflow
  static constexpr int kBytesPerWeight = 1;

  Int8Weights(const float* W, int N, int K, bool w_is_nk) : Int8Weights(N, K) {
    pack_panels(W, w_is_nk, 0, panels_);
  }
  Int8Weights(int N, int K) : Int8Weights({RowBlock{0, N, 0}}, K) {}
  Int8Weights(const std::vector<RowBlock>& blocks, int K)
      : K_(K), quads_((K + 3) / 4), spans_(spans_of(blocks)), panels_(int(spans_.size())),
        data_(size_t(panels_) * quads_ * 32),
        scales_(size_t(panels_) * kWidth),
        sums_(size_t(panels_) * kWidth) {
    if (K > kMaxK) throw std::invalid_argument("int8 weights: at most 131072 inputs per row");
  }

  // Quantizes and packs panels [p0, p1) of an [N, K] row-major W (w_is_nk must be true: the
  // scale is per row of W).
  void pack_panels(const float* W, bool w_is_nk, int p0, int p1) {
    if (!w_is_nk) throw std::invalid_argument("int8 weights are packed from [N, K] rows");
    std::vector<int8_t> row(K_);
    for (int p = p0; p < p1; ++p) {
      const Span& span = spans_[p];
      int8_t* dst = panel(p);
      const size_t stride = quad_stride(p);
      for (int k = 0; k < quads_; ++k) std::memset(dst + k * stride, 0, 32);
      for (int c = 0; c < kWidth; ++c) {
        float& scale = scales_[size_t(p) * kWidth + c];
        int32_t& sum = sums_[size_t(p) * kWidth + c];
        scale = 0.0f;
        sum = 0;
        if (c >= span.width) continue;
        scale = quantize_weight_row(W + size_t(span.row + c) * K_, K_, row.data());
        for (int k = 0; k < K_; ++k) {
          dst[size_t(k / 4) * stride + c * 4 + k % 4] = row[k];
          sum += row[k];
        }
      }
    }
  }

  void multiply(int rows, const float* A, int lda, float* C, int ldc, bool accumulate) const {
    multiply_panels(0, panels_, rows, A, lda, C, ldc, accumulate);
  }

  int panels() const { return panels_; }

  // Whether full tiles span 4 panels (the 512-bit VNNI kernel) rather than 2.
  static bool wide_tiles() {
#if defined(RNNFAST_INT8_VNNI)
    return cpu_has_avx512vnni();
#else
    return false;
#endif
  }

  // The columns of C in panels [p0, p1) only. A's rows are quantized here, a block at a time
  // (each caller, each thread, its own copy: the same bytes whoever computes them).
  void multiply_panels(int p0, int p1, int rows, const float* A, int lda, float* C, int ldc,
                       bool accumulate) const {
    thread_local std::vector<uint8_t> qa;
    thread_local std::vector<QuantizedRow> qrows;
    const size_t row_bytes = size_t(quads_) * 4;
    const int widest = wide_tiles() ? 4 : 2;  // panels per full tile
    for (int r0 = 0; r0 < rows; r0 += kRowBlock) {
      const int n = std::min(kRowBlock, rows - r0);
      qa.resize(size_t(n) * row_bytes);
      qrows.resize(size_t(n));
      for (int r = 0; r < n; ++r)
        qrows[r] = quantize_row(A + size_t(r0 + r) * lda, K_, quads_, qa.data() + r * row_bytes);
      float* C_block = C + size_t(r0) * ldc;
      for (int p = p0; p < p1;) {
        // A tile's panels are neighbours in one group.
        const int last = std::min(p1, group_end(p));
        int r = 0;
        if (n < kRows) {  // small batches: a short tile, widened over panels
          const int width = std::min(last - p, kRows / n * 2);
          few_rows(n, width, p, qa.data(), qrows.data(), C_block, ldc, accumulate);
          p += width;
          continue;
        }
        // Two panels per tile where there are two: each broadcast quad of A then feeds two
        // products (a one-panel tile spent a third of its instructions on broadcasts); four
        // with the 512-bit VNNI kernel, two vectors per row (a 4 x 2 tile of 512-bit sums
        // read one vector per 4 products and was slower on Zen 5).
        const int width = p + widest <= last ? widest : p + 2 <= last ? 2 : 1;
        auto run = [&](auto rows_tag, const uint8_t* q, const QuantizedRow* qr, float* c) {
          constexpr int R = decltype(rows_tag)::value;
          if (width == 4) tile<R, 4>(p, q, row_bytes, qr, c, ldc, accumulate);
          else if (width == 2) tile<R, 2>(p, q, row_bytes, qr, c, ldc, accumulate);
          else tile<R, 1>(p, q, row_bytes, qr, c, ldc, accumulate);
        };
        for (; r + kRows <= n; r += kRows)
          run(std::integral_constant<int, kRows>{}, qa.data() + r * row_bytes, qrows.data() + r,
              C_block + size_t(r) * ldc);
        for (; r < n; ++r)
          run(std::integral_constant<int, 1>{}, qa.data() + r * row_bytes, qrows.data() + r,
              C_block + size_t(r) * ldc);
        p += width;
      }
    }
  }

 private:
  static constexpr int kRows = 4;        // rows of C per full tile
  static constexpr int kRowBlock = 64;   // rows of A quantized at a time (stay in L2)

  struct Span {
    int row, column, width;
  };

  static std::vector<Span> spans_of(const std::vector<RowBlock>& blocks) {
    std::vector<Span> spans;
    for (const RowBlock& block : blocks)
      for (int c = 0; c < block.rows; c += kWidth)
        spans.push_back({block.row + c, block.column + c, std::min(kWidth, block.rows - c)});
    return spans;
  }

  // Panel p's quad 0; its quad k is quad_stride(p) * k bytes further.
  size_t panel_offset(int p) const {
    return size_t(p / kGroup) * kGroup * quads_ * 32 + size_t(p % kGroup) * 32;
  }
  const int8_t* panel(int p) const { return data_.data() + panel_offset(p); }
  int8_t* panel(int p) { return data_.data() + panel_offset(p); }
  int group_end(int p) const { return std::min(panels_, (p / kGroup + 1) * kGroup); }
  size_t quad_stride(int p) const { return size_t(group_end(p) - p / kGroup * kGroup) * 32; }

  // rows < kRows: tiles of those rows over up to `width` panels at once (more independent
  // sums in flight at batch 1), dispatched to a compile-time tile.
  void few_rows(int rows, int width, int p, const uint8_t* qa, const QuantizedRow* qrows,
                float* C, int ldc, bool accumulate) const {
    const size_t row_bytes = size_t(quads_) * 4;
    auto run = [&](auto rows_tag, auto panels_tag) {
      tile<decltype(rows_tag)::value, decltype(panels_tag)::value>(p, qa, row_bytes, qrows, C,
                                                                   ldc, accumulate);
    };
    using R1 = std::integral_constant<int, 1>;
    using R2 = std::integral_constant<int, 2>;
    using R3 = std::integral_constant<int, 3>;
    for (int done = 0; done < width;) {
      const int left = width - done;
      if (rows == 1) {
        if (left >= 8) run(R1{}, std::integral_constant<int, 8>{}), done += 8, p += 8;
        else if (left >= 4) run(R1{}, std::integral_constant<int, 4>{}), done += 4, p += 4;
        else run(R1{}, R1{}), done += 1, p += 1;
      } else if (rows == 2) {
        if (left >= 4) run(R2{}, std::integral_constant<int, 4>{}), done += 4, p += 4;
        else run(R2{}, R1{}), done += 1, p += 1;
      } else {
        if (left >= 2) run(R3{}, R2{}), done += 2, p += 2;
        else run(R3{}, R1{}), done += 1, p += 1;
      }
    }
  }

#if defined(__AVX2__)
  // How a kernel multiplies, on vectors of int32 lanes: Vector, load (from a panel's quad),
  // broadcast (a quad of A to every lane) and accumulate (acc += each lane's 4 products of
  // its quad of a by its quad of w, summed in int32).
  struct MaddAvx2 {
    using Vector = __m256i;
    static Vector load(const int8_t* w) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    }
    static Vector broadcast(int32_t quad) { return _mm256_set1_epi32(quad); }
    static Vector accumulate(Vector acc, Vector a, Vector w) {
      return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, w),
                                                     _mm256_set1_epi16(1)));
    }
  };

  // acc[r][v] = the int32 sums of row r of A (quantized, row_bytes apart) times the panels
  // vector v of W covers (quad k at w[v] + k * stride), lane c holding W's row c: each quad
  // of A is broadcast to every lane.
  template <class Madd, int R, int V>
  static void dot_quads(typename Madd::Vector (&acc)[R][V], const int8_t* const (&w)[V],
                        size_t stride, const uint8_t* qa, size_t row_bytes, int quads) {
    // Local sums, copied out at the end: summed through the reference, the VNNI build kept
    // them in memory (LSTM H = 1024, batch 64: 87 ms against 54).
    typename Madd::Vector sums[R][V];
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) sums[r][v] = typename Madd::Vector{};
    for (int k = 0; k < quads; ++k) {
      typename Madd::Vector wk[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) wk[v] = Madd::load(w[v] + k * stride);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) {
        int32_t quad;
        std::memcpy(&quad, qa + r * row_bytes + size_t(k) * 4, 4);
        const typename Madd::Vector a = Madd::broadcast(quad);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) sums[r][v] = Madd::accumulate(sums[r][v], a, wk[v]);
      }
    }
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) acc[r][v] = sums[r][v];
  }
#endif

#if defined(RNNFAST_INT8_VNNI)
  // One vpdpbusd does MaddAvx2's three instructions: the same integer sums; on 256-bit
  // vectors (one panel) or 512-bit ones (two neighbouring panels of a group: 64 contiguous
  // bytes per quad).
  struct MaddVnni : MaddAvx2 {
    __attribute__((target("avx512vnni"))) static Vector accumulate(Vector acc, Vector a,
                                                                  Vector w) {
      return _mm256_dpbusd_epi32(acc, a, w);
    }
  };
  struct MaddVnni512 {
    using Vector = __m512i;
    static Vector load(const int8_t* w) { return _mm512_loadu_si512(w); }
    static Vector broadcast(int32_t quad) { return _mm512_set1_epi32(quad); }
    __attribute__((target("avx512vnni"))) static Vector accumulate(Vector acc, Vector a,
                                                                  Vector w) {
      return _mm512_dpbusd_epi32(acc, a, w);
    }
  };

  // dot_quads for CPUs with AVX512-VNNI (called only where cpu_has_avx512vnni()): an even
  // number of panels in 512-bit vectors, half the instructions of 256-bit ones. flatten
  // inlines the loop here, where the VNNI target allows it.
  template <int R, int P>
  __attribute__((target("avx512vnni"), flatten)) static void dot_quads_vnni(
      __m256i (&acc)[R][P], const int8_t* const (&w)[P], size_t stride, const uint8_t* qa,
      size_t row_bytes, int quads) {
    if constexpr (P % 2 != 0) {
      dot_quads<MaddVnni, R, P>(acc, w, stride, qa, row_bytes, quads);
    } else {
      constexpr int kPairs = P / 2;
      const int8_t* pairs[kPairs];
      for (int i = 0; i < kPairs; ++i) pairs[i] = w[2 * i];
      __m512i sums[R][kPairs];
      dot_quads<MaddVnni512, R, kPairs>(sums, pairs, stride, qa, row_bytes, quads);
      for (int r = 0; r < R; ++r)
        for (int i = 0; i < kPairs; ++i) {
          // (the masked form: GCC 12 warns that the plain one's unused operand is undefined)
          acc[r][2 * i] = _mm512_maskz_extracti64x4_epi64(0xFF, sums[r][i], 0);
          acc[r][2 * i + 1] = _mm512_maskz_extracti64x4_epi64(0xFF, sums[r][i], 1);
        }
    }
  }
#endif

  // R rows of A (quantized, row_bytes apart) times P consecutive panels, into C.
  template <int R, int P>
  void tile(int p, const uint8_t* qa, size_t row_bytes, const QuantizedRow* qrows, float* C,
            int ldc, bool accumulate) const {
    alignas(32) int32_t sums[R][P][kWidth];
    const int8_t* w[P];  // neighbours in one group: each 32 bytes past the last
    for (int q = 0; q < P; ++q) w[q] = panel(p + q);
    const size_t stride = quad_stride(p);
#if defined(__AVX2__)
    __m256i acc[R][P];
#if defined(RNNFAST_INT8_VNNI)
    if (cpu_has_avx512vnni()) {
      dot_quads_vnni<R, P>(acc, w, stride, qa, row_bytes, quads_);
    } else {
      dot_quads<MaddAvx2, R, P>(acc, w, stride, qa, row_bytes, quads_);
    }
#else
    dot_quads<MaddAvx2, R, P>(acc, w, stride, qa, row_bytes, quads_);
#endif
    // Full panels are finished in registers: sums - zero * sum_w (exact: the true value fits
    // int32, so the wrapping arithmetic gives it), to float, times scale_a * scale_w.
    bool stored = false;
    for (int q = 0; q < P; ++q) stored |= spans_[p + q].width != kWidth;
    if (!stored && !accumulate) {
      for (int q = 0; q < P; ++q) {
        const __m256i sum_w =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums_.data() + size_t(p + q) * kWidth));
        const __m256 scale_w = _mm256_loadu_ps(scales_.data() + size_t(p + q) * kWidth);
        const int column = spans_[p + q].column;
        for (int r = 0; r < R; ++r) {
          const __m256i centred = _mm256_sub_epi32(
              acc[r][q], _mm256_mullo_epi32(_mm256_set1_epi32(qrows[r].zero), sum_w));
          const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(qrows[r].scale), scale_w);
          _mm256_storeu_ps(C + size_t(r) * ldc + column,
                           _mm256_mul_ps(_mm256_cvtepi32_ps(centred), scale));
        }
      }
      return;
    }
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < P; ++q)
        _mm256_store_si256(reinterpret_cast<__m256i*>(sums[r][q]), acc[r][q]);
#else
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < P; ++q)
        for (int c = 0; c < kWidth; ++c) sums[r][q][c] = 0;
    for (int k = 0; k < quads_; ++k)
      for (int r = 0; r < R; ++r) {
        const uint8_t* a = qa + r * row_bytes + size_t(k) * 4;
        for (int q = 0; q < P; ++q) {
          const int8_t* wq = w[q] + k * stride;
          for (int c = 0; c < kWidth; ++c)
            sums[r][q][c] += int32_t(a[0]) * wq[c * 4] + int32_t(a[1]) * wq[c * 4 + 1] +
                             int32_t(a[2]) * wq[c * 4 + 2] + int32_t(a[3]) * wq[c * 4 + 3];
        }
      }
#endif
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < P; ++q) {
        const Span& span = spans_[p + q];
        const float* scale_w = scales_.data() + size_t(p + q) * kWidth;
        const int32_t* sum_w = sums_.data() + size_t(p + q) * kWidth;
        float out[kWidth];
        for (int c = 0; c < kWidth; ++c)
          out[c] = float(int32_t(uint32_t(sums[r][q][c]) - uint32_t(qrows[r].zero) *
                                                           uint32_t(sum_w[c]))) *
                   (qrows[r].scale * scale_w[c]);
        float* c_row = C + size_t(r) * ldc + span.column;
        if (accumulate) {
          for (int c = 0; c < span.width; ++c) c_row[c] += out[c];
        } else {
          std::memcpy(c_row, out, sizeof(float) * span.width);
        }
      }
  }

  int K_, quads_;
  std::vector<Span> spans_;
  int panels_;
  PooledArray<int8_t> data_;     // [panels][quads][8 rows][4 k]
  std::vector<float> scales_;    // [panels][8]: per row of W
  std::vector<int32_t> sums_;    // [panels][8]: sum_k qw, for the zero point of A
};

}  // namespace rnnfast
