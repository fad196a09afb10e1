#pragma once
// Embedding lookup and its scatter-add backward, float32 rows, int32 / int64 indices of any shape
// and strides.
//   forward:  out[..., :] = weight[indices[...], :]        weight (V, D), out (..., D)
//   backward: grad_weight[v, :] = Σ_{i: indices[i] = v} grad_out[i, :]   (duplicates accumulate,
//             in index order: the result does not depend on the thread count); the padding_idx
//             row stays 0.
// An index outside [0, V) raises ValueError naming its position and value, before any output of
// the backward is written.
#include <cstdint>

#include "common/tensor.h"

namespace fastnn {

void embedding_cpu(const TensorView& indices, const TensorView& weight, const TensorView& out);
// padding_idx: a row in [0, V), or -1 for none.
void embedding_backward_cpu(const TensorView& grad_out, const TensorView& indices, int64_t padding_idx,
                            const TensorView& grad_weight);

}  // namespace fastnn
