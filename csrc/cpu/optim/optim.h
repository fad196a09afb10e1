#pragma once
// Fused in-place optimizer steps on float32 buffers, torch.optim's single-tensor formulas.
#include <cstdint>

#include "common/tensor.h"

namespace fastnn {

struct SgdOptions {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false;
  bool first_step = false;  // initialise the momentum buffer to the gradient (torch's first step)
};

// param -= lr * update (see SgdArgs); momentum_buf required iff momentum != 0.
void sgd_step_cpu(const TensorView& param, const TensorView& grad, const TensorView& momentum_buf,
                  const SgdOptions& o);

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  int64_t step = 1;  // the step count after this update, from 1
  bool amsgrad = false, maximize = false;
  bool decoupled = false;  // AdamW
};

// max_exp_avg_sq required iff amsgrad.
void adam_step_cpu(const TensorView& param, const TensorView& grad, const TensorView& exp_avg,
                   const TensorView& exp_avg_sq, const TensorView& max_exp_avg_sq, const AdamOptions& o);

}  // namespace fastnn
