// Generic (baseline x86-64 / any CPU) twin of the activation kernels: same bodies, scalar, libm math.
#include "cpu/activation/activation_body.h"

namespace fastnn {

const ActivationKernels& activation_kernels_generic() { return make_activation_kernels<VecScalar>(); }

}  // namespace fastnn
