// LSTM, torch gate order i, f, g, o:
//   i = s(.), f = s(.), g = tanh(.), o = s(.)   (each: W_i* x + b_i* + W_h* h + b_h*)
//   c' = f * c + i * g,   h' = o * tanh(c')
// Cache: the activated gates [i, f, g, o]; tanh(c') is recomputed in backward.
#pragma once

#include "../core/activations.h"
#include "cell_contract.h"

namespace rnnfast {

struct LstmCell {
  static constexpr int kGates = 4;
  static constexpr int kCacheWidth = 4;
  static constexpr bool kHasCellState = true;
  static constexpr bool kSplitRecurrentGrad = false;

  template <typename T, bool Training>
  static void forward(int H, int n, T* gates, const T* rec, const T* b_ih, const T* b_hh,
                      const T* /*h_prev*/, const T* c_prev, T* h, T* c) {
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      const T i = sigmoid(gates[j] + b_ih[j] + rec[j] + b_hh[j]);
      const T f = sigmoid(gates[H + j] + b_ih[H + j] + rec[H + j] + b_hh[H + j]);
      const T g = tanh_act(gates[2 * H + j] + b_ih[2 * H + j] + rec[2 * H + j] + b_hh[2 * H + j]);
      const T o = sigmoid(gates[3 * H + j] + b_ih[3 * H + j] + rec[3 * H + j] + b_hh[3 * H + j]);
      const T c_new = f * c_prev[j] + i * g;
      c[j] = c_new;
      h[j] = o * tanh_act(c_new);
      if constexpr (Training) {
        gates[j] = i;
        gates[H + j] = f;
        gates[2 * H + j] = g;
        gates[3 * H + j] = o;
      }
    }
  }

  template <typename T>
  static void backward(int H, int n, T* cache, const T* /*h_prev*/, const T* c_prev, const T* /*h*/,
                       const T* c, const T* dh, T* dc, T* dh_prev) {
#pragma omp simd
    for (int j = 0; j < n; ++j) {
      const T i = cache[j], f = cache[H + j], g = cache[2 * H + j], o = cache[3 * H + j];
      const T tanh_c = tanh_act(c[j]);
      const T dc_total = dc[j] + dh[j] * o * tanh_grad_from_output(tanh_c);
      cache[j] = dc_total * g * sigmoid_grad_from_output(i);
      cache[H + j] = dc_total * c_prev[j] * sigmoid_grad_from_output(f);
      cache[2 * H + j] = dc_total * i * tanh_grad_from_output(g);
      cache[3 * H + j] = dh[j] * tanh_c * sigmoid_grad_from_output(o);
      dc[j] = dc_total * f;
      dh_prev[j] = T(0);
    }
  }
};

}  // namespace rnnfast
