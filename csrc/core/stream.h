// One time step of a unidirectional stack, with every layer's state kept between calls: the
// streaming counterpart of layer_forward (core/layer.h) for T = 1, written once for every cell
// against the same contract (cells/cell_contract.h).
//
// A whole-sequence forward pays for its generality on every call (input checks, transposes,
// packing W_hh, allocating workspaces). A stream pays once, when it is opened: both weight
// matrices of every layer are packed then, and the workspaces and states are allocated then,
// so a step is two packed products and one fused gate pass per layer, with no allocation.
// Small layers step on the calling thread: for the few rows a stream carries, starting an
// OpenMP team costs more than it saves; layers with large weights share each product's
// columns among threads (kSplitWeightBytes).
#pragma once

#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "packed_gemm.h"
#include "parallel.h"

namespace rnnfast {

template <typename T>
struct StreamLayerWeights {
  const T* w_ih;  // [G*H, in]
  const T* w_hh;  // [G*H, H]
  const T* b_ih;  // [G*H]
  const T* b_hh;  // [G*H]
  int in;         // input features of this layer
};

// What the bindings see: the cell is chosen when the stream is opened.
template <typename T>
class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // x: [B, I] in; y: [B, H] out (the top layer's new hidden state).
  virtual void step(const T* x, T* y) = 0;
  // [L, B, H] blocks, layer-major as torch's h_n; cell_state() is null without a cell state.
  virtual T* hidden_state() = 0;
  virtual T* cell_state() = 0;
};

// Weights: the packs' kind (PackedWeights<T>, or a reduced-precision pack of float32 weights).
template <class Cell, typename T, class Weights = PackedWeights<T>>
class CellStepRunner final : public StepRunner<T> {
 public:
  // The weights are copied (packed): later changes to the caller's arrays are not seen.
  CellStepRunner(const std::vector<StreamLayerWeights<T>>& layers, int batch, int hidden)
      : B_(batch), H_(hidden), GH_(Cell::kGates * hidden), CW_(Cell::kCacheWidth * hidden) {
    for (const auto& w : layers) {
      const size_t weight_bytes = sizeof(T) * size_t(GH_) * (w.in + H_);
      layers_.push_back(Layer{Weights(w.w_ih, GH_, w.in, /*w_is_nk=*/true),
                              Weights(w.w_hh, GH_, H_, /*w_is_nk=*/true),
                              std::vector<T>(w.b_ih, w.b_ih + GH_),
                              std::vector<T>(w.b_hh, w.b_hh + GH_), w.in,
                              weight_bytes >= kSplitWeightBytes});
    }
    const size_t state = layers.size() * size_t(B_) * H_;
    h_.assign(state, T(0));
    h_next_.assign(state, T(0));
    if (Cell::kHasCellState) {
      c_.assign(state, T(0));
      c_next_.assign(state, T(0));
    }
    gates_.assign(size_t(B_) * CW_, T(0));
    rec_.assign(size_t(B_) * GH_, T(0));
  }

  void step(const T* x, T* y) override {
    constexpr bool kCell = Cell::kHasCellState;
    const size_t block = size_t(B_) * H_;
    const T* input = x;  // [B, layer.in], rows contiguous
    for (size_t l = 0; l < layers_.size(); ++l) {
      const Layer& layer = layers_[l];
      const T* h_prev = h_.data() + l * block;
      T* h_new = h_next_.data() + l * block;
      const T* c_prev = kCell ? c_.data() + l * block : nullptr;
      T* c_new = kCell ? c_next_.data() + l * block : nullptr;
      // Both products have the G*H columns of the gates, cut into the same panels.
      auto products = [&](int64_t p0, int64_t p1) {
        layer.w_ih.multiply_panels(int(p0), int(p1), B_, input, layer.in, gates_.data(), CW_,
                                   /*accumulate=*/false);
        layer.w_hh.multiply_panels(int(p0), int(p1), B_, h_prev, H_, rec_.data(), GH_,
                                   /*accumulate=*/false);
      };
      if (layer.split_panels) {
        parallel_blocks(layer.w_hh.panels(), 1, products);
      } else {
        products(0, layer.w_hh.panels());
      }
      for (int b = 0; b < B_; ++b) {
        const size_t row = size_t(b) * H_;
        Cell::template forward<T, false>(H_, H_, gates_.data() + size_t(b) * CW_,
                                         rec_.data() + size_t(b) * GH_, layer.b_ih.data(),
                                         layer.b_hh.data(), h_prev + row,
                                         kCell ? c_prev + row : nullptr, h_new + row,
                                         kCell ? c_new + row : nullptr);
      }
      input = h_new;  // the next layer reads this layer's new state
    }
    std::swap(h_, h_next_);
    if constexpr (kCell) std::swap(c_, c_next_);
    std::memcpy(y, h_.data() + (layers_.size() - 1) * block, sizeof(T) * block);
  }

  T* hidden_state() override { return h_.data(); }
  T* cell_state() override { return Cell::kHasCellState ? c_.data() : nullptr; }

 private:
  struct Layer {
    Weights w_ih, w_hh;
    std::vector<T> b_ih, b_hh;
    int in;             // input features
    bool split_panels;  // the products' columns shared among threads
  };

  // A layer whose weights take at least this many bytes splits its products' columns among
  // threads: a step then reads the weights with every core (its cost at small batches),
  // which outweighs starting the threads (a few microseconds). Below, a step is too short.
  static constexpr size_t kSplitWeightBytes = size_t(1) << 20;

  int B_, H_, GH_, CW_;
  std::vector<Layer> layers_;
  std::vector<T> h_, h_next_, c_, c_next_;  // [L, B, H]; *_next_ written by a step, then swapped
  std::vector<T> gates_, rec_;              // one layer's x @ W_ih^T and h @ W_hh^T
};

template <class Cell, typename T, class Weights = PackedWeights<T>>
std::unique_ptr<StepRunner<T>> make_step_runner(const std::vector<StreamLayerWeights<T>>& layers,
                                                int batch, int hidden) {
  return std::make_unique<CellStepRunner<Cell, T, Weights>>(layers, batch, hidden);
}

}  // namespace rnnfast
