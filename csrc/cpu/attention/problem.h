#pragma once
// An attention problem after validation: sizes, raw pointers with element strides, the mask,
// and helpers shared by the forward, decode and backward drivers.
//
//   q (B, Hq, Lq, D)   k (B, Hkv, Lk, D)   v (B, Hkv, Lk, Dv)   mask broadcast to (B, Hq, Lq, Lk)
//   query head h reads kv head h / (Hq / Hkv);  causal: query i sees key j iff j <= i + Lk - Lq
#include <cstdint>

#include "common/tensor.h"
#include "cpu/attention/kernels.h"

namespace fastnn {
namespace attn {

struct Operand {  // a (B, H, L, D) view: base pointer and element strides
  float* p = nullptr;
  int64_t sb = 0, sh = 0, sl = 0, sd = 0;
  float* at(int64_t b, int64_t h, int64_t l) const { return p + b * sb + h * sh + l * sl; }
};

struct Lse {  // (B, H, L) float32, or p == nullptr
  float* p = nullptr;
  int64_t sb = 0, sh = 0, sl = 0;
  float* at(int64_t b, int64_t h, int64_t l) const { return p + b * sb + h * sh + l * sl; }
};

struct Mask {  // boolean (True = keep) or additive float32, any strides (0 = broadcast)
  const void* p = nullptr;
  bool is_bool = false;
  int64_t sb = 0, sh = 0, si = 0, sj = 0;
  // Additive bias of element (b, h, i, j): 0 / -inf for boolean masks.
  float bias(int64_t b, int64_t h, int64_t i, int64_t j) const {
    const int64_t off = b * sb + h * sh + i * si + j * sj;
    if (is_bool) return static_cast<const bool*>(p)[off] ? 0.0f : -__builtin_inff();
    return static_cast<const float*>(p)[off];
  }
};

struct Problem {
  int64_t B = 0, Hq = 0, Hkv = 0, Lq = 0, Lk = 0, D = 0, Dv = 0;
  int64_t rep = 1;   // query heads per kv head
  int64_t off = 0;   // causal diagonal offset Lk - Lq
  bool causal = false;
  float scale = 1.0f;
  Operand q, k, v;
  Mask mask;

  // Keys [0, kend) that query rows [q0, q0 + nq) may see (causal), clamped to [0, Lk].
  int64_t key_end(int64_t q0, int64_t nq) const {
    if (!causal) return Lk;
    const int64_t e = q0 + nq + off;
    return e < 0 ? 0 : (e > Lk ? Lk : e);
  }
};

// Validates q, k, v, the optional mask (data == nullptr: none) and scale, for `fn`.
Problem make_problem(const char* fn, const TensorView& q, const TensorView& k, const TensorView& v,
                     const TensorView& mask, bool causal, double scale);

// Checks that `t` is float32 with exactly `shape`, non-overlapping (no zero stride on a dim > 1).
void check_output(const char* fn, const char* arg, const TensorView& t, int ndim, const int64_t* shape);
// Checks that `t` is a float32 input with exactly `shape`.
void check_input(const char* fn, const char* arg, const TensorView& t, int ndim, const int64_t* shape);

Operand operand_of(const TensorView& t);
Lse lse_of(const TensorView& t);  // data == nullptr → p == nullptr

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2 = 0.693147180559945309f;

// Row stride (floats) for a scratch buffer whose rows hold n floats: a multiple of 16 (64-byte rows
// for aligned AVX-512 loads) that is an ODD number of cache lines. A stride of an even number of
// lines folds a tile's rows onto a fraction of the L1 sets (768-byte rows use 16 of 64; 512-byte
// rows 8), and the tiles then evict each other; an odd stride spreads them over every set.
inline int64_t padded_ld(int64_t n) {
  const int64_t ld = round_up(n > 0 ? n : 1, 16);
  return (ld / 16) % 2 == 0 ? ld + 16 : ld;
}

// Whether K or V blocks are copied before use: when D is not contiguous, or when the row stride is a
// multiple of 512 bytes (D = 128, or a fused QKV layout) so that a 64-row block folds onto at most 8
// of the 64 L1 sets. Other layouts are read in place (copying would cost ~3% at D = 64).
inline bool worth_packing(int64_t sl, int64_t sd) { return sd != 1 || sl % 128 == 0; }

// Copies rows [0, nk) of a (rows, n) view with element strides (sl, sd) into dst [nk][ld].
void pack_rows(const float* src, int64_t sl, int64_t sd, int64_t nk, int64_t n, float* dst, int64_t ld);

// Leaves::pack_transposed / unpack_transposed for any element stride sd along D (the leaves need
// sd == 1; other layouts take a scalar loop).
void pack_transposed(const Leaves& lv, const float* src, int64_t sl, int64_t sd, int64_t n, int64_t D, float scale,
                     float* dst, int64_t ld);
void unpack_transposed(const Leaves& lv, const float* src, int64_t ld, int64_t n, int64_t D, const float* rowscale,
                       float* dst, int64_t sl, int64_t sd);

// Prefetches rows [0, nk) of a (rows, n) view (element strides sl, sd) toward L2, one request per
// 64-byte line. The next key block's K and V rows are requested while the current block computes:
// at L >= 2048 a head's K and V (and the backward's dK/dV accumulators) no longer fit L2, and the
// first product to touch a block otherwise waits on L3 (S = K·Qᵀ and dP = V·dOᵀ ran at 75% of the
// speed they reach when the block is in L2).
inline void prefetch_rows(const float* src, int64_t sl, int64_t sd, int64_t nk, int64_t n) {
  if (sd != 1) return;  // copied blocks: the copy reads them
  for (int64_t j = 0; j < nk; ++j) {
    const char* row = reinterpret_cast<const char*>(src + j * sl);
    const int64_t bytes = n * int64_t(sizeof(float));
    for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(row + o, 0, 2);
    __builtin_prefetch(row + bytes - 1, 0, 2);  // a row not aligned to 64 bytes spans one more line
  }
}

// A block of K or V rows as the kernels read it: in place, or copied when dst is set.
struct Rows {
  const float* p;
  int64_t sl, sd;
};
inline Rows block_rows(const float* src, int64_t sl, int64_t sd, int64_t nk, int64_t n, float* dst, int64_t ld) {
  if (!dst) return Rows{src, sl, sd};
  pack_rows(src, sl, sd, nk, n, dst, ld);
  return Rows{dst, ld, 1};
}

// Queries per block: the largest of bq_max, bq_max/2, ..., bq whose per-query scratch
// (bytes_per_query each) stays within kL2Budget and that still yields `min_tasks` blocks over `units`
// heads, never more than Lq rounded up to lv.bq. Bigger blocks stream K and V (and the backward's dK/dV
// accumulators) from L3/DRAM fewer times (1.5x at L = 4096, D = 128); blocks whose scratch spills
// out of a 512 KB L2 lose more than that (backward scratch at D = 128, bq = 192: 590 KB).
// The backward passes its own, larger budget: its per-query scratch (Q and dO both ways, dQᵀ, the Sᵀ
// and dPᵀ lanes) is not all hot at once, while every query block streams K, V and the dK/dV
// accumulators of the whole head again. Measured at D = 128 (scratch 590 KB at bq = 192): bq = 192
// beats 96 by 3-7% at L = 1024-4096 (2 threads, quiet, one process alternating the two).
constexpr int64_t kL2Budget = 384 << 10;
constexpr int64_t kBwdBudget = 640 << 10;
int64_t choose_bq(const Leaves& lv, int64_t Lq, int64_t units, int64_t min_tasks, int64_t bytes_per_query,
                  int64_t budget = kL2Budget);

// Fills the bias of keys [kb, kb + nk) for query rows [q0, q0 + nq) of head (b, h) into `blk`:
// bias_row (keys only) when the mask does not vary along queries, else bias_tile (zeros in the
// padded lanes [nq, blk.n)). Returns false when every entry is -inf: the block can be skipped.
// The bias is multiplied by `unit` (log2 e for kernels that work in base 2).
bool fill_mask_bias(const Mask& m, int64_t b, int64_t h, int64_t q0, int64_t nq, int64_t kb, int64_t nk, float unit,
                    float* row_buf, float* tile_buf, ScoreBlock& blk);

// Causal blocks on the diagonal: lanes [0, causal_lane_begin) come before the block's first key,
// so every score of theirs is masked and the block skips them (about half of each diagonal block).
// A multiple of `lanes`; equal to blk.n when no lane sees a key.
inline int64_t causal_lane_begin(const ScoreBlock& blk, int64_t lanes) {
  if (blk.causal_thr == kNoCausal || blk.causal_thr <= 0) return 0;
  const int64_t i0 = blk.causal_thr / lanes * lanes;
  return i0 < blk.n ? i0 : blk.n;
}

// The same block restricted to lanes [i0, n).
inline ScoreBlock lanes_from(ScoreBlock blk, int64_t i0) {
  blk.s += i0;
  blk.n -= i0;
  if (blk.bias_tile) blk.bias_tile += i0;
  if (blk.causal_thr != kNoCausal) blk.causal_thr -= i0;
  return blk;
}

// Bump allocator over a 64-byte aligned buffer: every carve is rounded to 16 floats. With
// base == nullptr it only counts, so the same code sizes the buffer and then carves it.
struct Carver {
  float* base;
  size_t used = 0;
  float* carve(int64_t floats) {
    float* p = base ? base + used : nullptr;
    used += size_t(round_up(floats, 16));
    return p;
  }
};

}  // namespace attn
}  // namespace fastnn
