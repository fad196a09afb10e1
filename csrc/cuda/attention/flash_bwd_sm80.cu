// Flash attention backward with mma.sync tensor cores (sm_80+), FlashAttention-2 algorithm: a
// block owns BN = 64 keys of one (batch, kv head) and walks every query block (BM = 64) of every
// query head sharing that kv head, recomputing the probabilities from the saved log-sum-exp:
//   Sᵀ = K·Qᵀ, Pᵀ = 2^(Sᵀ·scale·log2 e - lse₂), dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ - Δ)
//   dV += Pᵀ·dO,  dK += dSᵀ·Q (·scale at the end)   (registers, no atomics; GQA heads summed here)
//   dQ += dS·K·scale                                (FP32 atomics into dq_acc, converted afterwards)
// 8 warps. Sᵀ / dPᵀ: warp = 4 (16 keys) × 2 (32 queries); Pᵀ and dSᵀ go through shared memory
// (bf16 / f16, 64×64 each) so that the dV / dK / dQ products can use another warp layout:
// 4 (16 keys, or 16 queries for dQ) × 2 (D halves). Q and dO tiles are double-buffered (cp.async),
// K and V load once. Shared memory: 113 KB at D = 128, 65 KB at D = 64.
#include "cuda/attention/attention_common.cuh"
#include "cuda/check.cuh"
#include "cuda/mma_sm80.cuh"

namespace fastnn {
namespace cuda {
namespace {

using namespace sm80;
using attn::AttnParams;

constexpr int BN = 64, BM = 64, THREADS = 256;
constexpr int PROW = BM * 2;  // bytes per row of the Pᵀ / dSᵀ tiles (64 queries)

template <int D>
struct BwdLayout {
  static constexpr int ROW = D * 2;
  static constexpr int KV_BYTES = BN * ROW, QD_BYTES = BM * ROW, P_BYTES = BN * PROW;
  static constexpr int K_OFF = 0, V_OFF = KV_BYTES, Q_OFF = 2 * KV_BYTES;  // Q: 2 stages, then dO: 2 stages
  static constexpr int DO_OFF = Q_OFF + 2 * QD_BYTES, P_OFF = DO_OFF + 2 * QD_BYTES, DS_OFF = P_OFF + P_BYTES;
  static constexpr int SMEM = DS_OFF + P_BYTES;
};

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
__global__ void __launch_bounds__(THREADS, 1) flash_bwd_sm80_kernel(AttnParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using L = BwdLayout<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t base = smem_u32(smem);
  const uint32_t s_k = base + L::K_OFF, s_v = base + L::V_OFF, s_p = base + L::P_OFF, s_ds = base + L::DS_OFF;
  auto s_q = [&](int st) { return base + L::Q_OFF + st * L::QD_BYTES; };
  auto s_do = [&](int st) { return base + L::DO_OFF + st * L::QD_BYTES; };

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int lq = lane >> 3, l8 = lane & 7;
  const int kw = warp & 3, half = warp >> 2;  // key group (16 keys) / query half or D half
  const int kb = blockIdx.x, hk = blockIdx.y, b = blockIdx.z;
  const int k0 = kb * BN;
  const T* K = static_cast<const T*>(p.k.p) + b * p.k.sb + hk * p.k.sh + int64_t(k0) * p.k.sl;
  const T* V = static_cast<const T*>(p.v.p) + b * p.v.sb + hk * p.v.sh + int64_t(k0) * p.v.sl;
  const int nk = min(BN, p.Lk - k0);

  // Query blocks that see any of these keys: i ≥ k0 - off (causal).
  int qb_first = 0;
  if (p.causal) {
    const int64_t first = int64_t(k0) - p.off;
    qb_first = first <= 0 ? 0 : int(first / BM);
  }
  const int nqb_total = (p.Lq + BM - 1) / BM;
  const int nqb = nqb_total > qb_first ? nqb_total - qb_first : 0;
  const int iters = nqb * p.rep;

  auto q_block = [&](int it, int& hq, int& q0) {
    hq = hk * p.rep + it / nqb;
    q0 = (qb_first + it % nqb) * BM;
  };
  auto issue_q = [&](int it) {
    int hq, q0;
    q_block(it, hq, q0);
    const T* Q = static_cast<const T*>(p.q.p) + b * p.q.sb + hq * p.q.sh + int64_t(q0) * p.q.sl;
    const T* dO = static_cast<const T*>(p.dout.p) + b * p.dout.sb + hq * p.dout.sh + int64_t(q0) * p.dout.sl;
    load_rows<BM, D>(s_q(it & 1), Q, p.q.sl, min(BM, p.Lq - q0), tid);
    load_rows<BM, D>(s_do(it & 1), dO, p.dout.sl, min(BM, p.Lq - q0), tid);
  };

  load_rows<BN, D>(s_k, K, p.k.sl, nk, tid);
  load_rows<BN, D>(s_v, V, p.v.sl, nk, tid);
  if (iters > 0) issue_q(0);
  cp_async_commit();

  constexpr int HT = D / 16;  // n8 tiles in a D half
  float dk[HT][4], dv[HT][4];
#pragma unroll
  for (int j = 0; j < HT; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[j][e] = dv[j][e] = 0.0f;
  const float kInf = __int_as_float(0x7f800000);

  for (int it = 0; it < iters; ++it) {
    cp_async_wait<0>();
    __syncthreads();
    if (it + 1 < iters) issue_q(it + 1);
    cp_async_commit();
    int hq, q0;
    q_block(it, hq, q0);
    const int st = it & 1;
    const int64_t row_bh = (int64_t(b) * p.Hq + hq) * p.Lq;

    // ---- Sᵀ and dPᵀ: 16 keys (kw) × 32 queries (half) per warp ----
    float sT[4][4], dpT[4][4];
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) sT[j][e] = dpT[j][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t ak[4], av[4];
      ldmatrix_x4(s_k + swz(kw * 16 + (lane & 15), kk * 2 + (lane >> 4), L::ROW), ak);
      ldmatrix_x4(s_v + swz(kw * 16 + (lane & 15), kk * 2 + (lane >> 4), L::ROW), av);
#pragma unroll
      for (int np = 0; np < 2; ++np) {
        uint32_t r[4];
        const int qrow = half * 32 + np * 16 + (lq >> 1) * 8 + l8, ch = kk * 2 + (lq & 1);
        ldmatrix_x4(s_q(st) + swz(qrow, ch, L::ROW), r);
        mma_16816<T>(sT[2 * np], ak, r[0], r[1]);
        mma_16816<T>(sT[2 * np + 1], ak, r[2], r[3]);
        ldmatrix_x4(s_do(st) + swz(qrow, ch, L::ROW), r);
        mma_16816<T>(dpT[2 * np], av, r[0], r[1]);
        mma_16816<T>(dpT[2 * np + 1], av, r[2], r[3]);
      }
    }
    // ---- Pᵀ, dSᵀ → shared memory ----
    const bool need_mask = k0 + BN > p.Lk || q0 + BM > p.Lq || p.mask != nullptr ||
                           (p.causal && int64_t(k0) + BN - 1 > int64_t(q0) + p.off);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      float pv[4], dsv[4];
#pragma unroll
      for (int c = 0; c < 2; ++c) {  // query column 2t + c of n8 tile j
        const int i = q0 + half * 32 + 8 * j + 2 * t + c;
        const bool iq = i < p.Lq;
        const float l2 = iq ? p.lse2[row_bh + i] : kInf, dl = iq ? p.delta[row_bh + i] : 0.0f;
#pragma unroll
        for (int r = 0; r < 2; ++r) {  // key row g + 8r
          const int e = 2 * r + c, key = k0 + kw * 16 + g + 8 * r;
          float x = sT[j][e] * p.scale_log2;
          if (need_mask) {
            if (!iq || !attn::key_visible(p, i, key)) x = -kInf;
            else if (p.mask) x += attn::mask_log2(p, b, hq, i, key);
          }
          const float pr = exp2f(x - l2);
          pv[e] = pr;
          dsv[e] = pr * (dpT[j][e] - dl);
        }
      }
      const int chunk = half * 4 + j, row = kw * 16 + g;
      *reinterpret_cast<uint32_t*>(smem + L::P_OFF + swz(row, chunk, PROW) + 4 * t) = pack2<T>(pv[0], pv[1]);
      *reinterpret_cast<uint32_t*>(smem + L::P_OFF + swz(row + 8, chunk, PROW) + 4 * t) = pack2<T>(pv[2], pv[3]);
      *reinterpret_cast<uint32_t*>(smem + L::DS_OFF + swz(row, chunk, PROW) + 4 * t) = pack2<T>(dsv[0], dsv[1]);
      *reinterpret_cast<uint32_t*>(smem + L::DS_OFF + swz(row + 8, chunk, PROW) + 4 * t) = pack2<T>(dsv[2], dsv[3]);
    }
    __syncthreads();

    // ---- dV += Pᵀ·dO, dK += dSᵀ·Q: 16 keys (kw) × D half per warp ----
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      uint32_t ap[4], ads[4];
      ldmatrix_x4(s_p + swz(kw * 16 + (lane & 15), kk * 2 + (lane >> 4), PROW), ap);
      ldmatrix_x4(s_ds + swz(kw * 16 + (lane & 15), kk * 2 + (lane >> 4), PROW), ads);
#pragma unroll
      for (int np = 0; np < HT / 2; ++np) {
        uint32_t r[4];
        const int qrow = kk * 16 + (lq & 1) * 8 + l8, ch = half * (D / 16) + np * 2 + (lq >> 1);
        ldmatrix_x4_trans(s_do(st) + swz(qrow, ch, L::ROW), r);
        mma_16816<T>(dv[2 * np], ap, r[0], r[1]);
        mma_16816<T>(dv[2 * np + 1], ap, r[2], r[3]);
        ldmatrix_x4_trans(s_q(st) + swz(qrow, ch, L::ROW), r);
        mma_16816<T>(dk[2 * np], ads, r[0], r[1]);
        mma_16816<T>(dk[2 * np + 1], ads, r[2], r[3]);
      }
    }

    // ---- dQ += dS·K·scale: 16 queries (kw) × D half per warp, atomics into dq_acc ----
    float dq[HT][4];
#pragma unroll
    for (int j = 0; j < HT; ++j) dq[j][0] = dq[j][1] = dq[j][2] = dq[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t a[4];
      // A = dS (queries × keys), stored as dSᵀ [key][query]: transposed ldmatrix.
      ldmatrix_x4_trans(s_ds + swz(kk * 16 + (lq >> 1) * 8 + l8, (kw * 16 + (lq & 1) * 8) >> 3, PROW), a);
#pragma unroll
      for (int np = 0; np < HT / 2; ++np) {
        uint32_t r[4];
        ldmatrix_x4_trans(s_k + swz(kk * 16 + (lq & 1) * 8 + l8, half * (D / 16) + np * 2 + (lq >> 1), L::ROW), r);
        mma_16816<T>(dq[2 * np], a, r[0], r[1]);
        mma_16816<T>(dq[2 * np + 1], a, r[2], r[3]);
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int i = q0 + kw * 16 + g + 8 * r;
      if (i >= p.Lq) continue;
      float* dst = p.dq_acc + (row_bh + i) * p.D + half * (D / 2) + 2 * t;
#pragma unroll
      for (int j = 0; j < HT; ++j) {
        atomicAdd(dst + 8 * j, dq[j][2 * r] * p.scale);
        atomicAdd(dst + 8 * j + 1, dq[j][2 * r + 1] * p.scale);
      }
    }
  }

  // ---- dK (·scale) and dV out ----
  T* dK = static_cast<T*>(p.dk.p) + b * p.dk.sb + hk * p.dk.sh;
  T* dV = static_cast<T*>(p.dv.p) + b * p.dv.sb + hk * p.dv.sh;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int key = k0 + kw * 16 + g + 8 * r;
    if (key >= p.Lk) continue;
#pragma unroll
    for (int j = 0; j < HT; ++j) {
      const int d = half * (D / 2) + 8 * j + 2 * t;
      *reinterpret_cast<uint32_t*>(dK + int64_t(key) * p.dk.sl + d) =
          pack2<T>(dk[j][2 * r] * p.scale, dk[j][2 * r + 1] * p.scale);
      *reinterpret_cast<uint32_t*>(dV + int64_t(key) * p.dv.sl + d) = pack2<T>(dv[j][2 * r], dv[j][2 * r + 1]);
    }
  }
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

template <class T, int D>
void launch(const AttnParams& p, cudaStream_t s) {
  auto kernel = flash_bwd_sm80_kernel<T, D>;
  constexpr int smem = BwdLayout<D>::SMEM;
  FASTNN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  const dim3 grid{unsigned((p.Lk + BN - 1) / BN), unsigned(p.Hkv), unsigned(p.B)};
  kernel<<<grid, THREADS, smem, s>>>(p);
  FASTNN_CUDA_CHECK_LAUNCH("flash_bwd_sm80");
}

}  // namespace

void launch_flash_bwd_sm80(const attn::AttnParams& p, bool bf16, cudaStream_t s) {
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
