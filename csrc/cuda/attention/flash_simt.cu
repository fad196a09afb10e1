// Flash attention, general path (CUDA cores, FP32 math): any dtype (float32 / float16 /
// bfloat16), any head dims D, Dv ≤ 256, any strides. The float32 path, and the fallback for
// shapes and layouts the tensor-core kernels do not take. Same algorithm as the mma.sync kernels.
//
// Forward: a block = 16 query rows (4 warps × 4 rows) of one (batch, head); key tiles of 32 staged
// in shared memory as FP32. Lane = key for S (dot products over D), lane = output column for
// O += P·V (P broadcast by shuffles); online softmax in log2 units.
// Backward: a block = 16 keys (4 warps × 4 keys) of one (batch, kv head), walking 32-query tiles
// of every query head of its group: lane = query for Sᵀ / dPᵀ, lane = column for dK / dV (in
// registers), then dQ = dS·K for the tile (lane = column, from dS in shared memory), added to the
// FP32 dq_acc with one atomic per element per block.
#include "cuda/attention/attention_common.cuh"
#include "cuda/check.cuh"
#include "cuda/glue/glue_device.cuh"

namespace fastnn {
namespace cuda {
namespace {

using attn::AttnParams;

constexpr int THREADS = 128, MAXC = 8;  // MAXC · 32 = 256: the largest head dim

template <class T>
__device__ __forceinline__ float ld(const attn::Op& o, int64_t b, int64_t h, int64_t l, int64_t d) {
  return to_float<T>(static_cast<const T*>(o.p)[b * o.sb + h * o.sh + l * o.sl + d * o.sd]);
}

// ---- forward -------------------------------------------------------------------------------------

constexpr int FM = 16, FN = 32;

template <class T>
__global__ void __launch_bounds__(THREADS) flash_fwd_simt_kernel(AttnParams p) {
  extern __shared__ float sm[];
  const int D = p.D, Dv = p.Dv, KLD = D + 1;
  float* Qs = sm;                 // [FM][D]
  float* Ks = Qs + FM * D;        // [FN][D + 1]
  float* Vs = Ks + FN * KLD;      // [FN][Dv]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int b = blockIdx.z, h = blockIdx.y, hk = h / p.rep;
  const int q0 = (int(gridDim.x) - 1 - int(blockIdx.x)) * FM;
  for (int e = tid; e < FM * D; e += THREADS) {
    const int r = e / D, d = e % D;
    Qs[e] = q0 + r < p.Lq ? ld<T>(p.q, b, h, q0 + r, d) : 0.0f;
  }
  int64_t n_end = p.Lk;
  if (p.causal) {
    const int64_t e = int64_t(q0) + FM + p.off;
    n_end = e < 0 ? 0 : (e < p.Lk ? e : p.Lk);
  }
  const float kNegInf = -__int_as_float(0x7f800000);
  float o[4][MAXC], m[4], l[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    m[r] = kNegInf, l[r] = 0.0f;
#pragma unroll
    for (int c = 0; c < MAXC; ++c) o[r][c] = 0.0f;
  }
  for (int64_t n0 = 0; n0 < n_end; n0 += FN) {
    __syncthreads();  // previous tile fully consumed (and Qs written, first time)
    for (int e = tid; e < FN * D; e += THREADS) {
      const int r = e / D, d = e % D;
      Ks[r * KLD + d] = n0 + r < p.Lk ? ld<T>(p.k, b, hk, n0 + r, d) : 0.0f;
    }
    for (int e = tid; e < FN * Dv; e += THREADS) {
      const int r = e / Dv, d = e % Dv;
      Vs[e] = n0 + r < p.Lk ? ld<T>(p.v, b, hk, n0 + r, d) : 0.0f;
    }
    __syncthreads();
    const int64_t j = n0 + lane;
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int row = warp * 4 + r;
      const int64_t i = q0 + row;
      float s = 0.0f;
      for (int d = 0; d < D; ++d) s = fmaf(Qs[row * D + d], Ks[lane * KLD + d], s);
      float x = s * p.scale_log2;
      if (i >= p.Lq || !attn::key_visible(p, i, j)) x = kNegInf;
      else if (p.mask) x += attn::mask_log2(p, b, h, i, j);
      const float mx = warp_max(x);
      const float m_new = fmaxf(m[r], mx);
      const float m_use = m_new == kNegInf ? 0.0f : m_new;
      const float alpha = exp2f(m[r] - m_use);
      m[r] = m_new;
      const float pr = exp2f(x - m_use);
      l[r] = l[r] * alpha + pr;
#pragma unroll
      for (int c = 0; c < MAXC; ++c) o[r][c] *= alpha;
      for (int kk = 0; kk < FN; ++kk) {
        const float pk = __shfl_sync(0xffffffffu, pr, kk);
#pragma unroll
        for (int c = 0; c < MAXC; ++c)
          if (lane + 32 * c < Dv) o[r][c] = fmaf(pk, Vs[kk * Dv + lane + 32 * c], o[r][c]);
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t i = q0 + warp * 4 + r;
    const float lt = warp_sum(l[r]);
    if (i >= p.Lq) continue;
    const float inv = lt > 0.0f ? 1.0f / lt : 0.0f;
    T* out = static_cast<T*>(p.o.p) + b * p.o.sb + h * p.o.sh + i * p.o.sl;
#pragma unroll
    for (int c = 0; c < MAXC; ++c)
      if (lane + 32 * c < Dv) out[(lane + 32 * c) * p.o.sd] = from_float<T>(o[r][c] * inv);
    if (p.lse && lane == 0)
      p.lse[b * p.lse_sb + h * p.lse_sh + i * p.lse_sl] = lt > 0.0f ? (m[r] + log2f(lt)) * attn::kLn2 : kNegInf;
  }
}

// ---- backward ------------------------------------------------------------------------------------

constexpr int BK = 16, BQ = 32;

template <class T>
__global__ void __launch_bounds__(THREADS) flash_bwd_simt_kernel(AttnParams p) {
  extern __shared__ float sm[];
  const int D = p.D, Dv = p.Dv, QLD = D + 1, OLD = Dv + 1;
  float* Ks = sm;                    // [BK][D]
  float* Vs = Ks + BK * D;           // [BK][Dv]
  float* Qs = Vs + BK * Dv;          // [BQ][D + 1]
  float* Os = Qs + BQ * QLD;         // [BQ][Dv + 1]  (dO)
  float* dS = Os + BQ * OLD;         // [BQ][BK]
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int b = blockIdx.z, hk = blockIdx.y, k0 = blockIdx.x * BK;
  for (int e = tid; e < BK * D; e += THREADS) {
    const int r = e / D, d = e % D;
    Ks[e] = k0 + r < p.Lk ? ld<T>(p.k, b, hk, k0 + r, d) : 0.0f;
  }
  for (int e = tid; e < BK * Dv; e += THREADS) {
    const int r = e / Dv, d = e % Dv;
    Vs[e] = k0 + r < p.Lk ? ld<T>(p.v, b, hk, k0 + r, d) : 0.0f;
  }
  int qstart = 0;
  if (p.causal) {
    const int64_t first = int64_t(k0) - p.off;
    qstart = first <= 0 ? 0 : int(first / BQ) * BQ;
  }
  float dk[4][MAXC], dv[4][MAXC];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < MAXC; ++c) dk[r][c] = dv[r][c] = 0.0f;
  const float kInf = __int_as_float(0x7f800000);

  for (int hq = hk * p.rep; hq < (hk + 1) * p.rep; ++hq) {
    const int64_t row_bh = (int64_t(b) * p.Hq + hq) * p.Lq;
    for (int q0 = qstart; q0 < p.Lq; q0 += BQ) {
      __syncthreads();  // previous tile consumed (Ks / Vs written, first time)
      for (int e = tid; e < BQ * D; e += THREADS) {
        const int r = e / D, d = e % D;
        Qs[r * QLD + d] = q0 + r < p.Lq ? ld<T>(p.q, b, hq, q0 + r, d) : 0.0f;
      }
      for (int e = tid; e < BQ * Dv; e += THREADS) {
        const int r = e / Dv, d = e % Dv;
        Os[r * OLD + d] = q0 + r < p.Lq ? ld<T>(p.dout, b, hq, q0 + r, d) : 0.0f;
      }
      __syncthreads();
      const int64_t i = q0 + lane;  // lane = query for Sᵀ / dPᵀ
      const bool iq = i < p.Lq;
      const float l2 = iq ? p.lse2[row_bh + i] : kInf, dl = iq ? p.delta[row_bh + i] : 0.0f;
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int kr = warp * 4 + r;
        const int64_t j = k0 + kr;
        float s = 0.0f, dp = 0.0f;
        for (int d = 0; d < D; ++d) s = fmaf(Qs[lane * QLD + d], Ks[kr * D + d], s);
        for (int d = 0; d < Dv; ++d) dp = fmaf(Os[lane * OLD + d], Vs[kr * Dv + d], dp);
        float x = s * p.scale_log2;
        if (!iq || !attn::key_visible(p, i, j)) x = -kInf;
        else if (p.mask) x += attn::mask_log2(p, b, hq, i, j);
        const float pr = exp2f(x - l2), ds = pr * (dp - dl);
        dS[lane * BK + kr] = ds;
        for (int ii = 0; ii < BQ; ++ii) {  // lane = column
          const float pi = __shfl_sync(0xffffffffu, pr, ii), dsi = __shfl_sync(0xffffffffu, ds, ii);
#pragma unroll
          for (int c = 0; c < MAXC; ++c) {
            if (lane + 32 * c < Dv) dv[r][c] = fmaf(pi, Os[ii * OLD + lane + 32 * c], dv[r][c]);
            if (lane + 32 * c < D) dk[r][c] = fmaf(dsi, Qs[ii * QLD + lane + 32 * c], dk[r][c]);
          }
        }
      }
      __syncthreads();
      // dQ for this tile: warp w takes queries 8w .. 8w + 7, lane = column.
      for (int qq = warp * 8; qq < warp * 8 + 8; ++qq) {
        if (q0 + qq >= p.Lq) break;
        float* dst = p.dq_acc + (row_bh + q0 + qq) * D;
#pragma unroll
        for (int c = 0; c < MAXC; ++c) {
          const int d = lane + 32 * c;
          if (d >= D) continue;
          float acc = 0.0f;
#pragma unroll
          for (int kr = 0; kr < BK; ++kr) acc = fmaf(dS[qq * BK + kr], Ks[kr * D + d], acc);
          atomicAdd(dst + d, acc * p.scale);
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    const int64_t j = k0 + warp * 4 + r;
    if (j >= p.Lk) continue;
    T* dK = static_cast<T*>(p.dk.p) + b * p.dk.sb + hk * p.dk.sh + j * p.dk.sl;
    T* dV = static_cast<T*>(p.dv.p) + b * p.dv.sb + hk * p.dv.sh + j * p.dv.sl;
#pragma unroll
    for (int c = 0; c < MAXC; ++c) {
      const int d = lane + 32 * c;
      if (d < D) dK[d * p.dk.sd] = from_float<T>(dk[r][c] * p.scale);
      if (d < Dv) dV[d * p.dv.sd] = from_float<T>(dv[r][c]);
    }
  }
}

template <class T>
void launch_fwd(const AttnParams& p, cudaStream_t s) {
  const size_t smem = size_t(FM * p.D + FN * (p.D + 1) + FN * p.Dv) * sizeof(float);
  FASTNN_CUDA_CHECK(cudaFuncSetAttribute(flash_fwd_simt_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         int(smem)));
  const dim3 grid{unsigned((p.Lq + FM - 1) / FM), unsigned(p.Hq), unsigned(p.B)};
  flash_fwd_simt_kernel<T><<<grid, THREADS, smem, s>>>(p);
  FASTNN_CUDA_CHECK_LAUNCH("flash_fwd_simt");
}

template <class T>
void launch_bwd(const AttnParams& p, cudaStream_t s) {
  const size_t smem = size_t(BK * p.D + BK * p.Dv + BQ * (p.D + 1) + BQ * (p.Dv + 1) + BQ * BK) * sizeof(float);
  FASTNN_CUDA_CHECK(cudaFuncSetAttribute(flash_bwd_simt_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         int(smem)));
  const dim3 grid{unsigned((p.Lk + BK - 1) / BK), unsigned(p.Hkv), unsigned(p.B)};
  flash_bwd_simt_kernel<T><<<grid, THREADS, smem, s>>>(p);
  FASTNN_CUDA_CHECK_LAUNCH("flash_bwd_simt");
}

}  // namespace

size_t flash_simt_smem_bytes(int D, int Dv, bool backward) {
  return backward ? size_t(BK * D + BK * Dv + BQ * (D + 1) + BQ * (Dv + 1) + BQ * BK) * sizeof(float)
                  : size_t(FM * D + FN * (D + 1) + FN * Dv) * sizeof(float);
}

void launch_flash_fwd_simt(const AttnParams& p, int dtype, cudaStream_t s) {
  switch (dtype) {
    case 0: launch_fwd<float>(p, s); break;
    case 1: launch_fwd<__half>(p, s); break;
    default: launch_fwd<__nv_bfloat16>(p, s);
  }
}

void launch_flash_bwd_simt(const AttnParams& p, int dtype, cudaStream_t s) {
  switch (dtype) {
    case 0: launch_bwd<float>(p, s); break;
    case 1: launch_bwd<__half>(p, s); break;
    default: launch_bwd<__nv_bfloat16>(p, s);
  }
}

}  // namespace cuda
}  // namespace fastnn
