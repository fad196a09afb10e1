// Broadcasting binary leaf kernels, AVX-512F instantiation (16 lanes).
#include "cpu/simd/avx512.h"
#include "cpu/elementwise/binary_body.h"

namespace fastnn {
BinaryKernels binary_kernels_avx512() { return make_binary_kernels<simd_avx512::VecF32>(); }
}  // namespace fastnn
