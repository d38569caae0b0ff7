// GRU, torch gate order r, z, n, reset applied after the recurrent product (cuDNN form):
//   r = s(W_ir x + b_ir + W_hr h + b_hr),  z = s(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h
// Cache: [r, z, n, W_hn h + b_hn]. Because r multiplies only the recurrent part of n, the
// gradient w.r.t. the recurrent pre-activation differs from the input one in that block:
// backward leaves [dr, dz, dn * r, dn] (pre-activation gradients; the last one input side).
#pragma once

#include "../core/activations.h"
#include "cell_contract.h"

namespace rnnfast {

struct GruCell {
  static constexpr int kGates = 3;
  static constexpr int kCacheWidth = 4;
  static constexpr bool kHasCellState = false;
  static constexpr bool kSplitRecurrentGrad = true;

  template <typename T, bool Training>
  static void forward(int H, int n, T* gates, const T* rec, const T* b_ih, const T* b_hh,
                      const T* h_prev, const T* /*c_prev*/, T* h, T* /*c*/) {
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      const T r = sigmoid(gates[j] + b_ih[j] + rec[j] + b_hh[j]);
      const T z = sigmoid(gates[H + j] + b_ih[H + j] + rec[H + j] + b_hh[H + j]);
      const T hn = rec[2 * H + j] + b_hh[2 * H + j];
      const T n = tanh_act(gates[2 * H + j] + b_ih[2 * H + j] + r * hn);
      h[j] = (T(1) - z) * n + z * h_prev[j];
      if constexpr (Training) {
        gates[j] = r;
        gates[H + j] = z;
        gates[2 * H + j] = n;
        gates[3 * H + j] = hn;
      }
    }
  }

  template <typename T>
  static void backward(int H, int n, T* cache, const T* h_prev, const T* /*c_prev*/, const T* /*h*/,
                       const T* /*c*/, const T* dh, T* /*dc*/, T* dh_prev) {
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      const T r = cache[j], z = cache[H + j], n = cache[2 * H + j], hn = cache[3 * H + j];
      const T dn_pre = dh[j] * (T(1) - z) * tanh_grad_from_output(n);
      cache[j] = dn_pre * hn * sigmoid_grad_from_output(r);
      cache[H + j] = dh[j] * (h_prev[j] - n) * sigmoid_grad_from_output(z);
      cache[2 * H + j] = dn_pre * r;  // recurrent side: r scales W_hn h + b_hn
      cache[3 * H + j] = dn_pre;      // input side
      dh_prev[j] = dh[j] * z;
    }
  }
};

}  // namespace rnnfast
