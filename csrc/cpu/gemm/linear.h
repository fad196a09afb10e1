#pragma once
// Fully connected layer on the GEMM, PyTorch layout, float32, 2-D views (the Python layer
// flattens x's leading dimensions):
//   forward   y = act(x·Wᵀ + b)        x (M, K), weight (N, K), bias (N) or none → y (M, N)
//   backward  from dy (M, N):
//     g       = dy ⊙ act'(x·Wᵀ + b)    pre-activation recomputed by a GEMM whose epilogue
//                                        produces g directly (no stored pre-activation)
//     grad_x  = g·W                     (M, K)
//     grad_w  = gᵀ·x                    (N, K)   (gᵀ read through strides, never transposed)
//     grad_b  = Σ_rows g                (N)      (a 1×M·M×N GEMM with a stride-0 ones vector)
// Weight and inputs may have any strides; nothing is transposed in memory.
#include <string>

#include "common/tensor.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

// "none" | "identity" | "relu" | "gelu" | "gelu_tanh" | "sigmoid" | "tanh" | "silu";
// ValueError naming fn otherwise.
Activation parse_activation(const std::string& name, const char* fn);

// bias.data == nullptr: no bias.
void linear_cpu(const TensorView& x, const TensorView& weight, const TensorView& bias, Activation act,
                const TensorView& out);

// grad_bias.data == nullptr: not computed (bias absent).
void linear_backward_cpu(const TensorView& grad_out, const TensorView& x, const TensorView& weight,
                         const TensorView& bias, Activation act, const TensorView& grad_x,
                         const TensorView& grad_weight, const TensorView& grad_bias);

}  // namespace fastnn
