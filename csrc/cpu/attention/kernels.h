#pragma once
// Leaf kernels of CPU flash attention, one row per ISA (generic reference, AVX2, AVX-512).
//
// Layout used by the flash loops (forward and backward): the score tile is kept TRANSPOSED,
// Sᵀ[key j][query i], with queries in the vector lanes. Then
//   * the online-softmax reductions over keys (row max, row sum) are vertical vector ops,
//   * the per-query rescale factor and log-sum-exp are one vector per lane group,
//   * every product has the form  C[r][lanes] op= Σ_k A(r, k) · B[k][lanes]  with A read by
//     scalar broadcast through arbitrary strides — so q/k/v views of any layout (a fused QKV
//     projection, transposed, negative strides) are read in place, never copied:
//       forward  Sᵀ  = K · (scale·Q)ᵀ          A = K   (r = key,   k = d)
//                Oᵀ  = α⊙Oᵀ + Vᵀ · Pᵀ          A = V   (r = d,     k = key)
//       backward dPᵀ = V · dOᵀ,  dQᵀ += Kᵀ·dSᵀ,  dV += Pᵀ·dO,  dK += dSᵀ·Q
// "lanes" dimensions (queries here, d for dK/dV) are padded to a multiple of the ISA's vector
// width inside the driver's scratch, so kernels never mask lanes; rows may be any count.
//
// Everything here is plain data and function pointers: ISA translation units hold the
// kernels, the driver (attention_*.cpp, baseline flags) owns loops over blocks and threads.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {
namespace attn {

enum class GemmMode : int {
  store = 0,       // C = A·B
  accumulate = 1,  // C += A·B
  rescale = 2,     // C = alpha[j] ⊙ C + A·B   (alpha indexed by lane)
};

// "No causal mask in this block" for ScoreBlock::causal_thr.
constexpr int64_t kNoCausal = INT64_MIN / 4;

// One transposed score tile Sᵀ[nk][n] (rows = keys, lanes = queries; n a multiple of lanes).
// Masks are applied in place before the softmax: lane i of row j gets
//   s += bias_row[j] (if set) + bias_tile[j*ldbias + i] (if set);  s = -inf if i < causal_thr + j.
struct ScoreBlock {
  float* s;
  int64_t lds;
  int64_t nk, n;
  const float* bias_row;   // [nk] or nullptr
  const float* bias_tile;  // [nk][ldbias] or nullptr
  int64_t ldbias;
  int64_t causal_thr;      // kNoCausal when the block needs no causal mask
};

// One forward step over a key block, for lanes [0, n) of a query block. Scores are in base-2 units
// (Q pre-scaled by scale·log2 e, masks by log2 e), so p = 2^(s - m). The leaf walks the lanes in
// panels (Leaves::panel wide) and, per panel, computes Sᵀ = K·Qᵀ into the scratch panel s (which
// stays in L1), applies the masks as ScoreBlock does, updates the online softmax
//   m' = max(m, max_j s), alpha = 2^(m - m'), p = 2^(s - m'), l ← alpha·l + Σ_j p, m ← m',
// and accumulates Oᵀ ← alpha ⊙ Oᵀ + Vᵀ·Pᵀ. Rows with m' = -inf (no key so far) keep p = 0 and
// alpha = 0, never NaN. K and V rows are read in place (d contiguous, any row stride: the driver
// copies blocks whose layout would not do).
struct FwdBlock {
  int64_t nk, d, dv, n;     // keys, head dims, lanes (n a multiple of Leaves::lanes)
  const float* k;           // K block [nk][ldk]
  int64_t ldk;
  const float* v;           // V block [nk][ldv]
  int64_t ldv;
  const float* qt;          // (scale·log2e·Q)ᵀ [d][ldq]
  int64_t ldq;
  float* ot;                // Oᵀ [dv][ldo], unnormalised
  int64_t ldo;
  float* m;                 // [n] running max, base 2 (-inf initially)
  float* l;                 // [n] running sum (0 initially)
  float* s;                 // scratch [bk][panel], 64-byte aligned
  const float* bias_row;    // [nk] or nullptr (base-2 units)
  const float* bias_tile;   // [nk][ldbias], lane-indexed from lane 0, or nullptr (base-2 units)
  int64_t ldbias;
  int64_t causal_thr;       // lane i of key row j is masked when i < causal_thr + j; kNoCausal: none
};

// The decode path: a few query rows against a block of keys, keys in the vector lanes.
// Online-softmax state (m, l, o) persists across calls; o is unnormalised.
constexpr int kDecodeMaxRows = 8;
struct DecodeBlock {
  int rows;                 // 1..kDecodeMaxRows
  int64_t nk, d, dv;
  const float* q;           // [rows][ldq], already multiplied by scale, zero past d
  int64_t ldq;
  const float* k;           // [nk][d], row stride ldk, d contiguous
  int64_t ldk;
  const float* v;           // [nk][dv], row stride ldv, dv contiguous
  int64_t ldv;
  const float* bias;        // [rows][ldbias] additive (bool masks arrive as 0 / -inf), or nullptr
  int64_t ldbias;
  const int64_t* limit;     // [rows]: key j (block-relative) is masked when j >= limit[r]; or nullptr
  float* s;                 // scratch [rows][lds], lds >= nk rounded up to lanes
  int64_t lds;
  float* m;                 // [rows] running max (-inf initially)
  float* l;                 // [rows] running sum of exp (0 initially)
  float* o;                 // [rows][ldo] running Σ p·v (0 initially), ldo >= dv rounded up to lanes
  int64_t ldo;
};

struct Leaves {
  const char* name;
  int lanes;  // vector width in floats; every lanes dimension is padded to a multiple of it
  int mr;     // rows of the register tile (multiples of it avoid edge tiles)
  int bq;     // smallest query block (a multiple of lanes and of the register tile's lane width)
  int bq_max; // largest query block, bq·2^n: larger blocks read K and V fewer times
  int bk;     // keys per block
  int panel;  // lanes per panel of the fused forward step (a multiple of lanes)

  // C[m][n] (mode)= Σ_{kk<k} a[r*rsa + kk*ksa] · b[kk*ldb + j],  n and ldb, ldc multiples of lanes,
  // b and c 32-byte aligned. alpha: [n] for GemmMode::rescale, else unused.
  void (*gemm)(int64_t m, int64_t n, int64_t k, const float* a, int64_t rsa, int64_t ksa, const float* b,
               int64_t ldb, float* c, int64_t ldc, GemmMode mode, const float* alpha);

  // The fused forward step over one key block (FwdBlock).
  void (*attend)(const FwdBlock& f);

  // Backward: applies the masks, then p = 2^(s - lse) written to s, and dp ← p ⊙ (dp - delta); s, lse
  // and the masks in base-2 units. lse must already be +inf for rows without keys (so p = 0),
  // delta = rowsum(dO ⊙ O).
  void (*softmax_bwd)(const ScoreBlock& blk, const float* lse, const float* delta, float* dp, int64_t lddp);

  void (*decode)(const DecodeBlock& blk);

  // Packing a query block into lanes and back (d contiguous on the caller's side):
  //   pack:   dst[d*ld + i] = scale·src[i*sl + d]   i < n, d < D; zeros in lanes [n, round_up(n, lanes))
  //   unpack: dst[i*sl + d] = rowscale[i]·src[d*ld + i]   i < n, d < D; exactly 0 where rowscale[i] == 0
  void (*pack_transposed)(const float* src, int64_t sl, int64_t n, int64_t D, float scale, float* dst, int64_t ld);
  void (*unpack_transposed)(const float* src, int64_t ld, int64_t n, int64_t D, const float* rowscale, float* dst,
                            int64_t sl);
};

const Leaves& leaves_generic();
#if defined(FASTNN_X86)
const Leaves& leaves_avx2();
const Leaves& leaves_avx512();
#endif

// The dispatch table: row 0 is the generic reference twin.
const Leaves& leaves_for(Isa isa);

}  // namespace attn
}  // namespace fastnn
