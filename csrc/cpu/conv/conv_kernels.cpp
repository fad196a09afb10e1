// Reference rows of the shared convolution leaf kernels, and the dispatch table.
#include "cpu/conv/conv_kernels.h"

#include <algorithm>
#include <cmath>

#include "cpu/activation_math.h"

namespace fastnn {

// d act(z) / dz, scalar (PyTorch's definitions, as in fastnn.reference.activation).
float activation_derivative(Activation act, float z) {
  switch (act) {
    case Activation::none: return 1.0f;
    case Activation::relu: return z > 0.0f ? 1.0f : 0.0f;
    case Activation::sigmoid: {
      const float s = act_sigmoid(z);
      return s * (1.0f - s);
    }
    case Activation::tanh: {
      const float t = std::tanh(z);
      return 1.0f - t * t;
    }
    case Activation::silu: {
      const float s = act_sigmoid(z);
      return s * (1.0f + z * (1.0f - s));
    }
    case Activation::gelu: {
      const float cdf = 0.5f * std::erfc(-z * 0.70710678118654752f);
      const float pdf = std::exp(-0.5f * z * z) * 0.39894228040143268f;
      return cdf + z * pdf;
    }
    case Activation::gelu_tanh: {
      const float k = 0.79788456080286536f, kappa = 0.044715f;
      const float t = std::tanh(k * (z + kappa * z * z * z));
      return 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * k * (1.0f + 3.0f * kappa * z * z);
    }
  }
  return 1.0f;
}

namespace {

void transpose_ref(int64_t rows, int64_t cols, const float* src, int64_t src_rs, float* dst, int64_t dst_rs) {
  constexpr int64_t B = 16;  // cache blocks: both sides touch B lines per block
  for (int64_t i0 = 0; i0 < rows; i0 += B)
    for (int64_t j0 = 0; j0 < cols; j0 += B) {
      const int64_t i1 = std::min(rows, i0 + B), j1 = std::min(cols, j0 + B);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) dst[j * dst_rs + i] = src[i * src_rs + j];
    }
}

float reduce_sum_ref(const float* x, int64_t n) {
  float acc[8] = {};  // eight partial sums: shorter rounding chains than one running sum
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  for (; i < n; ++i) acc[i & 7] += x[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

void act_grad_ref(const float* z, const float* g, float* out, int64_t n, Activation act) {
  for (int64_t i = 0; i < n; ++i) out[i] = g[i] * activation_derivative(act, z[i]);
}

}  // namespace

ConvKernels conv_kernels_ref() { return {transpose_ref, reduce_sum_ref, act_grad_ref}; }

const ConvKernels& conv_kernels_for(Isa isa) {
  static const ConvKernels table[kNumIsas] = {
      conv_kernels_ref(),
#if defined(FASTNN_X86)
      conv_kernels_avx2(),
      conv_kernels_avx512(),
#else
      conv_kernels_ref(),
      conv_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
