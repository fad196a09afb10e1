// Normalization leaf kernels, AVX-512F instantiation (16 lanes).
#include "cpu/simd/avx512.h"
#include "cpu/norm/norm_body.h"

namespace fastnn {
NormKernels norm_kernels_avx512() { return make_norm_kernels<simd_avx512::VecF32>(); }
}  // namespace fastnn
