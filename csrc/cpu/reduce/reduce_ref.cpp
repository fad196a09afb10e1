// Reduction leaf kernels, generic instantiation (scalar, W = 1): the reference row of the
// dispatch table and the path on non-x86 builds.
#include "cpu/simd/scalar.h"
#include "cpu/reduce/reduce_body.h"

namespace fastnn {

ReduceKernels reduce_kernels_ref() { return make_reduce_kernels<simd_scalar::VecF32>(); }

const ReduceKernels& reduce_kernels_for(Isa isa) {
  static const ReduceKernels table[kNumIsas] = {
      reduce_kernels_ref(),
#if defined(FASTNN_X86)
      isa_supported(Isa::avx2) ? reduce_kernels_avx2() : reduce_kernels_ref(),
      isa_supported(Isa::avx512) ? reduce_kernels_avx512() : reduce_kernels_ref(),
#else
      reduce_kernels_ref(),
      reduce_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
