// A measured limit for the benchmark: how fast the cores together can read a buffer of a given
// size that they read again and again (as small-batch steps read W_hh). Each thread sums its
// own contiguous share, as a column split reads its slice of W_hh, so a buffer that fits in
// the cores' caches together is read from them and a larger one from memory.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "parallel.h"

namespace rnnfast {

// Bytes per second reading `bytes` (split over `threads` threads) `passes` times over in one
// parallel region (so starting the threads is not counted); best of 5 such regions after one
// warm-up region.
inline double read_bandwidth(int64_t bytes, int threads, int passes) {
  const int64_t n = std::max<int64_t>(bytes / int64_t(sizeof(float)), 1024);
  std::unique_ptr<float[]> data(new float[n]);
  std::vector<float> sums(std::max(threads, 1), 0.0f);
  parallel_team(threads, [&](const Team& team) {  // first touch by the reading thread
    const int64_t b = n * team.thread / team.threads, e = n * (team.thread + 1) / team.threads;
    for (int64_t i = b; i < e; ++i) data[i] = float(i & 7);
  });
  double best = 0.0;
  for (int region = 0; region <= 5; ++region) {
    const auto start = std::chrono::steady_clock::now();
    parallel_team(threads, [&](const Team& team) {
      const int64_t b = n * team.thread / team.threads, e = n * (team.thread + 1) / team.threads;
      float acc[32] = {};  // independent sums, so adds do not bound the loop
      for (int pass = 0; pass < passes; ++pass) {
        int64_t i = b;
        for (; i + 32 <= e; i += 32) {
#pragma omp simd
          for (int j = 0; j < 32; ++j) acc[j] += data[i + j];
        }
        for (; i < e; ++i) acc[0] += data[i];
      }
      float total = 0.0f;
      for (float a : acc) total += a;
      sums[team.thread] += total;  // kept, so the reads are not optimised away
    });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (region > 0) best = std::max(best, double(n) * sizeof(float) * passes / seconds);
  }
  volatile float sink = 0.0f;
  for (float s : sums) sink = sink + s;
  return best;
}

}  // namespace rnnfast
