// Normalization leaf kernels, AVX2+FMA instantiation (8 lanes).
#include "cpu/simd/avx2.h"
#include "cpu/norm/norm_body.h"

namespace fastnn {
NormKernels norm_kernels_avx2() { return make_norm_kernels<simd_avx2::VecF32>(); }
}  // namespace fastnn
