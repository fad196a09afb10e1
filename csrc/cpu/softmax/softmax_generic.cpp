// Generic (baseline) twin of the softmax kernels: the same bodies, scalar, libm math.
#include "cpu/softmax/softmax_body.h"

namespace fastnn {

const SoftmaxKernels& softmax_kernels_generic() { return make_softmax_kernels<VecScalar>(); }

}  // namespace fastnn
