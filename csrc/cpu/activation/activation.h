#pragma once
// Elementwise activations and their backwards, float32, any strides (see pointwise.h).
//   forward:  y = f(x)                     x, y: same shape
//   backward: dx = g · f'(x), from the forward input x     g, x, dx: same shape
// y / dx may be x (or g) itself for an in-place update; other overlaps are the caller's job.
#include "common/tensor.h"
#include "cpu/activation/activation_kernels.h"

namespace fastnn {

void activation_forward_cpu(ActKind kind, const TensorView& x, const TensorView& y, const ActParams& p);
void activation_backward_cpu(ActKind kind, const TensorView& grad_out, const TensorView& x, const TensorView& dx,
                             const ActParams& p);
// dx = g · f'(y) from the forward output y (sigmoid, tanh).       g, y, dx: same shape
void activation_backward_from_output_cpu(ActOutKind kind, const TensorView& grad_out, const TensorView& y,
                                         const TensorView& dx);
// y = fn(x) with the active ISA's vector math, contiguous 1-D float32 (accuracy tests).
void vector_math_cpu(VecMathFn fn, const TensorView& x, const TensorView& y);

// Shared by the elementwise families: dtype float32, CPU, same shape as `ref`, no zero strides in
// an output, offsets fit int64.
void check_pointwise_operand(const TensorView& t, const TensorView& ref, const char* fn, const char* arg,
                             bool output);

}  // namespace fastnn
