// Reduction leaf kernels, AVX-512F instantiation (16 lanes).
#include "cpu/simd/avx512.h"
#include "cpu/reduce/reduce_body.h"

namespace fastnn {
ReduceKernels reduce_kernels_avx512() { return make_reduce_kernels<simd_avx512::VecF32>(); }
}  // namespace fastnn
