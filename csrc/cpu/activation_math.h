#pragma once
// Scalar activation functions (PyTorch definitions). Used by GEMM epilogues and as the
// reference the vectorised activation kernels are tested against.
#include <cmath>

#include "cpu/gemm/sgemm.h"

namespace fastnn {

inline float act_relu(float x) { return x < 0.0f ? 0.0f : x; }  // NaN stays NaN
inline float act_sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float act_silu(float x) { return x * act_sigmoid(x); }
// erfc form: 1 + erf(x/√2) cancels for x ≪ 0, erfc(-x/√2) does not.
inline float act_gelu(float x) { return 0.5f * x * std::erfc(-x * 0.70710678118654752f); }
// ½x(1 + tanh u) written as x·σ(2u), u = √(2/π)(x + 0.044715x³): no cancellation for x ≪ 0.
inline float act_gelu_tanh(float x) {
  const float k = 0.79788456080286536f;  // sqrt(2/pi)
  return x * act_sigmoid(2.0f * k * (x + 0.044715f * x * x * x));
}

inline float apply_activation(Activation act, float x) {
  switch (act) {
    case Activation::none: return x;
    case Activation::relu: return act_relu(x);
    case Activation::gelu: return act_gelu(x);
    case Activation::gelu_tanh: return act_gelu_tanh(x);
    case Activation::sigmoid: return act_sigmoid(x);
    case Activation::tanh: return std::tanh(x);
    case Activation::silu: return act_silu(x);
  }
  return x;
}

}  // namespace fastnn
