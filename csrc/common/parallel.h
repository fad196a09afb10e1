#pragma once
// The CPU thread pool: one persistent pool, sized by set_num_threads (default: the cores this
// process may run on, or OMP_NUM_THREADS). A parallel region runs f(tid, nthreads) on the
// calling thread (tid 0) plus pool workers.
//
// No oversubscription: while one caller owns the pool, a second caller (another Python thread)
// or a nested region runs its work serially on its own thread, with nthreads == 1.
#include <algorithm>
#include <cstdint>
#include <functional>

namespace fastnn {

int get_num_threads();
void set_num_threads(int n);  // ValueError if n < 1

// Runs f(tid, nthreads) for tid in [0, nthreads), nthreads <= min(max_threads, get_num_threads()).
// Exceptions thrown by any tid are rethrown on the caller (the first one wins).
void parallel_run(int max_threads, const std::function<void(int tid, int nthreads)>& f);

// Splits [begin, end) into contiguous chunks of at least `grain` items, one per thread.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = (end - begin + grain - 1) / grain;
  int max_threads = int(std::min<int64_t>(chunks, 1 << 16));
  parallel_run(max_threads, [&](int tid, int nthr) {
    int64_t n = end - begin;
    int64_t lo = begin + n * tid / nthr, hi = begin + n * (tid + 1) / nthr;
    if (lo < hi) f(lo, hi);
  });
}

}  // namespace fastnn
