// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 stored mantissa bits).
// Weights stored this way take half the bytes, which is what a small-batch step is bound by
// (it reads all of W_hh once per step); they are widened back to float32 in registers, so the
// products and sums stay float32 (a widened bf16 value is exactly representable).
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

inline float to_float(BFloat16 value) {
  const uint32_t u = uint32_t(value.bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace rnnfast
