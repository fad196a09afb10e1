// AVX2+FMA loss kernels (leaf code only).
#include "cpu/loss/loss_body.h"

namespace fastnn {

const LossKernels& loss_kernels_avx2() { return make_loss_kernels<VecAvx2>(); }

}  // namespace fastnn
