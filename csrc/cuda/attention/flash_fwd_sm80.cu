// Flash attention forward with mma.sync tensor cores (sm_80+), FlashAttention-2 algorithm:
// a block owns BM = 128 query rows of one (batch, head), 8 warps × 16 rows, and streams the keys
// in tiles of BN = 64 through a 2-stage cp.async pipeline; per tile
//   S = Q·Kᵀ (m16n8k16, Q fragments kept in registers), scaled into log2 units, masked;
//   online softmax: m ← max(m, rowmax S), P = 2^(S - m), ℓ ← ℓ·2^(m_old - m) + Σ P, O ← O·2^(m_old - m);
//   O += P·V (P re-packed from the S accumulators as the A operand: it never touches memory).
// At the end O/ℓ is staged through shared memory for 16-byte stores and lse = (m + log2 ℓ)·ln 2.
// Shared memory (bytes): Q BM×2D, then K and V tiles BN×2D, two stages each, rows XOR-swizzled
// by 16-byte chunks (sm80::swz): 96 KB at D = 128, 48 KB at D = 64.
// Template instances: {bf16, f16} × D ∈ {64, 128}; causal / masks are uniform runtime branches
// taken only on the key tiles that need them.
#include "cuda/attention/attention_common.cuh"
#include "cuda/check.cuh"
#include "cuda/mma_sm80.cuh"

namespace fastnn {
namespace cuda {
namespace {

using namespace sm80;
using attn::AttnParams;

constexpr int BM = 128, BN = 64, THREADS = 256;

template <int D>
struct FwdLayout {
  static constexpr int ROW = D * 2;  // bytes per row
  static constexpr int CH = D / 8;   // 16-byte chunks per row
  static constexpr int Q_BYTES = BM * ROW, KV_BYTES = BN * ROW;
  static constexpr int SMEM = Q_BYTES + 4 * KV_BYTES;
};

// rows [0, ROWS) of a (rows × D) tile, row stride sl elements; rows ≥ nvalid are zero-filled.
template <int ROWS, int D, class T>
__device__ __forceinline__ void load_rows(uint32_t dst, const T* src, int64_t sl, int nvalid, int tid) {
  constexpr int CH = D / 8;
#pragma unroll
  for (int c = tid; c < ROWS * CH; c += THREADS) {
    const int r = c / CH, ch = c % CH;
    const bool ok = r < nvalid;
    cp_async_16(dst + swz(r, ch, D * 2), ok ? src + r * sl + ch * 8 : src, ok ? 16 : 0);
  }
}

template <class T, int D>
__global__ void __launch_bounds__(THREADS, 1) flash_fwd_sm80_kernel(AttnParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using L = FwdLayout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t s_q = smem_u32(smem);
  auto s_k = [&](int st) { return s_q + L::Q_BYTES + st * L::KV_BYTES; };
  auto s_v = [&](int st) { return s_q + L::Q_BYTES + (2 + st) * L::KV_BYTES; };

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int lq = lane >> 3, l8 = lane & 7;
  const int qb = int(gridDim.x) - 1 - int(blockIdx.x);  // the longest (causal) blocks start first
  const int h = blockIdx.y, b = blockIdx.z, hk = h / p.rep;
  const int q0 = qb * BM;
  const T* Q = static_cast<const T*>(p.q.p) + b * p.q.sb + h * p.q.sh + int64_t(q0) * p.q.sl;
  const T* K = static_cast<const T*>(p.k.p) + b * p.k.sb + hk * p.k.sh;
  const T* V = static_cast<const T*>(p.v.p) + b * p.v.sb + hk * p.v.sh;

  int64_t n_end = p.Lk;
  if (p.causal) {
    const int64_t e = int64_t(q0) + BM + p.off;
    n_end = e < 0 ? 0 : (e < p.Lk ? e : p.Lk);
  }
  const int ntiles = int((n_end + BN - 1) / BN);

  load_rows<BM, D>(s_q, Q, p.q.sl, min(BM, p.Lq - q0), tid);
  if (ntiles > 0) {
    load_rows<BN, D>(s_k(0), K, p.k.sl, min(BN, p.Lk), tid);
    load_rows<BN, D>(s_v(0), V, p.v.sl, min(BN, p.Lk), tid);
  }
  cp_async_commit();

  constexpr int NT = D / 8;  // n8 tiles of O
  float o[NT][4];
#pragma unroll
  for (int j = 0; j < NT; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  const float kNegInf = -__int_as_float(0x7f800000);
  float m[2] = {kNegInf, kNegInf}, l[2] = {0.0f, 0.0f};
  uint32_t qf[D / 16][4];
  const int row0 = q0 + warp * 16 + g;  // this thread's rows: row0 and row0 + 8

  for (int it = 0; it < ntiles; ++it) {
    cp_async_wait<0>();
    __syncthreads();  // tile `it` is visible; every warp is done with tile it - 1
    if (it == 0) {
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk)
        ldmatrix_x4(s_q + swz(warp * 16 + (lane & 15), kk * 2 + (lane >> 4), L::ROW), qf[kk]);
    }
    if (it + 1 < ntiles) {
      const int n1 = (it + 1) * BN;
      load_rows<BN, D>(s_k((it + 1) & 1), K + int64_t(n1) * p.k.sl, p.k.sl, min(BN, p.Lk - n1), tid);
      load_rows<BN, D>(s_v((it + 1) & 1), V + int64_t(n1) * p.v.sl, p.v.sl, min(BN, p.Lk - n1), tid);
    }
    cp_async_commit();
    const int n0 = it * BN, st = it & 1;

    // S = Q·Kᵀ: 16 rows × 64 keys per warp (8 n8 tiles).
    float s[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < 4; ++np) {
        uint32_t r[4];
        ldmatrix_x4(s_k(st) + swz(np * 16 + (lq >> 1) * 8 + l8, kk * 2 + (lq & 1), L::ROW), r);
        mma_16816<T>(s[2 * np], qf[kk], r[0], r[1]);
        mma_16816<T>(s[2 * np + 1], qf[kk], r[2], r[3]);
      }
    }
    // Scale into log2 units; mask where this tile needs it.
    const bool need_mask = n0 + BN > p.Lk || p.mask != nullptr ||
                           (p.causal && int64_t(n0) + BN - 1 > int64_t(q0) + p.off);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float x = s[j][e] * p.scale_log2;
        if (need_mask) {
          const int i = row0 + (e >> 1) * 8, key = n0 + 8 * j + 2 * t + (e & 1);
          if (i >= p.Lq || !attn::key_visible(p, i, key)) x = kNegInf;
          else if (p.mask) x += attn::mask_log2(p, b, h, i, key);
        }
        s[j][e] = x;
      }
    }
    // Online softmax for rows row0 (r = 0) and row0 + 8 (r = 1).
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = kNegInf;
#pragma unroll
      for (int j = 0; j < 8; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[r], mx);
      const float m_use = m_new == kNegInf ? 0.0f : m_new;  // rows without a visible key stay at 0
      const float alpha = exp2f(m[r] - m_use);
      m[r] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        s[j][2 * r] = exp2f(s[j][2 * r] - m_use);
        s[j][2 * r + 1] = exp2f(s[j][2 * r + 1] - m_use);
        sum += s[j][2 * r] + s[j][2 * r + 1];
      }
      l[r] = l[r] * alpha + sum;
#pragma unroll
      for (int j = 0; j < NT; ++j) o[j][2 * r] *= alpha, o[j][2 * r + 1] *= alpha;
    }
    // O += P·V: P as the A operand straight from the accumulators.
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      const uint32_t a[4] = {pack2<T>(s[2 * kk][0], s[2 * kk][1]), pack2<T>(s[2 * kk][2], s[2 * kk][3]),
                             pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int np = 0; np < D / 16; ++np) {
        uint32_t r[4];
        ldmatrix_x4_trans(s_v(st) + swz(kk * 16 + (lq & 1) * 8 + l8, np * 2 + (lq >> 1), L::ROW), r);
        mma_16816<T>(o[2 * np], a, r[0], r[1]);
        mma_16816<T>(o[2 * np + 1], a, r[2], r[3]);
      }
    }
  }

  // ℓ is a per-thread partial over its columns: complete it across the quad.
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    inv[r] = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
  }
  if (p.lse && t == 0) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int i = row0 + 8 * r;
      if (i < p.Lq)
        p.lse[b * p.lse_sb + h * p.lse_sh + int64_t(i) * p.lse_sl] =
            l[r] > 0.0f ? (m[r] + log2f(l[r])) * attn::kLn2 : kNegInf;
    }
  }
  // Stage O/ℓ in the Q buffer (rows of this warp only), then 16-byte coalesced stores.
  cp_async_wait<0>();
  __syncthreads();
#pragma unroll
  for (int j = 0; j < NT; ++j) {
    const int r = warp * 16 + g;
    *reinterpret_cast<uint32_t*>(smem + swz(r, j, L::ROW) + 4 * t) = pack2<T>(o[j][0] * inv[0], o[j][1] * inv[0]);
    *reinterpret_cast<uint32_t*>(smem + swz(r + 8, j, L::ROW) + 4 * t) = pack2<T>(o[j][2] * inv[1], o[j][3] * inv[1]);
  }
  __syncthreads();
  T* O = static_cast<T*>(p.o.p) + b * p.o.sb + h * p.o.sh + int64_t(q0) * p.o.sl;
  const int nrows = min(BM, p.Lq - q0);
  for (int c = tid; c < BM * L::CH; c += THREADS) {
    const int r = c / L::CH, ch = c % L::CH;
    if (r < nrows)
      *reinterpret_cast<uint4*>(O + int64_t(r) * p.o.sl + ch * 8) =
          *reinterpret_cast<const uint4*>(smem + swz(r, ch, L::ROW));
  }
#elif defined(__CUDA_ARCH__)
  __trap();  // the dispatcher never launches this below sm_80
#endif
}

template <class T, int D>
void launch(const AttnParams& p, cudaStream_t s) {
  auto kernel = flash_fwd_sm80_kernel<T, D>;
  constexpr int smem = FwdLayout<D>::SMEM;
  FASTNN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const dim3 grid{unsigned((p.Lq + BM - 1) / BM), unsigned(p.Hq), unsigned(p.B)};
  kernel<<<grid, THREADS, smem, s>>>(p);
  FASTNN_CUDA_CHECK_LAUNCH("flash_fwd_sm80");
}

}  // namespace

void launch_flash_fwd_sm80(const attn::AttnParams& p, bool bf16, cudaStream_t s) {
  if (bf16) {
    if (p.D == 64) launch<__nv_bfloat16, 64>(p, s);
    else launch<__nv_bfloat16, 128>(p, s);
  } else {
    if (p.D == 64) launch<__half, 64>(p, s);
    else launch<__half, 128>(p, s);
  }
}

}  // namespace cuda
}  // namespace fastnn
