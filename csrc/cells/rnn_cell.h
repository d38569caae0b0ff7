// Vanilla RNN: h' = act(W_ih x + b_ih + W_hh h + b_hh), act = tanh or relu.
#pragma once

#include "../core/activations.h"
#include "cell_contract.h"

namespace rnnfast {

struct TanhActivation {
  template <typename T> static T apply(T x) { return tanh_act(x); }
  template <typename T> static T grad_from_output(T y) { return tanh_grad_from_output(y); }
};

struct ReluActivation {
  template <typename T> static T apply(T x) { return x > T(0) ? x : T(0); }
  template <typename T> static T grad_from_output(T y) { return y > T(0) ? T(1) : T(0); }
};

template <class Activation>
struct RnnCell {
  static constexpr int kGates = 1;
  static constexpr int kCacheWidth = 1;  // backward needs only h (kept by the layer);
                                         // the row holds its gradient
  static constexpr bool kHasCellState = false;
  static constexpr bool kSplitRecurrentGrad = false;

  template <typename T, bool Training>
  static void forward(int /*H*/, int n, T* gates, const T* rec, const T* b_ih, const T* b_hh,
                      const T* /*h_prev*/, const T* /*c_prev*/, T* h, T* /*c*/) {
#pragma omp simd
    for (int j = 0; j < n; ++j) h[j] = Activation::apply(gates[j] + b_ih[j] + rec[j] + b_hh[j]);
  }

  template <typename T>
  static void backward(int /*H*/, int n, T* cache, const T* /*h_prev*/, const T* /*c_prev*/, const T* h,
                       const T* /*c*/, const T* dh, T* /*dc*/, T* dh_prev) {
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      cache[j] = dh[j] * Activation::grad_from_output(h[j]);
      dh_prev[j] = T(0);
    }
  }
};

using RnnTanhCell = RnnCell<TanhActivation>;
using RnnReluCell = RnnCell<ReluActivation>;

}  // namespace rnnfast
