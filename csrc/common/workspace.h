#pragma once
// Scratch memory for kernels: 64-byte aligned (one cache line, one ZMM register).
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace fastnn {

constexpr size_t kAlign = 64;

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

template <class T>
using AlignedPtr = std::unique_ptr<T[], AlignedFree>;

template <class T>
AlignedPtr<T> aligned_alloc_array(size_t count) {
  size_t bytes = (count * sizeof(T) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, bytes ? bytes : kAlign);
  if (!p) throw std::bad_alloc();
  return AlignedPtr<T>(static_cast<T*>(p));
}

// A per-thread buffer reused across calls (slot tells apart buffers used at the same time).
// Valid until the same thread asks for the same slot again.
float* thread_workspace(int slot, size_t floats);

}  // namespace fastnn
