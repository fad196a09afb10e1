// Optimizer step leaf kernels, AVX2+FMA instantiation (8 lanes).
#include "cpu/simd/avx2.h"
#include "cpu/optim/optim_body.h"

namespace fastnn {
OptimKernels optim_kernels_avx2() { return make_optim_kernels<simd_avx2::VecF32>(); }
}  // namespace fastnn
