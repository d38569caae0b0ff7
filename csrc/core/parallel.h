// Threading: OpenMP alone decides parallelism. Our OpenBLAS runs single-threaded inside each
// OpenMP block, so BLAS threads and pointwise threads never compete for the same cores
// (with both pools spinning on a 2-core machine a training step ran 10x slower).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>
#include <sched.h>

namespace rnnfast {

// libgomp's thread pool does not survive fork(): a child that enters a parallel region waits
// forever for the parent's threads, which the child does not have, and libgomp has no call to
// build a new pool. So a forked child runs every block inline on its one thread.
inline std::atomic<bool>& in_forked_child() {
  static std::atomic<bool> forked{false};
  return forked;
}

// Registers the fork handler; called once when the extension is imported.
inline void install_fork_handler() {
  pthread_atfork(nullptr, nullptr, [] { in_forked_child().store(true); });
}

// Process-wide cap set by rnnfast.set_num_threads (0: none). OpenMP's own setting is per
// thread (omp_set_num_threads affects only its caller), so without this cap a limit set in the
// main thread would not reach worker threads (a Dask worker's, a thread pool's).
inline std::atomic<int>& process_thread_cap() {
  static std::atomic<int> cap{0};
  return cap;
}

// Threads for a parallel region started by the calling thread: its OpenMP limit (which
// threadpoolctl and OMP_NUM_THREADS set), bounded by the process-wide cap.
inline int openmp_max_threads() {
#ifdef _OPENMP
  if (in_forked_child().load(std::memory_order_relaxed)) return 1;
  const int cap = process_thread_cap().load(std::memory_order_relaxed);
  const int own = omp_get_max_threads();
  return cap > 0 ? std::min(cap, own) : own;
#else
  return 1;
#endif
}

// Sets the process-wide cap and the calling thread's OpenMP limit (so raising the limit above
// OMP_NUM_THREADS works in the thread that asks).
inline void set_openmp_threads(int n) {
  process_thread_cap().store(std::max(1, n), std::memory_order_relaxed);
#ifdef _OPENMP
  omp_set_num_threads(std::max(1, n));
#endif
}

inline bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

// Splits [0, n) into contiguous blocks of at least `grain` items, at most one per thread, and
// runs body(begin, end) on each; inline when that makes one block. Bodies must not throw.
// How many blocks parallel_blocks(n, grain, ...) makes: at most one per thread, each holding at
// least `grain` items; 1 when that leaves no room to split.
inline int64_t block_count(int64_t n, int64_t grain) {
  const int64_t blocks = std::min<int64_t>(openmp_max_threads(), n / std::max<int64_t>(grain, 1));
  return std::max<int64_t>(blocks, 1);
}

// The most items one block of parallel_blocks(n, grain, ...) gets.
inline int64_t max_block_size(int64_t n, int64_t grain) {
  const int64_t blocks = block_count(n, grain);
  return (n + blocks - 1) / blocks;
}

template <typename F>
void parallel_blocks(int64_t n, int64_t grain, const F& body) {
  const int64_t blocks = block_count(n, grain);
  if (blocks <= 1) {
    if (n > 0) body(int64_t(0), n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for num_threads(int(blocks)) schedule(static, 1)
#endif
  for (int64_t k = 0; k < blocks; ++k) body(n * k / blocks, n * (k + 1) / blocks);
}

// The barrier of a parallel_team: threads spin on a generation counter, which the last to
// arrive advances. A column split meets at one every step, and OpenMP's own barrier (libgomp)
// cost 0.23-0.7 us there against 0.03-0.07 us for this one (2 threads, an AMD EPYC Zen 5, in a
// loop of barriers: bench/bench_kernels.py): at batch 1 and H = 64 a whole step takes about
// 1 us. Release and acquire on the counters make every write before a wait visible to every
// thread after it.
// A thread still waiting after some 4000 pauses (tens of microseconds: the team may have more
// threads than free cores, and the one it waits for may need this core) yields it at every
// further check.
class TeamBarrier {
 public:
  void wait(int threads) {
    const unsigned generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == threads - 1) {
      arrived_.store(0, std::memory_order_relaxed);  // before the others can arrive again
      generation_.store(generation + 1, std::memory_order_release);
      return;
    }
    constexpr unsigned kSpinsBeforeYielding = 1u << 12;
    for (unsigned spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
      if (spins < kSpinsBeforeYielding) {
        spin_pause();
      } else {
        sched_yield();
      }
    }
  }

 private:
  static void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  alignas(64) std::atomic<int> arrived_{0};
  alignas(64) std::atomic<unsigned> generation_{0};  // a line of its own: spun on
};

// What a parallel_team body is given: its thread number (0: the calling thread), the team's
// size, and the team's barrier.
class Team {
 public:
  Team(int thread, int threads, TeamBarrier& barrier)
      : thread(thread), threads(threads), barrier_(barrier) {}

  // Waits for every thread of the team; each must call it equally often.
  void barrier() const { barrier_.wait(threads); }

  const int thread, threads;

 private:
  TeamBarrier& barrier_;
};

// Runs body(team) on a team of at most `threads` threads (inline when 1); bodies may meet at
// team.barrier(). The team can be smaller than asked (nested regions, OMP_DYNAMIC; one thread
// in a forked child, see in_forked_child): bodies use the size they are given. Bodies must not
// throw.
template <typename F>
void parallel_team(int threads, const F& body) {
  TeamBarrier barrier;
#ifdef _OPENMP
  if (threads > 1 && !in_forked_child().load(std::memory_order_relaxed)) {
#pragma omp parallel num_threads(threads)
    body(Team(omp_get_thread_num(), omp_get_num_threads(), barrier));
    return;
  }
#endif
  body(Team(0, 1, barrier));
}

}  // namespace rnnfast
