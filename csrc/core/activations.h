// Activations used inside `#pragma omp simd` loops of the cells, and their derivatives written
// in terms of the activation's output (what the forward caches).
//
// float: branch-free versions (exp: Cephes expf's polynomial; tanh: a rational fit of our own)
// that the compiler vectorises (given -fno-trapping-math, see CMakeLists.txt: without it GCC
// keeps a division behind a branch and the loop scalar below AVX-512); glibc's scalar
// expf/tanhf took ~40% of an LSTM step. Relative error <= 3.4e-7.
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

// tanh(x) for float: x * P(x^2) / Q(x^2), a rational fit of relative error 1.9e-8 on [0, 8]
// (bench/micro/fit_tanh.py derives the coefficients and checks them in float32: 3.4e-7 at
// most, |tanh| <= 1 everywhere, odd by construction). One division and nine FMAs; the odd
// polynomial for small |x| beside 1 - 2 / (exp(2|x|) + 1) for the rest, both computed for
// every lane, took 1.4-1.6x its time in an LSTM's gate loop. Between the clamp and 9.0109 the
// value stays within 2.4e-7 of 1; from 9.0109, where float32's tanh rounds to 1, it is +-1
// exactly, so that a saturated gate's derivative (1 - y)(1 + y) is 0 as torch's is.
inline __attribute__((always_inline)) float tanh_approx(float x) {
  constexpr float kClamp = 8.0f;
  constexpr float kSaturated = 9.0109f;
  const float clamped = x < -kClamp ? -kClamp : (x > kClamp ? kClamp : x);
  const float z = clamped * clamped;
  float p = 2.350909224e-11f;
  p = p * z - 1.470450783e-08f;
  p = p * z + 9.878785022e-06f;
  p = p * z + 2.985877916e-03f;
  p = p * z + 1.297923923e-01f;
  p = p * z + 1.0f;
  float q = 2.372052986e-04f;
  q = q * z + 2.402799204e-02f;
  q = q * z + 4.631255567e-01f;
  q = q * z + 1.0f;
  const float rational = (clamped * p) / q;
  return std::fabs(x) < kSaturated ? rational : std::copysign(1.0f, x);
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
