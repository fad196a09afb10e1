// Optimizer step leaf kernels, AVX-512F instantiation (16 lanes).
#include "cpu/simd/avx512.h"
#include "cpu/optim/optim_body.h"

namespace fastnn {
OptimKernels optim_kernels_avx512() { return make_optim_kernels<simd_avx512::VecF32>(); }
}  // namespace fastnn
