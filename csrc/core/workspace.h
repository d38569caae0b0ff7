// Large buffers kept across calls. A fresh multi-megabyte allocation comes from the system
// and page-faults on its first touch of every 4 KiB page, and glibc gives such a block back
// when it is freed, so every call paid the faults again: packing an LSTM's W_hh at H = 1024
// (16 MiB) took 17 ms, three quarters of a batch-1 inference call of 50 steps (measured on a
// 2-core KVM guest, where a page fault costs microseconds). Freed buffers wait here for the
// next request of about their size, up to kMaxCachedBytes in all; release_workspaces() gives
// them all back.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

#include "parallel.h"

namespace rnnfast {

class WorkspacePool {
 public:
  static constexpr size_t kMaxCachedBytes = size_t(512) << 20;

  static WorkspacePool& instance() {
    static WorkspacePool* pool = new WorkspacePool();  // never destroyed: used at exit
    return *pool;
  }

  // A block of at least `bytes`, 64-byte aligned: a cached one no more than twice that size,
  // or a new one. Throws std::bad_alloc.
  void* acquire(size_t bytes, size_t* capacity) {
    bytes = (bytes + 63) / 64 * 64;
    if (!in_forked_child().load(std::memory_order_relaxed)) {  // a child may not lock
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= 2 * bytes) {
        void* block = it->second;
        *capacity = it->first;
        cached_bytes_ -= it->first;
        free_.erase(it);
        return block;
      }
    }
    void* block = std::aligned_alloc(64, bytes);
    if (!block) throw std::bad_alloc();
    *capacity = bytes;
    return block;
  }

  void release(void* block, size_t capacity) {
    if (!block) return;
    if (!in_forked_child().load(std::memory_order_relaxed)) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_bytes_ + capacity <= kMaxCachedBytes) {
        free_.emplace(capacity, block);
        cached_bytes_ += capacity;
        return;
      }
    }
    std::free(block);
  }

  // Frees every cached block; returns the bytes given back.
  size_t release_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    const size_t freed = cached_bytes_;
    for (auto& entry : free_) std::free(entry.second);
    free_.clear();
    cached_bytes_ = 0;
    return freed;
  }

  size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_bytes_;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;  // capacity -> block
  size_t cached_bytes_ = 0;
};

// An array of n T taken from the pool and given back to it (contents undefined).
template <typename T>
class PooledArray {
 public:
  explicit PooledArray(size_t n) : data_(nullptr), capacity_(0) {
    if (n > 0)
      data_ = static_cast<T*>(WorkspacePool::instance().acquire(n * sizeof(T), &capacity_));
  }
  ~PooledArray() { WorkspacePool::instance().release(data_, capacity_); }
  PooledArray(PooledArray&& other) noexcept : data_(other.data_), capacity_(other.capacity_) {
    other.data_ = nullptr;
    other.capacity_ = 0;
  }
  PooledArray(const PooledArray&) = delete;
  PooledArray& operator=(const PooledArray&) = delete;
  PooledArray& operator=(PooledArray&&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }

 private:
  T* data_;
  size_t capacity_;
};

}  // namespace rnnfast
