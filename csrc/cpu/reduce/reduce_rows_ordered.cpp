// Row-mode reductions walked in memory order: for x like (N, C, HW) reduced over (N, HW), a
// per-output walk would read each channel's N runs scattered through memory; here threads take
// blocks of consecutive rows (in x's own order, so each streams through memory) and add each
// row's result into per-thread partial results for its output, combined at the end.
#include <algorithm>
#include <limits>
#include <vector>

#include "common/workspace.h"
#include "cpu/parallel_blocks.h"
#include "cpu/reduce/reduce_internal.h"

namespace fastnn {
namespace reduce_detail {
namespace {

constexpr int64_t kMaxOrderedOutputs = int64_t(1) << 20;  // per-thread partials stay small

// An axis with dense strides: in the output index (kept axes) and the reduced-row index.
struct ODim {
  int64_t size, xs, od, rd;
};

// First maximum under any visiting order: NaN beats numbers, ties go to the smaller index.
inline void merge_max(float* bv, int64_t* bi, float v, int64_t i) {
  const bool vn = std::isnan(v), bn = std::isnan(*bv);
  const bool wins = *bi < 0 || (vn ? (!bn || i < *bi) : (!bn && (v > *bv || (v == *bv && i < *bi))));
  if (wins) *bv = v, *bi = i;
}

}  // namespace

bool run_rows_ordered(const Ctx& c, const std::vector<CDim>& comb, int64_t Lr) {
  if (comb.empty() || Lr >= kMaxPiece) return false;
  std::vector<ODim> dims(comb.size());
  int64_t O = 1, Ro = 1;
  for (size_t d = comb.size(); d-- > 0;) {
    dims[d] = {comb[d].size, comb[d].xs, comb[d].reduced ? 0 : O, comb[d].reduced ? Ro : 0};
    (comb[d].reduced ? Ro : O) *= comb[d].size;
  }
  const int64_t rows = O * Ro;
  if (Ro == 1 || O > kMaxOrderedOutputs || rows < 4 * int64_t(get_num_threads())) return false;
  std::vector<RDim> kept;  // kept axes with out strides, for the dense index -> out offset map
  for (const CDim& d : comb)
    if (!d.reduced) kept.push_back({d.size, 0, d.os});
  if (kept.empty()) kept.push_back({1, 0, 0});

  const bool is_max = c.op == ReduceOp::max;
  const int64_t block = std::max<int64_t>(1, 65536 / Lr);
  const int T = block_threads(rows, block);
  const size_t part = size_t(T) * size_t(O);
  std::vector<double> sums(is_max ? 0 : part, 0.0);
  std::vector<float> vals(is_max ? part : 0, -std::numeric_limits<float>::infinity());
  std::vector<int64_t> idxs(is_max ? part : 0, -1);
  const ODim& in = dims.back();
  parallel_blocks_tid(0, rows, block, [&](int tid, int64_t r0, int64_t r1) {
    float* buf = thread_workspace(kScratchSlot, size_t(2 * kRunChunk));
    int32_t* ibuf = reinterpret_cast<int32_t*>(buf + kRunChunk);
    const size_t base = size_t(tid) * size_t(O);
    for (int64_t i = r0; i < r1;) {  // runs along the innermost axis
      const int64_t pos = i % in.size, len = std::min(in.size - pos, r1 - i);
      int64_t xo = pos * in.xs, od = pos * in.od, rd = pos * in.rd;
      for (int64_t flat = i / in.size, d = int64_t(dims.size()) - 2; d >= 0; --d) {
        const int64_t q = flat % dims[size_t(d)].size;
        flat /= dims[size_t(d)].size;
        xo += q * dims[size_t(d)].xs, od += q * dims[size_t(d)].od, rd += q * dims[size_t(d)].rd;
      }
      for (int64_t q0 = 0; q0 < len; q0 += kRunChunk) {
        const int64_t m = std::min(kRunChunk, len - q0);
        const float* xq = c.x + xo + q0 * in.xs;
        if (is_max) {
          c.k->rows_max(xq, in.xs, m, Lr, buf, ibuf);
          for (int64_t q = 0; q < m; ++q) {
            const size_t o = base + size_t(od + (q0 + q) * in.od);
            merge_max(&vals[o], &idxs[o], buf[q], (rd + (q0 + q) * in.rd) * Lr + ibuf[q]);
          }
        } else {
          c.k->rows_sum(xq, in.xs, m, Lr, buf);
          for (int64_t q = 0; q < m; ++q) sums[base + size_t(od + (q0 + q) * in.od)] += buf[q];
        }
      }
      i += len;
    }
  }, T);
  parallel_blocks(0, O, 4096, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      Part p;
      for (int t = 0; t < T; ++t) {
        const size_t at = size_t(t) * size_t(O) + size_t(o);
        if (is_max) merge_max(&p.val, &p.idx, vals[at], idxs[at]);
        else p.sum += sums[at];
      }
      int64_t xo, oo;
      unravel(kept, kept.size(), o, &xo, &oo);
      store(c, oo, p);
    }
  });
  return true;
}

}  // namespace reduce_detail
}  // namespace fastnn
