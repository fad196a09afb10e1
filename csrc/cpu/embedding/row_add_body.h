#pragma once
// dst += src over vec_ops.h (include only from row_add_{generic,avx2,avx512}.cpp).
#include "cpu/activation/vec_ops.h"
#include "cpu/embedding/embedding_kernels.h"

namespace fastnn {
namespace {

template <class VO>
void row_add(float* dst, const float* src, int64_t n) {
  map_loop<VO, false>(
      dst, n, [&](int64_t i) { return VO::add(VO::load(dst + i), VO::load(src + i)); },
      [&](int64_t i, int k) { return VO::add(VO::load_n(dst + i, k, 0.0f), VO::load_n(src + i, k, 0.0f)); });
}

}  // namespace
}  // namespace fastnn
