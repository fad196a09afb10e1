// AVX-512 softmax kernels (leaf code only).
#include "cpu/softmax/softmax_body.h"

namespace fastnn {

const SoftmaxKernels& softmax_kernels_avx512() { return make_softmax_kernels<VecAvx512>(); }

}  // namespace fastnn
