#pragma once
// Device-side pieces shared by every CUDA GEMM kernel: the parameter block, element
// conversions, batch offsets and the fused epilogue
//
//   C[b, m, n] = act(acc + bias)                      (forward)
//   C[b, m, n] = aux[b, m, n] * act'(acc + bias)      (act_backward: dZ of a fused linear)
//
// acc is the FP32 accumulator of A[b] (M×K) · B[b] (K×N). Every pointer is strided in
// elements; a batch stride of 0 broadcasts an operand.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace fastnn {
namespace cuda {

constexpr int kMaxGemmBatchDims = 6;

enum GemmAct : int { kActNone = 0, kActRelu, kActGelu, kActGeluTanh, kActSigmoid, kActTanh, kActSilu };

struct GemmParams {
  int M, N, K;
  // Batch: ndim dims of out's batch shape (innermost last) and per-operand strides.
  int batch_ndim;
  int64_t batch_count;
  int64_t batch_shape[kMaxGemmBatchDims];
  int64_t a_bs[kMaxGemmBatchDims], b_bs[kMaxGemmBatchDims], c_bs[kMaxGemmBatchDims], x_bs[kMaxGemmBatchDims];
  const void* a;
  int64_t a_rs, a_cs;  // A (M×K)
  const void* b;
  int64_t b_rs, b_cs;  // B (K×N)
  void* c;
  int64_t c_rs, c_cs;  // C (M×N)
  const void* bias;    // length N (or M when bias_per_row), dtype of C; nullptr for none
  int64_t bias_stride;
  int bias_per_row;
  const void* aux;     // act_backward only: grad_out, M×N, dtype of C
  int64_t x_rs, x_cs;
  int act;
  int act_backward;
};

// ---- element conversions ------------------------------------------------------------------

template <class T> __device__ __forceinline__ float to_float(T v);
template <> __device__ __forceinline__ float to_float<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_float<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// ---- batch offsets --------------------------------------------------------------------------

struct BatchOffsets {
  int64_t a, b, c, x;
};

// Element offsets of batch z (odometer decode over the batch dims, innermost last).
__device__ __forceinline__ BatchOffsets batch_offsets(const GemmParams& p, int64_t z) {
  BatchOffsets o{0, 0, 0, 0};
  for (int d = p.batch_ndim - 1; d >= 0; --d) {
    const int64_t i = z % p.batch_shape[d];
    z /= p.batch_shape[d];
    o.a += i * p.a_bs[d];
    o.b += i * p.b_bs[d];
    o.c += i * p.c_bs[d];
    o.x += i * p.x_bs[d];
  }
  return o;
}

// ---- activations (PyTorch definitions, FP32) ------------------------------------------------

__device__ __forceinline__ float sigmoidf_(float v) { return 1.0f / (1.0f + __expf(-v)); }

__device__ __forceinline__ float act_forward(int act, float v) {
  switch (act) {
    case kActRelu: return v < 0.0f ? 0.0f : v;  // NaN stays NaN
    case kActGelu: return 0.5f * v * erfcf(-v * 0.70710678118654752f);
    case kActGeluTanh: {
      const float t = tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v));
      return 0.5f * v * (1.0f + t);
    }
    case kActSigmoid: return sigmoidf_(v);
    case kActTanh: return tanhf(v);
    case kActSilu: return v * sigmoidf_(v);
    default: return v;
  }
}

// d act / d v at v (the pre-activation).
__device__ __forceinline__ float act_derivative(int act, float v) {
  switch (act) {
    case kActRelu: return v > 0.0f ? 1.0f : 0.0f;  // PyTorch: 0 at v == 0
    case kActGelu: {
      const float cdf = 0.5f * erfcf(-v * 0.70710678118654752f);
      const float pdf = 0.39894228040143268f * __expf(-0.5f * v * v);
      return cdf + v * pdf;
    }
    case kActGeluTanh: {
      const float k = 0.79788456080286536f;
      const float t = tanhf(k * (v + 0.044715f * v * v * v));
      return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * v * v);
    }
    case kActSigmoid: {
      const float s = sigmoidf_(v);
      return s * (1.0f - s);
    }
    case kActTanh: {
      const float t = tanhf(v);
      return 1.0f - t * t;
    }
    case kActSilu: {
      const float s = sigmoidf_(v);
      return s * (1.0f + v * (1.0f - s));
    }
    default: return 1.0f;
  }
}

// ---- epilogue -------------------------------------------------------------------------------

// Final value of C[m, n] from its accumulator (bias, activation, or aux * act').
// T is C's element type (also bias's and aux's).
template <class T>
__device__ __forceinline__ float epilogue_value(const GemmParams& p, const T* aux, int m, int n, float acc) {
  float v = acc;
  if (p.bias) {
    const T* bias = static_cast<const T*>(p.bias);
    v += to_float<T>(bias[(p.bias_per_row ? int64_t(m) : int64_t(n)) * p.bias_stride]);
  }
  if (p.act_backward) return to_float<T>(aux[int64_t(m) * p.x_rs + int64_t(n) * p.x_cs]) * act_derivative(p.act, v);
  return act_forward(p.act, v);
}

// Writes C[m, n] and C[m, n+1] (each only when in range). c and aux are already offset to
// the batch. Uses one paired store when both are in range and C is row-major and aligned.
template <class T>
__device__ __forceinline__ void epilogue_store2(const GemmParams& p, T* c, const T* aux, int m, int n, float v0,
                                                float v1) {
  if (m >= p.M) return;
  const bool has0 = n < p.N, has1 = n + 1 < p.N;
  if (!has0) return;
  const bool plain = p.bias == nullptr && p.act == kActNone && !p.act_backward;
  if (!plain) {
    v0 = epilogue_value<T>(p, aux, m, n, v0);
    if (has1) v1 = epilogue_value<T>(p, aux, m, n + 1, v1);
  }
  T* dst = c + int64_t(m) * p.c_rs + int64_t(n) * p.c_cs;
  if (has1 && p.c_cs == 1 && (reinterpret_cast<uintptr_t>(dst) % (2 * sizeof(T))) == 0) {
    if constexpr (sizeof(T) == 4) {
      *reinterpret_cast<float2*>(dst) = make_float2(v0, v1);
    } else {
      T pair[2] = {from_float<T>(v0), from_float<T>(v1)};
      *reinterpret_cast<uint32_t*>(dst) = *reinterpret_cast<const uint32_t*>(pair);
    }
    return;
  }
  dst[0] = from_float<T>(v0);
  if (has1) dst[p.c_cs] = from_float<T>(v1);
}

// Stores a BM×BN FP32 tile staged in shared memory (row stride ld floats, tile origin m0, n0)
// through the epilogue. All THREADS threads of the block take part; consecutive threads take
// consecutive columns (coalesced for row-major C). The loop is deliberately not unrolled: the
// activation code then exists once per kernel instead of once per accumulator register.
template <class T, int BM, int BN, int THREADS>
__device__ __forceinline__ void epilogue_tile_from_smem(const GemmParams& p, T* c, const T* aux, const float* tile,
                                                        int ld, int m0, int n0) {
  const bool plain = p.bias == nullptr && p.act == kActNone && !p.act_backward;
#pragma unroll 1
  for (int i = threadIdx.x; i < BM * BN; i += THREADS) {
    const int r = i / BN, col = i % BN, m = m0 + r, n = n0 + col;
    if (m < p.M && n < p.N) {
      float v = tile[r * ld + col];
      if (!plain) v = epilogue_value<T>(p, aux, m, n, v);
      c[int64_t(m) * p.c_rs + int64_t(n) * p.c_cs] = from_float<T>(v);
    }
  }
}

}  // namespace cuda
}  // namespace fastnn
