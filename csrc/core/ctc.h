// Connectionist Temporal Classification (Graves et al. 2006): the loss of one label sequence
// given per-step class scores, and its gradient, by the forward-backward recursion in log space.
//
// Vocabulary: T = valid input steps, C = classes (blank included), L = target labels,
// S = 2 L + 1 = the extended target (blank, l_1, blank, l_2, ..., l_L, blank); s indexes it.
// alpha[t][s] and beta[t][s] both include the emission of step t, as in torch's kernel, so
// alpha[t][s] + beta[t][s] - lp[t][l'(s)] is the log-probability of all paths through (t, s).
//
// Work per sample is O(T * S) for the recursions plus O(T * C) for the softmax and gradient;
// only states that can still reach the end (and are reachable from the start) are visited.
// The recursions run in double whatever the input type: the gradient is a difference of
// log-probabilities of the size of the loss (hundreds), whose float32 rounding alone
// (3e-5 at 400) would show in the gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "parallel.h"

namespace rnnfast::ctc {

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// log(exp(a) + exp(b)), exact at -inf.
template <typename T>
inline T log_add(T a, T b) {
  const T hi = std::max(a, b), lo = std::min(a, b);
  if (hi == kNegInf<T>) return hi;
  return hi + std::log1p(std::exp(lo - hi));
}

// log(exp(a) + exp(b) + exp(c)) with one log and two exps: the largest term contributes 1.
template <typename T>
inline T log_add3(T a, T b, T c) {
  if (b > a) std::swap(a, b);
  if (c > a) std::swap(a, c);
  if (a == kNegInf<T>) return a;
  return a + std::log(T(1) + std::exp(b - a) + std::exp(c - a));
}

// log_softmax of each of `rows` rows of C logits: out[r][c] = x[r][c] - logsumexp(x[r]).
template <typename T>
void log_softmax_rows(const T* x, int64_t rows, int64_t C, double* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* in = x + r * C;
    double* lp = out + r * C;
    const double hi = *std::max_element(in, in + C);
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += std::exp(in[c] - hi);
    const double shift = hi + std::log(sum);
    for (int64_t c = 0; c < C; ++c) lp[c] = in[c] - shift;
  }
}

// Scratch space of one sample, reused across the samples a thread handles.
struct Workspace {
  std::vector<double> log_probs;  // [T, C]
  std::vector<double> alpha;      // [T, S]
  std::vector<double> beta;       // [2, S]: rows t and t + 1 of beta, alternating
  std::vector<double> occupancy;  // [C]: posterior of class c at one step (sum over its states)
};

// One sample's negative log-likelihood and its gradient with respect to the logits.
//
// logits: [T, C] in, row stride C (the sample's valid steps only)
// labels: [L] in, each in [0, C) and != blank (checked by the caller)
// grad:   [T, C] out, d nll / d logits = softmax - occupancy; where the target is infeasible
//         all zero with zero_infinity, else all NaN
// Returns the nll: +inf when the target cannot be aligned to T steps.
template <typename T>
T sample_loss(const T* logits, int64_t Tn, int64_t C, const int64_t* labels, int64_t L,
              int64_t blank, bool zero_infinity, T* grad, Workspace& ws) {
  using A = double;  // see the header comment
  const int64_t S = 2 * L + 1;
  auto label_at = [&](int64_t s) { return s % 2 == 0 ? blank : labels[s / 2]; };
  // A label may be reached from two states back unless it is a blank or repeats the label there.
  auto can_skip = [&](int64_t s) { return s % 2 == 1 && s >= 2 && labels[s / 2] != labels[s / 2 - 1]; };

  ws.log_probs.resize(size_t(Tn * C));
  ws.alpha.assign(size_t(Tn * S), kNegInf<A>);
  ws.beta.assign(size_t(2 * S), kNegInf<A>);
  ws.occupancy.resize(size_t(C));
  A* lp = ws.log_probs.data();
  log_softmax_rows(logits, Tn, C, lp);

  // forward: alpha
  A* alpha = ws.alpha.data();
  alpha[0] = lp[blank];
  if (L > 0) alpha[1] = lp[labels[0]];
  for (int64_t t = 1; t < Tn; ++t) {
    const A* prev = alpha + (t - 1) * S;
    A* cur = alpha + t * S;
    const A* lp_t = lp + t * C;
    // states outside [lo, hi] can neither be reached by step t nor still reach the end
    const int64_t lo = std::max<int64_t>(0, S - 2 * (Tn - t)), hi = std::min<int64_t>(S - 1, 2 * t + 1);
    for (int64_t s = lo; s <= hi; ++s) {
      const A stay = prev[s], step = s >= 1 ? prev[s - 1] : kNegInf<A>;
      const A skip = can_skip(s) ? prev[s - 2] : kNegInf<A>;
      cur[s] = lp_t[label_at(s)] + log_add3(stay, step, skip);
    }
  }
  const A* last = alpha + (Tn - 1) * S;
  const A log_likelihood = L > 0 ? log_add(last[S - 1], last[S - 2]) : last[0];
  const A nll = -log_likelihood;
  if (!std::isfinite(nll)) {  // infeasible target: no alignment, no gradient (as in torch)
    std::fill(grad, grad + Tn * C, zero_infinity ? T(0) : std::numeric_limits<T>::quiet_NaN());
    return zero_infinity ? T(0) : T(nll);
  }

  // backward: beta, two rows at a time, and the gradient of each step once beta[t] is known
  for (int64_t t = Tn - 1; t >= 0; --t) {
    A* cur = ws.beta.data() + (t % 2) * S;
    const A* next = ws.beta.data() + ((t + 1) % 2) * S;
    const A* lp_t = lp + t * C;
    std::fill(cur, cur + S, kNegInf<A>);
    const int64_t lo = std::max<int64_t>(0, S - 2 * (Tn - t)), hi = std::min<int64_t>(S - 1, 2 * t + 1);
    if (t == Tn - 1) {
      cur[S - 1] = lp_t[blank];
      if (L > 0) cur[S - 2] = lp_t[labels[L - 1]];
    } else {
      for (int64_t s = lo; s <= hi; ++s) {
        const A stay = next[s], step = s + 1 < S ? next[s + 1] : kNegInf<A>;
        const A skip = s + 2 < S && can_skip(s + 2) ? next[s + 2] : kNegInf<A>;
        cur[s] = lp_t[label_at(s)] + log_add3(stay, step, skip);
      }
    }
    // Posterior of each state, alpha beta / (p y[c]), in [0, 1]: summed in linear space.
    A* occ = ws.occupancy.data();
    std::fill(occ, occ + C, A(0));
    const A* alpha_t = alpha + t * S;
    for (int64_t s = lo; s <= hi; ++s) {
      const int64_t c = label_at(s);
      occ[c] += std::exp(alpha_t[s] + cur[s] + nll - lp_t[c]);
    }
    // d nll / d logit[c] = softmax[c] - posterior of class c
    T* g = grad + t * C;
    for (int64_t c = 0; c < C; ++c) g[c] = T(std::exp(lp_t[c]) - occ[c]);
  }
  return T(nll);
}

// A batch of samples, one per thread block; samples past their input length get zero gradient.
//
// logits:        [N, Tmax, C] in
// labels:        concatenated targets, sample n's at [offsets[n], offsets[n + 1])
// input_lengths: [N] in, each in [1, Tmax]
// nll:           [N] out
// grad:          [N, Tmax, C] out
template <typename T>
void batch_loss(const T* logits, int64_t N, int64_t Tmax, int64_t C, const int64_t* labels,
                const int64_t* offsets, const int64_t* input_lengths, int64_t blank,
                bool zero_infinity, T* nll, T* grad) {
  parallel_blocks(N, 1, [&](int64_t begin, int64_t end) {
    Workspace ws;
    for (int64_t n = begin; n < end; ++n) {
      const int64_t Tn = input_lengths[n];
      T* g = grad + n * Tmax * C;
      nll[n] = sample_loss(logits + n * Tmax * C, Tn, C, labels + offsets[n],
                           offsets[n + 1] - offsets[n], blank, zero_infinity, g, ws);
      std::fill(g + Tn * C, g + Tmax * C, T(0));
    }
  });
}

}  // namespace rnnfast::ctc
