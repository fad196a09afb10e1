#pragma once
// The driver behind every elementwise glue kernel (activations, dropout, pointwise losses):
// runs a block function over operands of one shape with any strides (transposed, sliced,
// negative, zero = broadcast), threaded with parallel_for.
//
// Dimensions of size 1 are dropped and adjacent dimensions merged where every operand allows it,
// so dense operands become one run of numel elements and the kernel sees the arrays' own memory.
// Otherwise the C-order index space is walked in segments of at most kPointwiseSegment elements:
// an operand whose innermost stride is 1 is passed in place, any other one is gathered into (or,
// for outputs, scattered from) a per-thread buffer. Element order is never changed, so `start`
// (the C-order flat index of a block's first element) is what index-dependent kernels (dropout)
// need.
//
// Reductions are deterministic: the index space is cut into fixed chunks of `chunk` elements, each
// chunk's block results are summed in order into one double, and the chunk sums are added in
// order, so the result does not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>

#include "common/parallel.h"
#include "common/tensor.h"

namespace fastnn {

// Like parallel_for, but [begin, end) is cut into ranges of `chunk` items that the threads take
// one after another from a shared counter. Memory-bound glue kernels use it: on a machine shared
// with other work a descheduled thread then delays only its current chunk, not a fixed half of
// the array. Each range is still contiguous (and results never depend on who ran which range).
template <class F>
void dynamic_for(int64_t begin, int64_t end, int64_t chunk, const F& f) {
  if (end <= begin) return;
  chunk = std::max<int64_t>(chunk, 1);
  const int64_t n = (end - begin + chunk - 1) / chunk;
  if (n == 1) {
    f(begin, end);
    return;
  }
  std::atomic<int64_t> next{0};
  parallel_run(int(std::min<int64_t>(n, 1 << 16)), [&](int, int) {
    for (int64_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < n;)
      f(begin + c * chunk, std::min(end, begin + (c + 1) * chunk));
  });
}

constexpr int kMaxPointwiseOperands = 6;
constexpr int64_t kPointwiseSegment = 2048;

struct PwOperand {
  void* data = nullptr;              // nullptr: absent operand (the block sees nullptr)
  const int64_t* strides = nullptr;  // element strides, one per dimension of the shape
  int esize = 4;                     // bytes per element (1, 4 or 8)
  bool output = false;
};

struct PwBlock {
  void* ptr[kMaxPointwiseOperands];  // n contiguous elements per operand
  int64_t n;
  int64_t start;  // C-order flat index of element 0
  bool direct;    // every operand is the array's own memory (streaming stores allowed)
};

using PwBlockFn = std::function<double(const PwBlock&)>;

// Calls fn over all of shape[0..ndim), in pieces of about `grain` elements taken dynamically by
// the threads (dynamic_for). chunk > 0: fixed reduction chunks (see above), and the sum of fn's
// results is returned; chunk == 0: a plain map, fn's results are ignored and 0 is returned.
double pointwise_run(int ndim, const int64_t* shape, int nops, const PwOperand* ops, const PwBlockFn& fn,
                     int64_t chunk = 0, int64_t grain = int64_t(1) << 15);

// Whether an elementwise pass touching `bytes` should write with non-temporal stores: only when
// the data fills the last-level cache, so the output would not stay cached for the next op anyway
// and the store's read-for-ownership would be pure extra traffic.
bool pointwise_stream_stores(int64_t bytes);
// Overrides the threshold (bytes; -1 restores the default, the last-level cache size), so tests
// can run the streaming-store paths on small arrays.
void set_pointwise_stream_threshold(int64_t bytes);

}  // namespace fastnn
