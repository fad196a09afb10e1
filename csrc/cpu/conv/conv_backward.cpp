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
    float* dz = conv_scratch(ConvScratch::act_grad, size_t(ysize));
    conv2d_preact_grad_cpu(g, x, w, bias, act, gy, dz);
    grad = dz;
  }
  if (gx) conv2d_backward_data_cpu(g, grad, w, nullptr, gx);
  if (gw) conv2d_backward_weight_cpu(g, grad, x, gw);
  if (gb) conv_bias_grad_cpu(g.N, g.K, g.Ho * g.Wo, grad, gb);
}

}  // namespace fastnn
