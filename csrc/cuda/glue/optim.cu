// Fused in-place optimizer steps on CUDA: one pass over param, grad and the state (float32,
// contiguous), torch.optim's single-tensor formulas in the CPU kernels' order of operations:
//   SGD:  g = ±grad + wd·p;  buf = first ? g : m·buf + (1 - d)·g;  g = nesterov ? g + m·buf : buf;
//         p -= lr·g
//   Adam: g = ±grad (+ wd·p; AdamW: p *= 1 - lr·wd first);  m = lerp(m, g, 1 - β1);
//         v = β2·v + (1 - β2)·g²;  v̂ = amsgrad ? max(vmax, v) : v;
//         p -= (lr / (1 - β1ᵗ)) · m / (√v̂ / √(1 - β2ᵗ) + ε)
#include <cmath>
#include <initializer_list>
#include <utility>

#include "cuda/glue/glue.h"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

struct SgdP {
  float lr, momentum, one_minus_dampening, weight_decay;
  bool nesterov, maximize, first_step, use_momentum;
};

__global__ void __launch_bounds__(256) sgd_kernel(float* p, const float* grad, float* buf, int64_t n, SgdP a) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const float pv = p[i];
    float g = a.maximize ? -grad[i] : grad[i];
    if (a.weight_decay != 0.0f) g = fmaf(a.weight_decay, pv, g);
    if (a.use_momentum) {
      const float b = a.first_step ? g : fmaf(a.one_minus_dampening, g, a.momentum * buf[i]);
      buf[i] = b;
      g = a.nesterov ? fmaf(a.momentum, b, g) : b;
    }
    p[i] = fmaf(-a.lr, g, pv);
  }
}

struct AdamP {
  float lr_decay, weight_decay, lerp_w, beta2, one_minus_beta2, step_size, inv_bc2_sqrt, eps;
  bool amsgrad, maximize;
};

__global__ void __launch_bounds__(256) adam_kernel(float* p, const float* grad, float* m, float* v, float* vmax,
                                                   int64_t n, AdamP a) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    float pv = p[i];
    float g = a.maximize ? -grad[i] : grad[i];
    if (a.lr_decay != 1.0f) pv *= a.lr_decay;
    if (a.weight_decay != 0.0f) g = fmaf(a.weight_decay, pv, g);
    // torch's lerp: weight < 0.5 ? m + w (g - m) : g - (g - m) (1 - w)
    float mv = m[i];
    const float d = g - mv;
    mv = a.lerp_w < 0.5f ? fmaf(a.lerp_w, d, mv) : fmaf(-d, 1.0f - a.lerp_w, g);
    float vv = fmaf(a.one_minus_beta2 * g, g, v[i] * a.beta2);
    m[i] = mv;
    v[i] = vv;
    if (a.amsgrad) {
      const float old = vmax[i];  // torch.maximum: NaN on either side propagates
      vv = old != old ? old : fmaxf(old, vv);
      vmax[i] = vv;
    }
    const float denom = fmaf(sqrtf(vv), a.inv_bc2_sqrt, a.eps);
    p[i] = fmaf(-a.step_size, mv / denom, pv);
  }
}

void check_buffer(const char* fn, const char* arg, const TensorView& t, const TensorView* ref) {
  check_float_as(t, DType::f32, fn, arg);
  check_contiguous(t, fn, arg);
  if (ref) check_shape_as(t, *ref, fn, arg, "param");
}

// Contiguous buffers of n floats must not overlap (each is read and written as its own stream).
void check_disjoint(const char* fn, std::initializer_list<std::pair<const TensorView*, const char*>> bufs) {
  for (auto i = bufs.begin(); i != bufs.end(); ++i) {
    if (!i->first) continue;
    for (auto j = i + 1; j != bufs.end(); ++j) {
      if (!j->first) continue;
      const auto a = reinterpret_cast<uintptr_t>(i->first->data), b = reinterpret_cast<uintptr_t>(j->first->data);
      const uintptr_t na = uintptr_t(numel(*i->first)) * 4, nb = uintptr_t(numel(*j->first)) * 4;
      FASTNN_CHECK_VALUE(a + na <= b || b + nb <= a, fn, ": ", i->second, " and ", j->second,
                         " share memory; every buffer must be distinct");
    }
  }
}

}  // namespace

void sgd_step(const TensorView& param, const TensorView& grad, const TensorView* momentum_buf, double lr,
              double momentum, double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step,
              uintptr_t stream) {
  const char* fn = "sgd_step_ (cuda)";
  check_buffer(fn, "param", param, nullptr);
  check_buffer(fn, "grad", grad, &param);
  if (momentum_buf) check_buffer(fn, "momentum_buf", *momentum_buf, &param);
  for (double v : {lr, momentum, dampening, weight_decay})
    FASTNN_CHECK_VALUE(std::isfinite(v), fn, ": scalar arguments must be finite, got ", v);
  FASTNN_CHECK_VALUE(momentum == 0.0 || momentum_buf, fn, ": momentum=", momentum, " needs a momentum_buf");
  check_disjoint(fn, {{&param, "param"}, {&grad, "grad"}, {momentum_buf, "momentum_buf"}});
  const int64_t n = numel(param);
  if (n == 0) return;
  SgdP a{float(lr), float(momentum), float(1.0 - dampening), float(weight_decay), nesterov, maximize, first_step,
         momentum != 0.0};
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  sgd_kernel<<<grid_for(n, 256), 256, 0, st>>>(param.ptr<float>(), grad.ptr<float>(),
                                               momentum_buf ? momentum_buf->ptr<float>() : nullptr, n, a);
  FASTNN_CUDA_CHECK_LAUNCH("sgd_kernel");
}

void adam_step(const TensorView& param, const TensorView& grad, const TensorView& exp_avg,
               const TensorView& exp_avg_sq, const TensorView* max_exp_avg_sq, int64_t step, double lr, double beta1,
               double beta2, double eps, double weight_decay, bool amsgrad, bool maximize, bool decoupled,
               uintptr_t stream) {
  const char* fn = decoupled ? "adamw_step_ (cuda)" : "adam_step_ (cuda)";
  check_buffer(fn, "param", param, nullptr);
  check_buffer(fn, "grad", grad, &param);
  check_buffer(fn, "exp_avg", exp_avg, &param);
  check_buffer(fn, "exp_avg_sq", exp_avg_sq, &param);
  if (max_exp_avg_sq) check_buffer(fn, "max_exp_avg_sq", *max_exp_avg_sq, &param);
  FASTNN_CHECK_VALUE(!amsgrad || max_exp_avg_sq, fn, ": amsgrad=True needs max_exp_avg_sq");
  FASTNN_CHECK_VALUE(step >= 1, fn, ": step counts from 1, got ", step);
  check_disjoint(fn, {{&param, "param"}, {&grad, "grad"}, {&exp_avg, "exp_avg"}, {&exp_avg_sq, "exp_avg_sq"},
                      {amsgrad ? max_exp_avg_sq : nullptr, "max_exp_avg_sq"}});
  for (double v : {lr, beta1, beta2, eps, weight_decay})
    FASTNN_CHECK_VALUE(std::isfinite(v), fn, ": scalar arguments must be finite, got ", v);
  FASTNN_CHECK_VALUE(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0, fn,
                     ": betas must be in [0, 1), got ", beta1, ", ", beta2);
  const int64_t n = numel(param);
  if (n == 0) return;
  // Host-side scalars in double, as the CPU driver computes them.
  const double bc1 = 1.0 - std::pow(beta1, double(step)), bc2 = 1.0 - std::pow(beta2, double(step));
  AdamP a;
  a.lr_decay = decoupled ? float(1.0 - lr * weight_decay) : 1.0f;
  a.weight_decay = decoupled ? 0.0f : float(weight_decay);
  a.lerp_w = float(1.0 - beta1);
  a.beta2 = float(beta2);
  a.one_minus_beta2 = float(1.0 - beta2);
  a.step_size = float(lr / bc1);
  a.inv_bc2_sqrt = float(1.0 / std::sqrt(bc2));
  a.eps = float(eps);
  a.amsgrad = amsgrad;
  a.maximize = maximize;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  adam_kernel<<<grid_for(n, 256), 256, 0, st>>>(param.ptr<float>(), grad.ptr<float>(), exp_avg.ptr<float>(),
                                                exp_avg_sq.ptr<float>(),
                                                max_exp_avg_sq ? max_exp_avg_sq->ptr<float>() : nullptr, n, a);
  FASTNN_CUDA_CHECK_LAUNCH("adam_kernel");
}

}  // namespace cuda
}  // namespace fastnn
