#pragma once
// Leaf kernels of the embedding: the forward's row copy and the backward's row add.
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

// dst[c] = src[c], c < n. stream: non-temporal stores (after a head up to dst's vector
// alignment), for outputs larger than the last-level cache; the caller fences (_mm_sfence) once
// after its last row.   dst, src: (n) contiguous
using RowCopyFn = void (*)(float* dst, const float* src, int64_t n, bool stream);

RowCopyFn row_copy_generic();
#if defined(FASTNN_X86)
RowCopyFn row_copy_avx2();
RowCopyFn row_copy_avx512();
#endif
RowCopyFn row_copy_kernel(Isa isa);

// dst[c] = src[c] + 0 (so -0 becomes +0, exactly what 0 + src gives), c < n: the embedding
// backward's first contribution to a gradient row, instead of zeroing the row and adding. stream
// as in RowCopyFn (the caller fences).   dst, src: (n) contiguous
using RowSetFn = void (*)(float* dst, const float* src, int64_t n, bool stream);

RowSetFn row_set_generic();
#if defined(FASTNN_X86)
RowSetFn row_set_avx2();
RowSetFn row_set_avx512();
#endif
RowSetFn row_set_kernel(Isa isa);

}  // namespace fastnn
