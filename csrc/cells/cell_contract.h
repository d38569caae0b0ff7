// The contract every cell implements; the layer machinery (core/layer.h) is written once
// against it. A cell only knows the gate math of one row (one batch entry at one step).
//
//   static constexpr int  kGates;             G: gate blocks in W_ih / W_hh (torch order)
//   static constexpr int  kCacheWidth;        C: cache row width in units of H (C >= G)
//   static constexpr bool kHasCellState;      true for LSTM (c state next to h)
//   static constexpr bool kSplitRecurrentGrad true when d(pre-activation) of the last gate block
//                                             differs between the input and the recurrent
//                                             product (GRU's n gate)
//
//   template <typename T, bool Training>
//   static void forward(int H, int n, T* gates, const T* rec, const T* b_ih, const T* b_hh,
//                       const T* h_prev, const T* c_prev, T* h, T* c);
//     n:      units computed: j in [0, n) of each gate block, every pointer below at the
//             first of them (n = H for a whole row; fewer when threads split the units)
//     gates:  [C*H] in: x_t @ W_ih^T in its first G*H entries; out (Training only): the cache
//     rec:    [G*H] in: h_prev @ W_hh^T, no bias
//     b_ih, b_hh: [G*H] biases; h_prev, c_prev: [H] in; h, c: [H] out (c null unless LSTM)
//
//   template <typename T>
//   static void backward(int H, int n, T* cache, const T* h_prev, const T* c_prev,
//                        const T* h, const T* c, const T* dh, T* dc, T* dh_prev);
//     n:      units computed, as in forward
//     cache:  [C*H] in: what forward wrote; out: the pre-activation gradients, written over it
//             (so backward needs no buffer of its own; see "Gradient row" below)
//     h, c:   [H] the states forward produced
//     dh:     [H] in: total gradient w.r.t. h_t;  dc: [H] in: dL/dc_t, out: dL/dc_{t-1}
//     dh_prev:[H] out: gradient reaching h_prev directly, not through W_hh
//
//   Gradient row, what backward leaves in cache (every entry of the first G*H, or (G+1)*H
//   when split, written):
//     [0, G*H)        d/d(h_prev @ W_hh^T + b_hh), the recurrent pre-activation
//     input side      d/d(x_t @ W_ih^T + b_ih) equals it, except when kSplitRecurrentGrad:
//                     then the last gate block's input-side gradient is in [G*H, (G+1)*H)
//                     (so C >= G + 1) and blocks 0..G-2 are shared.
//   In place is safe because iteration j reads and writes only entries j, H+j, 2H+j, ... and
//   reads them all before writing: iterations never see each other's writes.
#pragma once
