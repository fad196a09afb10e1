// softmax / log_softmax along one dim on CUDA, and their backwards from the forward output y:
//   softmax_backward:     dx = y · (g - Σ g·y)
//   log_softmax_backward: dx = g - exp(y) · Σ g
// The array is viewed as (outer, n, inner), contiguous. Three layouts:
//   inner == 1, n ≤ 1024: a warp per row, the row held in registers (one read, one write);
//   inner == 1, n > 1024: a block per row, online max/sum pass then a write pass (re-read: L2);
//   inner > 1: a thread per (outer, inner) column walking n with stride inner (coalesced).
// A row holding NaN or +inf, or only -inf, gives NaN throughout (as the CPU / PyTorch).
#include "cuda/glue/glue.h"
#include "cuda/glue/glue_device.cuh"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

enum Mode : int { kSoftmax = 0, kLogSoftmax = 1, kSoftmaxBwd = 2, kLogSoftmaxBwd = 3 };

constexpr int kWarpRowMax = 1024, kPerLane = kWarpRowMax / 32;

// Forward: a = x, b unused.  Backward: a = g, b = y.
__device__ __forceinline__ float finish_fwd(int mode, float x, float m, float s) {
  return mode == kSoftmax ? expf(x - m) / s : (x - m) - logf(s);
}
__device__ __forceinline__ float finish_bwd(int mode, float g, float y, float dot) {
  return mode == kSoftmaxBwd ? y * (g - dot) : g - expf(y) * dot;
}

template <class T>
__global__ void __launch_bounds__(256) softmax_warp_rows(int mode, const T* a, const T* b, T* out, int64_t rows,
                                                         int n) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t r = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); r < rows; r += warps) {
    const T* ar = a + r * n;
    const T* br = b ? b + r * n : nullptr;
    float va[kPerLane], vb[kPerLane];
    if (mode < kSoftmaxBwd) {
      float m = -__int_as_float(0x7f800000), s = 0.0f;
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int j = lane + 32 * k;
        va[k] = j < n ? to_float<T>(ar[j]) : 0.0f;
        if (j < n) lse_merge(m, s, va[k], 1.0f);
      }
      warp_lse(m, s);
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int j = lane + 32 * k;
        if (j < n) out[r * n + j] = from_float<T>(finish_fwd(mode, va[k], m, s));
      }
    } else {
      float dot = 0.0f;
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int j = lane + 32 * k;
        va[k] = j < n ? to_float<T>(ar[j]) : 0.0f;
        vb[k] = j < n ? to_float<T>(br[j]) : 0.0f;
        dot += mode == kSoftmaxBwd ? va[k] * vb[k] : va[k];
      }
      dot = warp_sum(dot);
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int j = lane + 32 * k;
        if (j < n) out[r * n + j] = from_float<T>(finish_bwd(mode, va[k], vb[k], dot));
      }
    }
  }
}

template <class T>
__global__ void __launch_bounds__(512) softmax_block_rows(int mode, const T* a, const T* b, T* out, int64_t rows,
                                                          int64_t n) {
  __shared__ float red_m[32], red_s[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* ar = a + r * n;
    const T* br = b ? b + r * n : nullptr;
    T* o = out + r * n;
    if (mode < kSoftmaxBwd) {
      float m = -__int_as_float(0x7f800000), s = 0.0f;
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) lse_merge(m, s, to_float<T>(ar[j]), 1.0f);
      warp_lse(m, s);
      const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
      __syncthreads();
      if (lane == 0) red_m[warp] = m, red_s[warp] = s;
      __syncthreads();
      m = lane < nw ? red_m[lane] : -__int_as_float(0x7f800000);
      s = lane < nw ? red_s[lane] : 0.0f;
      warp_lse(m, s);
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) o[j] = from_float<T>(finish_fwd(mode, to_float<T>(ar[j]), m, s));
    } else {
      float dot = 0.0f;
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
        dot += mode == kSoftmaxBwd ? to_float<T>(ar[j]) * to_float<T>(br[j]) : to_float<T>(ar[j]);
      dot = block_sum(dot, red_s);
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x)
        o[j] = from_float<T>(finish_bwd(mode, to_float<T>(ar[j]), to_float<T>(br[j]), dot));
    }
  }
}

template <class T>
__global__ void __launch_bounds__(256, 1) softmax_cols(int mode, const T* a, const T* b, T* out, int64_t outer,
                                                    int64_t n, int64_t inner) {
  const int64_t cols = outer * inner, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += stride) {
    const int64_t o = c / inner, i = c - o * inner, base = o * n * inner + i;
    if (mode < kSoftmaxBwd) {
      float m = -__int_as_float(0x7f800000), s = 0.0f;
      for (int64_t k = 0; k < n; ++k) lse_merge(m, s, to_float<T>(a[base + k * inner]), 1.0f);
      for (int64_t k = 0; k < n; ++k) {
        const int64_t e = base + k * inner;
        out[e] = from_float<T>(finish_fwd(mode, to_float<T>(a[e]), m, s));
      }
    } else {
      float dot = 0.0f;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t e = base + k * inner;
        dot += mode == kSoftmaxBwd ? to_float<T>(a[e]) * to_float<T>(b[e]) : to_float<T>(a[e]);
      }
      for (int64_t k = 0; k < n; ++k) {
        const int64_t e = base + k * inner;
        out[e] = from_float<T>(finish_bwd(mode, to_float<T>(a[e]), to_float<T>(b[e]), dot));
      }
    }
  }
}

template <class T>
void launch(int mode, const TensorView& a, const TensorView* b, const TensorView& out, int dim, cudaStream_t st) {
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= a.shape[d];
  for (int d = dim + 1; d < a.ndim; ++d) inner *= a.shape[d];
  const int64_t n = a.ndim ? a.shape[dim] : 1;
  const T* pa = a.ptr<T>();
  const T* pb = b ? b->ptr<T>() : nullptr;
  T* po = out.ptr<T>();
  if (inner == 1 && n <= kWarpRowMax) {
    softmax_warp_rows<T><<<grid_for(outer, 8), 256, 0, st>>>(mode, pa, pb, po, outer, int(n));
  } else if (inner == 1) {
    softmax_block_rows<T><<<grid_for(outer, 1, 4), 512, 0, st>>>(mode, pa, pb, po, outer, n);
  } else {
    softmax_cols<T><<<grid_for(outer * inner, 256), 256, 0, st>>>(mode, pa, pb, po, outer, n, inner);
  }
  FASTNN_CUDA_CHECK_LAUNCH("softmax");
}

void run(int mode, const TensorView& a, const TensorView* b, const TensorView& out, int dim, uintptr_t stream) {
  const bool bwd = mode >= kSoftmaxBwd, log = mode == kLogSoftmax || mode == kLogSoftmaxBwd;
  const char* fn = bwd ? (log ? "log_softmax_backward (cuda)" : "softmax_backward (cuda)")
                       : (log ? "log_softmax (cuda)" : "softmax (cuda)");
  const char* a_name = bwd ? "grad_out" : "x";
  check_float(a, fn, a_name);
  check_contiguous(a, fn, a_name);
  if (b) {
    check_float_as(*b, a.dtype, fn, "y");
    check_shape_as(*b, a, fn, "y", a_name);
    check_contiguous(*b, fn, "y");
  }
  check_float_as(out, a.dtype, fn, "out");
  check_shape_as(out, a, fn, "out", a_name);
  check_contiguous(out, fn, "out");
  const int nd = a.ndim;
  FASTNN_CHECK_VALUE((nd == 0 && (dim == 0 || dim == -1)) || (dim >= -nd && dim < nd), fn, ": dim ", dim,
                     " is out of range for an array with ", nd, " dimensions");
  if (nd > 0 && dim < 0) dim += nd;
  if (nd == 0) dim = 0;
  if (numel(a) == 0) return;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  switch (a.dtype) {
    case DType::f32: launch<float>(mode, a, b, out, dim, st); break;
    case DType::f16: launch<__half>(mode, a, b, out, dim, st); break;
    default: launch<__nv_bfloat16>(mode, a, b, out, dim, st);
  }
}

}  // namespace

void softmax_forward(const TensorView& x, const TensorView& y, int dim, bool log, uintptr_t stream) {
  run(log ? kLogSoftmax : kSoftmax, x, nullptr, y, dim, stream);
}

void softmax_backward(const TensorView& g, const TensorView& y, const TensorView& dx, int dim, bool log,
                      uintptr_t stream) {
  run(log ? kLogSoftmaxBwd : kSoftmaxBwd, g, &y, dx, dim, stream);
}

}  // namespace cuda
}  // namespace fastnn
