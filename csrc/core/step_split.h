// How a layer's time loop is shared among threads.
//
//   rows:    each thread owns a slice of the batch and runs the whole time loop on it, with no
//            synchronisation between steps; every thread reads all of W_hh at every step.
//   columns: each thread owns a slice of the hidden units, i.e. the matching rows of every
//            gate block of W_hh (packed once into its own buffer, so they stay in its core's
//            cache), for every sample; the threads meet at a barrier after each step, since
//            the next step reads every unit of the state.
//
// At small batches a step's cost is reading W_hh, not multiplying: a row split leaves threads
// idle (one thread owns a batch of 1) and, where it does not, makes each thread read the whole
// matrix. The column split reads each byte of W_hh once per step across all cores. Both give
// the same numbers bit for bit: every output is one FMA chain over k in order, whichever thread
// computes it.
#pragma once

#include <unistd.h>  // sysconf: the L2 size

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cpu_features.h"
#include "parallel.h"

namespace rnnfast {

enum class StepSplit : int { kAuto = 0, kRows = 1, kColumns = 2 };

// Process-wide override of the automatic choice (tests force each path; kAuto: none).
inline std::atomic<int>& step_split_override() {
  static std::atomic<int> split{int(StepSplit::kAuto)};
  return split;
}

// Rows per slice below which splitting the batch costs more than it gains.
constexpr int64_t kMinBatchGrain = 4;
inline int64_t batch_grain(int gate_width, int H) {
  return std::max<int64_t>(kMinBatchGrain, (int64_t(1) << 16) / (int64_t(gate_width) * H + 1));
}

// Hidden units a thread of a column split owns at least: below this the barrier per step
// costs more than the thread saves.
constexpr int kMinUnitsPerThread = 32;

// Batches up to this size split by columns (when H gives more than one thread a slice).
// Measured on 2 cores (AMD EPYC, AVX2), T = 50, H = 128-1024: at batch 1-4 the column split
// took 0.35-0.95x the row split's time in inference and 0.7-1.05x in training; at batch 8,
// where a row split already gives each thread a full register tile of rows, 0.4-1.05x in
// inference but 1.06-1.2x in training, and at 16 it gained nothing. Again once the gate loops
// were vectorised (frozen LSTM/GRU inference): batch 2-4 0.43-0.92x; batch 8 1.04-1.19x up
// to H = 512 and 0.86-0.91x at 1024, where training GRUs took 1.06-1.14x (LSTMs 0.8x).
constexpr int kMaxColumnSplitBatch = 4;

// Inference batches up to this size also split by columns where reading W_hh bounds the row
// split (column_split_bytes).
constexpr int kMaxBandwidthColumnSplitBatch = 16;

// W_hh bytes above which an inference row split at batches 5-16 reads W_hh from beyond each
// core's L2 at every step, and the column split (each core its share, kept in its L2) wins.
// Measured on a 2-core Intel Xeon (2 MiB L2 per core), frozen float32 inference, T = 50, batch
// 8 and 16: columns took 0.63-0.78x the rows' time wherever W_hh outgrew L2 (LSTM and GRU
// H >= 512, RNN H = 1024) and 1.01-1.54x where it fitted: the threshold is the L2.
// On an AMD Zen 5 (family 0x1A, 1 MiB L2 per core), batch 8 and 16, I = 128: float32 and
// bfloat16 columns took 0.85-0.93x where W_hh is 6-16 MiB, 0.90-0.97x at 3-4 MiB (float32 H =
// 512), but int8's LSTM at H = 1024 (4 MiB) 1.09-1.10x and its GRU at H = 512 (0.75 MiB)
// 1.20x at batch 8: the threshold is 4x the L2. On older AMD CPUs (an AVX2 EPYC, 512 KiB L2)
// batch 8 gained only at H = 1024 and lost 4-19% up to H = 512: their shared L3 feeds a row
// split faster, so they keep the row split (no threshold).
inline size_t column_split_bytes() {
  static const size_t bytes = [] {
    size_t threshold = ~size_t(0);
#if defined(_SC_LEVEL2_CACHE_SIZE)
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    const size_t l2_bytes = l2 > 0 ? size_t(l2) : size_t(1) << 20;
    if (cpu_vendor() == CpuVendor::kIntel) threshold = l2_bytes;
    if (cpu_vendor() == CpuVendor::kAmd && cpu_family() >= 0x1A) threshold = 4 * l2_bytes;
#endif
    return threshold;
  }();
  return bytes;
}

// Batches of 5 to 16 rows that the row split cannot share among all threads (a slice takes at
// least kMinBatchGrain rows: with 2 threads, batches 5-7 ran on one thread while the other
// waited) split by columns where the units and W_hh are large enough. Measured on an AMD Zen
// 5, 2 threads, T = 50, batches 5-7, columns against rows (bench/bench_step_split.py):
// inference (frozen modules) 0.47-0.73x for LSTM and GRU from H = 128 and the RNN at H =
// 1024, but 1.44-1.79x for the RNN at H <= 128 (W_hh 16-64 KiB: a step too short for a
// barrier) and 0.92-1.07x at 256; LSTM and GRU at H = 64 (48-64 KiB) gained (0.71-0.79x) but
// each thread's 32 units half-fill a panel of the packed kernel, so they keep the rows;
// training 0.54-0.84x for LSTM and GRU from H = 256 and the RNN at H = 1024, but up to 1.27x
// for LSTM and GRU at H <= 128 and 1.49x for the RNN at H = 128. Below 192 KiB the verdict
// swings with the host's scheduling of the two CPUs (RNN at H <= 128 in three runs of a later
// day: 0.87-1.07x, 0.87-1.52x, 1.37-1.58x): columns gained at most 0.80x and lost up to 1.79x.
constexpr int kMinUnitsPerThreadForIdleRows = 64;                       // inference
constexpr size_t kMinWhhBytesForIdleRowsInference = size_t(192) << 10;  // inference
constexpr size_t kMinWhhBytesForIdleRowsTraining = size_t(512) << 10;   // training

// Threads a column split of H units would use (1: no split).
inline int column_split_threads(int H) {
  return int(std::max<int64_t>(1, std::min<int64_t>(openmp_max_threads(), H / kMinUnitsPerThread)));
}

// The split of a layer call's time loop over B rows of H units, whose W_hh takes w_hh_bytes
// (as packed: fewer in reduced precision); training: a training forward or backward.
inline StepSplit choose_step_split(int B, int H, size_t w_hh_bytes, bool training) {
  const auto forced = StepSplit(step_split_override().load(std::memory_order_relaxed));
  if (forced != StepSplit::kAuto) return forced;
  const int column_threads = column_split_threads(H);
  if (column_threads <= 1) return StepSplit::kRows;
  if (B <= kMaxColumnSplitBatch) return StepSplit::kColumns;
  if (B > kMaxBandwidthColumnSplitBatch) return StepSplit::kRows;
  // A row split's slices take batch_grain rows, which is kMinBatchGrain wherever the units or
  // bytes below allow a column split (it is more only where W_hh has under 16 Ki weights).
  const bool rows_leave_threads_idle = block_count(B, kMinBatchGrain) < openmp_max_threads();
  const bool wide_enough =
      training ? w_hh_bytes >= kMinWhhBytesForIdleRowsTraining
               : H / column_threads >= kMinUnitsPerThreadForIdleRows &&
                     w_hh_bytes >= kMinWhhBytesForIdleRowsInference;
  if (rows_leave_threads_idle && wide_enough) return StepSplit::kColumns;
  const bool bandwidth_bound = !training && w_hh_bytes > column_split_bytes();
  return bandwidth_bound ? StepSplit::kColumns : StepSplit::kRows;
}

// The units [begin, end) of slice k of `slices` over H units: boundaries on multiples of
// `align` (a vector's lanes), so every slice but the last starts and ends on a full vector.
struct UnitSlice {
  int begin, end;
  int size() const { return end - begin; }
};

inline UnitSlice unit_slice(int H, int slices, int k, int align) {
  auto edge = [&](int i) {
    if (i >= slices) return H;
    const int64_t raw = int64_t(H) * i / slices;
    return int(std::min<int64_t>(H, (raw + align / 2) / align * align));
  };
  return {edge(k), edge(k + 1)};
}

}  // namespace rnnfast
