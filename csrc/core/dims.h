// Shape vocabulary shared by every kernel.
//   T = time steps, B = batch, I = input features, H = hidden units, G = gates per cell.
// Internally all sequences are time-major: a [T, B, X] buffer holds row (t, b) at
// offset (t * B + b) * ld, where ld >= X is that buffer's leading dimension. A layer's
// output y and its gradient dy may also be the user's batch-first [B, T, X] arrays
// (SequenceRows), which spares a transposed copy of the largest arrays at the top of a stack.
#pragma once

#include <cstddef>
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

// Row (t, b) of a time-major [T, B, ld] or batch-first [B, T, ld] array.
template <typename T>
struct SequenceRows {
  T* base;
  size_t time_stride, batch_stride;
  T* row(int t, int b) const { return base + size_t(t) * time_stride + size_t(b) * batch_stride; }

  static SequenceRows time_major(T* base, int B, int ld) {
    return {base, size_t(B) * ld, size_t(ld)};
  }
  static SequenceRows batch_first(T* base, int T_, int ld) {
    return {base, size_t(ld), size_t(T_) * ld};
  }
};

}  // namespace rnnfast
