#pragma once
// Host entry points of the CUDA convolution and pooling kernels (plain C++: the bindings include
// this). NCHW activations, (K, C/groups, R, S) conv weights, (C_in, C_out/groups, R, S)
// transposed-conv weights; float32 / float16 / bfloat16 (one dtype per call, FP32 accumulation).
#include <cstdint>
#include <string>

#include "common/tensor.h"

namespace fastnn {
namespace cuda {

struct ConvParams {
  int64_t stride[2] = {1, 1};
  int64_t pad[2] = {0, 0};  // top, left (the output shape, checked against the arrays, fixes the rest)
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
};

// y = act(conv2d(x, w) + bias). x (N, C, H, W) any strides (channels-last views read in place by
// the tensor-core path), w (K, C/g, R, S), bias (K,) or null, y (N, K, Ho, Wo) contiguous.
// activation: the GEMM epilogue codes (0 none, 1 relu, 2 gelu, 3 gelu_tanh, 4 sigmoid, 5 tanh, 6 silu).
// kernel: "auto", "mma_sync" (bf16 / f16, C/g and K/g multiples of 8, sm_80+), "simt" (anything),
// or "depthwise" (groups == C, one input channel per group).
void conv2d_forward(const TensorView& x, const TensorView& w, const TensorView* bias, const ConvParams& cp,
                    int activation, const TensorView& y, const std::string& kernel, uintptr_t stream);

// Gradients of conv2d_forward (same arguments); any of dx, dw, db may be null. With an activation
// the pre-activation is recomputed (one forward convolution) and dZ = grad_out · act'(pre).
void conv2d_backward(const TensorView& grad_out, const TensorView& x, const TensorView& w, const TensorView* bias,
                     const ConvParams& cp, int activation, const TensorView* dx, const TensorView* dw,
                     const TensorView* db, const std::string& kernel, uintptr_t stream);

// y = conv_transpose2d(x, w) + bias: x (N, C_in, H, W), w (C_in, C_out/g, R, S), y (N, C_out, Ho, Wo)
// (output_padding is implied by y's shape).
void conv_transpose2d_forward(const TensorView& x, const TensorView& w, const TensorView* bias, const ConvParams& cp,
                              const TensorView& y, const std::string& kernel, uintptr_t stream);
void conv_transpose2d_backward(const TensorView& grad_out, const TensorView& x, const TensorView& w,
                               const ConvParams& cp, const TensorView* dx, const TensorView* dw, const TensorView* db,
                               const std::string& kernel, uintptr_t stream);

// "<family>:<dtype>:<pass>" of the convolution kernel this thread launched last.
std::string last_conv_kernel();

// ---- pooling (x (N, C, H, W) contiguous) --------------------------------------------------------
struct PoolParams {
  int64_t kernel[2], stride[2], pad[2], dilation[2] = {1, 1};
  bool ceil_mode = false, count_include_pad = true;
  int64_t divisor_override = 0;  // 0: none
};
// y (N, C, Ho, Wo); indices (N, C, Ho, Wo) int64 (flat ih·W + iw) or null.
void max_pool2d_forward(const TensorView& x, const PoolParams& pp, const TensorView& y, const TensorView* indices,
                        uintptr_t stream);
void max_pool2d_backward(const TensorView& grad_out, const TensorView& indices, const TensorView& dx,
                         uintptr_t stream);
void avg_pool2d_forward(const TensorView& x, const PoolParams& pp, const TensorView& y, uintptr_t stream);
void avg_pool2d_backward(const TensorView& grad_out, const PoolParams& pp, const TensorView& dx, uintptr_t stream);
void adaptive_avg_pool2d_forward(const TensorView& x, const TensorView& y, uintptr_t stream);
void adaptive_avg_pool2d_backward(const TensorView& grad_out, const TensorView& dx, uintptr_t stream);

}  // namespace cuda
}  // namespace fastnn
