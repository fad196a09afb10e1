#pragma once
// Device-side pieces shared by the CUDA attention kernels: the parameter block (validated by
// attention_dispatch.cu), the mask, and the kernel launchers' declarations.
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/gemm/gemm_common.cuh"  // to_float / from_float

namespace fastnn {
namespace cuda {
namespace attn {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

struct Op {  // a (B, H, L, D) view: base pointer and element strides
  void* p;
  int64_t sb, sh, sl, sd;
};

struct AttnParams {
  Op q, k, v, o;             // forward: o = out. backward: o = out (read for Δ)
  float* lse;                // (B, Hq, Lq) float32, strides lse_sb/sh/sl; forward: may be null
  int64_t lse_sb, lse_sh, lse_sl;
  int B, Hq, Hkv, rep, Lq, Lk, D, Dv;
  int64_t off;               // causal diagonal: query i sees key j iff j <= i + off (off = Lk - Lq)
  bool causal;
  float scale;               // softmax scale (natural units)
  float scale_log2;          // scale · log2(e)
  const void* mask;          // null, bool (uint8) or float32
  bool mask_bool;
  int64_t m_sb, m_sh, m_si, m_sj;
  // backward only
  Op dout, dq, dk, dv;
  float* dq_acc;             // (B, Hq, Lq, D) float32, contiguous, zeroed
  const float* lse2;         // (B, Hq, Lq) contiguous: lse·log2(e), +inf for rows without keys
  const float* delta;        // (B, Hq, Lq) contiguous: Σ_d dO·O
};

// Mask contribution of element (b, h, i, j) in log2 units: 0 / -inf (bool) or additive · log2(e).
__device__ __forceinline__ float mask_log2(const AttnParams& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  const int64_t o = b * p.m_sb + h * p.m_sh + i * p.m_si + j * p.m_sj;
  if (p.mask_bool) return static_cast<const uint8_t*>(p.mask)[o] ? 0.0f : -__int_as_float(0x7f800000);
  return static_cast<const float*>(p.mask)[o] * kLog2e;
}

// Whether key j is visible to query i by the causal rule and the key range (masks apart).
__device__ __forceinline__ bool key_visible(const AttnParams& p, int64_t i, int64_t j) {
  return j < p.Lk && (!p.causal || j <= i + p.off);
}

}  // namespace attn

// Launchers (throw on launch errors). mma_sync: T = bf16 / f16, D = Dv ∈ {64, 128}.
void launch_flash_fwd_sm80(const attn::AttnParams& p, bool bf16, cudaStream_t s);
void launch_flash_bwd_sm80(const attn::AttnParams& p, bool bf16, cudaStream_t s);
// SIMT general path: dtype 0 f32, 1 f16, 2 bf16; any D, Dv ≤ 256, any strides.
void launch_flash_fwd_simt(const attn::AttnParams& p, int dtype, cudaStream_t s);
void launch_flash_bwd_simt(const attn::AttnParams& p, int dtype, cudaStream_t s);

}  // namespace cuda
}  // namespace fastnn
