#pragma once
// sum / mean / max over a set of axes, and the scatter of max's backward.
#include <cstdint>

#include "common/tensor.h"

namespace fastnn {

enum class ReduceOp { sum, mean, max };

// x: float32, any strides. reduced: bit d set = axis d is reduced. out: float32 with the kept
// axes' sizes (rank x.ndim - popcount(reduced)), any non-zero strides. idx (max only): int64,
// out's shape: the row-major flat index over the reduced axes of the first maximum (first NaN).
// sum: pairwise / compensated float32 partial sums combined in double; mean = sum / count.
void reduce_cpu(const TensorView& x, uint32_t reduced, ReduceOp op, const TensorView& out, const TensorView& idx);

// grad_x (x's shape, contiguous) = 0 except grad_x[argmax] = grad; grad, idx: the kept shape.
void max_backward_cpu(const TensorView& grad, const TensorView& idx, uint32_t reduced, const TensorView& grad_x);

}  // namespace fastnn
