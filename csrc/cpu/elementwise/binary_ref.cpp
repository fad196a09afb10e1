// Broadcasting binary leaf kernels, generic instantiation (scalar, W = 1): the reference row of
// the dispatch table and the path on non-x86 builds.
#include "cpu/simd/scalar.h"
#include "cpu/elementwise/binary_body.h"

namespace fastnn {

BinaryKernels binary_kernels_ref() { return make_binary_kernels<simd_scalar::VecF32>(); }

const BinaryKernels& binary_kernels_for(Isa isa) {
  static const BinaryKernels table[kNumIsas] = {
      binary_kernels_ref(),
#if defined(FASTNN_X86)
      isa_supported(Isa::avx2) ? binary_kernels_avx2() : binary_kernels_ref(),
      isa_supported(Isa::avx512) ? binary_kernels_avx512() : binary_kernels_ref(),
#else
      binary_kernels_ref(),
      binary_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
