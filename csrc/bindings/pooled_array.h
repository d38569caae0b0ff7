// numpy arrays whose memory comes from the workspace pool (core/workspace.h) and goes back to it
// when the array dies. For the large buffers of a training step (the cache kept from a forward
// to its backward, the output, the gradients): above glibc's largest mmap threshold (32 MiB;
// the gates of an LSTM at T = 20, B = 256, H = 1024 take 80 MiB), and below it whenever the
// heap's top was trimmed, every step got fresh pages from the system and faulted them in:
// 5,300-5,900 faults and 20-108 ms of system time in a step of 0.74-1.3 s on a 2-core KVM
// guest, none with the pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../core/workspace.h"
#include "checks.h"

namespace rnnfast::bindings {

// Smaller arrays come from numpy's allocator, whose freed memory the heap keeps and reuses
// (the pool would only add its lookup, and keep small blocks idle). Python reads it as
// `pooled_array_min_bytes` so that small arrays skip the call into the extension.
constexpr size_t kPooledArrayMinBytes = size_t(1) << 20;

template <typename T>
Array<T> pooled_array(const std::vector<py::ssize_t>& shape) {
  size_t n = 1;
  for (py::ssize_t extent : shape) {
    if (extent < 0) throw py::value_error("array extents must not be negative");
    if (extent != 0 && n > PTRDIFF_MAX / sizeof(T) / size_t(extent))
      throw py::value_error("array too large");
    n *= size_t(extent);
  }
  if (n * sizeof(T) < kPooledArrayMinBytes) return Array<T>(shape);
  auto* block = new PooledArray<T>(n);
  py::capsule owner(block, [](void* p) { delete static_cast<PooledArray<T>*>(p); });
  return Array<T>(shape, block->data(), owner);
}

}  // namespace rnnfast::bindings
