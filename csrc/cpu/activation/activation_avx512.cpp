// AVX-512 activation kernels (leaf code only: compiled with -mavx512f/bw/vl/dq).
#include "cpu/activation/activation_body.h"

namespace fastnn {

const ActivationKernels& activation_kernels_avx512() { return make_activation_kernels<VecAvx512>(); }

}  // namespace fastnn
