#pragma once
// Dynamic block scheduling on top of parallel_run, for memory-bound kernels.
//
// parallel_for gives each thread one fixed share, so a thread the OS delays (a shared machine,
// other processes) delays the whole call by its share. Here threads take fixed-size blocks from
// a shared counter until none are left: a delayed thread holds back at most one block, and the
// others do the rest. Blocks are large (tens to hundreds of KB of data) so the counter costs
// nothing measurable, and contiguous so each thread still streams through memory.
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "common/parallel.h"

namespace fastnn {

// f(tid, lo, hi) for blocks [lo, hi) of [begin, end), each of `block` items (the last shorter);
// tid < max_threads, for per-thread accumulators.
template <class F>
void parallel_blocks_tid(int64_t begin, int64_t end, int64_t block, const F& f, int max_threads = 1 << 16) {
  if (end <= begin) return;
  block = std::max<int64_t>(block, 1);
  const int64_t nblocks = (end - begin + block - 1) / block;
  if (nblocks == 1) {
    f(0, begin, end);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_run(int(std::min<int64_t>(nblocks, max_threads)), [&](int tid, int) {
    for (;;) {
      const int64_t b = next.fetch_add(1, std::memory_order_relaxed);
      if (b >= nblocks) break;
      f(tid, begin + b * block, std::min(end, begin + (b + 1) * block));
    }
  });
}

template <class F>
void parallel_blocks(int64_t begin, int64_t end, int64_t block, const F& f) {
  parallel_blocks_tid(begin, end, block, [&](int, int64_t lo, int64_t hi) { f(lo, hi); });
}

// Threads parallel_blocks_tid may use for `items` items in blocks of `block`.
inline int block_threads(int64_t items, int64_t block) {
  const int64_t nblocks = (items + std::max<int64_t>(block, 1) - 1) / std::max<int64_t>(block, 1);
  return int(std::max<int64_t>(1, std::min<int64_t>(nblocks, get_num_threads())));
}

}  // namespace fastnn
