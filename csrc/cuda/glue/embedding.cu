// Embedding lookup and its scatter-add backward on CUDA.
//   forward:  out[i, :] = weight[idx[i], :]                         (M, D)
//   backward: grad_weight[v, :] = Σ_{i: idx[i] = v} grad_out[i, :]   (V, D), padding row zero
// Indices outside [0, V) raise ValueError naming the first one (the kernels record its position;
// the host reads it after the launch). The backward accumulates with FP32 atomics into the output
// (float32) or an FP32 scratch converted afterwards (float16 / bfloat16): the summation order
// varies run to run, so the result is not bitwise reproducible (within FP32 rounding).
#include <string>

#include "cuda/glue/glue.h"
#include "cuda/glue/glue_device.cuh"
#include "cuda/glue/pointwise_host.h"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

struct Index {
  const void* p;
  bool is64;
  int64_t stride;
};
__device__ __forceinline__ int64_t load_index(const Index& ix, int64_t i) {
  return ix.is64 ? static_cast<const int64_t*>(ix.p)[i * ix.stride]
                 : int64_t(static_cast<const int32_t*>(ix.p)[i * ix.stride]);
}

// A warp per index row; 16-byte copies when D·sizeof(T) is a multiple of 16 and both bases are
// aligned (VEC), else element copies.
template <class T, bool VEC>
__global__ void __launch_bounds__(256) embedding_forward_kernel(Index ix, const T* w, T* out, int64_t M, int64_t V,
                                                                int64_t D, unsigned long long* status) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * 8;
  for (int64_t i = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5); i < M; i += warps) {
    const int64_t v = load_index(ix, i);
    T* o = out + i * D;
    if (v < 0 || v >= V) {
      if (lane == 0) atomicMin(status, static_cast<unsigned long long>(i));
      continue;
    }
    const T* src = w + v * D;
    if constexpr (VEC) {
      constexpr int W = 16 / sizeof(T);
      for (int64_t k = lane; k < D / W; k += 32) reinterpret_cast<uint4*>(o)[k] = reinterpret_cast<const uint4*>(src)[k];
    } else {
      for (int64_t k = lane; k < D; k += 32) o[k] = src[k];
    }
  }
}

__device__ __forceinline__ void atomic_add_f(float* p, float v) { atomicAdd(p, v); }

// acc (V, D) FP32 zeroed beforehand; a warp per index row adds its row.
template <class T>
__global__ void __launch_bounds__(256) embedding_backward_kernel(Index ix, const T* g, float* acc, int64_t M,
                                                                 int64_t V, int64_t D, int64_t pad,
                                                                 unsigned long long* status) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * 8;
  for (int64_t i = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5); i < M; i += warps) {
    const int64_t v = load_index(ix, i);
    if (v < 0 || v >= V) {
      if (lane == 0) atomicMin(status, static_cast<unsigned long long>(i));
      continue;
    }
    if (v == pad) continue;
    const T* gr = g + i * D;
    float* a = acc + v * D;
    for (int64_t k = lane; k < D; k += 32) atomic_add_f(a + k, to_float<T>(gr[k]));
  }
}

template <class T>
__global__ void __launch_bounds__(256) convert_from_f32(const float* src, T* dst, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) dst[i] = from_float<T>(src[i]);
}

Index index_of(const TensorView& idx) { return Index{idx.data, idx.dtype == DType::i64, 1}; }

void check_indices(const char* fn, const TensorView& idx) {
  check_on_cuda(idx, fn, "indices");
  FASTNN_CHECK_TYPE(idx.dtype == DType::i64 || idx.dtype == DType::i32, fn, ": indices must be int64 or int32, got ",
                    dtype_name(idx.dtype));
  check_contiguous(idx, fn, "indices");
}

void raise_if_bad(const char* fn, const TensorView& idx, const unsigned long long* status, int64_t V, cudaStream_t st) {
  const unsigned long long pos = read_status(status, st);
  if (pos == kNoBadIndex) return;
  const int64_t value = read_index(idx.data, idx.dtype == DType::i64, int64_t(pos));
  int64_t at[kMaxDims], rem = int64_t(pos);
  for (int d = idx.ndim - 1; d >= 0; --d) at[d] = rem % idx.shape[d], rem /= idx.shape[d];
  std::string where;
  for (int d = 0; d < idx.ndim; ++d) where += str_cat(d ? ", " : "", at[d]);
  throw ValueError(str_cat(fn, ": indices[", where, "] = ", value, " is out of range for ", V,
                           " embeddings (valid: 0 .. ", V - 1, ")"));
}

}  // namespace

void embedding_forward(const TensorView& indices, const TensorView& weight, const TensorView& out, uintptr_t stream) {
  const char* fn = "embedding (cuda)";
  check_indices(fn, indices);
  check_float(weight, fn, "weight");
  FASTNN_CHECK_VALUE(weight.ndim == 2, fn, ": weight must have shape (num_embeddings, embedding_dim), got ",
                     shape_str(weight));
  check_contiguous(weight, fn, "weight");
  const int64_t M = numel(indices), V = weight.shape[0], D = weight.shape[1];
  const int64_t want[2] = {M, D};
  check_float_as(out, weight.dtype, fn, "out");
  check_shape_is(out, 2, want, fn, "out (indices flattened, D)");
  check_contiguous(out, fn, "out");
  if (M == 0) return;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  StreamScratch status(sizeof(unsigned long long), st);
  reset_status(status.as<unsigned long long>(), st);
  const Index ix = index_of(indices);
  const bool vec = (D * dtype_size(weight.dtype)) % 16 == 0 && aligned16(weight.data) && aligned16(out.data);
  const unsigned grid = grid_for(M, 8);
  auto* s = status.as<unsigned long long>();
  switch (weight.dtype) {
    case DType::f32:
      if (vec) embedding_forward_kernel<float, true><<<grid, 256, 0, st>>>(ix, weight.ptr<float>(), out.ptr<float>(), M, V, D, s);
      else embedding_forward_kernel<float, false><<<grid, 256, 0, st>>>(ix, weight.ptr<float>(), out.ptr<float>(), M, V, D, s);
      break;
    case DType::f16:
      if (vec) embedding_forward_kernel<__half, true><<<grid, 256, 0, st>>>(ix, weight.ptr<__half>(), out.ptr<__half>(), M, V, D, s);
      else embedding_forward_kernel<__half, false><<<grid, 256, 0, st>>>(ix, weight.ptr<__half>(), out.ptr<__half>(), M, V, D, s);
      break;
    default:
      if (vec)
        embedding_forward_kernel<__nv_bfloat16, true><<<grid, 256, 0, st>>>(ix, weight.ptr<__nv_bfloat16>(),
                                                                            out.ptr<__nv_bfloat16>(), M, V, D, s);
      else
        embedding_forward_kernel<__nv_bfloat16, false><<<grid, 256, 0, st>>>(ix, weight.ptr<__nv_bfloat16>(),
                                                                             out.ptr<__nv_bfloat16>(), M, V, D, s);
  }
  FASTNN_CUDA_CHECK_LAUNCH("embedding_forward_kernel");
  raise_if_bad(fn, indices, s, V, st);
}

void embedding_backward(const TensorView& grad_out, const TensorView& indices, int64_t padding_idx,
                        const TensorView& grad_weight, uintptr_t stream) {
  const char* fn = "embedding_backward (cuda)";
  check_indices(fn, indices);
  check_float(grad_out, fn, "grad_out");
  FASTNN_CHECK_VALUE(grad_out.ndim == 2 && grad_out.shape[0] == numel(indices), fn,
                     ": grad_out must have shape (", numel(indices), ", D) (indices flattened), got ",
                     shape_str(grad_out));
  check_contiguous(grad_out, fn, "grad_out");
  check_float_as(grad_weight, grad_out.dtype, fn, "grad_weight");
  FASTNN_CHECK_VALUE(grad_weight.ndim == 2 && grad_weight.shape[1] == grad_out.shape[1], fn,
                     ": grad_weight must have shape (num_embeddings, ", grad_out.shape[1], "), got ",
                     shape_str(grad_weight));
  check_contiguous(grad_weight, fn, "grad_weight");
  const int64_t M = numel(indices), V = grad_weight.shape[0], D = grad_weight.shape[1];
  FASTNN_CHECK_VALUE(padding_idx < V, fn, ": padding_idx must be < num_embeddings (", V, "), got ", padding_idx);
  if (V * D == 0) return;
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  const bool f32 = grad_out.dtype == DType::f32;
  StreamScratch acc_buf(f32 ? 0 : size_t(V * D) * sizeof(float), st);
  float* acc = f32 ? grad_weight.ptr<float>() : acc_buf.as<float>();
  FASTNN_CUDA_CHECK(cudaMemsetAsync(acc, 0, size_t(V * D) * sizeof(float), st));
  StreamScratch status(sizeof(unsigned long long), st);
  auto* s = status.as<unsigned long long>();
  reset_status(s, st);
  const Index ix = index_of(indices);
  if (M > 0) {
    const unsigned grid = grid_for(M, 8);
    switch (grad_out.dtype) {
      case DType::f32: embedding_backward_kernel<float><<<grid, 256, 0, st>>>(ix, grad_out.ptr<float>(), acc, M, V, D, padding_idx, s); break;
      case DType::f16: embedding_backward_kernel<__half><<<grid, 256, 0, st>>>(ix, grad_out.ptr<__half>(), acc, M, V, D, padding_idx, s); break;
      default:
        embedding_backward_kernel<__nv_bfloat16><<<grid, 256, 0, st>>>(ix, grad_out.ptr<__nv_bfloat16>(), acc, M, V, D,
                                                                       padding_idx, s);
    }
    FASTNN_CUDA_CHECK_LAUNCH("embedding_backward_kernel");
  }
  if (!f32) {
    const unsigned grid = grid_for(V * D, 256);
    if (grad_out.dtype == DType::f16)
      convert_from_f32<__half><<<grid, 256, 0, st>>>(acc, grad_weight.ptr<__half>(), V * D);
    else
      convert_from_f32<__nv_bfloat16><<<grid, 256, 0, st>>>(acc, grad_weight.ptr<__nv_bfloat16>(), V * D);
    FASTNN_CUDA_CHECK_LAUNCH("convert_from_f32");
  }
  raise_if_bad(fn, indices, s, V, st);
}

}  // namespace cuda
}  // namespace fastnn
