// Generic (baseline) twin of the loss kernels: the same bodies, scalar, libm math.
#include "cpu/loss/loss_body.h"

namespace fastnn {

const LossKernels& loss_kernels_generic() { return make_loss_kernels<VecScalar>(); }

}  // namespace fastnn
