// One recurrent layer in one direction over a whole sequence: forward and BPTT, written once
// for every cell (see cells/cell_contract.h). Time-major buffers; dims.h has the vocabulary.
//
// Fast-path structure:
//   forward:  one GEMM projects every step's input (x @ W_ih^T); then per step one GEMM for the
//             recurrent product of all gates and one fused pointwise pass over the batch.
//   backward: per step only dh_{t-1} = dG_t @ W_hh is sequential; dW_ih, dW_hh and dx are
//             single GEMMs over all steps (two for GRU's split gradient), the biases column
//             sums of dG. dG is written over the forward's cache, row by row.
//
// Hidden states live in "slots". Training keeps T + 1 slots ordered by time, so the state
// before step t is one contiguous [T, B, H] block for the dW_hh GEMM:
//   forward direction: slot 0 = h0, slot t + 1 = state after step t
//   reverse direction: slot T = h0, slot t     = state after step t
// Inference keeps two slots and alternates between them.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "blas.h"
#include "dims.h"
#include "interrupt.h"
#include "packed_gemm.h"
#include "parallel.h"
#include "step_split.h"

namespace rnnfast {

template <typename T>
struct LayerWeights {
  const T* w_ih;  // [G*H, I]
  const T* w_hh;  // [G*H, H]
  const T* b_ih;  // [G*H]
  const T* b_hh;  // [G*H]
};

// Parameter gradients, accumulated with += (callers zero them first).
template <typename T>
struct LayerGrads {
  T* w_ih;  // [G*H, I]
  T* w_hh;  // [G*H, H]
  T* b_ih;  // [G*H]
  T* b_hh;  // [G*H]
};

// What a training forward keeps for backward; the caller owns the memory.
template <typename T>
struct LayerCache {
  T* gates;  // [T, B, C*H] the cell's cache rows
  T* h;      // [T + 1, B, H] hidden-state slots
  T* c;      // [T + 1, B, H] cell-state slots (cells with kHasCellState), else null
};

// Which slot holds the state before processing step s (s counts steps in processing order).
struct StateSlots {
  int T;
  bool reverse;
  bool keep_all;
  int operator()(int s) const { return keep_all ? (reverse ? T - s : s) : (s & 1); }
};

inline int time_of_step(int s, int T, bool reverse) { return reverse ? T - 1 - s : s; }

template <typename T>
void copy_row(T* dst, const T* src, size_t n) { std::memcpy(dst, src, sizeof(T) * n); }

template <typename T>
void zero_row(T* dst, size_t n) { std::memset(dst, 0, sizeof(T) * size_t(n)); }

// Rows [b0, b1) of a batch are independent sequences, so with a row split (step_split.h) each
// thread runs the whole time loop on its own slice of rows: no synchronisation between steps,
// and the per-step GEMM is the slice's rows only. Pointers below are to full buffers; a slice
// touches only its rows.
struct BatchSlice {
  int b0, b1;
  int rows() const { return b1 - b0; }
};

// out[rows, GH] = x[rows, I] @ W^T by the packed kernel, split over threads by rows, or by
// columns (panels of W) when the rows are too few to give every thread a block.
template <typename T, class Weights>
void project_inputs(const Weights& w, int64_t rows, const T* x, int I, T* out, int ld) {
  constexpr int64_t kRowGrain = 64;
  // Below this many products the call is shorter than waking the other threads (a streaming
  // step of a small layer, a one-step call): it runs on the calling thread.
  constexpr int64_t kMinParallelProducts = int64_t(1) << 17;
  if (rows * I * int64_t(w.panels()) * Weights::kWidth < kMinParallelProducts) {
    w.multiply(int(rows), x, I, out, ld, /*accumulate=*/false);
    return;
  }
  if (block_count(rows, kRowGrain) >= openmp_max_threads()) {
    parallel_blocks(rows, kRowGrain, [&](int64_t r0, int64_t r1) {
      w.multiply(int(r1 - r0), x + r0 * I, I, out + r0 * ld, ld, /*accumulate=*/false);
    });
  } else {
    parallel_blocks(w.panels(), 1, [&](int64_t p0, int64_t p1) {
      w.multiply_panels(int(p0), int(p1), int(rows), x, I, out, ld, /*accumulate=*/false);
    });
  }
}

// The column split's cut of W_hh: slice k of the units owns rows [g * H + begin, g * H + end)
// of every gate block g, packed as one matrix whose products land in those columns of a step's
// [G * H] product row. Returns the room; pack_panels fills it (each thread its own slices).
template <class Weights>
std::vector<Weights> unit_slice_room(int G, int H, const std::vector<UnitSlice>& units) {
  std::vector<Weights> room;
  room.reserve(units.size());
  for (const UnitSlice& u : units) {
    std::vector<RowBlock> blocks;
    for (int g = 0; g < G; ++g) blocks.push_back({g * H + u.begin, u.size(), g * H + u.begin});
    room.emplace_back(blocks, H);
  }
  return room;
}

inline std::vector<UnitSlice> unit_slices(int H, int slices, int align) {
  std::vector<UnitSlice> units;
  for (int k = 0; k < slices; ++k) units.push_back(unit_slice(H, slices, k, align));
  return units;
}

// A layer's weights packed once, for inference calls that reuse them (a frozen module): W_ih
// for the input projection and W_hh cut as the column split cuts it (for the thread count at
// packing; any other count runs with it too). A call given one packs nothing, and computes the
// same numbers bit for bit: each output is one FMA chain over k in order, whichever pack holds
// its row of W.
// Weights: PackedWeights<T>, or a reduced-precision pack of a float32 layer (bf16 panels,
// int8_gemm.h's Int8Weights): an inference-only layer whose products read fewer bytes.
template <typename T, class Weights = PackedWeights<T>>
struct PackedLayer {
  PackedLayer(const T* w_ih_rows, const T* w_hh_rows, int G, int H, int I)
      : G(G),
        H(H),
        I(I),
        w_ih(pack_weights_in_parallel<Weights>(w_ih_rows, G * H, I, /*w_is_nk=*/true)),
        units(unit_slices(H, column_split_threads(H), Weights::kLanes)),
        w_hh(unit_slice_room<Weights>(G, H, units)) {
    parallel_blocks(int64_t(w_hh.size()), 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k)
        w_hh[k].pack_panels(w_hh_rows, /*w_is_nk=*/true, 0, w_hh[k].panels());
    });
  }

  int G, H, I;
  Weights w_ih;
  std::vector<UnitSlice> units;
  std::vector<Weights> w_hh;  // per slice of units
};

// x: [T, B, I] in. y: out, H columns of each row written (zeros past a sample's length).
// h0, c0: [B, H] in (c0 only for cells with a cell state). h_n, c_n: [B, H] out, taken at each
// sample's last valid step. cache: written when Training, ignored (may be null) otherwise.
// packed: the weights packed beforehand (inference; null: packed here, for this call).
// Weights: the packs' kind; a reduced-precision one (inference only) may be packed here too.
template <class Cell, typename T, bool Training, class Weights = PackedWeights<T>>
void layer_forward(const LayerDims& d, Lengths lengths, bool reverse, const LayerWeights<T>& w,
                   const T* x, const T* h0, const T* c0, SequenceRows<T> y, T* h_n, T* c_n,
                   LayerCache<T>* cache, const PackedLayer<T, Weights>* packed = nullptr) {
  static_assert(!Training || std::is_same_v<Weights, PackedWeights<T>>,
                "reduced-precision weights are for inference only");
  const int B = d.B, H = d.H;
  const int GH = Cell::kGates * H, CW = Cell::kCacheWidth * H;
  const size_t slot_size = size_t(B) * H;
  constexpr bool kCell = Cell::kHasCellState;

  // Inference takes its workspaces from the pool (fully written before read, so their
  // contents do not matter); training writes into the caller's cache.
  PooledArray<T> gates_ws(Training ? 0 : size_t(d.T) * B * CW);
  PooledArray<T> h_ws(Training ? 0 : 2 * slot_size);
  PooledArray<T> c_ws(Training || !kCell ? 0 : 2 * slot_size);
  T* gates = Training ? cache->gates : gates_ws.data();
  T* h_slots = Training ? cache->h : h_ws.data();
  T* c_slots = kCell ? (Training ? cache->c : c_ws.data()) : nullptr;
  PooledArray<T> rec(size_t(B) * GH);  // one step's recurrent product, row b: sample b

  // The input projection of every step, by the packed kernel: each output is one FMA chain
  // over k in order, whatever the number of rows or their split across threads, so a
  // sample's result does not depend on its batch, the thread count or the CPU's BLAS kernel
  // (OpenBLAS's Haswell kernel rounds rows differently by their position in a call), and it
  // equals stream()'s step by step.
  std::optional<Weights> w_ih_here;
  if (!packed) w_ih_here.emplace(pack_weights_in_parallel<Weights>(w.w_ih, GH, d.I, /*w_is_nk=*/true));
  project_inputs(packed ? packed->w_ih : *w_ih_here, int64_t(d.T) * B, x, d.I, gates, CW);

  const StateSlots slot{d.T, reverse, Training};
  std::memcpy(h_slots + slot(0) * slot_size, h0, sizeof(T) * slot_size);
  if constexpr (kCell) std::memcpy(c_slots + slot(0) * slot_size, c0, sizeof(T) * slot_size);

  // The cell's pass over rows [b0, b1), units [j0, j0 + n) of step s, once rec holds them.
  auto cell_step = [&](int s, int b0, int b1, int j0, int n) {
    const int t = time_of_step(s, d.T, reverse);
    const T* h_prev = h_slots + slot(s) * slot_size;
    T* h_cur = h_slots + slot(s + 1) * slot_size;
    const T* c_prev = kCell ? c_slots + slot(s) * slot_size : nullptr;
    T* c_cur = kCell ? c_slots + slot(s + 1) * slot_size : nullptr;
    for (int b = b0; b < b1; ++b) {
      const size_t unit = size_t(b) * H + j0;
      T* y_units = y.row(t, b) + j0;
      if (lengths.active(b, t)) {
        Cell::template forward<T, Training>(H, n, gates + (size_t(t) * B + b) * CW + j0,
                                            rec.data() + size_t(b) * GH + j0, w.b_ih + j0,
                                            w.b_hh + j0, h_prev + unit,
                                            kCell ? c_prev + unit : nullptr, h_cur + unit,
                                            kCell ? c_cur + unit : nullptr);
        copy_row(y_units, h_cur + unit, n);
      } else {  // finished (or, in reverse, not yet started): carry the state, emit zeros
        copy_row(h_cur + unit, h_prev + unit, n);
        if constexpr (kCell) copy_row(c_cur + unit, c_prev + unit, n);
        zero_row(y_units, n);
      }
    }
  };

  InterruptPoll interrupt;
  const size_t w_hh_bytes = size_t(GH) * H * Weights::kBytesPerWeight;
  if (choose_step_split(B, H, w_hh_bytes, Training) == StepSplit::kRows) {
    const RecurrentProduct<T, Weights> times_w_hh_t(w.w_hh, GH, H, /*w_is_nk=*/true,  // h @ W_hh^T
                                           int(max_block_size(B, batch_grain(GH, H))),
                                           packed ? &packed->w_hh : nullptr);
    parallel_blocks(B, batch_grain(GH, H), [&](int64_t b0, int64_t b1) {
      const BatchSlice slice{int(b0), int(b1)};
      for (int s = 0; s < d.T; ++s) {
        if (interrupt.should_stop(s)) break;
        const T* h_prev = h_slots + slot(s) * slot_size;
        times_w_hh_t.multiply(slice.rows(), h_prev + size_t(slice.b0) * H, H,
                              rec.data() + size_t(slice.b0) * GH, GH, /*accumulate=*/false);
        cell_step(s, slice.b0, slice.b1, 0, H);
      }
    });
  } else {
    // Each thread computes the units of its slices (unit_slice_room) for every row. The room
    // for a call's own packs is taken here (an allocation failing inside the team could not
    // be reported); each thread packs the slices it owns, which puts them in its own cache.
    std::vector<UnitSlice> units_here;
    std::vector<Weights> w_hh_here;
    if (!packed) {
      units_here = unit_slices(H, column_split_threads(H), Weights::kLanes);
      w_hh_here = unit_slice_room<Weights>(Cell::kGates, H, units_here);
    }
    const std::vector<UnitSlice>& slice_units = packed ? packed->units : units_here;
    const std::vector<Weights>& w_hh_slices = packed ? packed->w_hh : w_hh_here;
    const int slices = int(slice_units.size());
    TeamStop stop(interrupt);
    parallel_team(column_split_threads(H), [&](const Team& team) {
      if (!packed)
        for (int k = team.thread; k < slices; k += team.threads)
          w_hh_here[k].pack_panels(w.w_hh, /*w_is_nk=*/true, 0, w_hh_here[k].panels());
      for (int s = 0; s < d.T; ++s) {
        stop.ask(team.thread, s);
        const T* h_prev = h_slots + slot(s) * slot_size;
        for (int k = team.thread; k < slices; k += team.threads) {
          w_hh_slices[k].multiply(B, h_prev, H, rec.data(), GH, /*accumulate=*/false);
          cell_step(s, 0, B, slice_units[k].begin, slice_units[k].size());
        }
        team.barrier();  // the next step reads every unit of this step's state
        if (stop.leaving(s)) break;
      }
    });
  }
  interrupt.throw_if_stopped();
  std::memcpy(h_n, h_slots + slot(d.T) * slot_size, sizeof(T) * slot_size);
  if constexpr (kCell) std::memcpy(c_n, c_slots + slot(d.T) * slot_size, sizeof(T) * slot_size);
}

// Adds column sums of a [rows, cols] matrix (leading dimension ld) to out[cols].
template <typename T>
void add_column_sums(const T* m, size_t rows, int cols, int ld, T* out) {
  parallel_blocks(cols, 64, [&](int64_t j0, int64_t j1) {
    for (size_t r = 0; r < rows; ++r) {
      const T* row = m + r * ld;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) out[j] += row[j];
    }
  });
}

// Where the input-side pre-activation gradient of a block of gate rows sits in a gradient row
// (cells/cell_contract.h): gate rows [gate_row, gate_row + width) of W_ih are matched by
// columns [column, column + width).
struct InputGradSpan {
  int gate_row, column, width;
};

template <class Cell>
std::vector<InputGradSpan> input_grad_spans(int H) {
  const int GH = Cell::kGates * H;
  if (!Cell::kSplitRecurrentGrad) return {{0, 0, GH}};
  return {{0, 0, GH - H}, {GH - H, GH, H}};  // shared blocks, then the last one moved past GH
}

// BPTT through one layer and direction, given the cache of a training layer_forward.
// dy: in, H columns of each row used (gradient w.r.t. y). dh_n, dc_n: [B, H] in, may be null.
// dx: [T, B, I], accumulated (+=), or overwritten when !dx_accumulate. grads: accumulated (+=).
// dh0, dc0: [B, H] out.
// Consumes the cache: each gates row is overwritten with its pre-activation gradients, so the
// only buffers BPTT needs besides the cache are a few [B, H] states. The hidden-state slots are
// last read before dx is first written, so an overwritten dx may take their memory (the caller
// then needs no [T, B, I] buffer at backward's peak).
template <class Cell, typename T>
void layer_backward(const LayerDims& d, Lengths lengths, bool reverse, const LayerWeights<T>& w,
                    const T* x, const LayerCache<T>& cache, SequenceRows<const T> dy,
                    const T* dh_n, const T* dc_n, T* dx, bool dx_accumulate,
                    const LayerGrads<T>& grads, T* dh0, T* dc0) {
  const int B = d.B, H = d.H;
  const int GH = Cell::kGates * H, CW = Cell::kCacheWidth * H;
  const size_t slot_size = size_t(B) * H;
  const size_t TB = size_t(d.T) * B;
  constexpr bool kCell = Cell::kHasCellState;

  T* grad_rows = cache.gates;  // [T, B, CW]: the cache going in, gradient rows coming out
  std::vector<T> dh(slot_size), dh_prev(slot_size), dc(kCell ? slot_size : 0);
  if (dh_n) std::memcpy(dh.data(), dh_n, sizeof(T) * slot_size);
  if (kCell && dc_n) std::memcpy(dc.data(), dc_n, sizeof(T) * slot_size);

  const StateSlots slot{d.T, reverse, true};
  // The cell's backward over rows [b0, b1), units [j0, j0 + n) of step s: dh gathers dy, the
  // step's gradient rows are written over its cache, and dh_next gets the direct part of
  // dL/dh_prev (the product with W_hh is added after).
  auto cell_step = [&](int s, T* dh_cur, T* dh_next, int b0, int b1, int j0, int n) {
    const int t = time_of_step(s, d.T, reverse);
    const T* h_prev = cache.h + slot(s) * slot_size;
    const T* h_cur = cache.h + slot(s + 1) * slot_size;
    const T* c_prev = kCell ? cache.c + slot(s) * slot_size : nullptr;
    const T* c_cur = kCell ? cache.c + slot(s + 1) * slot_size : nullptr;
    T* grad_rows_t = grad_rows + size_t(t) * B * CW;
    for (int b = b0; b < b1; ++b) {
      const size_t unit = size_t(b) * H + j0;
      T* dh_b = dh_cur + unit;
      if (lengths.active(b, t)) {
        const T* dy_units = dy.row(t, b) + j0;
#pragma omp simd
        for (int j = 0; j < n; ++j) dh_b[j] += dy_units[j];
        Cell::backward(H, n, grad_rows_t + size_t(b) * CW + j0, h_prev + unit,
                       kCell ? c_prev + unit : nullptr, h_cur + unit,
                       kCell ? c_cur + unit : nullptr, dh_b, kCell ? dc.data() + unit : nullptr,
                       dh_next + unit);
      } else {  // the state was carried through this step: so is its gradient
        copy_row(dh_next + unit, dh_b, n);
        for (int block = 0; block < Cell::kCacheWidth; ++block)  // adds to no weight gradient
          zero_row(grad_rows_t + size_t(b) * CW + size_t(block) * H + j0, n);
      }
    }
  };

  InterruptPoll interrupt;
  const size_t w_hh_bytes = size_t(GH) * H * sizeof(T);
  if (choose_step_split(B, H, w_hh_bytes, /*training=*/true) == StepSplit::kRows) {
    const RecurrentProduct<T> times_w_hh(w.w_hh, H, GH, /*w_is_nk=*/false,  // dG @ W_hh
                                         int(max_block_size(B, batch_grain(GH, H))));
    parallel_blocks(B, batch_grain(GH, H), [&](int64_t b0, int64_t b1) {
      const BatchSlice slice{int(b0), int(b1)};
      T* dh_cur = dh.data();        // dL/dh after the step being undone
      T* dh_next = dh_prev.data();  // dL/dh before it, built by this step
      for (int s = d.T - 1; s >= 0; --s) {
        if (interrupt.should_stop(d.T - 1 - s)) break;
        cell_step(s, dh_cur, dh_next, slice.b0, slice.b1, 0, H);
        const T* grad_rows_t = grad_rows + size_t(time_of_step(s, d.T, reverse)) * B * CW;
        times_w_hh.multiply(slice.rows(), grad_rows_t + size_t(slice.b0) * CW, CW,
                            dh_next + size_t(slice.b0) * H, H, /*accumulate=*/true);
        std::swap(dh_cur, dh_next);
      }
    });
  } else {
    // Each thread owns the units of a range of panels of W_hh (as dG @ W_hh: its columns), so
    // the units its cell pass writes are the columns its product adds to, and the next step
    // reads only what the same thread wrote: one barrier per step, between the cell pass
    // (every gate gradient of the step) and the product that reads them all.
    const PackedWeights<T> times_w_hh = pack_in_parallel(w.w_hh, H, GH, /*w_is_nk=*/false);
    const int slices = column_split_threads(H);
    TeamStop stop(interrupt);
    parallel_team(slices, [&](const Team& team) {
      T* dh_cur = dh.data();
      T* dh_next = dh_prev.data();
      for (int s = d.T - 1; s >= 0; --s) {
        stop.ask(team.thread, d.T - 1 - s);
        for (int k = team.thread; k < slices; k += team.threads) {
          const int p0 = times_w_hh.panels() * k / slices;
          const int j0 = std::min(H, p0 * PackedWeights<T>::kWidth);
          const int j1 = std::min(H, times_w_hh.panels() * (k + 1) / slices *
                                         PackedWeights<T>::kWidth);
          cell_step(s, dh_cur, dh_next, 0, B, j0, j1 - j0);
        }
        team.barrier();  // the product reads every gate gradient of the step
        const T* grad_rows_t = grad_rows + size_t(time_of_step(s, d.T, reverse)) * B * CW;
        for (int k = team.thread; k < slices; k += team.threads)
          times_w_hh.multiply_panels(times_w_hh.panels() * k / slices,
                                     times_w_hh.panels() * (k + 1) / slices, B, grad_rows_t, CW,
                                     dh_next, H, /*accumulate=*/true);
        std::swap(dh_cur, dh_next);
        if (stop.leaving(d.T - 1 - s)) break;
      }
    });
  }
  // After T swaps the result sits in dh when T is even, in dh_prev when odd.
  std::memcpy(dh0, (d.T % 2 == 0 ? dh : dh_prev).data(), sizeof(T) * slot_size);
  interrupt.throw_if_stopped();
  if constexpr (kCell) std::memcpy(dc0, dc.data(), sizeof(T) * slot_size);

  // The state before step t, for every t, is one contiguous block of slots. This is the last
  // read of the slots: dx may be written over them from here on.
  const T* h_before = cache.h + (reverse ? slot_size : 0);
  blas::parallel_gemm<T>(true, false, GH, H, int(TB), T(1), grad_rows, CW, h_before, H, T(1),
                         grads.w_hh, H);
  // db_hh is the column sums of the gate gradients; db_ih shares them wherever its gradient
  // columns are the same (all but a split gradient's last block): one pass over the
  // memory-bound [T, B, G*H] gradients instead of two.
  std::vector<T> gate_sums(GH, T(0));
  add_column_sums(grad_rows, TB, GH, CW, gate_sums.data());
  for (int j = 0; j < GH; ++j) grads.b_hh[j] += gate_sums[j];
  T dx_beta = dx_accumulate ? T(1) : T(0);
  for (const InputGradSpan& span : input_grad_spans<Cell>(H)) {
    const T* dg = grad_rows + span.column;
    blas::parallel_gemm<T>(true, false, span.width, d.I, int(TB), T(1), dg, CW, x, d.I, T(1),
                           grads.w_ih + size_t(span.gate_row) * d.I, d.I);
    blas::parallel_gemm<T>(false, false, int(TB), d.I, span.width, T(1), dg, CW,
                           w.w_ih + size_t(span.gate_row) * d.I, d.I, dx_beta, dx, d.I);
    dx_beta = T(1);  // a split gradient's second span adds to the first
    T* db = grads.b_ih + span.gate_row;
    if (span.column + span.width <= GH) {
      for (int j = 0; j < span.width; ++j) db[j] += gate_sums[span.column + j];
    } else {
      add_column_sums(dg, TB, span.width, CW, db);
    }
  }
}

}  // namespace rnnfast
