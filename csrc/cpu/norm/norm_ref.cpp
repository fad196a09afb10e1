// Normalization leaf kernels, generic instantiation (scalar, W = 1): the reference row of the
// dispatch table and the path on non-x86 builds.
#include "cpu/simd/scalar.h"
#include "cpu/norm/norm_body.h"

namespace fastnn {

NormKernels norm_kernels_ref() { return make_norm_kernels<simd_scalar::VecF32>(); }

const NormKernels& norm_kernels_for(Isa isa) {
  // ISA rows are only built where the CPU runs them (the builders are compiled with ISA flags).
  static const NormKernels table[kNumIsas] = {
      norm_kernels_ref(),
#if defined(FASTNN_X86)
      isa_supported(Isa::avx2) ? norm_kernels_avx2() : norm_kernels_ref(),
      isa_supported(Isa::avx512) ? norm_kernels_avx512() : norm_kernels_ref(),
#else
      norm_kernels_ref(),
      norm_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
