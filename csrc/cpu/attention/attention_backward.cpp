// Backward driver, FlashAttention-2 algorithm: P is recomputed from the saved log-sum-exp,
//   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP - Δ) with Δ_i = Σ_d dO_id·O_id,  dQ = scale·dS·K,
//   dK = scale·dSᵀ·Q.
// A task owns one kv head (b, hk) and a share of its query blocks (over all rep query heads of
// the group), so dQ rows are owned by exactly one task and dK/dV accumulate in the task's own
// buffer: no atomics. When there are fewer kv heads than threads, query blocks are dealt out to
// `nchunks` tasks per kv head whose dK/dV partials are summed afterwards.
#include <algorithm>
#include <atomic>
#include <cmath>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/attention/attention.h"
#include "cpu/attention/drivers.h"

namespace fastnn {
namespace attn {
namespace {

constexpr int kBlockSlot = 2, kAccSlot = 3;  // slots 0/1 belong to sgemm

// Widths (lanes) and row strides of the buffers whose rows run along D / Dv.
struct Dims {
  int64_t dn, dvn;    // D, Dv rounded up to the vector width: the lanes the dK/dV products compute
  int64_t ldd, lddv;  // row strides, padded_ld(D) / padded_ld(Dv)
};

struct BwdScratch {
  int64_t ld;  // padded_ld(bq)
  float *qst, *dot, *qr, *dor, *lse, *delta, *dqt, *s, *dp, *bias_tile, *bias_row, *kp, *vp;
};

BwdScratch carve_bwd(Carver& c, const Leaves& lv, const Problem& p, const Dims& dm) {
  BwdScratch w;
  const int64_t ld = w.ld = padded_ld(lv.bq);
  w.qst = c.carve(p.D * ld);        // (scale·log2e·Q)ᵀ [D][ld]
  w.dot = c.carve(p.Dv * ld);       // dOᵀ [Dv][ld]
  w.qr = c.carve(lv.bq * dm.ldd);   // Q rows [bq][ldd]
  w.dor = c.carve(lv.bq * dm.lddv); // dO rows [bq][lddv]
  w.lse = c.carve(ld);
  w.delta = c.carve(ld);
  w.dqt = c.carve(p.D * ld);        // dQᵀ accumulator [D][ld]
  w.s = c.carve(lv.bk * ld);        // Sᵀ → Pᵀ
  w.dp = c.carve(lv.bk * ld);       // dPᵀ → dSᵀ
  w.bias_tile = p.mask.p ? c.carve(lv.bk * ld) : nullptr;
  w.bias_row = p.mask.p ? c.carve(lv.bk) : nullptr;
  w.kp = worth_packing(p.k.sl, p.k.sd) ? c.carve(lv.bk * dm.ldd) : nullptr;   // K block [bk][ldd]
  w.vp = worth_packing(p.v.sl, p.v.sd) ? c.carve(lv.bk * dm.lddv) : nullptr;  // V block [bk][lddv]
  return w;
}

struct BwdArgs {
  const Leaves& lv;
  const Problem& p;
  const Operand &go, &out;
  const Lse& lse;
  const Operand& dq;
  Dims dm;
};

// Query rows [q0, q0 + nq) of head h against every key they see; dK/dV accumulate into
// dk_acc [Lk][ldd] / dv_acc [Lk][lddv] (unscaled), dQ rows are written out.
void backward_block(const BwdArgs& a, int64_t b, int64_t h, int64_t q0, int64_t nq, const BwdScratch& w,
                    float* dk_acc, float* dv_acc) {
  const Leaves& lv = a.lv;
  const Problem& p = a.p;
  const Dims& dm = a.dm;
  const int64_t ld = w.ld, nqp = round_up(nq, lv.lanes), hk = h / p.rep;
  // Pack Q and dO both ways, lse (+inf for rows without keys, so P = 0) and Δ.
  const float* qsrc = p.q.at(b, h, q0);
  const float* gsrc = a.go.at(b, h, q0);
  pack_transposed(lv, qsrc, p.q.sl, p.q.sd, nq, p.D, p.scale * kLog2e, w.qst, ld);  // scores in base 2
  pack_transposed(lv, gsrc, a.go.sl, a.go.sd, nq, p.Dv, 1.0f, w.dot, ld);
  for (int64_t i = 0; i < nqp; ++i) {
    float* qr = w.qr + i * dm.ldd;
    float* dr = w.dor + i * dm.lddv;
    if (i >= nq) {
      for (int64_t d = 0; d < dm.dn; ++d) qr[d] = 0.0f;
      for (int64_t d = 0; d < dm.dvn; ++d) dr[d] = 0.0f;
      w.lse[i] = __builtin_inff();
      w.delta[i] = 0.0f;
      continue;
    }
    const float* qs = qsrc + i * p.q.sl;
    const float* gs = gsrc + i * a.go.sl;
    const float* os = a.out.at(b, h, q0 + i);
    for (int64_t d = 0; d < p.D; ++d) qr[d] = qs[d * p.q.sd];
    for (int64_t d = p.D; d < dm.dn; ++d) qr[d] = 0.0f;
    double delta = 0.0;
    for (int64_t d = 0; d < p.Dv; ++d) {
      const float g = gs[d * a.go.sd];
      dr[d] = g;
      delta += double(g) * double(os[d * a.out.sd]);
    }
    for (int64_t d = p.Dv; d < dm.dvn; ++d) dr[d] = 0.0f;
    const float l = *a.lse.at(b, h, q0 + i);
    w.lse[i] = l == -__builtin_inff() ? __builtin_inff() : l * kLog2e;
    w.delta[i] = float(delta);
  }
  for (int64_t d = 0; d < p.D; ++d)
    for (int64_t i = 0; i < nqp; ++i) w.dqt[d * ld + i] = 0.0f;
  const int64_t kend = p.key_end(q0, nq);
  const float* kbase = p.k.at(b, hk, 0);
  const float* vbase = p.v.at(b, hk, 0);
  for (int64_t kb = 0; kb < kend; kb += lv.bk) {
    const int64_t nk = std::min<int64_t>(lv.bk, kend - kb);
    ScoreBlock blk{w.s, ld, nk, nqp, nullptr, nullptr, ld, kNoCausal};
    if (p.mask.p && !fill_mask_bias(p.mask, b, h, q0, nq, kb, nk, kLog2e, w.bias_row, w.bias_tile, blk)) continue;
    if (p.causal && kb + nk - 1 > q0 + p.off) blk.causal_thr = kb - q0 - p.off;
    // Lanes before i0 see none of this block's keys (P = dS = 0): skipped.
    const int64_t i0 = causal_lane_begin(blk, lv.lanes), n = nqp - i0;
    if (n == 0) continue;
    const Rows kr = block_rows(kbase + kb * p.k.sl, p.k.sl, p.k.sd, nk, p.D, w.kp, dm.ldd);
    const Rows vr = block_rows(vbase + kb * p.v.sl, p.v.sl, p.v.sd, nk, p.Dv, w.vp, dm.lddv);
    if (kb + lv.bk < kend) {  // the next block's K and V rows, toward L2 (see prefetch_rows)
      const int64_t nn = std::min<int64_t>(lv.bk, kend - kb - lv.bk);
      prefetch_rows(kbase + (kb + lv.bk) * p.k.sl, p.k.sl, p.k.sd, nn, p.D);
      prefetch_rows(vbase + (kb + lv.bk) * p.v.sl, p.v.sl, p.v.sd, nn, p.Dv);
      prefetch_rows(dk_acc + (kb + lv.bk) * dm.ldd, dm.ldd, 1, nn, dm.dn);  // and its dK/dV accumulator rows
      prefetch_rows(dv_acc + (kb + lv.bk) * dm.lddv, dm.lddv, 1, nn, dm.dvn);
    }
    float* s = w.s + i0;
    float* dp = w.dp + i0;
    lv.gemm(nk, n, p.D, kr.p, kr.sl, kr.sd, w.qst + i0, ld, s, ld, GemmMode::store, nullptr);    // Sᵀ
    lv.gemm(nk, n, p.Dv, vr.p, vr.sl, vr.sd, w.dot + i0, ld, dp, ld, GemmMode::store, nullptr);  // dPᵀ
    lv.softmax_bwd(lanes_from(blk, i0), w.lse + i0, w.delta + i0, dp, ld);                     // Pᵀ, dSᵀ
    // dV[kb + j][:] += Σ_i Pᵀ[j][i]·dO[i][:],  dK[kb + j][:] += Σ_i dSᵀ[j][i]·Q[i][:]
    lv.gemm(nk, dm.dvn, n, s, ld, 1, w.dor + i0 * dm.lddv, dm.lddv, dv_acc + kb * dm.lddv, dm.lddv,
            GemmMode::accumulate, nullptr);
    lv.gemm(nk, dm.dn, n, dp, ld, 1, w.qr + i0 * dm.ldd, dm.ldd, dk_acc + kb * dm.ldd, dm.ldd, GemmMode::accumulate,
            nullptr);
    // dQᵀ[d][i] += Σ_j K[kb + j][d]·dSᵀ[j][i]
    lv.gemm(p.D, n, nk, kr.p, kr.sd, kr.sl, dp, ld, w.dqt + i0, ld, GemmMode::accumulate, nullptr);
  }
  float* rowscale = w.delta;  // Δ is no longer needed: dq = scale·dQᵀ, transposed back
  for (int64_t i = 0; i < nq; ++i) rowscale[i] = p.scale;
  unpack_transposed(lv, w.dqt, ld, nq, p.D, rowscale, a.dq.at(b, h, q0), a.dq.sl, a.dq.sd);
}

void write_kv_grad(const Operand& dst, int64_t b, int64_t hk, int64_t n, int64_t ld, float scale, const float* acc,
                   int64_t rows_begin, int64_t rows_end) {
  for (int64_t j = rows_begin; j < rows_end; ++j) {
    float* o = dst.at(b, hk, j);
    const float* src = acc + j * ld;
    for (int64_t d = 0; d < n; ++d) o[d * dst.sd] = scale * src[d];
  }
}

}  // namespace

void backward_flash(const Leaves& leaves, const Problem& p, const Operand& grad_out, const Operand& out,
                    const Lse& lse, const Operand& dq, const Operand& dk, const Operand& dv) {
  const int64_t units = p.B * p.Hkv;
  if (units == 0) return;
  // Large query blocks read K, V and the dK/dV accumulators fewer times; smaller ones only when a
  // few kv heads must be split into query chunks to occupy the threads.
  const int64_t nthreads = get_num_threads();
  Leaves lv = leaves;
  // Per query: its lanes of (scale·Q)ᵀ, dOᵀ, dQᵀ, its rows of Q and dO, and its lanes of the Sᵀ/Pᵀ and
  // dPᵀ/dSᵀ blocks.
  lv.bq = int(choose_bq(leaves, p.Lq, units, 2 * nthreads, 4 * (3 * p.D + 2 * p.Dv + 2 * leaves.bk), kBwdBudget));
  const Dims dm{round_up(p.D, lv.lanes), round_up(p.Dv, lv.lanes), padded_ld(p.D), padded_ld(p.Dv)};
  const int64_t nqb = (p.Lq + lv.bq - 1) / lv.bq;
  int64_t nchunks = 1;
  if (units < 2 * nthreads && units % nthreads != 0)
    nchunks = std::max<int64_t>(1, std::min(nqb, (2 * nthreads + units - 1) / units));
  const int64_t tasks = units * nchunks;
  const int64_t dk_floats = round_up(p.Lk * dm.ldd, 16), acc_floats = dk_floats + round_up(p.Lk * dm.lddv, 16);
  AlignedPtr<float> partial;
  if (nchunks > 1) partial = aligned_alloc_array<float>(size_t(tasks * acc_floats));

  Carver sizer{nullptr};
  carve_bwd(sizer, lv, p, dm);
  const size_t ws_floats = sizer.used;
  const BwdArgs args{lv, p, grad_out, out, lse, dq, dm};
  std::atomic<int64_t> next{0};
  parallel_run(int(std::min<int64_t>(tasks, 1 << 16)), [&](int, int) {
    Carver c{thread_workspace(kBlockSlot, ws_floats)};
    const BwdScratch w = carve_bwd(c, lv, p, dm);
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int64_t unit = t / nchunks, chunk = t % nchunks;
      const int64_t b = unit / p.Hkv, hk = unit % p.Hkv;
      float* acc = nchunks > 1 ? partial.get() + size_t(t * acc_floats) : thread_workspace(kAccSlot, acc_floats);
      float* dk_acc = acc;
      float* dv_acc = acc + dk_floats;
      std::fill(acc, acc + acc_floats, 0.0f);  // keys no query sees keep a zero gradient
      // Query blocks chunk, chunk + nchunks, ...: an even share of a causal triangle.
      for (int64_t h = hk * p.rep; h < (hk + 1) * p.rep; ++h)
        for (int64_t qbi = chunk; qbi < nqb; qbi += nchunks) {
          const int64_t q0 = qbi * lv.bq, nq = std::min<int64_t>(lv.bq, p.Lq - q0);
          backward_block(args, b, h, q0, nq, w, dk_acc, dv_acc);
        }
      if (nchunks == 1) {
        write_kv_grad(dk, b, hk, p.D, dm.ldd, p.scale, dk_acc, 0, p.Lk);
        write_kv_grad(dv, b, hk, p.Dv, dm.lddv, 1.0f, dv_acc, 0, p.Lk);
      }
    }
  });
  if (nchunks == 1) return;
  // Sum the chunks' partials: parallel over (kv head, key rows).
  const int64_t row_grain = 64, row_blocks = (p.Lk + row_grain - 1) / row_grain;
  parallel_for(0, units * row_blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t unit = u / row_blocks, j0 = (u % row_blocks) * row_grain;
      const int64_t j1 = std::min(p.Lk, j0 + row_grain);
      float* sum = partial.get() + size_t(unit * nchunks * acc_floats);  // chunk 0 collects
      for (int64_t c = 1; c < nchunks; ++c) {
        const float* src = sum + size_t(c * acc_floats);
        for (int64_t j = j0; j < j1; ++j) {
          for (int64_t d = 0; d < p.D; ++d) sum[j * dm.ldd + d] += src[j * dm.ldd + d];
          for (int64_t d = 0; d < p.Dv; ++d) sum[dk_floats + j * dm.lddv + d] += src[dk_floats + j * dm.lddv + d];
        }
      }
      const int64_t b = unit / p.Hkv, hk = unit % p.Hkv;
      write_kv_grad(dk, b, hk, p.D, dm.ldd, p.scale, sum, j0, j1);
      write_kv_grad(dv, b, hk, p.Dv, dm.lddv, 1.0f, sum + dk_floats, j0, j1);
    }
  });
}

}  // namespace attn

void attention_backward_cpu(const TensorView& grad_out, const TensorView& q, const TensorView& k,
                            const TensorView& v, const TensorView& out, const TensorView& lse,
                            const TensorView& mask, bool causal, double scale, const TensorView& dq,
                            const TensorView& dk, const TensorView& dv) {
  const char* fn = "attention_backward";
  attn::Problem p = attn::make_problem(fn, q, k, v, mask, causal, scale);
  const int64_t o_shape[4] = {p.B, p.Hq, p.Lq, p.Dv};
  attn::check_input(fn, "grad_out", grad_out, 4, o_shape);
  attn::check_input(fn, "out", out, 4, o_shape);
  attn::check_input(fn, "lse", lse, 3, o_shape);
  const int64_t q_shape[4] = {p.B, p.Hq, p.Lq, p.D}, k_shape[4] = {p.B, p.Hkv, p.Lk, p.D},
                v_shape[4] = {p.B, p.Hkv, p.Lk, p.Dv};
  attn::check_output(fn, "dq", dq, 4, q_shape);
  attn::check_output(fn, "dk", dk, 4, k_shape);
  attn::check_output(fn, "dv", dv, 4, v_shape);
  attn::backward_flash(attn::leaves_for(active_isa()), p, attn::operand_of(grad_out), attn::operand_of(out),
                       attn::lse_of(lse), attn::operand_of(dq), attn::operand_of(dk), attn::operand_of(dv));
}

}  // namespace fastnn
