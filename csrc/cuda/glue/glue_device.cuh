#pragma once
// Device-side helpers of the glue kernels: element conversions (from the GEMM's common header),
// warp / block reductions, and the strided element indexer of the pointwise kernels.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/gemm/gemm_common.cuh"  // to_float / from_float for float, __half, __nv_bfloat16

namespace fastnn {
namespace cuda {

constexpr int kPwMaxDims = 8;
constexpr int kPwMaxOps = 4;

// Up to kPwMaxOps arrays of one shape (dims collapsed host-side), element strides per operand.
// contiguous: every operand is C-contiguous (ndim 1, stride 1): the kernels skip the decode.
struct PwShape {
  int ndim;
  int64_t n;
  int64_t shape[kPwMaxDims];
  int64_t strides[kPwMaxOps][kPwMaxDims];
};

// Element offsets of flat (C-order) index i in every operand.
template <int NOPS>
__device__ __forceinline__ void pw_offsets(const PwShape& s, int64_t i, int64_t (&off)[NOPS]) {
#pragma unroll
  for (int o = 0; o < NOPS; ++o) off[o] = 0;
  for (int d = s.ndim - 1; d >= 0; --d) {
    const int64_t q = i / s.shape[d], r = i - q * s.shape[d];
    i = q;
#pragma unroll
    for (int o = 0; o < NOPS; ++o) off[o] += r * s.strides[o][d];
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}
// NaN-propagating max (fmaxf drops NaN; a NaN row must stay NaN).
__device__ __forceinline__ float nan_max(float a, float b) { return (a != a || a > b) ? a : b; }
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = nan_max(v, __shfl_xor_sync(0xffffffffu, v, m));
  return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, ≤ 1024); every thread gets the result.
// `red` is shared scratch of 32 elements; the call synchronises the block twice.
template <class F>
__device__ __forceinline__ F block_sum(F v, F* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // red may still be read by a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : F(0);
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : -__int_as_float(0x7f800000);
  return warp_max(v);
}

// Online softmax state (max m, s = Σ exp(x - m)); the empty state is (-inf, 0). While every
// value seen is -inf the exponentials are skipped (-inf - -inf is NaN), so -inf entries never
// poison a row that also holds finite values; a row of only -inf keeps m = -inf and its outputs
// exp(x - m) come out NaN, as the CPU kernels (PyTorch) give. NaN and +inf make s NaN.
__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
  const float mn = nan_max(m, m2);
  if (mn == -__int_as_float(0x7f800000)) {
    s += s2;
    return;
  }
  s = s * expf(m - mn) + s2 * expf(m2 - mn);
  m = mn;
}
__device__ __forceinline__ void warp_lse(float& m, float& s) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, k), s2 = __shfl_xor_sync(0xffffffffu, s, k);
    lse_merge(m, s, m2, s2);
  }
}


// ---- row groups: a warp (GROUP == 32) or the whole block (GROUP == blockDim.x) per row ---------
// Shared scratch `red` holds 2 × 32 floats; block groups synchronise the block.
template <int GROUP>
__device__ __forceinline__ float group_sum(float v, float* red) {
  if constexpr (GROUP == 32) return warp_sum(v);
  else return block_sum(v, red);
}
template <int GROUP>
__device__ __forceinline__ void group_lse(float& m, float& s, float* red) {
  warp_lse(m, s);
  if constexpr (GROUP > 32) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    __syncthreads();
    if (lane == 0) red[warp] = m, red[32 + warp] = s;
    __syncthreads();
    m = lane < nw ? red[lane] : -__int_as_float(0x7f800000);
    s = lane < nw ? red[32 + lane] : 0.0f;
    warp_lse(m, s);
  }
}
// Index of this thread's row group within the grid, the number of groups, and the thread's
// rank inside its group.
template <int GROUP>
__device__ __forceinline__ int64_t group_id() {
  return int64_t(blockIdx.x) * (blockDim.x / GROUP) + threadIdx.x / GROUP;
}
template <int GROUP>
__device__ __forceinline__ int64_t group_count() {
  return int64_t(gridDim.x) * (blockDim.x / GROUP);
}
template <int GROUP>
__device__ __forceinline__ int group_rank() {
  return threadIdx.x % GROUP;
}

}  // namespace cuda
}  // namespace fastnn
