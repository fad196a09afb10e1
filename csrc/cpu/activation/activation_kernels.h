#pragma once
// Leaf kernels of the activation family: one table per ISA (row 0 of the dispatch is the generic
// twin). Every kernel works on n contiguous floats; the driver (activation.cpp) does strides,
// threading and validation.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

enum class ActKind : int { relu, leaky_relu, gelu, gelu_tanh, silu, sigmoid, tanh, softplus };
constexpr int kNumActKinds = 8;
const char* act_kind_name(ActKind k);

struct ActParams {
  float slope = 0.01f;     // leaky_relu negative_slope
  float beta = 1.0f;       // softplus
  float threshold = 20.0f; // softplus: x where beta·x > threshold
};

// y[i] = f(x[i]), i < n.  stream: write y with non-temporal stores.
using ActForwardFn = void (*)(const float* x, float* y, int64_t n, const ActParams& p, bool stream);
// dx[i] = g[i] · f'(x[i]), from the forward input x.
using ActBackwardFn = void (*)(const float* g, const float* x, float* dx, int64_t n, const ActParams& p, bool stream);

// Backwards from the forward *output* y, for the activations whose derivative is a function of y
// alone (what PyTorch's sigmoid_backward / tanh_backward take): no exp to recompute.
//   sigmoid  dx = g·y(1 - y)        tanh  dx = g·(1 - y²) = g·(1 - y)(1 + y)
enum class ActOutKind : int { sigmoid, tanh };
constexpr int kNumActOutKinds = 2;
// dx[i] = g[i] · f'(y[i]), i < n.
using ActBackwardOutFn = void (*)(const float* g, const float* y, float* dx, int64_t n, bool stream);

// The vector math on its own, for the accuracy tests: y[i] = fn(x[i]).
enum class VecMathFn : int { exp, log, log1p, tanh, sigmoid, erf, erfc, normal_tail, normal_pdf, log1p_exp_neg };
constexpr int kNumVecMathFns = 10;
using VecMathKernel = void (*)(VecMathFn fn, const float* x, float* y, int64_t n);

struct ActivationKernels {
  ActForwardFn forward[kNumActKinds];
  ActBackwardFn backward[kNumActKinds];
  VecMathKernel vecmath;
  ActBackwardOutFn backward_from_output[kNumActOutKinds];
};

const ActivationKernels& activation_kernels_generic();
#if defined(FASTNN_X86)
const ActivationKernels& activation_kernels_avx2();
const ActivationKernels& activation_kernels_avx512();
#endif
const ActivationKernels& activation_kernels(Isa isa);

}  // namespace fastnn
