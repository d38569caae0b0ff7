// What the gate math of a step costs: each cell's float32 gate loop (csrc/cells/*.h) over one
// thread's rows of a batch-32, H = 128 step (pre-activations in the range a trained network
// sees), in nanoseconds per hidden unit and sample: the best of 30 rounds of the sum over 100
// timed steps, each step's inputs restored untimed before it (the loops overwrite the cache and
// `dc` in place, and repeated on their own outputs they would drift into denormals). Inference
// forward, training forward (which also caches the gates) and backward. Built and run by
// bench/bench_kernels.py.
//
//   gate_math
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "cells/gru_cell.h"
#include "cells/lstm_cell.h"
#include "cells/rnn_cell.h"

namespace {

constexpr int kHidden = 128;
constexpr int kRows = 32;

struct StepBuffers {
  // Sized for the widest cell (4 gates, a cache of 4 blocks).
  std::vector<float> gates, rec, bias_ih, bias_hh, h_prev, c_prev, h, c, dh, dc, dh_prev;
  StepBuffers()
      : gates(kRows * 4 * kHidden), rec(gates.size()), bias_ih(4 * kHidden),
        bias_hh(4 * kHidden), h_prev(kRows * kHidden), c_prev(h_prev.size()), h(h_prev.size()),
        c(h_prev.size()), dh(h_prev.size()), dc(h_prev.size()), dh_prev(h_prev.size()) {
    for (size_t k = 0; k < gates.size(); ++k) {
      gates[k] = 3.0f * std::sin(0.37f * k);
      rec[k] = std::cos(0.11f * k);
    }
    for (int k = 0; k < 4 * kHidden; ++k) {
      bias_ih[k] = 0.01f * k / kHidden;
      bias_hh[k] = -0.02f;
    }
    for (size_t k = 0; k < h_prev.size(); ++k) {
      h_prev[k] = h[k] = 0.9f * std::sin(0.3f * k);
      c_prev[k] = c[k] = 2.0f * std::cos(0.7f * k);
      dh[k] = dc[k] = 0.1f * std::sin(0.05f * k);
    }
  }
};

template <typename StepRow>
double nanoseconds_per_unit(StepBuffers& b, const StepRow& step_row) {
  const StepBuffers pristine = b;
  double best = 1e30;
  for (int round = 0; round < 30; ++round) {
    double spent = 0;
    for (int step = 0; step < 100; ++step) {
      b.gates = pristine.gates;
      b.dc = pristine.dc;
      const auto start = std::chrono::steady_clock::now();
      for (int row = 0; row < kRows; ++row) step_row(row);
      spent += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
                   .count();
    }
    best = std::min(best, spent / (100.0 * kRows * kHidden));
  }
  return best;
}

template <class Cell>
void time_cell(const char* name) {
  StepBuffers b;
  const int width = Cell::kCacheWidth * kHidden;
  auto forward = [&](auto training) {
    return [&, training](int row) {
      Cell::template forward<float, decltype(training)::value>(
          kHidden, kHidden, &b.gates[row * width], &b.rec[row * width], b.bias_ih.data(),
          b.bias_hh.data(), &b.h_prev[row * kHidden], &b.c_prev[row * kHidden],
          &b.h[row * kHidden], &b.c[row * kHidden]);
    };
  };
  const double infer = nanoseconds_per_unit(b, forward(std::false_type{}));
  const double train = nanoseconds_per_unit(b, forward(std::true_type{}));
  const double back = nanoseconds_per_unit(b, [&](int row) {
    Cell::template backward<float>(kHidden, kHidden, &b.gates[row * width],
                                   &b.h_prev[row * kHidden], &b.c_prev[row * kHidden],
                                   &b.h[row * kHidden], &b.c[row * kHidden],
                                   &b.dh[row * kHidden], &b.dc[row * kHidden],
                                   &b.dh_prev[row * kHidden]);
  });
  std::printf("gate math %-4s H=%d: inference %.3f, training forward %.3f, backward %.3f ns per unit\n",
              name, kHidden, infer, train, back);
}

}  // namespace

int main() {
  time_cell<rnnfast::LstmCell>("lstm");
  time_cell<rnnfast::GruCell>("gru");
  time_cell<rnnfast::RnnCell<rnnfast::TanhActivation>>("rnn");
  return 0;
}
