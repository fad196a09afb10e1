// Decode driver (small Lq, typically one new token against a long KV cache).
//
// The query rows of one kv group (rep heads × Lq positions) are processed together, so every key
// and value row is read from memory once per group. Keys are split into `nsplit` ranges that
// run as separate tasks; each produces a partial (max m, sum l, unnormalised o) per row, merged
// afterwards by log-sum-exp:  m* = max m_s,  l* = Σ l_s·e^{m_s - m*},  o* = Σ o_s·e^{m_s - m*} / l*.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/attention/drivers.h"

namespace fastnn {
namespace attn {
namespace {

constexpr int kWorkspaceSlot = 2;
constexpr int64_t kDecodeMaxLq = 8;  // flash path above this (measured crossover 8-16 on Zen 3)
constexpr int64_t kKeyBlock = 256;        // keys per leaf call
constexpr int64_t kMinKeysPerSplit = 512;

struct DecodeScratch {
  float *q, *s, *bias, *m, *l, *o, *kpack, *vpack;
  int64_t ldq, lds, ldo;
};

DecodeScratch carve_decode(Carver& c, const Leaves& lv, const Problem& p) {
  DecodeScratch w;
  const int R = kDecodeMaxRows;
  w.ldq = round_up(p.D, 16);
  w.lds = round_up(kKeyBlock, 16);
  w.ldo = round_up(p.Dv, 16);
  w.q = c.carve(R * w.ldq);
  w.s = c.carve(R * w.lds);
  w.bias = p.mask.p ? c.carve(R * w.lds) : nullptr;
  w.m = c.carve(R);
  w.l = c.carve(R);
  w.o = c.carve(R * w.ldo);
  w.kpack = p.k.sd != 1 ? c.carve(kKeyBlock * p.D) : nullptr;
  w.vpack = p.v.sd != 1 ? c.carve(kKeyBlock * p.Dv) : nullptr;
  return w;
}

struct Work {
  int64_t groups;  // row groups of at most kDecodeMaxRows per kv head
  int64_t nsplit, split_len;
};

}  // namespace

bool prefer_decode(const Problem& p) {
  return p.Lq <= kDecodeMaxLq && p.Lk > 0;
}

void forward_decode(const Leaves& lv, const Problem& p, const Operand& out, const Lse& lse) {
  const int64_t rows_per_kv = p.rep * p.Lq;  // row r ↔ (head hk·rep + r / Lq, query r % Lq)
  Work wk;
  wk.groups = (rows_per_kv + kDecodeMaxRows - 1) / kDecodeMaxRows;
  const int64_t units = p.B * p.Hkv * wk.groups;
  if (units == 0) return;
  const int64_t nthreads = get_num_threads();
  const int64_t want = (2 * nthreads + units - 1) / units;  // splits so that every thread has work
  const int64_t max_split = std::max<int64_t>(1, p.Lk / kMinKeysPerSplit);
  wk.nsplit = std::min(want, max_split);
  wk.split_len = round_up((p.Lk + wk.nsplit - 1) / wk.nsplit, kKeyBlock);
  wk.nsplit = (p.Lk + wk.split_len - 1) / wk.split_len;
  const int64_t tasks = units * wk.nsplit;
  // Partial state per (unit, split, row): m, l, o[ldo].
  const int64_t ldo = round_up(p.Dv, 16), part_stride = ldo + 2;
  std::vector<float> partial;
  if (wk.nsplit > 1) partial.resize(size_t(tasks * kDecodeMaxRows * part_stride));

  Carver sizer{nullptr};
  carve_decode(sizer, lv, p);
  const size_t ws_floats = sizer.used;
  std::atomic<int64_t> next{0};
  parallel_run(int(std::min<int64_t>(tasks, 1 << 16)), [&](int, int) {
    Carver c{thread_workspace(kWorkspaceSlot, ws_floats)};
    const DecodeScratch w = carve_decode(c, lv, p);
    int64_t limit[kDecodeMaxRows];
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;) {
      const int64_t unit = t / wk.nsplit, split = t % wk.nsplit;
      const int64_t g = unit % wk.groups, bhk = unit / wk.groups;
      const int64_t b = bhk / p.Hkv, hk = bhk % p.Hkv;
      const int64_t r0 = g * kDecodeMaxRows;
      const int rows = int(std::min<int64_t>(kDecodeMaxRows, rows_per_kv - r0));
      auto head_of = [&](int r) { return hk * p.rep + (r0 + r) / p.Lq; };
      auto query_of = [&](int r) { return (r0 + r) % p.Lq; };
      // Scaled query rows, zero padded; online-softmax state.
      int64_t row_end = 0;  // keys past every row's causal limit are skipped
      for (int r = 0; r < rows; ++r) {
        const float* src = p.q.at(b, head_of(r), query_of(r));
        float* dst = w.q + r * w.ldq;
        for (int64_t d = 0; d < p.D; ++d) dst[d] = p.scale * src[d * p.q.sd];
        for (int64_t d = p.D; d < w.ldq; ++d) dst[d] = 0.0f;
        w.m[r] = -__builtin_inff();
        w.l[r] = 0.0f;
        for (int64_t d = 0; d < w.ldo; ++d) w.o[r * w.ldo + d] = 0.0f;
        row_end = std::max(row_end, p.key_end(query_of(r), 1));
      }
      const int64_t ks = split * wk.split_len;
      const int64_t ke = std::min(std::min(p.Lk, ks + wk.split_len), row_end);
      for (int64_t kb = ks; kb < ke; kb += kKeyBlock) {
        const int64_t nk = std::min(kKeyBlock, ke - kb);
        DecodeBlock blk;
        blk.rows = rows;
        blk.nk = nk;
        blk.d = p.D;
        blk.dv = p.Dv;
        blk.q = w.q;
        blk.ldq = w.ldq;
        const float* kp = p.k.at(b, hk, kb);
        const float* vp = p.v.at(b, hk, kb);
        if (w.kpack) pack_rows(kp, p.k.sl, p.k.sd, nk, p.D, w.kpack, p.D);
        if (w.vpack) pack_rows(vp, p.v.sl, p.v.sd, nk, p.Dv, w.vpack, p.Dv);
        blk.k = w.kpack ? w.kpack : kp;
        blk.ldk = w.kpack ? p.D : p.k.sl;
        blk.v = w.vpack ? w.vpack : vp;
        blk.ldv = w.vpack ? p.Dv : p.v.sl;
        blk.bias = nullptr;
        blk.ldbias = w.lds;
        if (p.mask.p) {
          bool live = false;
          for (int r = 0; r < rows; ++r)
            for (int64_t j = 0; j < nk; ++j) {
              const float x = p.mask.bias(b, head_of(r), query_of(r), kb + j);
              w.bias[r * w.lds + j] = x;
              live |= x != -__builtin_inff();
            }
          if (!live) continue;
          blk.bias = w.bias;
        }
        blk.limit = nullptr;
        if (p.causal) {
          for (int r = 0; r < rows; ++r) limit[r] = query_of(r) + p.off + 1 - kb;
          blk.limit = limit;
        }
        blk.s = w.s;
        blk.lds = w.lds;
        blk.m = w.m;
        blk.l = w.l;
        blk.o = w.o;
        blk.ldo = w.ldo;
        lv.decode(blk);
      }
      if (wk.nsplit == 1) {  // finalise directly
        for (int r = 0; r < rows; ++r) {
          const float li = w.l[r];
          const float inv = li == 0.0f ? 0.0f : 1.0f / li;
          float* dst = out.at(b, head_of(r), query_of(r));
          for (int64_t d = 0; d < p.Dv; ++d) dst[d * out.sd] = w.o[r * w.ldo + d] * inv;
          if (lse.p) *lse.at(b, head_of(r), query_of(r)) = li == 0.0f ? -__builtin_inff() : w.m[r] + std::log(li);
        }
      } else {
        float* part = partial.data() + size_t(t * kDecodeMaxRows * part_stride);
        for (int r = 0; r < rows; ++r) {
          float* pr = part + r * part_stride;
          pr[0] = w.m[r];
          pr[1] = w.l[r];
          for (int64_t d = 0; d < p.Dv; ++d) pr[2 + d] = w.o[r * w.ldo + d];
        }
      }
    }
  });
  if (wk.nsplit == 1) return;
  // Merge the splits of every row.
  const int64_t nrows = units * kDecodeMaxRows;
  parallel_for(0, nrows, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t ur = lo; ur < hi; ++ur) {
      const int64_t unit = ur / kDecodeMaxRows, r = ur % kDecodeMaxRows;
      const int64_t g = unit % wk.groups, bhk = unit / wk.groups;
      const int64_t rr = g * kDecodeMaxRows + r;
      if (rr >= rows_per_kv) continue;
      const int64_t b = bhk / p.Hkv, h = (bhk % p.Hkv) * p.rep + rr / p.Lq, i = rr % p.Lq;
      auto part = [&](int64_t s) {
        return partial.data() + size_t(((unit * wk.nsplit + s) * kDecodeMaxRows + r) * part_stride);
      };
      float m = -__builtin_inff();
      for (int64_t s = 0; s < wk.nsplit; ++s) m = std::fmax(m, part(s)[0]);
      if (m == -__builtin_inff()) {
        write_empty_row(p, out, lse, b, h, i);
        continue;
      }
      float l = 0.0f;
      float* dst = out.at(b, h, i);
      for (int64_t d = 0; d < p.Dv; ++d) dst[d * out.sd] = 0.0f;
      for (int64_t s = 0; s < wk.nsplit; ++s) {
        const float* ps = part(s);
        if (ps[1] == 0.0f) continue;  // split saw no key of this row
        const float e = std::exp(ps[0] - m);
        l += e * ps[1];
        for (int64_t d = 0; d < p.Dv; ++d) dst[d * out.sd] += e * ps[2 + d];
      }
      const float inv = 1.0f / l;
      for (int64_t d = 0; d < p.Dv; ++d) dst[d * out.sd] *= inv;
      if (lse.p) *lse.at(b, h, i) = m + std::log(l);
    }
  });
}

}  // namespace attn
}  // namespace fastnn
