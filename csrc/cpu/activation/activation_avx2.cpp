// AVX2+FMA activation kernels (leaf code only: compiled with -mavx2 -mfma).
#include "cpu/activation/activation_body.h"

namespace fastnn {

const ActivationKernels& activation_kernels_avx2() { return make_activation_kernels<VecAvx2>(); }

}  // namespace fastnn
