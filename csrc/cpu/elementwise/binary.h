#pragma once
// Broadcasting elementwise add / mul (NumPy rules) and helpers for their backwards.
#include "common/tensor.h"
#include "cpu/elementwise/binary_kernels.h"

namespace fastnn {

// out = a op b. a and b are views of out's shape (broadcast axes have stride 0); out has any
// non-zero strides and must not partially overlap a or b (exactly equal views are fine).
void binary_cpu(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out, const char* fn);

// out = a * s, a a (broadcast) view of out's shape: sum/mean backward.
void scale_cpu(const TensorView& a, double s, const TensorView& out);

// ga = g * b, gb = g * a in one pass; all five contiguous and of one shape.
void mul_backward_cpu(const TensorView& g, const TensorView& a, const TensorView& b, const TensorView& ga,
                      const TensorView& gb);

}  // namespace fastnn
