// Broadcasting elementwise ops and axis reductions on CUDA (what the autograd layer needs besides
// the layer kernels: residual adds, products, bias and unbroadcast sums, means):
//   binary:          out = a + b | a · b   (a, b broadcast views of out's shape: zero strides)
//   broadcast_scale: out = a · s           (a broadcast view)
//   reduce_sum:      out[kept] = s · Σ_{reduced axes} x   (FP64 accumulation; s = 1 or 1/count)
// Any strides everywhere; dims are collapsed host-side where every operand allows it.
#include <cmath>

#include "cuda/glue/glue.h"
#include "cuda/glue/glue_device.cuh"
#include "cuda/glue/pointwise_host.h"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

enum BinOp : int { kAdd = 0, kMul = 1, kScale = 2 };

// Operands: 0 a, 1 b (unused for kScale), 2 out.
template <class T>
__global__ void __launch_bounds__(256) binary_kernel(int op, const T* a, const T* b, T* out, float s, PwShape sh,
                                                     bool flat) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < sh.n; i += stride) {
    int64_t off[3] = {i, i, i};
    if (!flat) pw_offsets<3>(sh, i, off);
    const float x = to_float<T>(a[off[0]]);
    float r;
    if (op == kAdd) r = x + to_float<T>(b[off[1]]);
    else if (op == kMul) r = x * to_float<T>(b[off[1]]);
    else r = x * s;
    out[off[2]] = from_float<T>(r);
  }
}

constexpr int kMaxD = 8;

struct ReduceShape {
  int nk, nr;  // kept / reduced dims (innermost last)
  int64_t kshape[kMaxD], kstride[kMaxD], rshape[kMaxD], rstride[kMaxD];
  int64_t outs, len;
};

__device__ __forceinline__ int64_t decode(int n, const int64_t* shape, const int64_t* stride, int64_t i) {
  int64_t off = 0;
  for (int d = n - 1; d >= 0; --d) {
    const int64_t q = i / shape[d];
    off += (i - q * shape[d]) * stride[d];
    i = q;
  }
  return off;
}

// BLOCK: a block per output (long reductions), else a thread per output.
template <class T, bool BLOCK>
__global__ void __launch_bounds__(256) reduce_sum_kernel(const T* x, ReduceShape r, double scale, T* out) {
  if constexpr (BLOCK) {
    __shared__ double red[32];
    for (int64_t o = blockIdx.x; o < r.outs; o += gridDim.x) {
      const int64_t base = decode(r.nk, r.kshape, r.kstride, o);
      double s = 0.0;
      for (int64_t j = threadIdx.x; j < r.len; j += blockDim.x)
        s += to_float<T>(x[base + decode(r.nr, r.rshape, r.rstride, j)]);
      s = block_sum(s, red);
      if (threadIdx.x == 0) out[o] = from_float<T>(float(s * scale));
    }
  } else {
    const int64_t stride = int64_t(gridDim.x) * blockDim.x;
    for (int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; o < r.outs; o += stride) {
      const int64_t base = decode(r.nk, r.kshape, r.kstride, o);
      double s = 0.0;
      for (int64_t j = 0; j < r.len; ++j) s += to_float<T>(x[base + decode(r.nr, r.rshape, r.rstride, j)]);
      out[o] = from_float<T>(float(s * scale));
    }
  }
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

void binary(int op, const TensorView& a, const TensorView* b, double scale, const TensorView& out, uintptr_t stream) {
  const char* fn = op == kAdd ? "add (cuda)" : op == kMul ? "mul (cuda)" : "broadcast_scale (cuda)";
  FASTNN_CHECK_VALUE(op >= kAdd && op <= kScale, "binary (cuda): unknown op ", op);
  check_float(out, fn, "out");
  check_float_as(a, out.dtype, fn, "a");
  check_shape_as(a, out, fn, "a (broadcast)", "out");
  if (op != kScale) {
    FASTNN_CHECK_VALUE(b != nullptr, fn, ": b is required");
    check_float_as(*b, out.dtype, fn, "b");
    check_shape_as(*b, out, fn, "b (broadcast)", "out");
  }
  check_output_layout(out, fn, "out");
  if (numel(out) == 0) return;
  const TensorView* ops[3] = {&a, b ? b : &a, &out};
  const PwShape s = collapse_pointwise(ops, 3);
  const bool flat = pw_flat(s, 3);
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  by_dtype(out.dtype, [&](auto tag) {
    using T = decltype(tag);
    binary_kernel<T><<<grid_for(s.n, 256), 256, 0, st>>>(op, a.ptr<T>(), b ? b->ptr<T>() : nullptr, out.ptr<T>(),
                                                         float(scale), s, flat);
  });
  FASTNN_CUDA_CHECK_LAUNCH("binary_kernel");
}

void reduce_sum(const TensorView& x, uint32_t axes_mask, double scale, const TensorView& out, uintptr_t stream) {
  const char* fn = "sum (cuda)";
  check_float(x, fn, "x");
  check_float_as(out, x.dtype, fn, "out");
  check_contiguous(out, fn, "out");
  FASTNN_CHECK_VALUE(x.ndim <= kMaxD, fn, ": at most ", kMaxD, " dimensions");
  FASTNN_CHECK_VALUE((axes_mask >> x.ndim) == 0, fn, ": axis mask ", axes_mask, " names axes beyond rank ", x.ndim);
  ReduceShape r{};
  r.outs = 1, r.len = 1;
  for (int d = 0; d < x.ndim; ++d) {
    if (axes_mask & (1u << d)) {
      r.rshape[r.nr] = x.shape[d], r.rstride[r.nr] = x.strides[d], ++r.nr;
      r.len *= x.shape[d];
    } else {
      r.kshape[r.nk] = x.shape[d], r.kstride[r.nk] = x.strides[d], ++r.nk;
      r.outs *= x.shape[d];
    }
  }
  FASTNN_CHECK_VALUE(numel(out) == r.outs, fn, ": out must hold the ", r.outs, " kept elements, got shape ",
                     shape_str(out));
  if (r.outs == 0) return;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  const bool block = r.len >= 128 || r.outs < int64_t(launch_device().sm_count) * 64;
  by_dtype(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (block)
      reduce_sum_kernel<T, true><<<grid_for(r.outs, 1, 16), 256, 0, st>>>(x.ptr<T>(), r, scale, out.ptr<T>());
    else
      reduce_sum_kernel<T, false><<<grid_for(r.outs, 256), 256, 0, st>>>(x.ptr<T>(), r, scale, out.ptr<T>());
  });
  FASTNN_CUDA_CHECK_LAUNCH("reduce_sum_kernel");
}

}  // namespace cuda
}  // namespace fastnn
