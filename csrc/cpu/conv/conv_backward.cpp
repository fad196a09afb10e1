// conv2d backward with the fused bias + activation: recompute the pre-activation, multiply
// grad_out by the activation's derivative, then the data, weight and bias gradients.
#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/conv/conv2d.h"
#include "cpu/conv/conv_kernels.h"
#include "cpu/conv/conv_scratch.h"

namespace fastnn {

void conv2d_backward_cpu(const Conv2dGeometry& g, const float* gy, const float* x, const float* w,
                         const float* bias, Activation act, float* gx, float* gw, float* gb) {
  const float* grad = gy;
  const int64_t ysize = g.N * g.K * g.Ho * g.Wo;
  if (act != Activation::none && ysize > 0) {
    float* z = conv_scratch(ConvScratch::act_grad, size_t(ysize));
    conv2d_forward_cpu(g, x, w, bias, Activation::none, z);
    const ActGradFn act_grad = act_grad_for(active_isa());
    parallel_for(0, ysize, 1 << 14, [&](int64_t lo, int64_t hi) { act_grad(z + lo, gy + lo, z + lo, hi - lo, act); });
    grad = z;
  }
  if (gx) conv2d_backward_data_cpu(g, grad, w, nullptr, gx);
  if (gw) conv2d_backward_weight_cpu(g, grad, x, gw);
  if (gb) conv_bias_grad_cpu(g.N, g.K, g.Ho * g.Wo, grad, gb);
}

}  // namespace fastnn
