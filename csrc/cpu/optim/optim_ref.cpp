// Optimizer step leaf kernels, generic instantiation (scalar, W = 1): the reference row of the
// dispatch table and the path on non-x86 builds.
#include "cpu/simd/scalar.h"
#include "cpu/optim/optim_body.h"

namespace fastnn {

OptimKernels optim_kernels_ref() { return make_optim_kernels<simd_scalar::VecF32>(); }

const OptimKernels& optim_kernels_for(Isa isa) {
  static const OptimKernels table[kNumIsas] = {
      optim_kernels_ref(),
#if defined(FASTNN_X86)
      isa_supported(Isa::avx2) ? optim_kernels_avx2() : optim_kernels_ref(),
      isa_supported(Isa::avx512) ? optim_kernels_avx512() : optim_kernels_ref(),
#else
      optim_kernels_ref(),
      optim_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
