// batch_norm over (N, C, S) contiguous, per channel C (S = flattened spatial dims), forward and
// backward, training and eval, PyTorch semantics (as the CPU kernel):
//   training: μ, σ² = batch mean and biased variance; running stats (if given) updated in place
//             with the unbiased variance: r ← (1 - m)·r + m·stat
//   y = (x - μ)·r·w + b, r = 1/√(σ² + ε)
//   backward (training): dx = r·w·(g - Σg/M - x̂·Σ(g·x̂)/M), x̂ = (x - μ)·r, M = N·S
//   backward (eval):     dx = g·w·r (running stats are constants); dw = Σ g·x̂, db = Σ g
// Three launches: per-(channel, chunk) partials (Welford for the statistics, plain sums for the
// gradient terms), a per-channel finalize in FP64, and one elementwise pass.
// Partial layouts: S ≥ 32 → a block per (chunk of n, channel) walking n·S contiguous runs;
// S < 32 → a thread per column c·S + s (coalesced along c) walking a chunk of n.
#include <algorithm>
#include <cmath>

#include "cuda/glue/glue.h"
#include "cuda/glue/glue_device.cuh"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

struct BnDims {
  int64_t N, C, S;
  int64_t chunks;  // splits of n
  int64_t J;       // partials per channel: chunks (spatial) or S · chunks (columns)
};

// Chan's merge of (count, mean, M2) Welford states.
struct Welford {
  float n, mean, m2;
};
__device__ __forceinline__ Welford merge(Welford a, Welford b) {
  const float n = a.n + b.n;
  if (n == 0.0f) return a;
  const float d = b.mean - a.mean, f = b.n / n;
  return Welford{n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f};
}
__device__ __forceinline__ Welford warp_merge(Welford w) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) {
    Welford o{__shfl_xor_sync(0xffffffffu, w.n, k), __shfl_xor_sync(0xffffffffu, w.mean, k),
              __shfl_xor_sync(0xffffffffu, w.m2, k)};
    w = merge(w, o);
  }
  return w;
}

// Accumulates one element: statistics (Welford on x) or gradient sums (Σ g, Σ g·x̂).
struct Acc {
  Welford w{0.0f, 0.0f, 0.0f};
  float sg = 0.0f, sgx = 0.0f;
};

template <class T, bool GRADS>
__device__ __forceinline__ void accumulate(Acc& a, const T* x, const T* g, int64_t e, float mean, float rstd) {
  const float xv = to_float<T>(x[e]);
  if constexpr (GRADS) {
    const float gv = to_float<T>(g[e]);
    a.sg += gv;
    a.sgx += gv * (xv - mean) * rstd;
  } else {
    a.w.n += 1.0f;
    const float d = xv - a.w.mean;
    a.w.mean += d / a.w.n;
    a.w.m2 += d * (xv - a.w.mean);
  }
}

// part: [C][J][3] floats: (n, mean, M2) or (Σg, Σg·x̂, unused). coef (GRADS): [C][4] (mean, rstd, ...).
template <class T, bool GRADS>
__global__ void __launch_bounds__(256) bn_partials_spatial(const T* x, const T* g, const float* coef, BnDims d,
                                                           float* part) {
  const int64_t c = blockIdx.y, chunk = blockIdx.x;
  const int64_t n0 = chunk * d.N / d.chunks, n1 = (chunk + 1) * d.N / d.chunks;
  const float mean = GRADS ? coef[c * 4 + 0] : 0.0f, rstd = GRADS ? coef[c * 4 + 1] : 0.0f;
  Acc a;
  const int64_t count = (n1 - n0) * d.S;
  for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
    const int64_t n = n0 + i / d.S, s = i - (i / d.S) * d.S;
    accumulate<T, GRADS>(a, x, g, (n * d.C + c) * d.S + s, mean, rstd);
  }
  __shared__ float red[3][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if constexpr (GRADS) {
    a.sg = warp_sum(a.sg), a.sgx = warp_sum(a.sgx);
    if (lane == 0) red[0][warp] = a.sg, red[1][warp] = a.sgx;
    __syncthreads();
    if (warp == 0) {
      float s0 = lane < nw ? red[0][lane] : 0.0f, s1 = lane < nw ? red[1][lane] : 0.0f;
      s0 = warp_sum(s0), s1 = warp_sum(s1);
      if (lane == 0) {
        float* p = part + (c * d.J + chunk) * 3;
        p[0] = s0, p[1] = s1, p[2] = 0.0f;
      }
    }
  } else {
    Welford w = warp_merge(a.w);
    if (lane == 0) red[0][warp] = w.n, red[1][warp] = w.mean, red[2][warp] = w.m2;
    __syncthreads();
    if (warp == 0) {
      Welford v = lane < nw ? Welford{red[0][lane], red[1][lane], red[2][lane]} : Welford{0.0f, 0.0f, 0.0f};
      v = warp_merge(v);
      if (lane == 0) {
        float* p = part + (c * d.J + chunk) * 3;
        p[0] = v.n, p[1] = v.mean, p[2] = v.m2;
      }
    }
  }
}

template <class T, bool GRADS>
__global__ void __launch_bounds__(256) bn_partials_columns(const T* x, const T* g, const float* coef, BnDims d,
                                                           float* part) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, chunk = blockIdx.y;
  if (col >= d.C * d.S) return;
  const int64_t c = col / d.S, s = col - c * d.S;
  const int64_t n0 = chunk * d.N / d.chunks, n1 = (chunk + 1) * d.N / d.chunks;
  const float mean = GRADS ? coef[c * 4 + 0] : 0.0f, rstd = GRADS ? coef[c * 4 + 1] : 0.0f;
  Acc a;
  for (int64_t n = n0; n < n1; ++n) accumulate<T, GRADS>(a, x, g, n * d.C * d.S + col, mean, rstd);
  float* p = part + (c * d.J + s * d.chunks + chunk) * 3;
  if constexpr (GRADS) p[0] = a.sg, p[1] = a.sgx, p[2] = 0.0f;
  else p[0] = a.w.n, p[1] = a.w.mean, p[2] = a.w.m2;
}

struct FinalizeArgs {
  const float* part;
  BnDims d;
  bool grads;        // false: statistics; true: gradient sums
  bool training;
  float momentum, eps;
  float* running_mean;  // statistics + training: updated; else read (eval coefficients)
  float* running_var;
  const void* w;     // (C,) T or null
  const void* b;
  float* out_mean;   // (C,) or null
  float* out_rstd;
  void* dw;          // grads: (C,) T or null
  void* db;
  float* coef;       // [C][4]
};

// Statistics: coef = (μ, r, r·w, b).  Gradients: coef = (μ, r, r·w, Σg/M, Σg·x̂/M) in slots
// (0, 1, 2, 3) with Σg·x̂/M stored in slot 3 of a second table half (coef + 4C).
template <class T>
__global__ void bn_finalize(FinalizeArgs a) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= a.d.C) return;
  const float* p = a.part + c * a.d.J * 3;
  const float w = a.w ? to_float<T>(static_cast<const T*>(a.w)[c]) : 1.0f;
  float* cf = a.coef + c * 4;
  if (!a.grads) {
    double n = 0.0, mean = 0.0, m2 = 0.0;
    for (int64_t j = 0; j < a.d.J; ++j) {  // Chan merge in FP64
      const double nb = p[j * 3], mb = p[j * 3 + 1], m2b = p[j * 3 + 2];
      if (nb == 0.0) continue;
      const double tot = n + nb, dl = mb - mean;
      mean += dl * nb / tot;
      m2 += m2b + dl * dl * n * nb / tot;
      n = tot;
    }
    const double var = m2 / n;
    const float rstd = float(1.0 / sqrt(var + double(a.eps)));
    if (a.running_mean) a.running_mean[c] = float((1.0 - a.momentum) * a.running_mean[c] + a.momentum * mean);
    if (a.running_var) a.running_var[c] = float((1.0 - a.momentum) * a.running_var[c] + a.momentum * (m2 / (n - 1.0)));
    if (a.out_mean) a.out_mean[c] = float(mean);
    if (a.out_rstd) a.out_rstd[c] = rstd;
    cf[0] = float(mean), cf[1] = rstd, cf[2] = rstd * w;
    cf[3] = a.b ? to_float<T>(static_cast<const T*>(a.b)[c]) : 0.0f;
  } else {
    double sg = 0.0, sgx = 0.0;
    for (int64_t j = 0; j < a.d.J; ++j) sg += p[j * 3], sgx += p[j * 3 + 1];
    if (a.dw) static_cast<T*>(a.dw)[c] = from_float<T>(float(sgx));
    if (a.db) static_cast<T*>(a.db)[c] = from_float<T>(float(sg));
    const double M = double(a.d.N) * double(a.d.S);
    // dx = r·w·(g - Σg/M - x̂·Σg·x̂/M) (training), r·w·g (eval); cf[0], cf[1] already hold μ, r.
    cf[2] = cf[1] * w;
    cf[3] = a.training ? float(sg / M) : 0.0f;
    a.coef[a.d.C * 4 + c] = a.training ? float(sgx / M) : 0.0f;
  }
}

// Eval statistics from the running (or saved) ones: coef = (μ, r, r·w, b).
template <class T>
__global__ void bn_coef_from_stats(const float* mean, const float* rstd, const float* rm, const float* rv, float eps,
                                   const void* w, const void* b, int64_t C, float* coef) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const float mu = mean ? mean[c] : rm[c];
  const float r = rstd ? rstd[c] : float(1.0 / sqrt(double(rv[c]) + double(eps)));
  const float wv = w ? to_float<T>(static_cast<const T*>(w)[c]) : 1.0f;
  coef[c * 4 + 0] = mu, coef[c * 4 + 1] = r, coef[c * 4 + 2] = r * wv;
  coef[c * 4 + 3] = b ? to_float<T>(static_cast<const T*>(b)[c]) : 0.0f;
}

// Forward: out = (x - μ)·(r·w) + b.  Backward: out = r·w·(g - Σg/M - (x - μ)·r·Σg·x̂/M).
template <class T>
__global__ void __launch_bounds__(256) bn_apply(const T* x, const T* g, const float* coef, int64_t C, int64_t S,
                                                int64_t total, T* out) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t c = (i / S) % C;
    const float* cf = coef + c * 4;
    const float xv = to_float<T>(x[i]);
    float v;
    if (g) v = cf[2] * (to_float<T>(g[i]) - cf[3] - (xv - cf[0]) * cf[1] * coef[C * 4 + c]);
    else v = (xv - cf[0]) * cf[2] + cf[3];
    out[i] = from_float<T>(v);
  }
}

BnDims dims_of(const TensorView& x) {
  BnDims d;
  d.N = x.shape[0], d.C = x.shape[1], d.S = 1;
  for (int k = 2; k < x.ndim; ++k) d.S *= x.shape[k];
  const int64_t target = int64_t(launch_device().sm_count) * 4;
  if (d.S >= 32) {
    d.chunks = std::max<int64_t>(1, std::min<int64_t>(d.N, (target + d.C - 1) / d.C));
    d.J = d.chunks;
  } else {
    const int64_t colblocks = (d.C * d.S + 255) / 256;
    d.chunks = std::max<int64_t>(1, std::min<int64_t>({d.N, (target + colblocks - 1) / colblocks, 65535}));
    d.J = d.S * d.chunks;
  }
  return d;
}

template <class T>
void launch_partials(bool grads, const TensorView& x, const TensorView* g, const float* coef, const BnDims& d,
                     float* part, cudaStream_t st) {
  const T* xp = x.ptr<T>();
  const T* gp = g ? g->ptr<T>() : nullptr;
  if (d.S >= 32) {
    FASTNN_CHECK_VALUE(d.C <= 65535, "batch_norm (cuda): at most 65535 channels, got ", d.C);
    const dim3 grid{unsigned(d.chunks), unsigned(d.C)};
    if (grads) bn_partials_spatial<T, true><<<grid, 256, 0, st>>>(xp, gp, coef, d, part);
    else bn_partials_spatial<T, false><<<grid, 256, 0, st>>>(xp, gp, coef, d, part);
  } else {
    const dim3 grid{unsigned((d.C * d.S + 255) / 256), unsigned(d.chunks)};
    if (grads) bn_partials_columns<T, true><<<grid, 256, 0, st>>>(xp, gp, coef, d, part);
    else bn_partials_columns<T, false><<<grid, 256, 0, st>>>(xp, gp, coef, d, part);
  }
  FASTNN_CUDA_CHECK_LAUNCH("bn_partials");
}

template <class T>
void launch_apply(const TensorView& x, const TensorView* g, const float* coef, const BnDims& d, const TensorView& out,
                  cudaStream_t st) {
  const int64_t total = d.N * d.C * d.S;
  bn_apply<T><<<grid_for(total, 256), 256, 0, st>>>(x.ptr<T>(), g ? g->ptr<T>() : nullptr, coef, d.C, d.S, total,
                                                   out.ptr<T>());
  FASTNN_CUDA_CHECK_LAUNCH("bn_apply");
}

struct Bn {
  const TensorView& x;
  const TensorView *rm, *rv, *w, *b;
};

void check_channel(const char* fn, const char* arg, const TensorView* t, DType dt, int64_t C, bool writable) {
  if (!t) return;
  check_float_as(*t, dt, fn, arg);
  check_shape_is(*t, 1, &C, fn, arg);
  check_contiguous(*t, fn, arg);
}

void check_x(const char* fn, const TensorView& x) {
  check_float(x, fn, "x");
  FASTNN_CHECK_VALUE(x.ndim >= 2, fn, ": x must have shape (N, C) or (N, C, *), got ", shape_str(x));
  check_contiguous(x, fn, "x");
}

template <class T>
void forward_typed(const TensorView& x, const TensorView* rm, const TensorView* rv, const TensorView* w,
                   const TensorView* b, bool training, double momentum, double eps, const TensorView& y,
                   const TensorView* mean, const TensorView* rstd, cudaStream_t st) {
  const BnDims d = dims_of(x);
  StreamScratch coef(size_t(d.C) * 8 * sizeof(float), st);
  if (training) {
    StreamScratch part(size_t(d.C) * d.J * 3 * sizeof(float), st);
    launch_partials<T>(false, x, nullptr, nullptr, d, part.as<float>(), st);
    FinalizeArgs f{};
    f.part = part.as<float>(), f.d = d, f.grads = false, f.training = true;
    f.momentum = float(momentum), f.eps = float(eps);
    f.running_mean = rm ? rm->ptr<float>() : nullptr, f.running_var = rv ? rv->ptr<float>() : nullptr;
    f.w = w ? w->data : nullptr, f.b = b ? b->data : nullptr;
    f.out_mean = mean ? mean->ptr<float>() : nullptr, f.out_rstd = rstd ? rstd->ptr<float>() : nullptr;
    f.coef = coef.as<float>();
    bn_finalize<T><<<unsigned((d.C + 127) / 128), 128, 0, st>>>(f);
    FASTNN_CUDA_CHECK_LAUNCH("bn_finalize");
  } else {
    bn_coef_from_stats<T><<<unsigned((d.C + 127) / 128), 128, 0, st>>>(
        nullptr, nullptr, rm->ptr<float>(), rv->ptr<float>(), float(eps), w ? w->data : nullptr,
        b ? b->data : nullptr, d.C, coef.as<float>());
    FASTNN_CUDA_CHECK_LAUNCH("bn_coef_from_stats");
    // The statistics used: the running ones.
    if (mean) FASTNN_CUDA_CHECK(cudaMemcpyAsync(mean->data, rm->data, size_t(d.C) * 4, cudaMemcpyDeviceToDevice, st));
    if (rstd) {
      // rstd = coef[c][1]: strided copy out of the coefficient table.
      FASTNN_CUDA_CHECK(cudaMemcpy2DAsync(rstd->data, 4, coef.as<float>() + 1, 16, 4, size_t(d.C),
                                          cudaMemcpyDeviceToDevice, st));
    }
  }
  launch_apply<T>(x, nullptr, coef.as<float>(), d, y, st);
}

template <class T>
void backward_typed(const TensorView& g, const TensorView& x, const TensorView* w, const TensorView* rm,
                    const TensorView* rv, bool training, double eps, const TensorView* mean, const TensorView* rstd,
                    const TensorView& dx, const TensorView* dw, const TensorView* db, cudaStream_t st) {
  const BnDims d = dims_of(x);
  StreamScratch coef(size_t(d.C) * 8 * sizeof(float), st);
  StreamScratch part(size_t(d.C) * d.J * 3 * sizeof(float), st);
  if (training && !mean) {  // recompute the batch statistics
    launch_partials<T>(false, x, nullptr, nullptr, d, part.as<float>(), st);
    FinalizeArgs f{};
    f.part = part.as<float>(), f.d = d, f.grads = false, f.training = false, f.eps = float(eps);
    f.w = w ? w->data : nullptr;
    f.coef = coef.as<float>();
    bn_finalize<T><<<unsigned((d.C + 127) / 128), 128, 0, st>>>(f);
    FASTNN_CUDA_CHECK_LAUNCH("bn_finalize");
  } else {
    bn_coef_from_stats<T><<<unsigned((d.C + 127) / 128), 128, 0, st>>>(
        mean ? mean->ptr<float>() : nullptr, rstd ? rstd->ptr<float>() : nullptr, rm ? rm->ptr<float>() : nullptr,
        rv ? rv->ptr<float>() : nullptr, float(eps), w ? w->data : nullptr, nullptr, d.C, coef.as<float>());
    FASTNN_CUDA_CHECK_LAUNCH("bn_coef_from_stats");
  }
  launch_partials<T>(true, x, &g, coef.as<float>(), d, part.as<float>(), st);
  FinalizeArgs f{};
  f.part = part.as<float>(), f.d = d, f.grads = true, f.training = training;
  f.w = w ? w->data : nullptr;
  f.dw = dw ? dw->data : nullptr, f.db = db ? db->data : nullptr;
  f.coef = coef.as<float>();
  bn_finalize<T><<<unsigned((d.C + 127) / 128), 128, 0, st>>>(f);
  FASTNN_CUDA_CHECK_LAUNCH("bn_finalize");
  launch_apply<T>(x, &g, coef.as<float>(), d, dx, st);
}

}  // namespace

void batch_norm_forward(const TensorView& x, const TensorView* running_mean, const TensorView* running_var,
                        const TensorView* weight, const TensorView* bias, bool training, double momentum,
                        double eps, const TensorView& y, const TensorView* mean, const TensorView* rstd,
                        uintptr_t stream) {
  const char* fn = "batch_norm (cuda)";
  check_x(fn, x);
  const int64_t C = x.shape[1];
  check_channel(fn, "running_mean", running_mean, DType::f32, C, training);
  check_channel(fn, "running_var", running_var, DType::f32, C, training);
  check_channel(fn, "weight", weight, x.dtype, C, false);
  check_channel(fn, "bias", bias, x.dtype, C, false);
  check_channel(fn, "mean", mean, DType::f32, C, true);
  check_channel(fn, "rstd", rstd, DType::f32, C, true);
  check_float_as(y, x.dtype, fn, "out");
  check_shape_as(y, x, fn, "out", "x");
  check_contiguous(y, fn, "out");
  FASTNN_CHECK_VALUE(std::isfinite(momentum), fn, ": momentum must be finite, got ", momentum);
  FASTNN_CHECK_VALUE(std::isfinite(eps) && eps >= 0.0, fn, ": eps must be finite and >= 0, got ", eps);
  FASTNN_CHECK_VALUE(training || (running_mean && running_var), fn,
                     ": running_mean and running_var are required when training=False");
  const int64_t M = numel(x) / (C ? C : 1);
  FASTNN_CHECK_VALUE(!training || M > 1 || C == 0, fn, ": expected more than 1 value per channel when training, got ",
                     M);
  if (numel(x) == 0) return;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  switch (x.dtype) {
    case DType::f32:
      forward_typed<float>(x, running_mean, running_var, weight, bias, training, momentum, eps, y, mean, rstd, st);
      break;
    case DType::f16:
      forward_typed<__half>(x, running_mean, running_var, weight, bias, training, momentum, eps, y, mean, rstd, st);
      break;
    default:
      forward_typed<__nv_bfloat16>(x, running_mean, running_var, weight, bias, training, momentum, eps, y, mean, rstd,
                                   st);
  }
}

void batch_norm_backward(const TensorView& g, const TensorView& x, const TensorView* weight,
                         const TensorView* running_mean, const TensorView* running_var, bool training, double eps,
                         const TensorView* mean, const TensorView* rstd, const TensorView& dx,
                         const TensorView* dweight, const TensorView* dbias, uintptr_t stream) {
  const char* fn = "batch_norm_backward (cuda)";
  check_x(fn, x);
  const int64_t C = x.shape[1];
  check_float_as(g, x.dtype, fn, "grad_out");
  check_shape_as(g, x, fn, "grad_out", "x");
  check_contiguous(g, fn, "grad_out");
  check_channel(fn, "weight", weight, x.dtype, C, false);
  check_channel(fn, "running_mean", running_mean, DType::f32, C, false);
  check_channel(fn, "running_var", running_var, DType::f32, C, false);
  check_channel(fn, "mean", mean, DType::f32, C, false);
  check_channel(fn, "rstd", rstd, DType::f32, C, false);
  check_channel(fn, "grad_weight", dweight, x.dtype, C, true);
  check_channel(fn, "grad_bias", dbias, x.dtype, C, true);
  check_float_as(dx, x.dtype, fn, "grad_x");
  check_shape_as(dx, x, fn, "grad_x", "x");
  check_contiguous(dx, fn, "grad_x");
  FASTNN_CHECK_VALUE((mean == nullptr) == (rstd == nullptr), fn, ": pass both mean and rstd or neither");
  FASTNN_CHECK_VALUE(training || mean || (running_mean && running_var), fn,
                     ": running_mean and running_var are required when training=False");
  FASTNN_CHECK_VALUE(std::isfinite(eps) && eps >= 0.0, fn, ": eps must be finite and >= 0, got ", eps);
  if (numel(x) == 0) return;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  switch (x.dtype) {
    case DType::f32:
      backward_typed<float>(g, x, weight, running_mean, running_var, training, eps, mean, rstd, dx, dweight, dbias, st);
      break;
    case DType::f16:
      backward_typed<__half>(g, x, weight, running_mean, running_var, training, eps, mean, rstd, dx, dweight, dbias,
                             st);
      break;
    default:
      backward_typed<__nv_bfloat16>(g, x, weight, running_mean, running_var, training, eps, mean, rstd, dx, dweight,
                                    dbias, st);
  }
}

}  // namespace cuda
}  // namespace fastnn
