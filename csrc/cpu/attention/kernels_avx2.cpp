// AVX2+FMA leaf kernels for flash attention (contracts in kernels.h).
//
// Register tile 4×24: 12 YMM accumulators + 3 B vectors + 1 broadcast of A (16 registers).
// Per k: 3 aligned loads, 4 broadcasts, 12 FMAs — FMA bound on Zen 3 / Intel client cores.
#include <immintrin.h>

#include "cpu/attention/kernels.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace attn {
namespace {

using namespace simd_avx2;

constexpr int W = kWidth;  // 8 floats
constexpr int MR = 4, NVMAX = 3;

// ---- C[R × NV·8] (mode)= Σ_k A(r, k) · B[k][:] -----------------------------------------------------

// GCC keeps an accumulator array in registers only when every loop over it is unrolled before
// scalar replacement; the pragmas force that (without them it spills the tile every k step).
template <int R, int NV>
void gemm_tile(int64_t kc, const float* a, int64_t rsa, int64_t ksa, const float* b, int64_t ldb, float* c,
               int64_t ldc, GemmMode mode, const float* alpha) {
  __m256 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  // C is read back after the k loop (accumulate / rescale): fetch it now, so the epilogue does not
  // wait on L2 (the O and dK/dV accumulators live there).
  if (mode != GemmMode::store) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + v * W), _MM_HINT_T0);
  }
  const float* ar[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) ar[r] = a + r * rsa;
  int64_t ka = 0;
  for (int64_t k = 0; k < kc; ++k, ka += ksa, b += ldb) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_ps(b + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(ar[r] + ka);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
  if (mode == GemmMode::store) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm256_store_ps(c + r * ldc + v * W, acc[r][v]);
  } else if (mode == GemmMode::accumulate) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * W;
        _mm256_store_ps(p, _mm256_add_ps(_mm256_load_ps(p), acc[r][v]));
      }
  } else {
    __m256 al[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) al[v] = _mm256_load_ps(alpha + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * W;
        _mm256_store_ps(p, _mm256_fmadd_ps(al[v], _mm256_load_ps(p), acc[r][v]));
      }
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, GemmMode,
                        const float*);

const TileFn kTiles[MR][NVMAX] = {
    {gemm_tile<1, 1>, gemm_tile<1, 2>, gemm_tile<1, 3>},
    {gemm_tile<2, 1>, gemm_tile<2, 2>, gemm_tile<2, 3>},
    {gemm_tile<3, 1>, gemm_tile<3, 2>, gemm_tile<3, 3>},
    {gemm_tile<4, 1>, gemm_tile<4, 2>, gemm_tile<4, 3>},
};

// 3×32 tiles (also 12 accumulators; 4 loads and 3 broadcasts per k) for widths that are a multiple of
// 32 but not of 24: the backward's dK/dV products (n = D), where 4×24 panels would end in a 4×8 (D = 128)
// or 4×16 (D = 64) tile at a third / two thirds of the FMA rate.
const TileFn kTiles32[3] = {gemm_tile<1, 4>, gemm_tile<2, 4>, gemm_tile<3, 4>};

// Column panels of 24 (or 32) lanes outer (the B panel, k × 24, stays in L1), row tiles inner.
void gemm_avx2(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t ksa, const float* b, int64_t ldb,
               float* c, int64_t ldc, GemmMode mode, const float* alpha) {
  if (n % (NVMAX * W) != 0 && n % (4 * W) == 0) {
    for (int64_t j0 = 0; j0 < n; j0 += 4 * W) {
      const float* al = alpha ? alpha + j0 : nullptr;
      int64_t r0 = 0;
      for (; r0 + 3 <= m; r0 += 3) kTiles32[2](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
      if (r0 < m) kTiles32[m - r0 - 1](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
    }
    return;
  }
  for (int64_t j0 = 0; j0 < n; j0 += NVMAX * W) {
    const int64_t nv = (n - j0) / W < NVMAX ? (n - j0) / W : NVMAX;
    const float* al = alpha ? alpha + j0 : nullptr;
    int64_t r0 = 0;
    for (; r0 + MR <= m; r0 += MR)
      kTiles[MR - 1][nv - 1](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
    if (r0 < m) kTiles[m - r0 - 1][nv - 1](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
  }
}

// ---- masks ------------------------------------------------------------------------------------------

// s[j][:] with the block's masks applied (bias row/tile added, causal lanes set to -inf).
static inline __m256 masked_score(const ScoreBlock& blk, int64_t j, int64_t i0, __m256 x, __m256i iota) {
  if (blk.bias_row) x = _mm256_add_ps(x, _mm256_broadcast_ss(blk.bias_row + j));
  if (blk.bias_tile) x = _mm256_add_ps(x, _mm256_loadu_ps(blk.bias_tile + j * blk.ldbias + i0));
  if (blk.causal_thr != kNoCausal) {
    const int64_t t = blk.causal_thr + j - i0;  // lanes < t are masked
    if (t > 0) {
      const __m256i lim = _mm256_set1_epi32(t > W ? W : int(t));
      const __m256 dead = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lim, iota));
      x = _mm256_blendv_ps(x, _mm256_set1_ps(-__builtin_inff()), dead);
    }
  }
  return x;
}

static inline bool has_masks(const ScoreBlock& blk) {
  return blk.bias_row || blk.bias_tile || blk.causal_thr != kNoCausal;
}

// ---- fused forward step (FwdBlock) -----------------------------------------------------------------

constexpr int PW = NVMAX * W;  // lanes per panel: the score panel s is [nk][PW], 6 KB at bk = 64

// s[r][:] = Σ_t k[r][t] · qt[t][:] for R keys (rows of k, stride ldk), lanes NV·8;
// kMax: mx[:] = max(mx[:], s[r][:]) over the R rows (MAXPS keeps mx when a score is NaN: a NaN
// score is left out of the max but still poisons the sum).
template <int R, int NV, bool kMax>
static inline void qk_tile(int64_t d, const float* k, int64_t ldk, const float* qt, int64_t ldq, float* s, float* mx) {
  __m256 acc[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  const float* kr[R];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r) kr[r] = k + r * ldk;
  for (int64_t t = 0; t < d; ++t, qt += ldq) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_ps(qt + v * W);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(kr[r] + t);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm256_store_ps(s + r * PW + v * W, acc[r][v]);
  if (kMax) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m256 m = _mm256_load_ps(mx + v * W);
#pragma GCC unroll 4
      for (int r = 0; r < R; ++r) m = _mm256_max_ps(acc[r][v], m);
      _mm256_store_ps(mx + v * W, m);
    }
    // Keep the running max in memory between tiles. Left to itself GCC holds it in NV registers
    // across the next tile's k loop; with 12 accumulators that leaves no register for the B vectors,
    // and every FMA then takes a memory operand (12 vector loads per k instead of 3): Sᵀ = K·Qᵀ ran
    // at 73% of the P·V product's speed with everything in L1.
    __asm__ volatile("" : : "r"(mx) : "memory");
  }
}

// o[r][:] = alpha ⊙ o[r][:] + Σ_j v[j][r] · p[j][:] for R head-dim columns of v (rows of stride ldv),
// lanes NV·8.
template <int R, int NV>
static inline void pv_tile(int64_t nk, const float* v, int64_t ldv, const float* p, float* o, int64_t ldo,
                           const float* alpha) {
  __m256 acc[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      acc[r][v] = _mm256_setzero_ps();
      _mm_prefetch(reinterpret_cast<const char*>(o + r * ldo + v * W), _MM_HINT_T0);  // read in the epilogue
    }
  for (int64_t j = 0; j < nk; ++j, v += ldv, p += PW) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) bv[c] = _mm256_load_ps(p + c * W);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(v + r);
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm256_fmadd_ps(x, bv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m256 al = _mm256_load_ps(alpha + v * W);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      float* c = o + r * ldo + v * W;
      _mm256_store_ps(c, _mm256_fmadd_ps(al, _mm256_load_ps(c), acc[r][v]));
    }
  }
}

// Sᵀ for keys [0, nk) of lanes [i0, i0 + NV·8) into s [nk][PW].
template <int NV, bool kMax>
static void qk_panel(const FwdBlock& f, int64_t i0, float* mx) {
  const float* qt = f.qt + i0;
  int64_t j = 0;
  for (; j + MR <= f.nk; j += MR) qk_tile<MR, NV, kMax>(f.d, f.k + j * f.ldk, f.ldk, qt, f.ldq, f.s + j * PW, mx);
  const float* k = f.k + j * f.ldk;
  float* s = f.s + j * PW;
  switch (f.nk - j) {
    case 3: qk_tile<3, NV, kMax>(f.d, k, f.ldk, qt, f.ldq, s, mx); break;
    case 2: qk_tile<2, NV, kMax>(f.d, k, f.ldk, qt, f.ldq, s, mx); break;
    case 1: qk_tile<1, NV, kMax>(f.d, k, f.ldk, qt, f.ldq, s, mx); break;
    default: break;
  }
}

template <int NV>
static void attend_panel(const FwdBlock& f, const ScoreBlock& masks, int64_t i0) {
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  alignas(32) float mx[NV * W];
  alignas(32) float alpha[NV * W];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) _mm256_store_ps(mx + v * W, ninf);
  // Sᵀ, and the block's max per lane: in the tile epilogue when unmasked, else in the masking pass.
  if (!has_masks(masks)) {
    qk_panel<NV, true>(f, i0, mx);
  } else {
    qk_panel<NV, false>(f, i0, mx);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t j = 0; j < f.nk; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* sp = f.s + j * PW + v * W;
        const __m256 x = masked_score(masks, j, i0 + v * W, _mm256_load_ps(sp), iota);
        _mm256_store_ps(sp, x);
        _mm256_store_ps(mx + v * W, _mm256_max_ps(x, _mm256_load_ps(mx + v * W)));
      }
  }
  // Online softmax: p = 2^(s - m'), alpha = 2^(m - m'); m' = -inf (no key yet) subtracts 0 instead.
  __m256 safe[NV], sum[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m256 m_old = _mm256_load_ps(f.m + i0 + v * W);
    const __m256 m_new = _mm256_max_ps(_mm256_load_ps(mx + v * W), m_old);
    safe[v] = _mm256_andnot_ps(_mm256_cmp_ps(m_new, ninf, _CMP_EQ_OQ), m_new);
    _mm256_store_ps(alpha + v * W, exp2_softmax(_mm256_sub_ps(m_old, safe[v])));
    _mm256_store_ps(f.m + i0 + v * W, m_new);
    sum[v] = _mm256_setzero_ps();
  }
  for (int64_t j = 0; j < f.nk; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* sp = f.s + j * PW + v * W;
      const __m256 p = exp2_softmax(_mm256_sub_ps(_mm256_load_ps(sp), safe[v]));
      _mm256_store_ps(sp, p);
      sum[v] = _mm256_add_ps(sum[v], p);
    }
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    float* l = f.l + i0 + v * W;
    _mm256_store_ps(l, _mm256_fmadd_ps(_mm256_load_ps(alpha + v * W), _mm256_load_ps(l), sum[v]));
  }
  // Oᵀ ← alpha ⊙ Oᵀ + Vᵀ·Pᵀ, MR head-dim rows at a time.
  float* o = f.ot + i0;
  int64_t t = 0;
  for (; t + MR <= f.dv; t += MR) pv_tile<MR, NV>(f.nk, f.v + t, f.ldv, f.s, o + t * f.ldo, f.ldo, alpha);
  switch (f.dv - t) {
    case 3: pv_tile<3, NV>(f.nk, f.v + t, f.ldv, f.s, o + t * f.ldo, f.ldo, alpha); break;
    case 2: pv_tile<2, NV>(f.nk, f.v + t, f.ldv, f.s, o + t * f.ldo, f.ldo, alpha); break;
    case 1: pv_tile<1, NV>(f.nk, f.v + t, f.ldv, f.s, o + t * f.ldo, f.ldo, alpha); break;
    default: break;
  }
}

void attend_avx2(const FwdBlock& f) {
  const ScoreBlock masks{f.s, PW, f.nk, f.n, f.bias_row, f.bias_tile, f.ldbias, f.causal_thr};
  int64_t i0 = 0;
  for (; i0 + PW <= f.n; i0 += PW) attend_panel<NVMAX>(f, masks, i0);
  if (f.n - i0 == 2 * W) attend_panel<2>(f, masks, i0);
  if (f.n - i0 == W) attend_panel<1>(f, masks, i0);
}

// ---- backward: P = exp(S - lse), dS = P ⊙ (dP - delta) ----------------------------------------------

void softmax_bwd_avx2(const ScoreBlock& blk, const float* lse, const float* delta, float* dp, int64_t lddp) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const bool masked = has_masks(blk);
  for (int64_t i0 = 0; i0 < blk.n; i0 += W) {
    const __m256 ls = _mm256_load_ps(lse + i0), de = _mm256_load_ps(delta + i0);
    for (int64_t j = 0; j < blk.nk; ++j) {
      float* ps = blk.s + j * blk.lds + i0;
      float* pd = dp + j * lddp + i0;
      __m256 x = _mm256_load_ps(ps);
      if (masked) x = masked_score(blk, j, i0, x, iota);
      const __m256 p = exp2_softmax(_mm256_sub_ps(x, ls));
      _mm256_store_ps(ps, p);
      _mm256_store_ps(pd, _mm256_mul_ps(p, _mm256_sub_ps(_mm256_load_ps(pd), de)));
    }
  }
}

// ---- decode: few query rows, keys in lanes ------------------------------------------------------------

// Eight dot products q·k_jj (jj < 8) as one vector, lane jj = Σ_t q[t]·k[jj][t]. k8 holds the eight row
// pointers (rows past the block repeat a valid row; their lanes are masked by the caller). q is padded
// with zeros to a multiple of 8, so only the k loads of the tail need a mask.
static inline __m256 dot8(const float* q, const float* const* k8, int64_t d) {
  __m256 acc[8];
#pragma GCC unroll 8
  for (int jj = 0; jj < 8; ++jj) acc[jj] = _mm256_setzero_ps();
  const int64_t full = d / W * W;
  for (int64_t t = 0; t < full; t += W) {
    const __m256 qv = _mm256_load_ps(q + t);
#pragma GCC unroll 8
    for (int jj = 0; jj < 8; ++jj) acc[jj] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k8[jj] + t), acc[jj]);
  }
  if (full < d) {
    const __m256i m = tail_mask(int(d - full));
    const __m256 qv = _mm256_load_ps(q + full);
#pragma GCC unroll 8
    for (int jj = 0; jj < 8; ++jj) acc[jj] = _mm256_fmadd_ps(qv, _mm256_maskload_ps(k8[jj] + full, m), acc[jj]);
  }
  // Transpose-reduce: hadd pairs, then fold the 128-bit halves.
  const __m256 h01 = _mm256_hadd_ps(acc[0], acc[1]), h23 = _mm256_hadd_ps(acc[2], acc[3]);
  const __m256 h45 = _mm256_hadd_ps(acc[4], acc[5]), h67 = _mm256_hadd_ps(acc[6], acc[7]);
  const __m256 h0123 = _mm256_hadd_ps(h01, h23), h4567 = _mm256_hadd_ps(h45, h67);
  return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20), _mm256_permute2f128_ps(h0123, h4567, 0x31));
}

// o[r][t : t + NV·8] += Σ_{j0 <= j < j1} p[r][j]·v[j][t : t + NV·8] for rows r0 .. r0 + R; each v row is
// loaded once for all R rows. kMasked: one vector, the last partial one of the row.
template <int R, int NV, bool kMasked>
static inline void pv_strip(const DecodeBlock& d, int r0, int64_t j0, int64_t j1, int64_t t, __m256i tail) {
  __m256 acc[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_load_ps(d.o + (r0 + r) * d.ldo + t + v * W);
  for (int64_t j = j0; j < j1; ++j) {
    const float* vj = d.v + j * d.ldv + t;
    __m256 vv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) vv[v] = kMasked ? _mm256_maskload_ps(vj, tail) : _mm256_loadu_ps(vj + v * W);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 p = _mm256_broadcast_ss(d.s + (r0 + r) * d.lds + j);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(p, vv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm256_store_ps(d.o + (r0 + r) * d.ldo + t + v * W, acc[r][v]);
}

// Keys in chunks that stay in L1 while every column strip of o is updated.
template <int R>
static void pv_rows(const DecodeBlock& d, int r0) {
  constexpr int NV = R == 1 ? 8 : (R == 2 ? 4 : 3);
  constexpr int64_t kChunk = 32;
  const int64_t full = d.dv / W * W;
  for (int64_t j0 = 0; j0 < d.nk; j0 += kChunk) {
    const int64_t j1 = d.nk - j0 < kChunk ? d.nk : j0 + kChunk;
    int64_t t = 0;
    for (; t + NV * W <= full; t += NV * W) pv_strip<R, NV, false>(d, r0, j0, j1, t, __m256i());
    for (; t < full; t += W) pv_strip<R, 1, false>(d, r0, j0, j1, t, __m256i());
    if (t < d.dv) pv_strip<R, 1, true>(d, r0, j0, j1, t, tail_mask(int(d.dv - t)));
  }
}

void decode_avx2(const DecodeBlock& d) {
  const __m256 ninf = _mm256_set1_ps(-__builtin_inff());
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  // Scores with masks: key groups outer so the 8 key rows stay in L1 for every query row.
  __m256 mx[kDecodeMaxRows];
  for (int r = 0; r < d.rows; ++r) mx[r] = _mm256_set1_ps(d.m[r]);
  for (int64_t j = 0; j < d.nk; j += W) {
    const float* k8[8];
    for (int jj = 0; jj < 8; ++jj) k8[jj] = d.k + (j + jj < d.nk ? j + jj : j) * d.ldk;
    for (int r = 0; r < d.rows; ++r) {
      __m256 x = dot8(d.q + r * d.ldq, k8, d.d);
      if (d.bias) {
        const float* b = d.bias + r * d.ldbias + j;
        x = _mm256_add_ps(x, j + W <= d.nk ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, tail_mask(int(d.nk - j))));
      }
      int64_t lim = d.nk - j;  // lanes >= lim are past the block or causally masked
      if (d.limit && d.limit[r] - j < lim) lim = d.limit[r] - j;
      if (lim < W) {
        const __m256i l8 = _mm256_set1_epi32(lim < 0 ? 0 : int(lim));
        x = _mm256_blendv_ps(ninf, x, _mm256_castsi256_ps(_mm256_cmpgt_epi32(l8, iota)));
      }
      _mm256_store_ps(d.s + r * d.lds + j, x);
      mx[r] = _mm256_max_ps(x, mx[r]);
    }
  }
  // Online softmax per row: p = exp(s - m'), o ← alpha·o.
  const int64_t nkp = (d.nk + W - 1) / W * W;
  for (int r = 0; r < d.rows; ++r) {
    float* s = d.s + r * d.lds;
    const float m_new = hmax(mx[r]);
    const float safe = m_new == -__builtin_inff() ? 0.0f : m_new;
    const __m256 sv = _mm256_set1_ps(safe);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < nkp; j += W) {
      const __m256 p = exp(_mm256_sub_ps(_mm256_load_ps(s + j), sv));
      _mm256_store_ps(s + j, p);
      sum = _mm256_add_ps(sum, p);
    }
    const __m256 al = exp(_mm256_set1_ps(d.m[r] - safe));
    d.l[r] = _mm256_cvtss_f32(al) * d.l[r] + hsum(sum);
    d.m[r] = m_new;
    float* o = d.o + r * d.ldo;
    for (int64_t t = 0; t < d.dv; t += W) _mm256_store_ps(o + t, _mm256_mul_ps(al, _mm256_load_ps(o + t)));
  }
  // o[r] += Σ_j p[r][j]·v[j], rows in groups of up to four.
  int r0 = 0;
  for (; r0 + 4 <= d.rows; r0 += 4) pv_rows<4>(d, r0);
  switch (d.rows - r0) {
    case 3: pv_rows<3>(d, r0); break;
    case 2: pv_rows<2>(d, r0); break;
    case 1: pv_rows<1>(d, r0); break;
    default: break;
  }
}

// ---- query block packing: 8×8 transposes ----------------------------------------------------------

// r[0..7] (rows) → columns, in place.
static inline void transpose8(__m256* r) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

void pack_transposed_avx2(const float* src, int64_t sl, int64_t n, int64_t D, float scale, float* dst, int64_t ld) {
  const __m256 sc = _mm256_set1_ps(scale);
  const int64_t n8 = n / W * W, d8 = D / W * W;
  for (int64_t i0 = 0; i0 < n8; i0 += W)
    for (int64_t d0 = 0; d0 < d8; d0 += W) {
      __m256 r[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_mul_ps(sc, _mm256_loadu_ps(src + (i0 + k) * sl + d0));
      transpose8(r);
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + (d0 + k) * ld + i0, r[k]);
    }
  for (int64_t i = 0; i < n8; ++i)  // d tail
    for (int64_t d = d8; d < D; ++d) dst[d * ld + i] = scale * src[i * sl + d];
  const int64_t np = (n + W - 1) / W * W;  // row tail and zero lanes
  for (int64_t d = 0; d < D; ++d)
    for (int64_t i = n8; i < np; ++i) dst[d * ld + i] = i < n ? scale * src[i * sl + d] : 0.0f;
}

void unpack_transposed_avx2(const float* src, int64_t ld, int64_t n, int64_t D, const float* rowscale, float* dst,
                            int64_t sl) {
  const int64_t n8 = n / W * W, d8 = D / W * W;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t i0 = 0; i0 < n8; i0 += W)
    for (int64_t d0 = 0; d0 < d8; d0 += W) {
      __m256 r[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + (d0 + k) * ld + i0);
      transpose8(r);  // r[k] = row i0 + k, columns d0 .. d0 + 7
      for (int k = 0; k < 8; ++k) {
        const __m256 f = _mm256_set1_ps(rowscale[i0 + k]);
        const __m256 keep = _mm256_cmp_ps(f, zero, _CMP_NEQ_UQ);  // rowscale 0: exactly 0, even for inf/NaN
        _mm256_storeu_ps(dst + (i0 + k) * sl + d0, _mm256_and_ps(keep, _mm256_mul_ps(f, r[k])));
      }
    }
  for (int64_t i = 0; i < n; ++i) {
    const float f = rowscale[i];
    for (int64_t d = i < n8 ? d8 : 0; d < D; ++d) dst[i * sl + d] = f == 0.0f ? 0.0f : f * src[d * ld + i];
  }
}

const Leaves kAvx2 = {"avx2",      W,           MR,          48, 192, 64, PW, gemm_avx2, attend_avx2, softmax_bwd_avx2,
                      decode_avx2, pack_transposed_avx2, unpack_transposed_avx2};

}  // namespace

const Leaves& leaves_avx2() { return kAvx2; }

}  // namespace attn
}  // namespace fastnn
