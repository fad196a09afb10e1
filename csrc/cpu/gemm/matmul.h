#pragma once
#include "common/tensor.h"

namespace fastnn {

// NumPy matmul on float32 views of rank >= 2 (the Python layer lifts 1-D operands):
//   a (..., M, K) · b (..., K, N) → out (..., M, N)
// Batch dimensions of a and b broadcast against out's. Validates everything it relies on.
void matmul_cpu(const TensorView& a, const TensorView& b, const TensorView& out);

}  // namespace fastnn
