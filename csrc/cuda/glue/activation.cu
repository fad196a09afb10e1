// Elementwise activations and their backwards on CUDA (the CPU's formulas, FP32 math for every
// storage dtype). One kernel per (dtype, layout) with the activation picked by a uniform switch:
// the kernels are memory bound, so the switch costs nothing and saves 8x the instantiations.
//
//   relu        max(x, 0) (NaN stays NaN)        d: g·[x > 0]
//   leaky_relu  x > 0 ? x : s·x                  d: x > 0 ? g : s·g
//   gelu        x·Φ(x), Φ = ½erfc(-x/√2)         d: g·(Φ(x) + x·φ(x))
//   gelu_tanh   x·σ(2u), u = √(2/π)(x + 0.044715x³)   d: g·(σ + 2x·σ(1-σ)·u')
//   silu        x·σ(x)                           d: g·σ·(1 + x(1 - σ))
//   sigmoid     σ(x)                             d: g·σ(1 - σ)
//   tanh        tanh(x)                          d: g·4e/(1+e)², e = exp(-2|x|)
//   softplus    βx > thr ? x : (max(βx,0) + log1p(exp(-|βx|)))/β    d: βx > thr ? g : g·σ(βx)
#include <cmath>
#include <string>

#include "cuda/glue/glue.h"
#include "cuda/glue/pointwise_host.h"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

enum ActKindCuda : int { kRelu = 0, kLeaky, kGelu, kGeluTanh, kSilu, kSigmoid, kTanh, kSoftplus, kNumKinds };
const char* const kActNames[kNumKinds] = {"relu", "leaky_relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh",
                                          "softplus"};

struct ActP {
  int kind;
  float slope, beta, threshold;
};

// σ(x) and 1 - σ(x), both from e = exp(-|x|): neither tail loses precision to a subtraction.
__device__ __forceinline__ void sigmoid_pair(float x, float& s, float& sm) {
  const float e = expf(-fabsf(x)), r = 1.0f / (1.0f + e), er = e * r;
  s = x >= 0.0f ? r : er;
  sm = x >= 0.0f ? er : r;
}
__device__ __forceinline__ float sigmoid_acc(float x) {
  float s, sm;
  sigmoid_pair(x, s, sm);
  return s;
}

constexpr float kSqrt2OverPi = 0.797884560802865355f, kGeluKappa = 0.044715f;

__device__ __forceinline__ float act_fwd(const ActP& p, float x) {
  switch (p.kind) {
    case kRelu: return x < 0.0f ? 0.0f : x;
    case kLeaky: return x > 0.0f ? x : x * p.slope;
    case kGelu: return x * (0.5f * erfcf(-x * 0.70710678118654752f));
    case kGeluTanh: {
      const float u = kSqrt2OverPi * x * fmaf(kGeluKappa, x * x, 1.0f);
      return x * sigmoid_acc(u + u);
    }
    case kSilu: return x * sigmoid_acc(x);
    case kSigmoid: return sigmoid_acc(x);
    case kTanh: return tanhf(x);
    default: {  // softplus
      const float bx = x * p.beta;
      if (bx > p.threshold) return x;
      return (fmaxf(bx, 0.0f) + log1pf(expf(-fabsf(bx)))) * (1.0f / p.beta);
    }
  }
}

__device__ __forceinline__ float act_bwd(const ActP& p, float g, float x) {
  switch (p.kind) {
    case kRelu: return x > 0.0f ? g : 0.0f;
    case kLeaky: return x > 0.0f ? g : g * p.slope;
    case kGelu: {
      const float cdf = 0.5f * erfcf(-x * 0.70710678118654752f);
      const float pdf = 0.398942280401432678f * expf(-0.5f * x * x);
      return g * fmaf(x, pdf, cdf);
    }
    case kGeluTanh: {
      const float x2 = x * x;
      const float u = kSqrt2OverPi * x * fmaf(kGeluKappa, x2, 1.0f);
      const float du = kSqrt2OverPi * fmaf(3.0f * kGeluKappa, x2, 1.0f);
      float s, sm;
      sigmoid_pair(u + u, s, sm);
      const float ssm = s * sm;
      // Where σ(1-σ) underflows the second term is 0 (2x·u' may overflow to inf there);
      // x·0 keeps it NaN for x = ±inf, as the CPU kernels and the float64 oracle.
      const float term = ssm == 0.0f ? x * 0.0f : (x + x) * du * ssm;
      return g * (s + term);
    }
    case kSilu: {
      float s, sm;
      sigmoid_pair(x, s, sm);
      return g * (s * fmaf(x, sm, 1.0f));
    }
    case kSigmoid: {
      float s, sm;
      sigmoid_pair(x, s, sm);
      return g * (s * sm);
    }
    case kTanh: {
      const float e = expf(-2.0f * fabsf(x)), q = 1.0f + e;
      return g * ((4.0f * e) / (q * q));
    }
    default: {
      const float bx = x * p.beta;
      return bx > p.threshold ? g : g * sigmoid_acc(bx);
    }
  }
}

// Operands: 0 x, 1 y (output), 2 g (backward only). VEC: all flat and 16-byte aligned, so each
// thread moves 16 bytes per operand per step.
template <class T, bool VEC>
__global__ void __launch_bounds__(256) activation_kernel(ActP p, bool backward, const T* x,
                                                         T* y, const T* g, PwShape s) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if constexpr (VEC) {
    constexpr int W = 16 / sizeof(T);
    const int64_t nv = s.n / W;
    for (int64_t v = tid; v < nv; v += stride) {
      alignas(16) T xv[W], gv[W], yv[W];
      *reinterpret_cast<uint4*>(xv) = reinterpret_cast<const uint4*>(x)[v];
      if (backward) *reinterpret_cast<uint4*>(gv) = reinterpret_cast<const uint4*>(g)[v];
#pragma unroll
      for (int k = 0; k < W; ++k) {
        const float xf = to_float<T>(xv[k]);
        yv[k] = from_float<T>(backward ? act_bwd(p, to_float<T>(gv[k]), xf) : act_fwd(p, xf));
      }
      reinterpret_cast<uint4*>(y)[v] = *reinterpret_cast<const uint4*>(yv);
    }
    for (int64_t i = nv * W + tid; i < s.n; i += stride) {
      const float xf = to_float<T>(x[i]);
      y[i] = from_float<T>(backward ? act_bwd(p, to_float<T>(g[i]), xf) : act_fwd(p, xf));
    }
  } else {
    for (int64_t i = tid; i < s.n; i += stride) {
      int64_t off[3];
      pw_offsets<3>(s, i, off);
      const float xf = to_float<T>(x[off[0]]);
      y[off[1]] = from_float<T>(backward ? act_bwd(p, to_float<T>(g[off[2]]), xf) : act_fwd(p, xf));
    }
  }
}

template <class T>
void launch_activation(const ActP& p, bool backward, const TensorView& x, const TensorView& y, const TensorView* g,
                       cudaStream_t st) {
  const TensorView* ops[3] = {&x, &y, g ? g : &x};
  const PwShape s = collapse_pointwise(ops, 3);
  const bool vec = pw_flat(s, 3) && aligned16(x.data) && aligned16(y.data) && (!g || aligned16(g->data));
  const T* gp = g ? static_cast<const T*>(g->data) : nullptr;
  const int64_t per_thread = vec ? 16 / sizeof(T) : 1;
  const unsigned grid = grid_for(s.n, 256 * per_thread);
  if (vec)
    activation_kernel<T, true><<<grid, 256, 0, st>>>(p, backward, x.ptr<T>(), y.ptr<T>(), gp, s);
  else
    activation_kernel<T, false><<<grid, 256, 0, st>>>(p, backward, x.ptr<T>(), y.ptr<T>(), gp, s);
  FASTNN_CUDA_CHECK_LAUNCH("activation_kernel");
}

void run(int kind, const TensorView* g, const TensorView& x, const TensorView& y, const ActScalars& a,
         uintptr_t stream) {
  FASTNN_CHECK_VALUE(kind >= 0 && kind < kNumKinds, "activation (cuda): unknown activation kind ", kind);
  const std::string fn = g ? str_cat(kActNames[kind], "_backward (cuda)") : str_cat(kActNames[kind], " (cuda)");
  const char* f = fn.c_str();
  check_float(x, f, "x");
  if (g) {
    check_float_as(*g, x.dtype, f, "grad_out");
    check_shape_as(*g, x, f, "grad_out", "x");
  }
  check_float_as(y, x.dtype, f, "out");
  check_shape_as(y, x, f, "out", "x");
  check_output_layout(y, f, "out");
  if (kind == kLeaky) FASTNN_CHECK_VALUE(std::isfinite(a.slope), f, ": negative_slope must be finite, got ", a.slope);
  if (kind == kSoftplus) {
    FASTNN_CHECK_VALUE(std::isfinite(a.beta) && a.beta != 0.0f, f, ": beta must be finite and nonzero, got ", a.beta);
    FASTNN_CHECK_VALUE(!std::isnan(a.threshold), f, ": threshold must not be NaN");
  }
  if (numel(x) == 0) return;
  const ActP p{kind, a.slope, a.beta, a.threshold};
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  switch (x.dtype) {
    case DType::f32: launch_activation<float>(p, g != nullptr, x, y, g, st); break;
    case DType::f16: launch_activation<__half>(p, g != nullptr, x, y, g, st); break;
    default: launch_activation<__nv_bfloat16>(p, g != nullptr, x, y, g, st);
  }
}

}  // namespace

void activation_forward(int kind, const TensorView& x, const TensorView& y, const ActScalars& p, uintptr_t stream) {
  run(kind, nullptr, x, y, p, stream);
}

void activation_backward(int kind, const TensorView& g, const TensorView& x, const TensorView& dx,
                         const ActScalars& p, uintptr_t stream) {
  run(kind, &g, x, dx, p, stream);
}

}  // namespace cuda
}  // namespace fastnn
