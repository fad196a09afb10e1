// AVX2+FMA softmax kernels (leaf code only).
#include "cpu/softmax/softmax_body.h"

namespace fastnn {

const SoftmaxKernels& softmax_kernels_avx2() { return make_softmax_kernels<VecAvx2>(); }

}  // namespace fastnn
