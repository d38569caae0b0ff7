// rnnfast._cpu: which CPU levels this processor (and its operating system) can run. Built with
// no instruction-set flags, so it loads on any CPU; rnnfast/_dispatch.py asks it before loading
// a core module (rnnfast._core_<level>).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

namespace {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RNNFAST_X86 1
// __builtin_cpu_supports also checks that the OS saves the AVX/AVX-512 registers (XGETBV),
// so a level reported here is one whose instructions really execute.

bool baseline() {  // x86-64-v2: SSE4.2 and POPCNT
  return __builtin_cpu_supports("sse4.2") && __builtin_cpu_supports("popcnt");
}
bool avx2() {  // x86-64-v3
  return baseline() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
}
bool avx512() {  // x86-64-v4
  return avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512vl");
}
#endif

// Levels this CPU runs, lowest first.
std::vector<std::string> supported_levels() {
#ifdef RNNFAST_X86
  __builtin_cpu_init();
  std::vector<std::string> levels;
  if (baseline()) levels.push_back("baseline");
  if (avx2()) levels.push_back("avx2");
  if (avx512()) levels.push_back("avx512");
  return levels;
#else
  return {"baseline"};  // other architectures build only their compiler's default
#endif
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "CPU levels (baseline, avx2, avx512) this processor can run.";
  m.def("supported_levels", &supported_levels, "The CPU levels this processor runs, lowest first.");
}
