// Instructions beyond a CPU level's baseline (AVX512-VNNI, AVX512-BF16), which the AVX-512
// level uses only where cpuid reports them. RNNFAST_DISABLE_CPU_FEATURES (a comma-separated
// list of the names below) turns them off, so a CPU that has them can still run, and a test
// can check, the kernels that CPUs without them take. And the vendor, where a choice measured
// differently on Intel's and AMD's cores.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace rnnfast {

// Whether `name` is listed in RNNFAST_DISABLE_CPU_FEATURES.
inline bool cpu_feature_disabled(const char* name) {
  const char* list = std::getenv("RNNFAST_DISABLE_CPU_FEATURES");
  if (list == nullptr) return false;
  const std::string names = std::string(",") + list + ",";
  return names.find(std::string(",") + name + ",") != std::string::npos;
}

// The CPU's vendor, read once.
enum class CpuVendor { kIntel, kAmd, kOther };

inline CpuVendor cpu_vendor() {
  static const CpuVendor vendor = [] {
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_is("intel")) return CpuVendor::kIntel;
    if (__builtin_cpu_is("amd")) return CpuVendor::kAmd;
#endif
    return CpuVendor::kOther;
  }();
  return vendor;
}

// The CPU's family as cpuid leaf 1 reports it (base family, plus the extended family where the
// base is 0xF): 0x19 for AMD's Zen 3 and Zen 4, 0x1A for Zen 5; 0 where it cannot be read.
inline int cpu_family() {
  static const int family = [] {
#if defined(__x86_64__) || defined(__i386__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return 0;
    const int base = int((eax >> 8) & 0xF);
    return base == 0xF ? base + int((eax >> 20) & 0xFF) : base;
#else
    return 0;
#endif
  }();
  return family;
}

#if defined(__x86_64__) || defined(__i386__)
// Read once: the kernels ask at every call.
inline bool cpu_has_avx512vnni() {
  static const bool has =
      __builtin_cpu_supports("avx512vnni") && !cpu_feature_disabled("avx512vnni");
  return has;
}

inline bool cpu_has_avx512bf16() {
  static const bool has =
      __builtin_cpu_supports("avx512bf16") && !cpu_feature_disabled("avx512bf16");
  return has;
}

// Whether the bfloat16 kernel should multiply with vdpbf16ps rather than widen bf16 to float32
// for FMAs (the same bits either way). Measured, 50 steps at batch 64: on AMD Zen 4 vdpbf16ps
// took 0.58x the time of widening (LSTM H = 1024: 86 ms against 148); on an Intel Xeon with
// AMX (Sapphire Rapids class) 1.27x (161 ms against 127), and 1.15x at batch 8; at batch 1
// the two tie, both reading the same bytes. So only AMD CPUs take it.
inline bool cpu_prefers_bf16_dot_products() {
  static const bool prefers = cpu_has_avx512bf16() && cpu_vendor() == CpuVendor::kAmd;
  return prefers;
}
#endif

}  // namespace rnnfast
