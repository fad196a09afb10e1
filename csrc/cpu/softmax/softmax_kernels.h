#pragma once
// Leaf kernels of softmax / log_softmax, one table per ISA (row 0: the generic twin).
//
// Row kernels work on one contiguous slice along the softmax axis; column kernels on L ≤
// kSoftmaxColumns adjacent slices at once, when the axis is not the innermost one:
//   element (c, l) of the block is at p + c·stride + l.
// `log` picks log_softmax. Backward kernels take the forward *output* y:
//   softmax:      dx = y · (g - Σ g·y)
//   log_softmax:  dx = g - exp(y) · Σ g
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

constexpr int kSoftmaxColumns = 64;

// x, y: (C). stream: the output is written once, with non-temporal stores (for arrays far
// larger than the last-level cache); softmax then keeps the exps in scratch (C floats, required
// when stream && !log) instead of in y, so y is never read back. next: the row the caller does
// next (or null), prefetched into L2 while this one is computed.
using SoftmaxRowFn = void (*)(const float* x, float* y, int64_t C, bool log, bool stream, float* scratch,
                              const float* next);
// g, y, dx: (C); next_g, next_y: the next rows (or null), prefetched.
using SoftmaxRowBackwardFn = void (*)(const float* g, const float* y, float* dx, int64_t C, bool log, bool stream,
                                      const float* next_g, const float* next_y);
// x: (C, L) row stride xs; y: (C, L) row stride ys
using SoftmaxColFn = void (*)(const float* x, int64_t xs, float* y, int64_t ys, int64_t C, int L, bool log);
// g, y, dx: (C, L) with row strides gs, ys, ds
using SoftmaxColBackwardFn = void (*)(const float* g, int64_t gs, const float* y, int64_t ys, float* dx, int64_t ds,
                                      int64_t C, int L, bool log);

struct SoftmaxKernels {
  SoftmaxRowFn row;
  SoftmaxRowBackwardFn row_backward;
  SoftmaxColFn col;
  SoftmaxColBackwardFn col_backward;
};

const SoftmaxKernels& softmax_kernels_generic();
#if defined(FASTNN_X86)
const SoftmaxKernels& softmax_kernels_avx2();
const SoftmaxKernels& softmax_kernels_avx512();
#endif
const SoftmaxKernels& softmax_kernels(Isa isa);

}  // namespace fastnn
