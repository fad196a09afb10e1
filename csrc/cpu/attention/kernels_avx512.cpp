// AVX-512 leaf kernels for flash attention (contracts in kernels.h; structure as kernels_avx2.cpp).
//
// Register tile 8×48: 24 ZMM accumulators + 3 B vectors + 1 broadcast (28 of 32 registers).
// Per k: 3 aligned loads, 8 broadcasts, 24 FMAs.
// Compiled and dispatched, but not run on the development machine (Zen 3 has no AVX-512).
#include <immintrin.h>

#include "cpu/attention/kernels.h"
#include "cpu/simd/avx512.h"

// GCC 12 reports the _mm512_undefined_ps() operand of the masked min/max/roundscale builtins
// inside simd_avx512::exp as "may be used uninitialized" (a false positive in its headers).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace fastnn {
namespace attn {
namespace {

using namespace simd_avx512;

constexpr int W = kWidth;  // 16 floats
constexpr int MR = 8, NVMAX = 3;

// ---- C[R × NV·16] (mode)= Σ_k A(r, k) · B[k][:] ----------------------------------------------------

// The unroll pragmas keep the accumulator array in registers (see kernels_avx2.cpp).
template <int R, int NV>
void gemm_tile(int64_t kc, const float* a, int64_t rsa, int64_t ksa, const float* b, int64_t ldb, float* c,
               int64_t ldc, GemmMode mode, const float* alpha) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  if (mode != GemmMode::store) {  // C is read back after the k loop: fetch it now (see kernels_avx2.cpp)
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
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(ar[r][ka]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
  if (mode == GemmMode::store) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) _mm512_store_ps(c + r * ldc + v * W, acc[r][v]);
  } else if (mode == GemmMode::accumulate) {
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * W;
        _mm512_store_ps(p, _mm512_add_ps(_mm512_load_ps(p), acc[r][v]));
      }
  } else {
    __m512 al[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) al[v] = _mm512_load_ps(alpha + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + r * ldc + v * W;
        _mm512_store_ps(p, _mm512_fmadd_ps(al[v], _mm512_load_ps(p), acc[r][v]));
      }
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, GemmMode,
                        const float*);

#define FASTNN_TILE_ROW(R) {gemm_tile<R, 1>, gemm_tile<R, 2>, gemm_tile<R, 3>}
const TileFn kTiles[MR][NVMAX] = {FASTNN_TILE_ROW(1), FASTNN_TILE_ROW(2), FASTNN_TILE_ROW(3), FASTNN_TILE_ROW(4),
                                  FASTNN_TILE_ROW(5), FASTNN_TILE_ROW(6), FASTNN_TILE_ROW(7), FASTNN_TILE_ROW(8)};
#undef FASTNN_TILE_ROW

// 6×64 tiles (24 accumulators, 4 loads and 6 broadcasts per k) for widths that are a multiple of 64 but
// not of 48: the backward's dK/dV products (n = D = 64, 128), where 8×48 panels would end in an 8×16 or
// 8×32 tile (the AVX2 twin does the same with 3×32; measured there: dK/dV products +10-15%).
constexpr int MR64 = 6;
const TileFn kTiles64[MR64] = {gemm_tile<1, 4>, gemm_tile<2, 4>, gemm_tile<3, 4>,
                               gemm_tile<4, 4>, gemm_tile<5, 4>, gemm_tile<6, 4>};

void gemm_avx512(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t ksa, const float* b,
                 int64_t ldb, float* c, int64_t ldc, GemmMode mode, const float* alpha) {
  if (n % (NVMAX * W) != 0 && n % (4 * W) == 0) {
    for (int64_t j0 = 0; j0 < n; j0 += 4 * W) {
      const float* al = alpha ? alpha + j0 : nullptr;
      int64_t r0 = 0;
      for (; r0 + MR64 <= m; r0 += MR64)
        kTiles64[MR64 - 1](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
      if (r0 < m) kTiles64[m - r0 - 1](k, a + r0 * rsa, rsa, ksa, b + j0, ldb, c + r0 * ldc + j0, ldc, mode, al);
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

static inline __m512 masked_score(const ScoreBlock& blk, int64_t j, int64_t i0, __m512 x) {
  if (blk.bias_row) x = _mm512_add_ps(x, _mm512_set1_ps(blk.bias_row[j]));
  if (blk.bias_tile) x = _mm512_add_ps(x, _mm512_loadu_ps(blk.bias_tile + j * blk.ldbias + i0));
  if (blk.causal_thr != kNoCausal) {
    const int64_t t = blk.causal_thr + j - i0;  // lanes < t are masked
    if (t > 0) x = _mm512_mask_mov_ps(x, tail_mask(t > W ? W : int(t)), _mm512_set1_ps(-__builtin_inff()));
  }
  return x;
}

static inline bool has_masks(const ScoreBlock& blk) {
  return blk.bias_row || blk.bias_tile || blk.causal_thr != kNoCausal;
}

// ---- fused forward step (FwdBlock; structure as kernels_avx2.cpp) ---------------------------------

constexpr int PW = NVMAX * W;  // lanes per panel: the score panel s is [nk][PW], 12 KB at bk = 64

template <int R, int NV, bool kMax>
static inline void qk_tile(int64_t d, const float* k, int64_t ldk, const float* qt, int64_t ldq, float* s, float* mx) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  const float* kr[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) kr[r] = k + r * ldk;
  for (int64_t t = 0; t < d; ++t, qt += ldq) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(qt + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(kr[r][t]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_store_ps(s + r * PW + v * W, acc[r][v]);
  if (kMax) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      __m512 m = _mm512_load_ps(mx + v * W);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) m = _mm512_max_ps(acc[r][v], m);
      _mm512_store_ps(mx + v * W, m);
    }
  }
}

template <int R, int NV>
static inline void pv_tile(int64_t nk, const float* v, int64_t ldv, const float* p, float* o, int64_t ldo,
                           const float* alpha) {
  __m512 acc[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      acc[r][v] = _mm512_setzero_ps();
      _mm_prefetch(reinterpret_cast<const char*>(o + r * ldo + v * W), _MM_HINT_T0);
    }
  for (int64_t j = 0; j < nk; ++j, v += ldv, p += PW) {
    __m512 bv[NV];
#pragma GCC unroll 4
    for (int c = 0; c < NV; ++c) bv[c] = _mm512_load_ps(p + c * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(v[r]);
#pragma GCC unroll 4
      for (int c = 0; c < NV; ++c) acc[r][c] = _mm512_fmadd_ps(x, bv[c], acc[r][c]);
    }
  }
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m512 al = _mm512_load_ps(alpha + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      float* c = o + r * ldo + v * W;
      _mm512_store_ps(c, _mm512_fmadd_ps(al, _mm512_load_ps(c), acc[r][v]));
    }
  }
}

template <int R, int NV, bool kMax>
static void qk_rows(const FwdBlock& f, int64_t j, int64_t i0, float* mx) {
  qk_tile<R, NV, kMax>(f.d, f.k + j * f.ldk, f.ldk, f.qt + i0, f.ldq, f.s + j * PW, mx);
}

template <int NV, bool kMax>
static void qk_panel(const FwdBlock& f, int64_t i0, float* mx) {
  int64_t j = 0;
  for (; j + MR <= f.nk; j += MR) qk_rows<MR, NV, kMax>(f, j, i0, mx);
  switch (f.nk - j) {
    case 7: qk_rows<7, NV, kMax>(f, j, i0, mx); break;
    case 6: qk_rows<6, NV, kMax>(f, j, i0, mx); break;
    case 5: qk_rows<5, NV, kMax>(f, j, i0, mx); break;
    case 4: qk_rows<4, NV, kMax>(f, j, i0, mx); break;
    case 3: qk_rows<3, NV, kMax>(f, j, i0, mx); break;
    case 2: qk_rows<2, NV, kMax>(f, j, i0, mx); break;
    case 1: qk_rows<1, NV, kMax>(f, j, i0, mx); break;
    default: break;
  }
}

template <int R, int NV>
static void pv_rows(const FwdBlock& f, int64_t t, int64_t i0, const float* alpha) {
  pv_tile<R, NV>(f.nk, f.v + t, f.ldv, f.s, f.ot + t * f.ldo + i0, f.ldo, alpha);
}

template <int NV>
static void attend_panel(const FwdBlock& f, const ScoreBlock& masks, int64_t i0) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  alignas(64) float mx[NV * W];
  alignas(64) float alpha[NV * W];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) _mm512_store_ps(mx + v * W, ninf);
  if (!has_masks(masks)) {
    qk_panel<NV, true>(f, i0, mx);
  } else {
    qk_panel<NV, false>(f, i0, mx);
    for (int64_t j = 0; j < f.nk; ++j)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* sp = f.s + j * PW + v * W;
        const __m512 x = masked_score(masks, j, i0 + v * W, _mm512_load_ps(sp));
        _mm512_store_ps(sp, x);
        _mm512_store_ps(mx + v * W, _mm512_max_ps(x, _mm512_load_ps(mx + v * W)));
      }
  }
  __m512 safe[NV], sum[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const __m512 m_old = _mm512_load_ps(f.m + i0 + v * W);
    const __m512 m_new = _mm512_max_ps(_mm512_load_ps(mx + v * W), m_old);
    safe[v] = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m_new, ninf, _CMP_NEQ_UQ), m_new);  // -inf → 0
    _mm512_store_ps(alpha + v * W, exp2_softmax(_mm512_sub_ps(m_old, safe[v])));
    _mm512_store_ps(f.m + i0 + v * W, m_new);
    sum[v] = _mm512_setzero_ps();
  }
  for (int64_t j = 0; j < f.nk; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      float* sp = f.s + j * PW + v * W;
      const __m512 p = exp2_softmax(_mm512_sub_ps(_mm512_load_ps(sp), safe[v]));
      _mm512_store_ps(sp, p);
      sum[v] = _mm512_add_ps(sum[v], p);
    }
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    float* l = f.l + i0 + v * W;
    _mm512_store_ps(l, _mm512_fmadd_ps(_mm512_load_ps(alpha + v * W), _mm512_load_ps(l), sum[v]));
  }
  int64_t t = 0;
  for (; t + MR <= f.dv; t += MR) pv_rows<MR, NV>(f, t, i0, alpha);
  switch (f.dv - t) {
    case 7: pv_rows<7, NV>(f, t, i0, alpha); break;
    case 6: pv_rows<6, NV>(f, t, i0, alpha); break;
    case 5: pv_rows<5, NV>(f, t, i0, alpha); break;
    case 4: pv_rows<4, NV>(f, t, i0, alpha); break;
    case 3: pv_rows<3, NV>(f, t, i0, alpha); break;
    case 2: pv_rows<2, NV>(f, t, i0, alpha); break;
    case 1: pv_rows<1, NV>(f, t, i0, alpha); break;
    default: break;
  }
}

void attend_avx512(const FwdBlock& f) {
  const ScoreBlock masks{f.s, PW, f.nk, f.n, f.bias_row, f.bias_tile, f.ldbias, f.causal_thr};
  int64_t i0 = 0;
  for (; i0 + PW <= f.n; i0 += PW) attend_panel<NVMAX>(f, masks, i0);
  if (f.n - i0 == 2 * W) attend_panel<2>(f, masks, i0);
  if (f.n - i0 == W) attend_panel<1>(f, masks, i0);
}

// ---- backward ---------------------------------------------------------------------------------------

void softmax_bwd_avx512(const ScoreBlock& blk, const float* lse, const float* delta, float* dp, int64_t lddp) {
  const bool masked = has_masks(blk);
  for (int64_t i0 = 0; i0 < blk.n; i0 += W) {
    const __m512 ls = _mm512_load_ps(lse + i0), de = _mm512_load_ps(delta + i0);
    for (int64_t j = 0; j < blk.nk; ++j) {
      float* ps = blk.s + j * blk.lds + i0;
      float* pd = dp + j * lddp + i0;
      __m512 x = _mm512_load_ps(ps);
      if (masked) x = masked_score(blk, j, i0, x);
      const __m512 p = exp2_softmax(_mm512_sub_ps(x, ls));
      _mm512_store_ps(ps, p);
      _mm512_store_ps(pd, _mm512_mul_ps(p, _mm512_sub_ps(_mm512_load_ps(pd), de)));
    }
  }
}

// ---- decode (structure as kernels_avx2.cpp) ----------------------------------------------------------

// Eight horizontal sums (one per ymm) as one ymm.
static inline __m256 hsum8(const __m256* a) {
  const __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 h0123 = _mm256_hadd_ps(h01, h23), h4567 = _mm256_hadd_ps(h45, h67);
  return _mm256_add_ps(_mm256_permute2f128_ps(h0123, h4567, 0x20), _mm256_permute2f128_ps(h0123, h4567, 0x31));
}

// Sixteen dot products q·k_jj as one vector (lane jj); k16 holds the row pointers.
static inline __m512 dot16(const float* q, const float* const* k16, int64_t d) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int jj = 0; jj < 16; ++jj) acc[jj] = _mm512_setzero_ps();
  const int64_t full = d / W * W;
  for (int64_t t = 0; t < full; t += W) {
    const __m512 qv = _mm512_load_ps(q + t);
#pragma GCC unroll 16
    for (int jj = 0; jj < 16; ++jj) acc[jj] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k16[jj] + t), acc[jj]);
  }
  if (full < d) {
    const __mmask16 m = tail_mask(int(d - full));
    const __m512 qv = _mm512_load_ps(q + full);
#pragma GCC unroll 16
    for (int jj = 0; jj < 16; ++jj)
      acc[jj] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, k16[jj] + full), acc[jj]);
  }
  __m256 half[16];
#pragma GCC unroll 16
  for (int jj = 0; jj < 16; ++jj)
    half[jj] = _mm256_add_ps(_mm512_castps512_ps256(acc[jj]), _mm512_extractf32x8_ps(acc[jj], 1));
  return _mm512_insertf32x8(_mm512_castps256_ps512(hsum8(half)), hsum8(half + 8), 1);
}

template <int R, int NV, bool kMasked>
static inline void pv_strip(const DecodeBlock& d, int r0, int64_t j0, int64_t j1, int64_t t, __mmask16 tail) {
  __m512 acc[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_load_ps(d.o + (r0 + r) * d.ldo + t + v * W);
  for (int64_t j = j0; j < j1; ++j) {
    const float* vj = d.v + j * d.ldv + t;
    __m512 vv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) vv[v] = kMasked ? _mm512_maskz_loadu_ps(tail, vj) : _mm512_loadu_ps(vj + v * W);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m512 p = _mm512_set1_ps(d.s[(r0 + r) * d.lds + j]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(p, vv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_store_ps(d.o + (r0 + r) * d.ldo + t + v * W, acc[r][v]);
}

template <int R>
static void pv_rows(const DecodeBlock& d, int r0) {
  constexpr int NV = R == 1 ? 8 : (R == 2 ? 6 : 4);
  constexpr int64_t kChunk = 32;
  const int64_t full = d.dv / W * W;
  for (int64_t j0 = 0; j0 < d.nk; j0 += kChunk) {
    const int64_t j1 = d.nk - j0 < kChunk ? d.nk : j0 + kChunk;
    int64_t t = 0;
    for (; t + NV * W <= full; t += NV * W) pv_strip<R, NV, false>(d, r0, j0, j1, t, 0);
    for (; t < full; t += W) pv_strip<R, 1, false>(d, r0, j0, j1, t, 0);
    if (t < d.dv) pv_strip<R, 1, true>(d, r0, j0, j1, t, tail_mask(int(d.dv - t)));
  }
}

void decode_avx512(const DecodeBlock& d) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  __m512 mx[kDecodeMaxRows];
  for (int r = 0; r < d.rows; ++r) mx[r] = _mm512_set1_ps(d.m[r]);
  for (int64_t j = 0; j < d.nk; j += W) {
    const float* k16[16];
    for (int jj = 0; jj < 16; ++jj) k16[jj] = d.k + (j + jj < d.nk ? j + jj : j) * d.ldk;
    for (int r = 0; r < d.rows; ++r) {
      __m512 x = dot16(d.q + r * d.ldq, k16, d.d);
      if (d.bias) {
        const float* b = d.bias + r * d.ldbias + j;
        x = _mm512_add_ps(x, j + W <= d.nk ? _mm512_loadu_ps(b) : _mm512_maskz_loadu_ps(tail_mask(int(d.nk - j)), b));
      }
      int64_t lim = d.nk - j;
      if (d.limit && d.limit[r] - j < lim) lim = d.limit[r] - j;
      if (lim < W) x = _mm512_mask_mov_ps(ninf, tail_mask(lim < 0 ? 0 : int(lim)), x);
      _mm512_store_ps(d.s + r * d.lds + j, x);
      mx[r] = _mm512_max_ps(x, mx[r]);
    }
  }
  const int64_t nkp = (d.nk + W - 1) / W * W;
  for (int r = 0; r < d.rows; ++r) {
    float* s = d.s + r * d.lds;
    const float m_new = hmax(mx[r]);
    const float safe = m_new == -__builtin_inff() ? 0.0f : m_new;
    const __m512 sv = _mm512_set1_ps(safe);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < nkp; j += W) {
      const __m512 p = exp(_mm512_sub_ps(_mm512_load_ps(s + j), sv));
      _mm512_store_ps(s + j, p);
      sum = _mm512_add_ps(sum, p);
    }
    const __m512 al = exp(_mm512_set1_ps(d.m[r] - safe));
    d.l[r] = _mm512_cvtss_f32(al) * d.l[r] + hsum(sum);
    d.m[r] = m_new;
    float* o = d.o + r * d.ldo;
    for (int64_t t = 0; t < d.dv; t += W) _mm512_store_ps(o + t, _mm512_mul_ps(al, _mm512_load_ps(o + t)));
  }
  int r0 = 0;
  for (; r0 + 4 <= d.rows; r0 += 4) pv_rows<4>(d, r0);
  switch (d.rows - r0) {
    case 3: pv_rows<3>(d, r0); break;
    case 2: pv_rows<2>(d, r0); break;
    case 1: pv_rows<1>(d, r0); break;
    default: break;
  }
}

// ---- query block packing: 8×8 transposes on YMM halves (lanes are padded to 16) ---------------------

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

void pack_transposed_avx512(const float* src, int64_t sl, int64_t n, int64_t D, float scale, float* dst,
                            int64_t ld) {
  const __m256 sc = _mm256_set1_ps(scale);
  const int64_t n8 = n / 8 * 8, d8 = D / 8 * 8;
  for (int64_t i0 = 0; i0 < n8; i0 += 8)
    for (int64_t d0 = 0; d0 < d8; d0 += 8) {
      __m256 r[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_mul_ps(sc, _mm256_loadu_ps(src + (i0 + k) * sl + d0));
      transpose8(r);
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(dst + (d0 + k) * ld + i0, r[k]);
    }
  for (int64_t i = 0; i < n8; ++i)
    for (int64_t d = d8; d < D; ++d) dst[d * ld + i] = scale * src[i * sl + d];
  const int64_t np = (n + W - 1) / W * W;
  for (int64_t d = 0; d < D; ++d)
    for (int64_t i = n8; i < np; ++i) dst[d * ld + i] = i < n ? scale * src[i * sl + d] : 0.0f;
}

void unpack_transposed_avx512(const float* src, int64_t ld, int64_t n, int64_t D, const float* rowscale, float* dst,
                              int64_t sl) {
  const int64_t n8 = n / 8 * 8, d8 = D / 8 * 8;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t i0 = 0; i0 < n8; i0 += 8)
    for (int64_t d0 = 0; d0 < d8; d0 += 8) {
      __m256 r[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + (d0 + k) * ld + i0);
      transpose8(r);
      for (int k = 0; k < 8; ++k) {
        const __m256 f = _mm256_set1_ps(rowscale[i0 + k]);
        const __m256 keep = _mm256_cmp_ps(f, zero, _CMP_NEQ_UQ);
        _mm256_storeu_ps(dst + (i0 + k) * sl + d0, _mm256_and_ps(keep, _mm256_mul_ps(f, r[k])));
      }
    }
  for (int64_t i = 0; i < n; ++i) {
    const float f = rowscale[i];
    for (int64_t d = i < n8 ? d8 : 0; d < D; ++d) dst[i * sl + d] = f == 0.0f ? 0.0f : f * src[d * ld + i];
  }
}

const Leaves kAvx512 = {"avx512",      W,          MR,          96, 192, 64, PW, gemm_avx512, attend_avx512,
                        softmax_bwd_avx512, decode_avx512, pack_transposed_avx512, unpack_transposed_avx512};

}  // namespace

const Leaves& leaves_avx512() { return kAvx512; }

}  // namespace attn
}  // namespace fastnn
