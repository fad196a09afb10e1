#pragma once
// CPU 2-D convolution entry points. Every array is contiguous float32 NCHW (the bindings
// check); shapes follow the Conv2dGeometry (finished, Ho/Wo set). Outputs are fully written.
//
//   x (N, C, H, W)   w (K, C/groups, R, S)   bias (K)   y (N, K, Ho, Wo)
#include "cpu/conv/conv_geometry.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

// y = act(conv(x, w) + bias); bias may be null.
void conv2d_forward_cpu(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                        Activation act, float* y);

// out = gy · act'(conv(x, w) + bias): the gradient of the pre-activation, recomputing the
// convolution (fused into its epilogue where the implicit GEMM runs).
void conv2d_preact_grad_cpu(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                            Activation act, const float* gy, float* out);

// gx (N, C, H, W) = the adjoint of the convolution applied to gy (N, K, Ho, Wo), plus
// bias[c] (length C, may be null): conv_transpose2d's forward.
void conv2d_backward_data_cpu(const Conv2dGeometry& g, const float* gy, const float* w, const float* bias,
                              float* gx);

// gw (K, C/groups, R, S) = Σ_n,oy,ox gy[n,k,oy,ox] · x[n, c, oy*sh + r*dh - pt, ox*sw + s*dw - pl].
void conv2d_backward_weight_cpu(const Conv2dGeometry& g, const float* gy, const float* x, float* gw);

// gb[k] = Σ_{n, p} gy[n, k, p]   for gy (N, K, P).
void conv_bias_grad_cpu(int64_t N, int64_t K, int64_t P, const float* gy, float* gb);

// Full conv2d backward with the fused activation: recomputes the pre-activation when act is
// not none. Any of gx, gw, gb may be null (not wanted).
void conv2d_backward_cpu(const Conv2dGeometry& g, const float* gy, const float* x, const float* w,
                         const float* bias, Activation act, float* gx, float* gw, float* gb);

}  // namespace fastnn
