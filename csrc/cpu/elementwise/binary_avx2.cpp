// Broadcasting binary leaf kernels, AVX2+FMA instantiation (8 lanes).
#include "cpu/simd/avx2.h"
#include "cpu/elementwise/binary_body.h"

namespace fastnn {
BinaryKernels binary_kernels_avx2() { return make_binary_kernels<simd_avx2::VecF32>(); }
}  // namespace fastnn
