// layer_norm and rms_norm over the last dim of a (rows, n) contiguous array, forward and backward.
//   layer: y = (x - μ)·r·w + b, r = 1/√(var + ε) (biased var, two passes over the cached row)
//   rms:   y = x·r·w,           r = 1/√(mean(x²) + ε)
//   backward, x̂ = (x - μ)·r (rms: x·r), ĝ = g·w:
//     layer: dx = r·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂))      rms: dx = r·(ĝ - x̂·mean(ĝ·x̂))
//     dw = Σ_rows g·x̂, db = Σ_rows g
// A row belongs to a group of GROUP threads: a warp (row cached in registers: n ≤ 1024 forward,
// ≤ 512 backward) or a 512-thread block (cached up to 8192; longer rows re-read the rest from L2). dw/db:
// each group accumulates its rows' contributions for the columns it owns, in registers, writes one
// partial row per group; a column kernel sums the partials in a fixed order (deterministic).
#include <cmath>

#include "cuda/glue/glue.h"
#include "cuda/glue/glue_device.cuh"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

struct NormArgs {
  const void* x;
  const void* g;     // backward only
  const void* w;     // (n,) or null
  const void* b;     // (n,) or null (forward)
  void* y;           // forward: y; backward: dx
  float* mean;       // (rows,) or null
  float* rstd;       // (rows,) or null
  int64_t rows, n;
  float eps;
  bool rms;
  bool have_stats;   // backward: mean / rstd are inputs
  float* part;       // backward: [groups][2][n] partial dw (row 0) and db (row 1), or null
};

template <class T, int GROUP, int CACHE>
__global__ void __launch_bounds__(GROUP == 32 ? 256 : GROUP, 1) row_norm_forward_kernel(NormArgs a) {
  __shared__ float red[64];
  const int rank = group_rank<GROUP>();
  const int64_t n = a.n;
  const T* W = static_cast<const T*>(a.w);
  const T* Bv = static_cast<const T*>(a.b);
  for (int64_t r = group_id<GROUP>(); r < a.rows; r += group_count<GROUP>()) {
    const T* xr = static_cast<const T*>(a.x) + r * n;
    T* yr = static_cast<T*>(a.y) + r * n;
    float v[CACHE];
    float s = 0.0f;
#pragma unroll
    for (int k = 0; k < CACHE; ++k) {
      const int64_t j = rank + int64_t(k) * GROUP;
      v[k] = j < n ? to_float<T>(xr[j]) : 0.0f;
      s += a.rms ? v[k] * v[k] : v[k];
    }
    for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) {
      const float t = to_float<T>(xr[j]);
      s += a.rms ? t * t : t;
    }
    s = group_sum<GROUP>(s, red);
    float mu = 0.0f, rs;
    if (a.rms) {
      rs = 1.0f / sqrtf(s / float(n) + a.eps);
    } else {
      mu = s / float(n);
      float q = 0.0f;
#pragma unroll
      for (int k = 0; k < CACHE; ++k) {
        const int64_t j = rank + int64_t(k) * GROUP;
        const float d = v[k] - mu;
        q += j < n ? d * d : 0.0f;
      }
      for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) {
        const float d = to_float<T>(xr[j]) - mu;
        q += d * d;
      }
      q = group_sum<GROUP>(q, red);
      rs = 1.0f / sqrtf(q / float(n) + a.eps);
    }
    if (rank == 0) {
      if (a.mean) a.mean[r] = mu;
      if (a.rstd) a.rstd[r] = rs;
    }
    auto out = [&](int64_t j, float xv) {
      float t = (xv - mu) * rs;
      if (W) t *= to_float<T>(W[j]);
      if (Bv) t += to_float<T>(Bv[j]);
      yr[j] = from_float<T>(t);
    };
#pragma unroll
    for (int k = 0; k < CACHE; ++k) {
      const int64_t j = rank + int64_t(k) * GROUP;
      if (j < n) out(j, v[k]);
    }
    for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) out(j, to_float<T>(xr[j]));
  }
}

template <class T, int GROUP, int CACHE>
__global__ void __launch_bounds__(GROUP == 32 ? 256 : GROUP, 1) row_norm_backward_kernel(NormArgs a) {
  __shared__ float red[64];
  const int rank = group_rank<GROUP>();
  const int64_t n = a.n, gid = group_id<GROUP>();
  const T* W = static_cast<const T*>(a.w);
  const bool want_part = a.part != nullptr;
  float* pw = want_part ? a.part + gid * 2 * n : nullptr;  // this group's partial dw / db rows
  float dw[CACHE], db[CACHE];
#pragma unroll
  for (int k = 0; k < CACHE; ++k) dw[k] = db[k] = 0.0f;
  if (want_part)
    for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) pw[j] = pw[n + j] = 0.0f;
  for (int64_t r = gid; r < a.rows; r += group_count<GROUP>()) {
    const T* xr = static_cast<const T*>(a.x) + r * n;
    const T* gr = static_cast<const T*>(a.g) + r * n;
    T* dr = static_cast<T*>(a.y) + r * n;
    float xv[CACHE], gv[CACHE];
#pragma unroll
    for (int k = 0; k < CACHE; ++k) {
      const int64_t j = rank + int64_t(k) * GROUP;
      xv[k] = j < n ? to_float<T>(xr[j]) : 0.0f;
      gv[k] = j < n ? to_float<T>(gr[j]) : 0.0f;
    }
    float mu = 0.0f, rs;
    if (a.have_stats) {
      mu = a.rms ? 0.0f : a.mean[r];
      rs = a.rstd[r];
    } else {  // recompute exactly as the forward does
      float s = 0.0f;
#pragma unroll
      for (int k = 0; k < CACHE; ++k) s += a.rms ? xv[k] * xv[k] : xv[k];
      for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) {
        const float t = to_float<T>(xr[j]);
        s += a.rms ? t * t : t;
      }
      s = group_sum<GROUP>(s, red);
      if (a.rms) {
        rs = 1.0f / sqrtf(s / float(n) + a.eps);
      } else {
        mu = s / float(n);
        float q = 0.0f;
#pragma unroll
        for (int k = 0; k < CACHE; ++k) {
          const int64_t j = rank + int64_t(k) * GROUP;
          const float d = xv[k] - mu;
          q += j < n ? d * d : 0.0f;
        }
        for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) {
          const float d = to_float<T>(xr[j]) - mu;
          q += d * d;
        }
        q = group_sum<GROUP>(q, red);
        rs = 1.0f / sqrtf(q / float(n) + a.eps);
      }
    }
    // Σ ĝ and Σ ĝ·x̂ over the row.
    float sg = 0.0f, sgx = 0.0f;
    auto acc = [&](int64_t j, float x, float g) {
      const float xh = (x - mu) * rs, gh = W ? g * to_float<T>(W[j]) : g;
      sg += gh, sgx += gh * xh;
    };
#pragma unroll
    for (int k = 0; k < CACHE; ++k) {
      const int64_t j = rank + int64_t(k) * GROUP;
      if (j < n) acc(j, xv[k], gv[k]);
    }
    for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) acc(j, to_float<T>(xr[j]), to_float<T>(gr[j]));
    sg = group_sum<GROUP>(sg, red);
    sgx = group_sum<GROUP>(sgx, red);
    const float mg = a.rms ? 0.0f : sg / float(n), mgx = sgx / float(n);
    auto out = [&](int64_t j, float x, float g, float& pdw, float& pdb) {
      const float xh = (x - mu) * rs, gh = W ? g * to_float<T>(W[j]) : g;
      dr[j] = from_float<T>(rs * (gh - mg - xh * mgx));
      pdw += g * xh, pdb += g;
    };
#pragma unroll
    for (int k = 0; k < CACHE; ++k) {
      const int64_t j = rank + int64_t(k) * GROUP;
      if (j < n) out(j, xv[k], gv[k], dw[k], db[k]);
    }
    for (int64_t j = rank + int64_t(CACHE) * GROUP; j < n; j += GROUP) {
      float t0 = 0.0f, t1 = 0.0f;
      out(j, to_float<T>(xr[j]), to_float<T>(gr[j]), t0, t1);
      if (want_part) pw[j] += t0, pw[n + j] += t1;
    }
  }
  if (want_part) {
#pragma unroll
    for (int k = 0; k < CACHE; ++k) {
      const int64_t j = rank + int64_t(k) * GROUP;
      if (j < n) pw[j] = dw[k], pw[n + j] = db[k];
    }
  }
}

// out[j] = Σ_g part[g][row][j] for row 0 (dw) → dw, row 1 (db) → db (each may be null).
template <class T>
__global__ void __launch_bounds__(256) norm_partials_reduce(const float* part, int64_t groups, int64_t n, T* dw, T* db) {
  const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= n) return;
  float s0 = 0.0f, s1 = 0.0f;
  for (int64_t g = 0; g < groups; ++g) {
    s0 += part[g * 2 * n + j];
    s1 += part[g * 2 * n + n + j];
  }
  if (dw) dw[j] = from_float<T>(s0);
  if (db) db[j] = from_float<T>(s1);
}

// ---- host --------------------------------------------------------------------------------------

// Warp groups while the row fits the per-lane cache (forward 32 values per lane; backward 16, as it
// also caches grad_out and the dw / db partials: 239 registers at 32, one block per SM).
constexpr int kBlockGroup = 512;
bool warp_forward(int64_t n) { return n <= 1024; }
bool warp_backward(int64_t n) { return n <= 512; }

template <class T>
void launch_forward(const NormArgs& a, cudaStream_t st) {
  if (warp_forward(a.n))
    row_norm_forward_kernel<T, 32, 32><<<grid_for(a.rows, 8), 256, 0, st>>>(a);
  else
    row_norm_forward_kernel<T, kBlockGroup, 16><<<grid_for(a.rows, 1, 4), kBlockGroup, 0, st>>>(a);
  FASTNN_CUDA_CHECK_LAUNCH("row_norm_forward_kernel");
}

template <class T>
void launch_backward(NormArgs a, T* dw, T* db, cudaStream_t st) {
  const bool warp = warp_backward(a.n);
  const unsigned grid = warp ? grid_for(a.rows, 8, 4) : grid_for(a.rows, 1, 2);
  const int64_t groups = int64_t(grid) * (warp ? 8 : 1);
  const bool want = dw || db;
  StreamScratch part(want ? size_t(groups) * 2 * size_t(a.n) * sizeof(float) : 0, st);
  a.part = part.as<float>();
  if (warp)
    row_norm_backward_kernel<T, 32, 16><<<grid, 256, 0, st>>>(a);
  else
    row_norm_backward_kernel<T, kBlockGroup, 16><<<grid, kBlockGroup, 0, st>>>(a);
  FASTNN_CUDA_CHECK_LAUNCH("row_norm_backward_kernel");
  if (want) {
    norm_partials_reduce<T><<<unsigned((a.n + 255) / 256), 256, 0, st>>>(a.part, groups, a.n, dw, db);
    FASTNN_CUDA_CHECK_LAUNCH("norm_partials_reduce");
  }
}

void check_common(const char* fn, const TensorView& x, const TensorView* w, double eps) {
  check_float(x, fn, "x");
  FASTNN_CHECK_VALUE(x.ndim == 2, fn, ": x must be (rows, n), got ", shape_str(x));
  check_contiguous(x, fn, "x");
  const int64_t n = x.shape[1];
  if (w) {
    check_float_as(*w, x.dtype, fn, "weight");
    check_shape_is(*w, 1, &n, fn, "weight");
    check_contiguous(*w, fn, "weight");
  }
  FASTNN_CHECK_VALUE(std::isfinite(eps) && eps >= 0.0, fn, ": eps must be finite and >= 0, got ", eps);
}

void check_stat(const char* fn, const char* arg, const TensorView* s, int64_t rows) {
  if (!s) return;
  check_float_as(*s, DType::f32, fn, arg);
  check_shape_is(*s, 1, &rows, fn, arg);
  check_contiguous(*s, fn, arg);
}

}  // namespace

void row_norm_forward(bool rms, const TensorView& x, const TensorView* weight, const TensorView* bias, double eps,
                      const TensorView& y, const TensorView* mean, const TensorView* rstd, uintptr_t stream) {
  const char* fn = rms ? "rms_norm (cuda)" : "layer_norm (cuda)";
  check_common(fn, x, weight, eps);
  const int64_t n = x.shape[1];
  if (bias) {
    FASTNN_CHECK_VALUE(!rms, fn, ": rms_norm has no bias");
    check_float_as(*bias, x.dtype, fn, "bias");
    check_shape_is(*bias, 1, &n, fn, "bias");
    check_contiguous(*bias, fn, "bias");
  }
  check_float_as(y, x.dtype, fn, "out");
  check_shape_as(y, x, fn, "out", "x");
  check_contiguous(y, fn, "out");
  check_stat(fn, "mean", mean, x.shape[0]);
  check_stat(fn, "rstd", rstd, x.shape[0]);
  if (x.shape[0] == 0) return;
  FASTNN_CHECK_VALUE(n > 0, fn, ": the normalized size must be > 0");
  NormArgs a{};
  a.x = x.data, a.w = weight ? weight->data : nullptr, a.b = bias ? bias->data : nullptr, a.y = y.data;
  a.mean = mean ? mean->ptr<float>() : nullptr, a.rstd = rstd ? rstd->ptr<float>() : nullptr;
  a.rows = x.shape[0], a.n = n, a.eps = float(eps), a.rms = rms;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  switch (x.dtype) {
    case DType::f32: launch_forward<float>(a, st); break;
    case DType::f16: launch_forward<__half>(a, st); break;
    default: launch_forward<__nv_bfloat16>(a, st);
  }
}

void row_norm_backward(bool rms, const TensorView& g, const TensorView& x, const TensorView* weight,
                       const TensorView* mean, const TensorView* rstd, double eps, const TensorView& dx,
                       const TensorView* dweight, const TensorView* dbias, uintptr_t stream) {
  const char* fn = rms ? "rms_norm_backward (cuda)" : "layer_norm_backward (cuda)";
  check_common(fn, x, weight, eps);
  const int64_t n = x.shape[1];
  check_float_as(g, x.dtype, fn, "grad_out");
  check_shape_as(g, x, fn, "grad_out", "x");
  check_contiguous(g, fn, "grad_out");
  check_float_as(dx, x.dtype, fn, "grad_x");
  check_shape_as(dx, x, fn, "grad_x", "x");
  check_contiguous(dx, fn, "grad_x");
  FASTNN_CHECK_VALUE(rms ? mean == nullptr : (mean == nullptr) == (rstd == nullptr), fn,
                     rms ? ": rms_norm has no mean statistic" : ": pass both mean and rstd or neither");
  check_stat(fn, "mean", mean, x.shape[0]);
  check_stat(fn, "rstd", rstd, x.shape[0]);
  for (auto [t, name] : {std::pair<const TensorView*, const char*>{dweight, "grad_weight"}, {dbias, "grad_bias"}}) {
    if (!t) continue;
    check_float_as(*t, x.dtype, fn, name);
    check_shape_is(*t, 1, &n, fn, name);
    check_contiguous(*t, fn, name);
  }
  FASTNN_CHECK_VALUE(!dbias || !rms, fn, ": rms_norm has no bias");
  FASTNN_CHECK_VALUE(!dweight || weight, fn, ": grad_weight needs weight");
  if (x.shape[0] == 0 || n == 0) return;  // the caller fills grad_weight / grad_bias with zeros
  NormArgs a{};
  a.x = x.data, a.g = g.data, a.w = weight ? weight->data : nullptr, a.y = dx.data;
  a.mean = mean ? mean->ptr<float>() : nullptr, a.rstd = rstd ? rstd->ptr<float>() : nullptr;
  a.have_stats = rstd != nullptr;
  a.rows = x.shape[0], a.n = n, a.eps = float(eps), a.rms = rms;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  switch (x.dtype) {
    case DType::f32:
      launch_backward<float>(a, dweight ? dweight->ptr<float>() : nullptr, dbias ? dbias->ptr<float>() : nullptr, st);
      break;
    case DType::f16:
      launch_backward<__half>(a, dweight ? dweight->ptr<__half>() : nullptr, dbias ? dbias->ptr<__half>() : nullptr,
                              st);
      break;
    default:
      launch_backward<__nv_bfloat16>(a, dweight ? dweight->ptr<__nv_bfloat16>() : nullptr,
                                     dbias ? dbias->ptr<__nv_bfloat16>() : nullptr, st);
  }
}

}  // namespace cuda
}  // namespace fastnn
