// AVX-512 loss kernels (leaf code only).
#include "cpu/loss/loss_body.h"

namespace fastnn {

const LossKernels& loss_kernels_avx512() { return make_loss_kernels<VecAvx512>(); }

}  // namespace fastnn
