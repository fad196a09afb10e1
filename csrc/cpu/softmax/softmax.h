#pragma once
// softmax / log_softmax along one dimension of a float32 array of any rank and strides.
//   forward:  y = softmax(x, dim)  (log: log_softmax)              x, y: same shape
//   backward: dx from grad_out g and the forward OUTPUT y (not x):
//             softmax      dx = y · (g - Σ_dim g·y)
//             log_softmax  dx = g - exp(y) · Σ_dim g
// Layouts: slices with unit stride along dim run the row kernel in place; otherwise, if some
// other dimension has unit stride in every operand, up to 64 slices run side by side (column
// kernel); anything else is gathered slice by slice into per-thread buffers.
#include "common/tensor.h"

namespace fastnn {

void softmax_cpu(const TensorView& x, const TensorView& y, int dim, bool log);
void softmax_backward_cpu(const TensorView& grad_out, const TensorView& y, const TensorView& dx, int dim, bool log);

}  // namespace fastnn
