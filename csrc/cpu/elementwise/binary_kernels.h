#pragma once
// Leaf kernels of the broadcasting binary ops (add, mul) and their fused helpers, one table per
// ISA; bodies written once in binary_body.h. The driver (binary.cpp) reduces any broadcast to
// runs of n contiguous outputs whose operands are each contiguous or a single value.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

enum class BinaryOp : int { add = 0, mul = 1 };

// out[i] = a[i] op b[i], i in [0, n).
using BinaryVVFn = void (*)(BinaryOp op, const float* a, const float* b, float* out, int64_t n, bool stream);
// out[i] = a[i] op b (add and mul commute, so this also serves scalar op vector).
using BinaryVSFn = void (*)(BinaryOp op, const float* a, float b, float* out, int64_t n, bool stream);
// out[i] = v.
using FillFn = void (*)(float* out, int64_t n, float v, bool stream);
// ga[i] = g[i] * b[i], gb[i] = g[i] * a[i]: mul's backward for equal shapes in one pass.
using MulBackwardFn = void (*)(const float* g, const float* a, const float* b, float* ga, float* gb, int64_t n,
                               bool stream);

struct BinaryKernels {
  BinaryVVFn vv;
  BinaryVSFn vs;
  FillFn fill;
  MulBackwardFn mul_backward;
};

BinaryKernels binary_kernels_ref();
#if defined(FASTNN_X86)
BinaryKernels binary_kernels_avx2();
BinaryKernels binary_kernels_avx512();
#endif
const BinaryKernels& binary_kernels_for(Isa isa);

}  // namespace fastnn
