// Cross entropy fused with log-softmax on CUDA (PyTorch semantics, as the CPU kernel):
//   loss_p = valid_p · ((1 - ε) · w[t_p] · (lse_p - x_{p,t}) + ε/C · Σ_c w_c (lse_p - x_{p,c}))
//   d loss_p / d x_{p,c} = valid_p · ((1 - ε) · w[t_p] · (σ_c - [c = t_p]) + ε/C · (σ_c · Σ_k w_k - w_c))
// 'mean' divides by Σ_p valid_p · w[t_p] (NaN when every target is ignored, as PyTorch).
// Logits are (N, C, S) contiguous (S = the flattened trailing dims); position p = (n, s) reads its
// classes with stride S. Layouts: S == 1 → a warp (C ≤ 4096) or a block per row; S > 1 → a thread
// per position (coalesced along s). Ignored positions never read their logits. Reductions go
// through per-position FP32 partials summed in FP64 by one block (deterministic order).
#include <cmath>
#include <string>
#include <type_traits>

#include "cuda/glue/glue.h"
#include "cuda/glue/glue_device.cuh"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

enum Reduction : int { kNone = 0, kMean = 1, kSum = 2 };

struct CeArgs {
  const void* x;        // logits (N, C, S), T
  const void* target;   // (N, S) int32 / int64
  bool t64;
  const void* weight;   // (C,) T or null
  int64_t N, C, S, ignore;
  float eps;            // label smoothing
  unsigned long long* status;  // first bad position
};

__device__ __forceinline__ int64_t load_target(const CeArgs& a, int64_t p) {
  return a.t64 ? static_cast<const int64_t*>(a.target)[p] : int64_t(static_cast<const int32_t*>(a.target)[p]);
}

template <class T>
__device__ __forceinline__ float class_weight(const CeArgs& a, int64_t c) {
  return a.weight ? to_float<T>(static_cast<const T*>(a.weight)[c]) : 1.0f;
}

// Target of position p, or -1 when ignored / out of range (then reported through status).
__device__ __forceinline__ int64_t checked_target(const CeArgs& a, int64_t p, bool report) {
  const int64_t t = load_target(a, p);
  if (t == a.ignore) return -1;
  if (t < 0 || t >= a.C) {
    if (report) atomicMin(a.status, static_cast<unsigned long long>(p));
    return -1;
  }
  return t;
}

// ---- forward ---------------------------------------------------------------------------------

// GROUP threads per position (32: a warp, or the block) when S == 1; GROUP == 1: a thread per
// position, classes strided by S. Writes loss (and weight) per position: into out (T) for
// 'none', else into FP32 partials.
template <class T, int GROUP>
__global__ void __launch_bounds__(256) ce_forward_kernel(CeArgs a, T* out, float* part_loss, float* part_w) {
  __shared__ float red[64];
  const int64_t M = a.N * a.S;
  const int64_t first = GROUP == 1 ? int64_t(blockIdx.x) * blockDim.x + threadIdx.x : group_id<GROUP>();
  const int64_t step = GROUP == 1 ? int64_t(gridDim.x) * blockDim.x : group_count<GROUP>();
  const int rank = GROUP == 1 ? 0 : group_rank<GROUP>();
  const int64_t S = a.S;
  for (int64_t p = first; p < M; p += step) {
    const int64_t t = checked_target(a, p, rank == 0);
    float loss = 0.0f, wt = 0.0f;
    if (t >= 0) {  // uniform across the group
      const int64_t n = p / S, s = p - n * S;
      const T* xr = static_cast<const T*>(a.x) + n * a.C * S + s;
      float m = -__int_as_float(0x7f800000), sum = 0.0f;
      for (int64_t c = rank; c < a.C; c += (GROUP == 1 ? 1 : GROUP)) lse_merge(m, sum, to_float<T>(xr[c * S]), 1.0f);
      if constexpr (GROUP > 1) group_lse<GROUP>(m, sum, red);
      const float lse = m + logf(sum);
      wt = class_weight<T>(a, t);
      loss = (1.0f - a.eps) * wt * (lse - to_float<T>(xr[t * S]));
      if (a.eps > 0.0f) {
        float sm = 0.0f;
        for (int64_t c = rank; c < a.C; c += (GROUP == 1 ? 1 : GROUP))
          sm += class_weight<T>(a, c) * (lse - to_float<T>(xr[c * S]));
        if constexpr (GROUP > 1) sm = group_sum<GROUP>(sm, red);
        loss += a.eps / float(a.C) * sm;
      }
    }
    if (rank == 0) {
      if (out) out[p] = from_float<T>(loss);
      else part_loss[p] = loss, part_w[p] = wt;
    }
  }
}

// One block: out = Σ loss (sum) or Σ loss / Σ w (mean), in FP64.
template <class T>
__global__ void __launch_bounds__(1024) ce_reduce_kernel(const float* part_loss, const float* part_w, int64_t M,
                                                         bool mean, T* out) {
  __shared__ double red[32];
  double l = 0.0, w = 0.0;
  for (int64_t p = threadIdx.x; p < M; p += blockDim.x) l += part_loss[p], w += part_w[p];
  l = block_sum(l, red);
  w = block_sum(w, red);
  if (threadIdx.x == 0) out[0] = from_float<T>(float(mean ? l / w : l));
}

// ---- backward --------------------------------------------------------------------------------

// One block: sums[0] = Σ_p valid_p w[t_p], sums[1] = Σ_c w_c (FP64); reports bad targets.
template <class T>
__global__ void __launch_bounds__(1024) ce_weight_sums(CeArgs a, double* sums) {
  __shared__ double red[32];
  double wt = 0.0, wc = 0.0;
  for (int64_t p = threadIdx.x; p < a.N * a.S; p += blockDim.x) {
    const int64_t t = checked_target(a, p, true);
    if (t >= 0) wt += class_weight<T>(a, t);
  }
  for (int64_t c = threadIdx.x; c < a.C; c += blockDim.x) wc += class_weight<T>(a, c);
  wt = block_sum(wt, red);
  wc = block_sum(wc, red);
  if (threadIdx.x == 0) sums[0] = wt, sums[1] = wc;
}

struct CeGrad {
  const void* g;       // 'none': (N, S) T; else a 0-d array of dtype g_dtype, or null (use scalar)
  int g_dtype;         // 0 f32, 1 f16, 2 bf16
  float scalar;
  int reduction;
  const double* sums;  // from ce_weight_sums
};

template <class T>
__device__ __forceinline__ float grad_coef(const CeGrad& G, int64_t p) {
  if (G.reduction == kNone) return to_float<T>(static_cast<const T*>(G.g)[p]);
  float g = G.scalar;
  if (G.g) {
    g = G.g_dtype == 0 ? *static_cast<const float*>(G.g)
        : G.g_dtype == 1 ? __half2float(*static_cast<const __half*>(G.g))
                         : __bfloat162float(*static_cast<const __nv_bfloat16*>(G.g));
  }
  return G.reduction == kMean ? float(double(g) / G.sums[0]) : g;
}

template <class T, int GROUP>
__global__ void __launch_bounds__(256) ce_backward_kernel(CeArgs a, CeGrad G, T* dx) {
  __shared__ float red[64];
  const int64_t M = a.N * a.S;
  const int64_t first = GROUP == 1 ? int64_t(blockIdx.x) * blockDim.x + threadIdx.x : group_id<GROUP>();
  const int64_t step = GROUP == 1 ? int64_t(gridDim.x) * blockDim.x : group_count<GROUP>();
  const int rank = GROUP == 1 ? 0 : group_rank<GROUP>();
  const int inc = GROUP == 1 ? 1 : GROUP;
  const int64_t S = a.S;
  const float wall = float(G.sums[1]);
  for (int64_t p = first; p < M; p += step) {
    const int64_t t = checked_target(a, p, false);
    const int64_t n = p / S, s = p - n * S;
    T* dr = dx + n * a.C * S + s;
    if (t < 0) {
      for (int64_t c = rank; c < a.C; c += inc) dr[c * S] = from_float<T>(0.0f);
      continue;
    }
    const T* xr = static_cast<const T*>(a.x) + n * a.C * S + s;
    float m = -__int_as_float(0x7f800000), sum = 0.0f;
    for (int64_t c = rank; c < a.C; c += inc) lse_merge(m, sum, to_float<T>(xr[c * S]), 1.0f);
    if constexpr (GROUP > 1) group_lse<GROUP>(m, sum, red);
    const float coef = grad_coef<T>(G, p), inv = 1.0f / sum;
    const float a1 = coef * (1.0f - a.eps) * class_weight<T>(a, t), a2 = coef * a.eps / float(a.C);
    for (int64_t c = rank; c < a.C; c += inc) {
      const float sm = expf(to_float<T>(xr[c * S]) - m) * inv;
      float d = a1 * (sm - (c == t ? 1.0f : 0.0f));
      if (a.eps > 0.0f) d += a2 * (sm * wall - class_weight<T>(a, c));
      dr[c * S] = from_float<T>(d);
    }
  }
}

// ---- host --------------------------------------------------------------------------------------

struct Checked {
  CeArgs a;
  int64_t M;
};

Checked check_args(const char* fn, const TensorView& logits, const TensorView& target, const TensorView* weight,
                   int64_t ignore_index, double eps, int reduction) {
  check_float(logits, fn, "logits");
  check_contiguous(logits, fn, "logits");
  FASTNN_CHECK_VALUE(logits.ndim >= 2, fn, ": logits must have shape (N, C) or (N, C, d1, ...), got ",
                     shape_str(logits));
  FASTNN_CHECK_VALUE(logits.shape[1] >= 1, fn, ": logits must have at least one class, got shape ", shape_str(logits));
  check_on_cuda(target, fn, "target");
  FASTNN_CHECK_TYPE(target.dtype == DType::i64 || target.dtype == DType::i32, fn,
                    ": target must be int64 or int32, got ", dtype_name(target.dtype));
  check_contiguous(target, fn, "target");
  bool ok = target.ndim == logits.ndim - 1 && target.shape[0] == logits.shape[0];
  for (int d = 2; ok && d < logits.ndim; ++d) ok = target.shape[d - 1] == logits.shape[d];
  FASTNN_CHECK_VALUE(ok, fn, ": target must have shape (N, d1, ...) matching logits ", shape_str(logits), ", got ",
                     shape_str(target));
  if (weight) {
    check_float_as(*weight, logits.dtype, fn, "weight");
    const int64_t C = logits.shape[1];
    check_shape_is(*weight, 1, &C, fn, "weight");
  }
  FASTNN_CHECK_VALUE(std::isfinite(eps) && eps >= 0.0 && eps <= 1.0, fn, ": label_smoothing must be in [0, 1], got ",
                     eps);
  FASTNN_CHECK_VALUE(reduction >= kNone && reduction <= kSum, fn, ": unknown reduction code ", reduction);
  Checked c;
  c.a.x = logits.data;
  c.a.target = target.data;
  c.a.t64 = target.dtype == DType::i64;
  c.a.N = logits.shape[0];
  c.a.C = logits.shape[1];
  c.a.S = 1;
  for (int d = 2; d < logits.ndim; ++d) c.a.S *= logits.shape[d];
  c.a.weight = weight ? weight->data : nullptr;
  c.a.ignore = ignore_index;
  c.a.eps = float(eps);
  c.a.status = nullptr;
  c.M = c.a.N * c.a.S;
  return c;
}

void raise_if_bad(const char* fn, const CeArgs& a, const TensorView& target, cudaStream_t st) {
  const unsigned long long pos = read_status(a.status, st);
  if (pos == kNoBadIndex) return;
  const int64_t value = read_index(target.data, a.t64, int64_t(pos));
  std::string where = "[";
  int64_t rem = int64_t(pos);
  int64_t idx[kMaxDims];
  for (int d = target.ndim - 1; d >= 0; --d) idx[d] = rem % target.shape[d], rem /= target.shape[d];
  for (int d = 0; d < target.ndim; ++d) where += str_cat(d ? ", " : "", idx[d]);
  throw ValueError(str_cat(fn, ": target", where, "] = ", value, " is out of range for ", a.C,
                           " classes (ignore_index = ", a.ignore, ")"));
}

// Launches KERNEL<T, GROUP> with the layout picked from (C, S).
template <class T, class Launch>
void by_layout(const CeArgs& a, int64_t M, const Launch& launch) {
  if (a.S > 1) launch(std::integral_constant<int, 1>(), grid_for(M, 256), 256);
  else if (a.C <= 4096) launch(std::integral_constant<int, 32>(), grid_for(M, 8), 256);
  else launch(std::integral_constant<int, 256>(), grid_for(M, 1, 4), 256);
}

template <class T>
void forward_typed(const CeArgs& a, int64_t M, int reduction, const TensorView& out, cudaStream_t st) {
  StreamScratch parts(reduction == kNone ? 0 : size_t(M) * 2 * sizeof(float), st);
  float* pl = parts.as<float>();
  float* pw = pl ? pl + M : nullptr;
  T* o = reduction == kNone ? out.ptr<T>() : nullptr;
  by_layout<T>(a, M, [&](auto group, unsigned grid, int threads) {
    ce_forward_kernel<T, decltype(group)::value><<<grid, threads, 0, st>>>(a, o, pl, pw);
  });
  FASTNN_CUDA_CHECK_LAUNCH("ce_forward_kernel");
  if (reduction != kNone) {
    ce_reduce_kernel<T><<<1, 1024, 0, st>>>(pl, pw, M, reduction == kMean, out.ptr<T>());
    FASTNN_CUDA_CHECK_LAUNCH("ce_reduce_kernel");
  }
}

template <class T>
void backward_typed(const CeArgs& a, int64_t M, CeGrad G, const TensorView& dx, cudaStream_t st) {
  StreamScratch sums(2 * sizeof(double), st);
  G.sums = sums.as<double>();
  ce_weight_sums<T><<<1, 1024, 0, st>>>(a, sums.as<double>());
  FASTNN_CUDA_CHECK_LAUNCH("ce_weight_sums");
  by_layout<T>(a, M, [&](auto group, unsigned grid, int threads) {
    ce_backward_kernel<T, decltype(group)::value><<<grid, threads, 0, st>>>(a, G, dx.ptr<T>());
  });
  FASTNN_CUDA_CHECK_LAUNCH("ce_backward_kernel");
}

}  // namespace

void cross_entropy_forward(const TensorView& logits, const TensorView& target, const TensorView* weight,
                           int64_t ignore_index, double label_smoothing, int reduction, const TensorView& out,
                           uintptr_t stream) {
  const char* fn = "cross_entropy (cuda)";
  Checked c = check_args(fn, logits, target, weight, ignore_index, label_smoothing, reduction);
  check_float_as(out, logits.dtype, fn, "out");
  if (reduction == kNone) {
    check_shape_as(out, target, fn, "out", "target");
    check_contiguous(out, fn, "out");
  } else {
    FASTNN_CHECK_VALUE(numel(out) == 1, fn, ": out must hold one element for a reduced loss, got shape ",
                       shape_str(out));
  }
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  if (c.M == 0) {
    FASTNN_CHECK_VALUE(reduction == kNone, fn, ": a reduced loss over zero positions must be handled by the caller");
    return;
  }
  StreamScratch status(sizeof(unsigned long long), st);
  c.a.status = status.as<unsigned long long>();
  reset_status(c.a.status, st);
  switch (logits.dtype) {
    case DType::f32: forward_typed<float>(c.a, c.M, reduction, out, st); break;
    case DType::f16: forward_typed<__half>(c.a, c.M, reduction, out, st); break;
    default: forward_typed<__nv_bfloat16>(c.a, c.M, reduction, out, st);
  }
  raise_if_bad(fn, c.a, target, st);
}

void cross_entropy_backward(const TensorView* grad_out, double grad_scalar, const TensorView& logits,
                            const TensorView& target, const TensorView* weight, int64_t ignore_index,
                            double label_smoothing, int reduction, const TensorView& dx, uintptr_t stream) {
  const char* fn = "cross_entropy_backward (cuda)";
  Checked c = check_args(fn, logits, target, weight, ignore_index, label_smoothing, reduction);
  check_float_as(dx, logits.dtype, fn, "out");
  check_shape_as(dx, logits, fn, "out", "logits");
  check_contiguous(dx, fn, "out");
  CeGrad G{};
  G.reduction = reduction;
  G.scalar = float(grad_scalar);
  if (reduction == kNone) {
    FASTNN_CHECK_VALUE(grad_out != nullptr, fn, ": grad_out must be an array for reduction='none'");
    check_float_as(*grad_out, logits.dtype, fn, "grad_out");
    check_shape_as(*grad_out, target, fn, "grad_out", "target");
    check_contiguous(*grad_out, fn, "grad_out");
  } else if (grad_out) {
    check_float(*grad_out, fn, "grad_out");
    FASTNN_CHECK_VALUE(numel(*grad_out) == 1, fn, ": grad_out of a reduced loss must hold one element, got shape ",
                       shape_str(*grad_out));
    G.g_dtype = grad_out->dtype == DType::f32 ? 0 : grad_out->dtype == DType::f16 ? 1 : 2;
  }
  G.g = grad_out ? grad_out->data : nullptr;
  if (c.M == 0) return;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  StreamScratch status(sizeof(unsigned long long), st);
  c.a.status = status.as<unsigned long long>();
  reset_status(c.a.status, st);
  switch (logits.dtype) {
    case DType::f32: backward_typed<float>(c.a, c.M, G, dx, st); break;
    case DType::f16: backward_typed<__half>(c.a, c.M, G, dx, st); break;
    default: backward_typed<__nv_bfloat16>(c.a, c.M, G, dx, st);
  }
  raise_if_bad(fn, c.a, target, st);
}

}  // namespace cuda
}  // namespace fastnn
