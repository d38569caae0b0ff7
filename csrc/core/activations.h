// Activations used inside `#pragma omp simd` loops of the cells, and their derivatives written
// in terms of the activation's output (what the forward caches).
//
// float: branch-free polynomial versions (Cephes expf / tanhf coefficients) that the compiler
// vectorises (given -fno-trapping-math, see CMakeLists.txt: without it GCC keeps tanh's
// division behind a branch and the loop scalar below AVX-512); glibc's scalar expf/tanhf took
// ~40% of an LSTM step. Relative error ~2e-7.
// double: the C library's, so float64 gradient checks see exact-as-possible math.
//
// The float versions are always inlined: a loop that calls them out of line stays scalar,
// and in the extension's large translation units GCC's inliner stopped inlining exp_approx
// into the inference instantiation of the LSTM and GRU gate loops (every frozen, streaming
// and predicting step ran its gate math one value at a time; tests/test_vectorized_cells.py
// now reads the built cores for such calls).
#pragma once

#include <cmath>
#include <cstdint>

namespace rnnfast {

// exp(x) for float, x clamped to [-87.3, 88.3] so that 2^n stays a normal float: the result
// saturates instead of overflowing, and sigmoid/tanh built on it never see inf or NaN.
inline __attribute__((always_inline)) float exp_approx(float x) {
  // Comparisons, not fminf/fmaxf: those are library calls that stop vectorisation.
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  // Round to nearest by adding and removing 1.5 * 2^23 (std::floor would not vectorise).
  constexpr float kRoundMagic = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRoundMagic) - kRoundMagic;
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n * ln2, in two parts
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = p * r * r + r + 1.0f;
  const int32_t scale_bits = (int32_t(n) + 127) << 23;  // 2^n as float bits
  return e_r * __builtin_bit_cast(float, scale_bits);
}

inline __attribute__((always_inline)) float tanh_approx(float x) {
  // Small |x|: odd polynomial (no cancellation); otherwise 1 - 2 / (exp(2|x|) + 1).
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float ax = std::fabs(x);
  const float large = 1.0f - 2.0f / (exp_approx(2.0f * ax) + 1.0f);
  return ax < 0.625f ? small : std::copysign(large, x);
}

inline __attribute__((always_inline)) float sigmoid(float x) {
  return 1.0f / (1.0f + exp_approx(-x));
}
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }  // exp(inf) -> 0, no NaN

inline __attribute__((always_inline)) float tanh_act(float x) { return tanh_approx(x); }
inline double tanh_act(double x) { return std::tanh(x); }

template <typename T>
inline T sigmoid_grad_from_output(T s) { return s * (T(1) - s); }

// (1 - y)(1 + y), not 1 - y * y: near saturation (|y| -> 1) the latter subtracts two nearly
// equal numbers, and without a fused multiply-add (the baseline CPU level) the rounding of y * y
// left a relative error of ~1e-9 in float64 gradients. 1 - y is exact there (Sterbenz), so this
// form is accurate to a few ulp on every CPU level, and the same on all of them.
template <typename T>
inline T tanh_grad_from_output(T y) { return (T(1) - y) * (T(1) + y); }

}  // namespace rnnfast
