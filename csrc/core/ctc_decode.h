// CTC prefix beam search: the most probable label sequence (summed over all its alignments)
// among the `beam` best prefixes kept at every step. With a beam at least as large as the
// number of distinct prefixes the search is exact.
//
// Vocabulary as in ctc.h: T = valid input steps, C = classes (blank included).
// Each prefix keeps two log-probabilities: of the paths that end in a blank (p_blank) and of
// those that end in its last label (p_label); extending by the same label again needs a blank
// in between, so only p_blank may extend to a repeat.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "ctc.h"

namespace rnnfast::ctc {

// Prefixes as nodes of a trie: node 0 is the empty prefix.
class PrefixTrie {
 public:
  explicit PrefixTrie(int64_t C) : C_(C), parent_{-1}, label_{-1} {}

  int64_t child(int64_t node, int64_t label) {
    const auto [it, added] = children_.try_emplace(node * C_ + label, int64_t(parent_.size()));
    if (added) {
      parent_.push_back(node);
      label_.push_back(label);
    }
    return it->second;
  }
  int64_t last_label(int64_t node) const { return label_[size_t(node)]; }

  std::vector<int64_t> labels(int64_t node) const {
    std::vector<int64_t> out;
    for (; node > 0; node = parent_[size_t(node)]) out.push_back(label_[size_t(node)]);
    std::reverse(out.begin(), out.end());
    return out;
  }

 private:
  int64_t C_;
  std::vector<int64_t> parent_, label_;
  std::unordered_map<int64_t, int64_t> children_;
};

template <typename T>
struct Beam {
  int64_t node;
  T p_blank, p_label;
  T total() const { return log_add(p_blank, p_label); }
};

// log_probs: [T, C] in (log_softmax of the logits); returns the best labelling and, in *score,
// its log-probability over the beam's alignments.
template <typename T>
std::vector<int64_t> prefix_beam_search(const T* log_probs, int64_t Tn, int64_t C,
                                        int64_t beam, int64_t blank, T* score) {
  PrefixTrie trie(C);
  std::vector<Beam<T>> beams{{0, T(0), kNegInf<T>}}, next;
  std::unordered_map<int64_t, size_t> slot;  // node -> its index in `next`
  auto entry = [&](int64_t node) -> Beam<T>& {
    const auto [it, added] = slot.try_emplace(node, next.size());
    if (added) next.push_back({node, kNegInf<T>, kNegInf<T>});
    return next[it->second];
  };
  for (int64_t t = 0; t < Tn; ++t) {
    const T* lp = log_probs + t * C;
    next.clear();
    slot.clear();
    for (const Beam<T>& b : beams) {
      const T total = b.total();
      Beam<T>& same = entry(b.node);
      same.p_blank = log_add(same.p_blank, total + lp[blank]);
      const int64_t last = b.node == 0 ? -1 : trie.last_label(b.node);
      for (int64_t c = 0; c < C; ++c) {
        if (c == blank) continue;
        const int64_t grown = trie.child(b.node, c);
        if (c == last) {
          // a repeat collapses into the same prefix unless a blank separated it
          Beam<T>& kept = entry(b.node);
          kept.p_label = log_add(kept.p_label, b.p_label + lp[c]);
          Beam<T>& ext = entry(grown);
          ext.p_label = log_add(ext.p_label, b.p_blank + lp[c]);
        } else {
          Beam<T>& ext = entry(grown);
          ext.p_label = log_add(ext.p_label, total + lp[c]);
        }
      }
    }
    const size_t keep = std::min(next.size(), size_t(beam));
    std::partial_sort(next.begin(), next.begin() + std::ptrdiff_t(keep), next.end(),
                      [](const Beam<T>& a, const Beam<T>& b) {
                        const T ta = a.total(), tb = b.total();
                        return ta > tb || (ta == tb && a.node < b.node);
                      });
    next.resize(keep);
    std::swap(beams, next);
  }
  *score = beams.front().total();
  return trie.labels(beams.front().node);
}

// A batch: decoded[n] for sample n's first input_lengths[n] steps, in parallel over samples.
template <typename T>
void batch_beam_search(const T* log_probs, int64_t N, int64_t Tmax, int64_t C,
                       const int64_t* input_lengths, int64_t beam, int64_t blank,
                       std::vector<std::vector<int64_t>>& decoded, T* scores) {
  decoded.assign(size_t(N), {});
  parallel_blocks(N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n)
      decoded[size_t(n)] = prefix_beam_search(log_probs + n * Tmax * C, input_lengths[n], C,
                                              beam, blank, scores + n);
  });
}

}  // namespace rnnfast::ctc
