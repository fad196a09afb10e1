// Forward driver: validation, dispatch (flash or decode path), threading over
// (batch, head, query block), and the per-block FlashAttention-2 loop over key blocks.
#include <atomic>
#include <cmath>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/attention/attention.h"
#include "cpu/attention/drivers.h"

namespace fastnn {
namespace attn {
namespace {

constexpr int kWorkspaceSlot = 2;  // slots 0/1 belong to sgemm

// Scratch of one query block. Lanes buffers have row stride ld = padded_ld(bq); the score panel s
// stays in L1. V blocks whose layout would thrash L1 are copied to vp [bk][ldv] (once per query block
// and key block: 1/(4·bq) of the work): P·V reads 4 columns of every key row per tile and comes back
// to the same lines for the next 3 tiles, which a 512-byte row stride folds onto 8 of the 64 L1 sets.
// Qᵀ·K reads each K row once, along d, per panel: K is copied only when d is not contiguous.
struct FwdScratch {
  int64_t ld, ldk, ldv;
  float *qt, *ot, *s, *bias_tile, *bias_row, *m, *l, *inv, *kp, *vp;
};

FwdScratch carve_fwd(Carver& c, const Leaves& lv, const Problem& p) {
  FwdScratch w;
  w.ld = padded_ld(lv.bq);
  w.qt = c.carve(p.D * w.ld);    // (scale·log2e·Q)ᵀ [D][ld]
  w.ot = c.carve(p.Dv * w.ld);   // Oᵀ unnormalised [Dv][ld]
  w.s = c.carve(lv.bk * lv.panel);  // Sᵀ, then Pᵀ, of one panel [bk][panel]
  w.bias_tile = p.mask.p ? c.carve(lv.bk * w.ld) : nullptr;
  w.bias_row = p.mask.p ? c.carve(lv.bk) : nullptr;
  w.m = c.carve(w.ld);
  w.l = c.carve(w.ld);
  w.inv = c.carve(w.ld);
  w.ldk = padded_ld(p.D);
  w.ldv = padded_ld(p.Dv);
  w.kp = p.k.sd != 1 ? c.carve(lv.bk * w.ldk) : nullptr;
  w.vp = worth_packing(p.v.sl, p.v.sd) ? c.carve(lv.bk * w.ldv) : nullptr;
  return w;
}

// Rows [q0, q0 + nq) of head (b, h): out and lse.
void forward_block(const Leaves& lv, const Problem& p, const Operand& out, const Lse& lse, int64_t b, int64_t h,
                   int64_t q0, int64_t nq, const FwdScratch& w) {
  const int64_t ld = w.ld, nqp = round_up(nq, lv.lanes), hk = h / p.rep;
  const float ninf = -__builtin_inff();
  // Pack (scale·log2e·Q)ᵀ (scores in base 2), zero in the padded lanes so their scores stay finite.
  pack_transposed(lv, p.q.at(b, h, q0), p.q.sl, p.q.sd, nq, p.D, p.scale * kLog2e, w.qt, ld);
  for (int64_t i = 0; i < nqp; ++i) {
    w.m[i] = ninf;
    w.l[i] = 0.0f;
  }
  // Zero Oᵀ: a lane's first block may come late (causal lane skipping); alpha = 0 then clears it.
  for (int64_t d = 0; d < p.Dv; ++d)
    for (int64_t i = 0; i < nqp; ++i) w.ot[d * ld + i] = 0.0f;
  const int64_t kend = p.key_end(q0, nq);
  const float* kbase = p.k.at(b, hk, 0);
  const float* vbase = p.v.at(b, hk, 0);
  for (int64_t kb = 0; kb < kend; kb += lv.bk) {
    const int64_t nk = kend - kb < lv.bk ? kend - kb : lv.bk;
    ScoreBlock blk{w.s, ld, nk, nqp, nullptr, nullptr, ld, kNoCausal};
    if (p.mask.p && !fill_mask_bias(p.mask, b, h, q0, nq, kb, nk, kLog2e, w.bias_row, w.bias_tile, blk)) continue;
    if (p.causal && kb + nk - 1 > q0 + p.off) blk.causal_thr = kb - q0 - p.off;
    const int64_t i0 = causal_lane_begin(blk, lv.lanes);
    if (i0 == nqp) continue;
    blk = lanes_from(blk, i0);
    const Rows kr = block_rows(kbase + kb * p.k.sl, p.k.sl, p.k.sd, nk, p.D, w.kp, w.ldk);
    const Rows vr = block_rows(vbase + kb * p.v.sl, p.v.sl, p.v.sd, nk, p.Dv, w.vp, w.ldv);
    if (kb + lv.bk < kend) {  // the next block's K and V rows, toward L2 (see prefetch_rows)
      const int64_t nn = kend - kb - lv.bk < lv.bk ? kend - kb - lv.bk : lv.bk;
      prefetch_rows(kbase + (kb + lv.bk) * p.k.sl, p.k.sl, p.k.sd, nn, p.D);
      prefetch_rows(vbase + (kb + lv.bk) * p.v.sl, p.v.sl, p.v.sd, nn, p.Dv);
    }
    // Sᵀ = K·(scale·log2e·Q)ᵀ, online softmax, Oᵀ ← alpha ⊙ Oᵀ + Vᵀ·Pᵀ   (lanes i >= i0)
    lv.attend(FwdBlock{nk, p.D, p.Dv, blk.n, kr.p, kr.sl, vr.p, vr.sl, w.qt + i0, ld, w.ot + i0, ld, w.m + i0,
                       w.l + i0, w.s, blk.bias_row, blk.bias_tile, blk.ldbias, blk.causal_thr});
  }
  // out = Oᵀ / l, transposed back; lse = ln2·m + ln l. A row with no key (l = 0: fully masked, or
  // before the causal diagonal) is written as exact zeros, never 0·(inf or NaN from V).
  for (int64_t i = 0; i < nq; ++i) {
    const float li = w.l[i];
    w.inv[i] = li == 0.0f ? 0.0f : 1.0f / li;
    if (lse.p) *lse.at(b, h, q0 + i) = li == 0.0f ? ninf : w.m[i] * kLn2 + std::log(li);
  }
  unpack_transposed(lv, w.ot, ld, nq, p.Dv, w.inv, out.at(b, h, q0), out.sl, out.sd);
}

}  // namespace

void write_empty_row(const Problem& p, const Operand& out, const Lse& lse, int64_t b, int64_t h, int64_t i) {
  float* dst = out.at(b, h, i);
  for (int64_t d = 0; d < p.Dv; ++d) dst[d * out.sd] = 0.0f;
  if (lse.p) *lse.at(b, h, i) = -__builtin_inff();
}

void forward_flash(const Leaves& leaves, const Problem& p, const Operand& out, const Lse& lse) {
  Leaves lv = leaves;
  // Per query: its lanes of (scale·log2e·Q)ᵀ and Oᵀ.
  lv.bq = int(choose_bq(leaves, p.Lq, p.B * p.Hq, 2 * int64_t(get_num_threads()), 4 * (p.D + p.Dv)));
  const int64_t nqb = (p.Lq + lv.bq - 1) / lv.bq;
  const int64_t tasks = p.B * p.Hq * nqb;
  if (tasks == 0) return;
  Carver sizer{nullptr};
  carve_fwd(sizer, lv, p);
  const size_t ws_floats = sizer.used;
  // Dynamic scheduling; with causal masks later query blocks see more keys, so they go first.
  std::atomic<int64_t> next{0};
  const int max_threads = int(tasks < (1 << 16) ? tasks : (1 << 16));
  parallel_run(max_threads, [&](int, int) {
    Carver c{thread_workspace(kWorkspaceSlot, ws_floats)};
    const FwdScratch w = carve_fwd(c, lv, p);
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int64_t bh = t / nqb, qbi = p.causal ? nqb - 1 - t % nqb : t % nqb;
      const int64_t q0 = qbi * lv.bq;
      const int64_t nq = p.Lq - q0 < lv.bq ? p.Lq - q0 : lv.bq;
      forward_block(lv, p, out, lse, bh / p.Hq, bh % p.Hq, q0, nq, w);
    }
  });
}

}  // namespace attn

void attention_forward_cpu(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& mask,
                           bool causal, double scale, const TensorView& out, const TensorView& lse) {
  const char* fn = "attention";
  attn::Problem p = attn::make_problem(fn, q, k, v, mask, causal, scale);
  const int64_t out_shape[4] = {p.B, p.Hq, p.Lq, p.Dv};
  attn::check_output(fn, "out", out, 4, out_shape);
  if (lse.data) attn::check_output(fn, "lse", lse, 3, out_shape);
  const attn::Operand o = attn::operand_of(out);
  const attn::Lse l = attn::lse_of(lse);
  const attn::Leaves& lv = attn::leaves_for(active_isa());
  if (attn::prefer_decode(p))
    attn::forward_decode(lv, p, o, l);
  else
    attn::forward_flash(lv, p, o, l);
}

}  // namespace fastnn
