// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 stored mantissa bits).
// Weights stored this way take half the bytes, which is what a small-batch step is bound by
// (it reads all of W_hh once per step). A product of two bf16 values is exact in float32
// (8 x 8 significant bits), so a sum of such products in float32 is the same whichever
// instruction forms it: AVX512-BF16's vdpbf16ps, or both widened and multiplied in float32.
#pragma once

#include <cstdint>
#include <cstring>

namespace rnnfast {

struct BFloat16 {
  uint16_t bits;
};

// Round to nearest, ties to even (what torch's and the hardware's conversions do). The
// weights are finite (checked by the caller), so no NaN needs quieting.
inline BFloat16 to_bfloat16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return BFloat16{uint16_t(u >> 16)};
}

// The same rounding for an activation (the bits of the bf16), which may be anything: a NaN
// stays a (quiet) NaN, and a finite value beyond bf16's largest (3.39e38) saturates to it
// instead of rounding to infinity (where two products of opposite signs would make a NaN).
inline uint32_t activation_bits(float value) {
  uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  const uint32_t magnitude = u & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return (u >> 16) | 0x40u;
  if (magnitude >= 0x7F7F8000u && magnitude < 0x7F800000u) return ((u >> 16) & 0x8000u) | 0x7F7Fu;
  return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

inline float to_float(BFloat16 value) {
  const uint32_t u = uint32_t(value.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace rnnfast
