#pragma once
// Leaf kernels of the fused in-place optimizer steps (torch.optim's single-tensor formulas),
// one table per ISA; bodies written once in optim_body.h. Every buffer is contiguous float32
// of n elements; each element is read, updated and written once (memory bound).
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

struct SgdArgs {
  float lr = 0, momentum = 0, one_minus_dampening = 1, weight_decay = 0;
  bool use_momentum = false, nesterov = false, first_step = false, maximize = false;
};

// g = +-grad (+ wd p); buf = g on the first step, else momentum buf + (1 - dampening) g;
// g = g + momentum buf (nesterov) or buf; p -= lr g.
using SgdFn = void (*)(float* p, const float* grad, float* buf, int64_t n, const SgdArgs& a);

struct AdamArgs {
  float lr_decay = 1;          // AdamW: p *= 1 - lr wd first (1 otherwise)
  float weight_decay = 0;      // Adam: g += wd p (0 for AdamW)
  float lerp_w = 0;            // 1 - beta1: m = lerp(m, g, lerp_w) as torch's lerp_
  float beta2 = 0, one_minus_beta2 = 0;
  float step_size = 0;         // lr / (1 - beta1^t)
  float inv_bc2_sqrt = 0;      // 1 / sqrt(1 - beta2^t)
  float eps = 0;
  bool amsgrad = false, maximize = false;
};

// m, v (and vmax) updated; p -= step_size m / (sqrt(v or vmax) / sqrt(bc2) + eps).
using AdamFn = void (*)(float* p, const float* grad, float* m, float* v, float* vmax, int64_t n, const AdamArgs& a);

struct OptimKernels {
  SgdFn sgd;
  AdamFn adam;
};

OptimKernels optim_kernels_ref();
#if defined(FASTNN_X86)
OptimKernels optim_kernels_avx2();
OptimKernels optim_kernels_avx512();
#endif
const OptimKernels& optim_kernels_for(Isa isa);

}  // namespace fastnn
