// Shape vocabulary shared by every kernel.
//   T = time steps, B = batch, I = input features, H = hidden units, G = gates per cell.
// Internally all sequences are time-major: a [T, B, X] buffer holds row (t, b) at
// offset (t * B + b) * ld, where ld >= X is that buffer's leading dimension.
#pragma once

#include <cstdint>

namespace rnnfast {

struct LayerDims {
  int T = 0;  // time steps
  int B = 0;  // batch size
  int I = 0;  // input features
  int H = 0;  // hidden units
};

// Per-sample valid lengths (packed-sequence semantics). Null means every sample has T steps.
// Row b is active at time t iff t < lengths[b]; an inactive row carries its state unchanged
// and outputs zeros, which gives PyTorch's behaviour for both directions.
struct Lengths {
  const int64_t* data = nullptr;
  bool active(int b, int t) const { return data == nullptr || t < data[b]; }
};

}  // namespace rnnfast
