#pragma once
// Scalar derivatives of the epilogue activations (PyTorch definitions, written from the
// forward input x, in forms free of cancellation); the vector twins live in cpu/simd/<isa>.h.
#include <cmath>

#include "cpu/activation_math.h"

namespace fastnn {

// σ'(x) = σ(x)(1 − σ(x)) = e/(1 + e)², e = e^{-|x|}
inline float sigmoid_grad_scalar(float x) {
  const float e = std::exp(-std::fabs(x)), r = 1.0f / (1.0f + e);
  return e * r * r;
}

inline float activation_grad(Activation act, float x) {
  switch (act) {
    case Activation::none: return 1.0f;
    case Activation::relu: return x > 0.0f ? 1.0f : 0.0f;  // 0 at x == 0, as PyTorch
    case Activation::sigmoid: return sigmoid_grad_scalar(x);
    case Activation::tanh: {  // 1 − tanh² = 4e/(1 + e)², e = e^{-2|x|}
      const float e = std::exp(-2.0f * std::fabs(x)), r = 1.0f / (1.0f + e);
      return 4.0f * e * r * r;
    }
    case Activation::silu: return act_sigmoid(x) + x * sigmoid_grad_scalar(x);
    case Activation::gelu: {
      const float cdf = 0.5f * std::erfc(-x * 0.70710678118654752f);
      const float pdf = std::exp(-0.5f * x * x) * 0.39894228040143268f;
      return cdf + x * pdf;
    }
    case Activation::gelu_tanh: {  // σ(2u) + x·2σ'(2u)·β(1 + 3κx²)
      const float beta = 0.79788456080286536f, kappa = 0.044715f;
      const float u2 = 2.0f * beta * (x + kappa * x * x * x);
      return act_sigmoid(u2) + x * sigmoid_grad_scalar(u2) * 2.0f * beta * (1.0f + 3.0f * kappa * x * x);
    }
  }
  return 1.0f;
}

}  // namespace fastnn
