// 2-D pooling on CUDA (NCHW contiguous, FP32 math, PyTorch semantics as the CPU kernels):
//   max_pool2d: padding never wins, ties keep the first maximum in row-major tap order, a NaN
//     wins (the last NaN); indices = ih·W + iw within the plane. Backward: FP32 atomics into the
//     argmax (float32 output directly, else an FP32 scratch converted afterwards).
//   avg_pool2d: divisor_override, else the window clipped to the padded input (count_include_pad)
//     or the count of real elements. Backward: a thread per input element gathers the windows
//     that contain it (no atomics).
//   adaptive_avg_pool2d: output i averages [⌊i·L/out⌋, ⌈(i+1)·L/out⌉); backward gathers likewise.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "cuda/conv/conv.h"
#include "cuda/gemm/gemm_common.cuh"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

struct PoolGeom {
  int64_t N, C, H, W, Ho, Wo;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;
  int64_t divisor;  // 0: none
  bool adaptive;
};

__device__ __forceinline__ void valid_taps(int64_t start, int64_t k, int64_t d, int64_t L, int64_t& lo, int64_t& hi) {
  lo = start >= 0 ? 0 : (-start + d - 1) / d;
  hi = start > L - 1 ? 0 : min(k, (L - 1 - start) / d + 1);
  if (hi < lo) hi = lo;
}

template <class T>
__global__ void __launch_bounds__(256) max_pool_fwd(PoolGeom g, const T* x, T* y, int64_t* ind) {
  const int64_t total = g.N * g.C * g.Ho * g.Wo, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t ox = e % g.Wo, oy = (e / g.Wo) % g.Ho, plane = e / (g.Wo * g.Ho);
    const T* xp = x + plane * g.H * g.W;
    const int64_t hs = oy * g.sh - g.ph, ws = ox * g.sw - g.pw;
    int64_t r0, r1, c0, c1;
    valid_taps(hs, g.kh, g.dh, g.H, r0, r1);
    valid_taps(ws, g.kw, g.dw, g.W, c0, c1);
    float best = -__int_as_float(0x7f800000);
    int64_t idx = -1;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t iy = hs + r * g.dh;
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t ix = ws + c * g.dw;
        const float v = to_float<T>(xp[iy * g.W + ix]);
        if (idx < 0 || v > best || v != v) best = v, idx = iy * g.W + ix;
      }
    }
    y[e] = from_float<T>(best);
    if (ind) ind[e] = idx;
  }
}

// gx (FP32, zeroed) += grad at the argmax of each output.
template <class T>
__global__ void __launch_bounds__(256) max_pool_bwd(int64_t planes, int64_t plane_out, int64_t plane_in, const T* gy,
                                                    const int64_t* ind, float* gx, unsigned long long* status) {
  const int64_t total = planes * plane_out, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t i = ind[e];
    if (i == -1) continue;
    if (i < 0 || i >= plane_in) {
      atomicMin(status, static_cast<unsigned long long>(e));
      continue;
    }
    atomicAdd(gx + (e / plane_out) * plane_in + i, to_float<T>(gy[e]));
  }
}

struct Win {
  int64_t s, e, lo, hi;
};
__device__ __forceinline__ Win avg_win(int64_t i, int64_t k, int64_t st, int64_t pad, int64_t L) {
  Win w;
  w.s = i * st - pad;
  w.e = min(w.s + k, L + pad);
  w.lo = w.s > 0 ? w.s : 0;
  w.hi = min(w.e, L);
  return w;
}
__device__ __forceinline__ Win adaptive_win(int64_t i, int64_t out, int64_t L) {
  Win w;
  w.s = w.lo = i * L / out;
  w.e = w.hi = ((i + 1) * L + out - 1) / out;
  return w;
}
__device__ __forceinline__ Win win_y(const PoolGeom& g, int64_t oy) {
  return g.adaptive ? adaptive_win(oy, g.Ho, g.H) : avg_win(oy, g.kh, g.sh, g.ph, g.H);
}
__device__ __forceinline__ Win win_x(const PoolGeom& g, int64_t ox) {
  return g.adaptive ? adaptive_win(ox, g.Wo, g.W) : avg_win(ox, g.kw, g.sw, g.pw, g.W);
}
__device__ __forceinline__ float divisor(const PoolGeom& g, const Win& wy, const Win& wx) {
  if (g.divisor > 0) return float(g.divisor);
  if (g.count_include_pad && !g.adaptive) return float((wy.e - wy.s) * (wx.e - wx.s));
  return float((wy.hi - wy.lo) * (wx.hi - wx.lo));
}

template <class T>
__global__ void __launch_bounds__(256) avg_pool_fwd(PoolGeom g, const T* x, T* y) {
  const int64_t total = g.N * g.C * g.Ho * g.Wo, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t ox = e % g.Wo, oy = (e / g.Wo) % g.Ho, plane = e / (g.Wo * g.Ho);
    const T* xp = x + plane * g.H * g.W;
    const Win wy = win_y(g, oy), wx = win_x(g, ox);
    float s = 0.0f;
    for (int64_t iy = wy.lo; iy < wy.hi; ++iy)
      for (int64_t ix = wx.lo; ix < wx.hi; ++ix) s += to_float<T>(xp[iy * g.W + ix]);
    y[e] = from_float<T>(s / divisor(g, wy, wx));
  }
}

// Outputs along one dim whose window may cover input position i: [first, last] (the caller
// checks containment).
__device__ __forceinline__ void covering(const PoolGeom& g, bool rows, int64_t i, int64_t& first, int64_t& last) {
  const int64_t out = rows ? g.Ho : g.Wo, L = rows ? g.H : g.W;
  if (g.adaptive) {  // a superset; the caller checks containment
    first = (i * out) / L - 1;
    if (first < 0) first = 0;
    last = ((i + 1) * out) / L;
    if (last > out - 1) last = out - 1;
    return;
  }
  const int64_t k = rows ? g.kh : g.kw, st = rows ? g.sh : g.sw, pad = rows ? g.ph : g.pw;
  // o covers i iff o·st - pad ≤ i < o·st - pad + k
  const int64_t num = i + pad - k + 1;
  first = num <= 0 ? 0 : (num + st - 1) / st;
  last = (i + pad) / st;
  if (last >= out) last = out - 1;
}

template <class T>
__global__ void __launch_bounds__(256) avg_pool_bwd(PoolGeom g, const T* gy, T* gx) {
  const int64_t total = g.N * g.C * g.H * g.W, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t ix = e % g.W, iy = (e / g.W) % g.H, plane = e / (g.W * g.H);
    const T* gp = gy + plane * g.Ho * g.Wo;
    int64_t oy0, oy1, ox0, ox1;
    covering(g, true, iy, oy0, oy1);
    covering(g, false, ix, ox0, ox1);
    float s = 0.0f;
    for (int64_t oy = oy0; oy <= oy1; ++oy) {
      const Win wy = win_y(g, oy);
      if (iy < wy.lo || iy >= wy.hi) continue;
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const Win wx = win_x(g, ox);
        if (ix < wx.lo || ix >= wx.hi) continue;
        s += to_float<T>(gp[oy * g.Wo + ox]) / divisor(g, wy, wx);
      }
    }
    gx[e] = from_float<T>(s);
  }
}

template <class T>
__global__ void __launch_bounds__(256) f32_to(const float* src, T* dst, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = from_float<T>(src[i]);
}

// ---- host --------------------------------------------------------------------------------------

void check_x4(const char* fn, const char* arg, const TensorView& t) {
  check_float(t, fn, arg);
  FASTNN_CHECK_VALUE(t.ndim == 4, fn, ": ", arg, " must have shape (N, C, H, W), got ", shape_str(t));
  check_contiguous(t, fn, arg);
}

int64_t pool_out(int64_t L, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode, const char* fn) {
  const int64_t num = L + 2 * p - d * (k - 1) - 1;
  FASTNN_CHECK_VALUE(num >= 0, fn, ": the pooling window (", d * (k - 1) + 1, ") is larger than the padded input (",
                     L + 2 * p, ")");
  int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  if (ceil_mode && (out - 1) * s >= L + p) --out;
  return out;
}

PoolGeom geometry(const char* fn, const TensorView& x, const PoolParams& pp) {
  PoolGeom g{};
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.kh = pp.kernel[0], g.kw = pp.kernel[1], g.sh = pp.stride[0], g.sw = pp.stride[1];
  g.ph = pp.pad[0], g.pw = pp.pad[1], g.dh = pp.dilation[0], g.dw = pp.dilation[1];
  FASTNN_CHECK_VALUE(g.kh >= 1 && g.kw >= 1 && g.sh >= 1 && g.sw >= 1 && g.dh >= 1 && g.dw >= 1, fn,
                     ": kernel_size, stride and dilation must be >= 1");
  FASTNN_CHECK_VALUE(g.ph >= 0 && g.pw >= 0 && g.ph <= g.kh / 2 && g.pw <= g.kw / 2, fn,
                     ": padding must be >= 0 and at most half the kernel size, got padding (", g.ph, ", ", g.pw,
                     ") for kernel_size (", g.kh, ", ", g.kw, ")");
  g.Ho = pool_out(g.H, g.kh, g.sh, g.ph, g.dh, pp.ceil_mode, fn);
  g.Wo = pool_out(g.W, g.kw, g.sw, g.pw, g.dw, pp.ceil_mode, fn);
  g.count_include_pad = pp.count_include_pad;
  g.divisor = pp.divisor_override;
  FASTNN_CHECK_VALUE(g.divisor >= 0, fn, ": divisor_override must be positive");
  return g;
}

void check_out_shape(const char* fn, const char* arg, const TensorView& t, const PoolGeom& g, DType dt) {
  check_float_as(t, dt, fn, arg);
  const int64_t want[4] = {g.N, g.C, g.Ho, g.Wo};
  check_shape_is(t, 4, want, fn, arg);
  check_contiguous(t, fn, arg);
}

template <class F>
void by_dtype(DType dt, const F& f) {
  switch (dt) {
    case DType::f32: f(float()); break;
    case DType::f16: f(__half()); break;
    default: f(__nv_bfloat16());
  }
}

}  // namespace

void max_pool2d_forward(const TensorView& x, const PoolParams& pp, const TensorView& y, const TensorView* indices,
                        uintptr_t stream) {
  const char* fn = "max_pool2d (cuda)";
  check_x4(fn, "x", x);
  const PoolGeom g = geometry(fn, x, pp);
  check_out_shape(fn, "out", y, g, x.dtype);
  if (indices) {
    check_on_cuda(*indices, fn, "indices");
    check_dtype(*indices, DType::i64, fn, "indices");
    const int64_t want[4] = {g.N, g.C, g.Ho, g.Wo};
    check_shape_is(*indices, 4, want, fn, "indices");
    check_contiguous(*indices, fn, "indices");
  }
  const int64_t n = g.N * g.C * g.Ho * g.Wo;
  if (n == 0) return;
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  int64_t* ip = indices ? indices->ptr<int64_t>() : nullptr;
  by_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    max_pool_fwd<T><<<grid_for(n, 256), 256, 0, s>>>(g, x.ptr<T>(), y.ptr<T>(), ip);
  });
  FASTNN_CUDA_CHECK_LAUNCH("max_pool_fwd");
}

void max_pool2d_backward(const TensorView& grad_out, const TensorView& indices, const TensorView& dx,
                         uintptr_t stream) {
  const char* fn = "max_pool2d_backward (cuda)";
  check_x4(fn, "grad_out", grad_out);
  check_on_cuda(indices, fn, "indices");
  check_dtype(indices, DType::i64, fn, "indices");
  check_shape_as(indices, grad_out, fn, "indices", "grad_out");
  check_contiguous(indices, fn, "indices");
  check_float_as(dx, grad_out.dtype, fn, "grad_x");
  FASTNN_CHECK_VALUE(dx.ndim == 4 && dx.shape[0] == grad_out.shape[0] && dx.shape[1] == grad_out.shape[1], fn,
                     ": grad_x must be (N, C, H, W) with grad_out's N and C, got ", shape_str(dx));
  check_contiguous(dx, fn, "grad_x");
  const int64_t planes = dx.shape[0] * dx.shape[1], plane_in = dx.shape[2] * dx.shape[3];
  const int64_t plane_out = grad_out.shape[2] * grad_out.shape[3];
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  const int64_t nin = planes * plane_in;
  if (nin == 0) return;
  const bool f32 = dx.dtype == DType::f32;
  StreamScratch acc_buf(f32 ? 0 : size_t(nin) * sizeof(float), s);
  float* acc = f32 ? dx.ptr<float>() : acc_buf.as<float>();
  FASTNN_CUDA_CHECK(cudaMemsetAsync(acc, 0, size_t(nin) * sizeof(float), s));
  StreamScratch status(sizeof(unsigned long long), s);
  reset_status(status.as<unsigned long long>(), s);
  const int64_t nout = planes * plane_out;
  if (nout) {
    by_dtype(dx.dtype, [&](auto t) {
      using T = decltype(t);
      max_pool_bwd<T><<<grid_for(nout, 256), 256, 0, s>>>(planes, plane_out, plane_in, grad_out.ptr<T>(),
                                                           indices.ptr<int64_t>(), acc,
                                                           status.as<unsigned long long>());
    });
    FASTNN_CUDA_CHECK_LAUNCH("max_pool_bwd");
  }
  if (!f32) {
    by_dtype(dx.dtype, [&](auto t) {
      using T = decltype(t);
      if constexpr (!std::is_same<T, float>::value) f32_to<T><<<grid_for(nin, 256), 256, 0, s>>>(acc, dx.ptr<T>(), nin);
    });
    FASTNN_CUDA_CHECK_LAUNCH("f32_to");
  }
  const unsigned long long bad = read_status(status.as<unsigned long long>(), s);
  if (bad != kNoBadIndex) {
    const int64_t v = read_index(indices.data, true, int64_t(bad));
    throw ValueError(str_cat(fn, ": indices holds ", v, " at flat position ", bad, ", outside the input plane of ",
                             plane_in, " elements"));
  }
}

void avg_pool2d_forward(const TensorView& x, const PoolParams& pp, const TensorView& y, uintptr_t stream) {
  const char* fn = "avg_pool2d (cuda)";
  check_x4(fn, "x", x);
  PoolGeom g = geometry(fn, x, pp);
  check_out_shape(fn, "out", y, g, x.dtype);
  const int64_t n = g.N * g.C * g.Ho * g.Wo;
  if (n == 0) return;
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  by_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    avg_pool_fwd<T><<<grid_for(n, 256), 256, 0, s>>>(g, x.ptr<T>(), y.ptr<T>());
  });
  FASTNN_CUDA_CHECK_LAUNCH("avg_pool_fwd");
}

void avg_pool2d_backward(const TensorView& grad_out, const PoolParams& pp, const TensorView& dx, uintptr_t stream) {
  const char* fn = "avg_pool2d_backward (cuda)";
  check_x4(fn, "grad_x", dx);
  PoolGeom g = geometry(fn, dx, pp);
  check_out_shape(fn, "grad_out", grad_out, g, dx.dtype);
  const int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  by_dtype(dx.dtype, [&](auto t) {
    using T = decltype(t);
    avg_pool_bwd<T><<<grid_for(n, 256), 256, 0, s>>>(g, grad_out.ptr<T>(), dx.ptr<T>());
  });
  FASTNN_CUDA_CHECK_LAUNCH("avg_pool_bwd");
}

namespace {
PoolGeom adaptive_geometry(const char* fn, const TensorView& in, const TensorView& out) {
  PoolGeom g{};
  g.N = in.shape[0], g.C = in.shape[1], g.H = in.shape[2], g.W = in.shape[3];
  FASTNN_CHECK_VALUE(out.ndim == 4 && out.shape[0] == g.N && out.shape[1] == g.C, fn,
                     ": output must be (N, C, oh, ow) with the input's N and C, got ", shape_str(out));
  g.Ho = out.shape[2], g.Wo = out.shape[3];
  FASTNN_CHECK_VALUE((g.H > 0 && g.W > 0) || g.Ho * g.Wo == 0, fn, ": the input has an empty spatial dimension");
  g.adaptive = true;
  return g;
}
}  // namespace

void adaptive_avg_pool2d_forward(const TensorView& x, const TensorView& y, uintptr_t stream) {
  const char* fn = "adaptive_avg_pool2d (cuda)";
  check_x4(fn, "x", x);
  check_float_as(y, x.dtype, fn, "out");
  check_contiguous(y, fn, "out");
  const PoolGeom g = adaptive_geometry(fn, x, y);
  const int64_t n = g.N * g.C * g.Ho * g.Wo;
  if (n == 0) return;
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  by_dtype(x.dtype, [&](auto t) {
    using T = decltype(t);
    avg_pool_fwd<T><<<grid_for(n, 256), 256, 0, s>>>(g, x.ptr<T>(), y.ptr<T>());
  });
  FASTNN_CUDA_CHECK_LAUNCH("adaptive_avg_pool_fwd");
}

void adaptive_avg_pool2d_backward(const TensorView& grad_out, const TensorView& dx, uintptr_t stream) {
  const char* fn = "adaptive_avg_pool2d_backward (cuda)";
  check_x4(fn, "grad_x", dx);
  check_float_as(grad_out, dx.dtype, fn, "grad_out");
  check_contiguous(grad_out, fn, "grad_out");
  const PoolGeom g = adaptive_geometry(fn, dx, grad_out);
  const int64_t n = g.N * g.C * g.H * g.W;
  if (n == 0) return;
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  if (g.Ho * g.Wo == 0) {
    FASTNN_CUDA_CHECK(cudaMemsetAsync(dx.data, 0, size_t(n) * dtype_size(dx.dtype), s));
    return;
  }
  by_dtype(dx.dtype, [&](auto t) {
    using T = decltype(t);
    avg_pool_bwd<T><<<grid_for(n, 256), 256, 0, s>>>(g, grad_out.ptr<T>(), dx.ptr<T>());
  });
  FASTNN_CUDA_CHECK_LAUNCH("adaptive_avg_pool_bwd");
}

}  // namespace cuda
}  // namespace fastnn
