#pragma once
// Leaf kernels of the reduction family (sum / mean / max over axes), one table per ISA; bodies
// written once in reduce_body.h. The driver (reduce.cpp) maps any reduction onto two shapes:
//   rows:    the reduced elements of an output are contiguous runs ("rows") of n floats;
//   columns: consecutive outputs are contiguous (a kept axis has unit stride), so K outputs are
//            reduced at once, vectorised across them, walking the reduced "rows" of K floats.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

// Rows added into a plain block sum before a compensated fold (cols_sum).
constexpr int64_t kReduceFoldRows = 32;

// out[r] = sum of x[r * ld + 0 .. n) (pairwise), r in [0, rows).
using RowsSumFn = void (*)(const float* x, int64_t ld, int64_t rows, int64_t n, float* out);
// val[r], idx[r] = max of row r and the position of its first occurrence; a NaN wins (first
// NaN). n >= 1 and n < 2^31.
using RowsMaxFn = void (*)(const float* x, int64_t ld, int64_t rows, int64_t n, float* val, int32_t* idx);
// Adds rows x[r * rs + 0 .. K), r in [0, nrows), into per-column totals: acc holds block[K],
// sum[K], comp[K] (true total = sum - comp), block zero on entry and on return.
using ColsSumFn = void (*)(const float* x, int64_t rs, int64_t nrows, int64_t K, float* acc);
// Running column max over rows r in [0, nrows) (nrows < 2^31): where row r beats val[j]
// (greater, or NaN over non-NaN), val[j] = x and rel[j] = r. Earlier rows win ties.
using ColsMaxFn = void (*)(const float* x, int64_t rs, int64_t nrows, int64_t K, float* val, int32_t* rel);

struct ReduceKernels {
  RowsSumFn rows_sum;
  RowsMaxFn rows_max;
  ColsSumFn cols_sum;
  ColsMaxFn cols_max;
};

ReduceKernels reduce_kernels_ref();
#if defined(FASTNN_X86)
ReduceKernels reduce_kernels_avx2();
ReduceKernels reduce_kernels_avx512();
#endif
const ReduceKernels& reduce_kernels_for(Isa isa);

}  // namespace fastnn
