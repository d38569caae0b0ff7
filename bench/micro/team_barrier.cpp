// What one barrier costs a column split's threads: rnnfast's TeamBarrier (csrc/core/parallel.h)
// against OpenMP's `#pragma omp barrier`, each timed over a loop of barriers in one parallel
// region (best of 5 rounds), so only the meeting is measured. Built and run by
// bench/bench_kernels.py.
//
//   team_barrier threads
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "core/parallel.h"

template <typename Loop>
double best_microseconds_per_barrier(int barriers, const Loop& loop) {
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    loop();
    const std::chrono::duration<double, std::micro> spent = std::chrono::steady_clock::now() - start;
    best = std::min(best, spent.count() / barriers);
  }
  return best;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: team_barrier threads\n");
    return 2;
  }
  const int threads = std::atoi(argv[1]);
  constexpr int kBarriers = 100000;
  const double ours = best_microseconds_per_barrier(kBarriers, [&] {
    rnnfast::parallel_team(threads, [&](const rnnfast::Team& team) {
      for (int i = 0; i < kBarriers; ++i) team.barrier();
    });
  });
  const double openmp = best_microseconds_per_barrier(kBarriers, [&] {
#pragma omp parallel num_threads(threads)
    for (int i = 0; i < kBarriers; ++i) {
#pragma omp barrier
    }
  });
  std::printf("barrier, %d threads: TeamBarrier %.3f us, omp barrier %.3f us\n", threads, ours,
              openmp);
  return 0;
}
