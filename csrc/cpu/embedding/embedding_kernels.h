#pragma once
// Leaf kernel of the embedding backward (the forward is a row copy: memcpy).
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

// dst[c] += src[c], c < n.   dst, src: (n) contiguous
using RowAddFn = void (*)(float* dst, const float* src, int64_t n);

RowAddFn row_add_generic();
#if defined(FASTNN_X86)
RowAddFn row_add_avx2();
RowAddFn row_add_avx512();
#endif
RowAddFn row_add_kernel(Isa isa);

}  // namespace fastnn
