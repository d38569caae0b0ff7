#pragma once
// Long loops ask, every few hundred steps, whether their caller wants them to stop (a Ctrl-C
// in Python). The core knows nothing of Python: the bindings install the question as a plain
// function, and a loop that is told to stop ends early and throws Interrupted.

#include <atomic>
#include <stdexcept>
#include <thread>

namespace rnnfast {

using StopRequested = bool (*)();

// The question the bindings install (null: never stop).
inline std::atomic<StopRequested>& stop_requested_hook() {
  static std::atomic<StopRequested> hook{nullptr};
  return hook;
}

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// One per long loop, made in the thread that called into the core. Inside a parallel region
// every thread calls should_stop() each step and they all stop together; only the caller's
// thread asks the hook (Python runs signal handlers in the thread that entered the core, and
// asking needs its interpreter lock).
class InterruptPoll {
 public:
  static constexpr int kEvery = 256;  // steps between questions: a GIL round trip is ~1 us

  InterruptPoll() : hook_(stop_requested_hook().load()), caller_(std::this_thread::get_id()) {}

  // `steps_done` counts the loop's steps so far (0, 1, ...).
  bool should_stop(int steps_done) {
    if (stopped_.load(std::memory_order_relaxed)) return true;
    if (hook_ && steps_done % kEvery == kEvery - 1 &&
        std::this_thread::get_id() == caller_ && hook_()) {
      stopped_.store(true, std::memory_order_relaxed);
      return true;
    }
    return false;
  }

  // After the parallel region (exceptions must not cross it).
  void throw_if_stopped() const {
    if (stopped_.load()) throw Interrupted();
  }

 private:
  StopRequested hook_;
  std::thread::id caller_;
  std::atomic<bool> stopped_{false};
};

// An InterruptPoll for a team whose threads meet at a barrier every step (step_split.h's
// column split): all must leave at the same step, or the others wait at the barrier for ever.
// Thread 0 (the caller) asks before step s and leaves the answer in slot s % 2; every thread
// reads it after the step's barrier. A late reader of step s cannot see step s + 1's answer,
// which goes to the other slot, and the slot of step s is next written after the barrier of
// step s + 1, which the late reader has not reached.
class TeamStop {
 public:
  explicit TeamStop(InterruptPoll& poll) : poll_(poll) {}

  void ask(int thread, int steps_done) {
    if (thread == 0 && poll_.should_stop(steps_done)) leave_[steps_done & 1].store(true);
  }
  bool leaving(int steps_done) const { return leave_[steps_done & 1].load(); }

 private:
  InterruptPoll& poll_;
  std::atomic<bool> leave_[2] = {false, false};
};

}  // namespace rnnfast
