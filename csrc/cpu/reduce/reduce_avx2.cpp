// Reduction leaf kernels, AVX2+FMA instantiation (8 lanes).
#include "cpu/simd/avx2.h"
#include "cpu/reduce/reduce_body.h"

namespace fastnn {
ReduceKernels reduce_kernels_avx2() { return make_reduce_kernels<simd_avx2::VecF32>(); }
}  // namespace fastnn
