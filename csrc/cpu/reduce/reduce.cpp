// Reduction driver: plans any (x strides, reduced axes) onto the row or column leaf kernels,
// threads it, and combines partial results (sums in double, max in reduced-index order).
//
// Planning: size-1 axes are dropped; consecutive reduced axes (and consecutive kept axes) merge
// when their strides allow, which preserves the row-major flat index over the reduced axes
// that max reports. Then
//   row mode:    the last reduced axis has unit stride: each output reduces Ro rows of Lr
//                contiguous floats (Ro = product of the other reduced axes);
//   column mode: a kept axis has unit stride: Kc outputs at a time, reducing Rtot rows;
//   otherwise:   x is first copied to a contiguous buffer (then one of the above applies).
#include "cpu/reduce/reduce.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/parallel_blocks.h"
#include "common/workspace.h"
#include "cpu/reduce/reduce_internal.h"
#include "cpu/reduce/reduce_kernels.h"
#include "cpu/view_checks.h"

namespace fastnn {
namespace {

using namespace reduce_detail;

// ---- row mode ------------------------------------------------------------------------------

// Row-mode reduction of rows [r0, r1) (flat over `red`) of one output based at x + xb, whose rows
// hold Lr floats each, into p; [e0, e1) restricts every row to those elements (a segment).
void reduce_rows(const Ctx& c, const std::vector<RDim>& red, int64_t Lr, int64_t xb, int64_t r0, int64_t r1,
                 int64_t e0, int64_t e1, Part* p, float* buf) {
  int32_t* ibuf = reinterpret_cast<int32_t*>(buf + kRunChunk);
  const int64_t n = e1 - e0;
  const bool batch = n < kMaxPiece;
  for_runs(red, r0, r1, [&](int64_t r, int64_t xo, int64_t, int64_t len, int64_t rxs, int64_t) {
    const float* base = c.x + xb + xo + e0;
    if (!batch) {  // giant rows: one row at a time, in pieces addressable by int32 positions
      for (int64_t q = 0; q < len; ++q)
        for (int64_t a = 0; a < n; a += kMaxPiece) {
          const int64_t m = std::min(kMaxPiece, n - a);
          if (c.op == ReduceOp::max) {
            float v;
            int32_t i;
            c.k->rows_max(base + q * rxs + a, 0, 1, m, &v, &i);
            p->take_later(v, (r + q) * Lr + e0 + a + i);
          } else {
            float s;
            c.k->rows_sum(base + q * rxs + a, 0, 1, m, &s);
            p->sum += s;
          }
        }
      return;
    }
    for (int64_t q0 = 0; q0 < len; q0 += kRunChunk) {
      const int64_t m = std::min(kRunChunk, len - q0);
      if (c.op == ReduceOp::max) {
        c.k->rows_max(base + q0 * rxs, rxs, m, n, buf, ibuf);
        for (int64_t q = 0; q < m; ++q) p->take_later(buf[q], (r + q0 + q) * Lr + e0 + ibuf[q]);
      } else {
        c.k->rows_sum(base + q0 * rxs, rxs, m, n, buf);
        for (int64_t q = 0; q < m; ++q) p->sum += buf[q];
      }
    }
  });
}

void run_rows(const Ctx& c, const std::vector<RDim>& kept, const std::vector<RDim>& red, int64_t Lr) {
  const int64_t O = product(kept), Ro = product(red), per_output = Ro * Lr;
  const int T = get_num_threads();
  const size_t scratch = size_t(2 * kRunChunk);
  if (O >= 4 * int64_t(T) || O * per_output < 65536 || T == 1) {  // parallel over outputs
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(per_output, 1));
    parallel_blocks(0, O, grain, [&](int64_t o0, int64_t o1) {
      float* buf = thread_workspace(kScratchSlot, scratch);
      int32_t* ibuf = reinterpret_cast<int32_t*>(buf + kRunChunk);
      for_runs(kept, o0, o1, [&](int64_t, int64_t xo, int64_t oo, int64_t len, int64_t kxs, int64_t kos) {
        if (Ro == 1 && Lr < kMaxPiece) {  // one contiguous row per output: batch the leaf calls
          for (int64_t q0 = 0; q0 < len; q0 += kRunChunk) {
            const int64_t m = std::min(kRunChunk, len - q0);
            const float* xq = c.x + xo + q0 * kxs;
            if (c.op == ReduceOp::max) {
              c.k->rows_max(xq, kxs, m, Lr, buf, ibuf);
              for (int64_t q = 0; q < m; ++q) c.out[oo + (q0 + q) * kos] = buf[q], c.idx[oo + (q0 + q) * kos] = ibuf[q];
            } else {
              c.k->rows_sum(xq, kxs, m, Lr, buf);
              for (int64_t q = 0; q < m; ++q) c.out[oo + (q0 + q) * kos] = float(double(buf[q]) * c.scale);
            }
          }
          return;
        }
        for (int64_t q = 0; q < len; ++q) {
          Part p;
          reduce_rows(c, red, Lr, xo + q * kxs, 0, Ro, 0, Lr, &p, buf);
          store(c, oo + q * kos, p);
        }
      });
    });
    return;
  }
  // Few outputs with long reductions: split each output's reduced space into P units (whole
  // rows, or segments of rows), reduce the units in parallel, combine them in order.
  const int64_t P = (4 * int64_t(T) + O - 1) / O;
  const bool by_rows = Ro >= P;
  const int64_t segs = by_rows ? 1 : std::min(Lr, (P + Ro - 1) / Ro);  // no empty segments
  const int64_t units_per = by_rows ? P : Ro * segs;
  std::vector<Part> parts(size_t(O * units_per));
  parallel_blocks(0, O * units_per, 1, [&](int64_t u0, int64_t u1) {
    float* buf = thread_workspace(kScratchSlot, scratch);
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t o = u / units_per, w = u % units_per;
      int64_t xb, ob;
      unravel(kept, kept.size(), o, &xb, &ob);
      if (by_rows) {
        reduce_rows(c, red, Lr, xb, Ro * w / P, Ro * (w + 1) / P, 0, Lr, &parts[size_t(u)], buf);
      } else {
        const int64_t ro = w / segs, s = w % segs;
        reduce_rows(c, red, Lr, xb, ro, ro + 1, Lr * s / segs, Lr * (s + 1) / segs, &parts[size_t(u)], buf);
      }
    }
  });
  for (int64_t o = 0; o < O; ++o) {
    Part total;
    for (int64_t w = 0; w < units_per; ++w) {
      const Part& p = parts[size_t(o * units_per + w)];
      total.sum += p.sum;
      if (p.idx >= 0) total.take_later(p.val, p.idx);
    }
    int64_t xb, ob;
    unravel(kept, kept.size(), o, &xb, &ob);
    store(c, ob, total);
  }
}

// ---- column mode ---------------------------------------------------------------------------

// Column-mode reduction of rows [r0, r1) (flat over red) for K outputs based at x + xb:
// sums into acc (block, sum, comp: 3 K floats); max into val/idx (K each) with rel (K int32).
void reduce_cols(const Ctx& c, const std::vector<RDim>& red, int64_t xb, int64_t r0, int64_t r1, int64_t K,
                 float* acc, float* val, int64_t* idx, int32_t* rel) {
  for_runs(red, r0, r1, [&](int64_t r, int64_t xo, int64_t, int64_t len, int64_t rxs, int64_t) {
    const float* base = c.x + xb + xo;
    if (c.op != ReduceOp::max) {
      c.k->cols_sum(base, rxs, len, K, acc);
      return;
    }
    for (int64_t a = 0; a < len; a += kMaxPiece) {
      const int64_t m = std::min(kMaxPiece, len - a);
      std::fill(rel, rel + K, -1);
      c.k->cols_max(base + a * rxs, rxs, m, K, val, rel);
      for (int64_t j = 0; j < K; ++j)
        if (rel[j] >= 0) idx[j] = r + a + rel[j];
    }
  });
}

void run_cols(const Ctx& c, const std::vector<RDim>& kept, const std::vector<RDim>& red, int64_t Kc,
              int64_t kos) {
  const int64_t Oo = product(kept), Rtot = product(red);
  const int64_t nb = (Kc + kColBlock - 1) / kColBlock, tasks = Oo * nb, width = std::min(Kc, kColBlock);
  const int T = get_num_threads();
  const bool is_max = c.op == ReduceOp::max;
  // Task t: up to kColBlock consecutive outputs (a block of the unit-stride kept axis).
  auto task_base = [&](int64_t t, int64_t* xb, int64_t* ob, int64_t* K) {
    const int64_t oo = t / nb, b = t % nb;
    unravel(kept, kept.size(), oo, xb, ob);
    *xb += b * kColBlock;
    *ob += b * kColBlock * kos;
    *K = std::min(kColBlock, Kc - b * kColBlock);
  };
  // Rows [r0, r1) of task t: max into val/idx, sums into sums (as double totals).
  auto unit = [&](int64_t t, int64_t r0, int64_t r1, float* val, int64_t* idx, double* sums) {
    float* buf = thread_workspace(kScratchSlot, size_t(3 * width));
    int64_t xb, ob, K;
    task_base(t, &xb, &ob, &K);
    if (is_max) {
      std::fill(val, val + K, -std::numeric_limits<float>::infinity());
      std::fill(idx, idx + K, r0);
      reduce_cols(c, red, xb, r0, r1, K, nullptr, val, idx, reinterpret_cast<int32_t*>(buf));
    } else {
      std::memset(buf, 0, size_t(3 * K) * sizeof(float));
      reduce_cols(c, red, xb, r0, r1, K, buf, nullptr, nullptr, nullptr);
      for (int64_t j = 0; j < K; ++j) sums[j] = double(buf[K + j]) - double(buf[2 * K + j]);
    }
  };
  if (tasks >= 2 * int64_t(T) || tasks * width * Rtot < 65536) {  // tasks in parallel, stored directly
    const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(width * Rtot, 1));
    parallel_blocks(0, tasks, grain, [&](int64_t t0, int64_t t1) {
      std::vector<float> val(is_max ? size_t(width) : 0);
      std::vector<int64_t> idx(is_max ? size_t(width) : 0);
      std::vector<double> sums(is_max ? 0 : size_t(width));
      for (int64_t t = t0; t < t1; ++t) {
        unit(t, 0, Rtot, val.data(), idx.data(), sums.data());
        int64_t xb, ob, K;
        task_base(t, &xb, &ob, &K);
        for (int64_t j = 0; j < K; ++j) {
          Part p;
          if (is_max) p.val = val[size_t(j)], p.idx = idx[size_t(j)];
          else p.sum = sums[size_t(j)];
          store(c, ob + j * kos, p);
        }
      }
    });
    return;
  }
  // Few tasks, long reductions: P row ranges per task reduced in parallel (few units, so the
  // partial arrays stay small), then combined in row order.
  const int64_t P = std::min(Rtot, (4 * int64_t(T) + tasks - 1) / tasks), units = tasks * P;
  std::vector<double> psum(is_max ? 0 : size_t(units * width));
  std::vector<float> pval(is_max ? size_t(units * width) : 0);
  std::vector<int64_t> pidx(is_max ? size_t(units * width) : 0);
  parallel_blocks(0, units, 1, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t t = u / P, w = u % P;
      unit(t, Rtot * w / P, Rtot * (w + 1) / P, is_max ? pval.data() + u * width : nullptr,
           is_max ? pidx.data() + u * width : nullptr, is_max ? nullptr : psum.data() + u * width);
    }
  });
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t xb, ob, K;
    task_base(t, &xb, &ob, &K);
    for (int64_t j = 0; j < K; ++j) {
      Part total;
      for (int64_t w = 0; w < P; ++w) {
        const size_t at = size_t((t * P + w) * width + j);
        if (is_max) total.take_later(pval[at], pidx[at]);
        else total.sum += psum[at];
      }
      store(c, ob + j * kos, total);
    }
  }
}

// ---- validation, planning ------------------------------------------------------------------

void validate(const TensorView& x, uint32_t reduced, ReduceOp op, const TensorView& out, const TensorView& idx,
              const char* fn) {
  check_f32_cpu(x, fn, "x");
  FASTNN_CHECK_VALUE((reduced >> x.ndim) == 0, fn, ": axes mask ", reduced, " names axes beyond x's rank ", x.ndim);
  check_f32_cpu(out, fn, "out");
  const int kept_rank = x.ndim - __builtin_popcount(reduced);
  FASTNN_CHECK_VALUE(out.ndim == kept_rank, fn, ": out must have rank ", kept_rank, " (the kept axes), got ",
                     out.ndim);
  for (int d = 0, o = 0; d < x.ndim; ++d) {
    if (reduced >> d & 1) continue;
    FASTNN_CHECK_VALUE(out.shape[o] == x.shape[d], fn, ": out must have shape of x's kept axes, got ",
                       shape_str(out), " for x ", shape_str(x));
    FASTNN_CHECK_VALUE(out.shape[o] <= 1 || out.strides[o] != 0, fn, ": out must not have zero strides");
    ++o;
  }
  if (op == ReduceOp::max) {
    FASTNN_CHECK_VALUE(idx.data != nullptr, fn, ": indices output is required");
    FASTNN_CHECK_VALUE(idx.device == Device::cpu, fn, ": indices must be a CPU array");
    check_dtype(idx, DType::i64, fn, "indices");
    FASTNN_CHECK_VALUE(idx.ndim == out.ndim, fn, ": indices must have out's shape");
    for (int d = 0; d < out.ndim; ++d) {
      FASTNN_CHECK_VALUE(idx.shape[d] == out.shape[d] && idx.strides[d] == out.strides[d], fn,
                         ": indices must have out's shape and strides");
    }
    check_offsets_fit(idx, fn);
  }
}

void reduce_impl(const TensorView& x, uint32_t reduced, ReduceOp op, const TensorView& out, const TensorView& idx,
                 const char* fn) {
  int64_t count = 1, outputs = 1;
  std::vector<RDim> kept, red;
  for (int d = 0, o = 0; d < x.ndim; ++d) {
    if (reduced >> d & 1) {
      count *= x.shape[d];
      if (x.shape[d] != 1) red.push_back({x.shape[d], x.strides[d], 0});
    } else {
      outputs *= x.shape[d];
      if (x.shape[d] != 1) kept.push_back({x.shape[d], x.strides[d], out.strides[o]});
      ++o;
    }
  }
  if (outputs == 0) return;
  Ctx c{&reduce_kernels_for(active_isa()), op, x.ptr<float>(), out.ptr<float>(), idx.ptr<int64_t>(),
        op == ReduceOp::mean ? 1.0 / double(count) : 1.0};
  if (count == 0) {
    FASTNN_CHECK_VALUE(op != ReduceOp::max, fn, ": zero-size reduction has no maximum (x has shape ", shape_str(x),
                       ")");
    const float v = op == ReduceOp::mean ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    for_runs(kept.empty() ? std::vector<RDim>{{1, 0, 0}} : kept, 0, outputs,
             [&](int64_t, int64_t, int64_t oo, int64_t len, int64_t, int64_t os) {
               for (int64_t q = 0; q < len; ++q) c.out[oo + q * os] = v;
             });
    return;
  }
  // Memory-order row walk first (several reduced rows per output, contiguous runs last).
  std::vector<CDim> comb;
  for (int d = 0, o = 0; d < x.ndim; ++d) {
    const bool r = reduced >> d & 1;
    const int64_t os = r ? 0 : out.strides[o++];
    if (x.shape[d] == 1) continue;
    if (!comb.empty() && comb.back().reduced == r && comb.back().xs == x.strides[d] * x.shape[d] &&
        (r || comb.back().os == os * x.shape[d])) {
      comb.back() = {comb.back().size * x.shape[d], x.strides[d], os, r};
      continue;
    }
    comb.push_back({x.shape[d], x.strides[d], os, r});
  }
  if (!comb.empty() && comb.back().reduced && comb.back().xs == 1) {
    const int64_t Lr = comb.back().size;
    comb.pop_back();
    if (run_rows_ordered(c, comb, Lr)) return;
  }
  coalesce(&red, false);
  coalesce(&kept, true);
  if (red.empty()) red.push_back({1, 1, 0});  // nothing reduced: rows of one element
  if (red.back().xs == 1) {
    const int64_t Lr = red.back().size;
    red.pop_back();
    if (red.empty()) red.push_back({1, 0, 0});
    if (kept.empty()) kept.push_back({1, 0, 0});
    run_rows(c, kept, red, Lr);
    return;
  }
  for (size_t d = 0; d < kept.size(); ++d) {
    if (kept[d].xs != 1) continue;
    const int64_t Kc = kept[d].size, kos = kept[d].os;
    kept.erase(kept.begin() + long(d));
    if (kept.empty()) kept.push_back({1, 0, 0});
    run_cols(c, kept, red, Kc, kos);
    return;
  }
  // No unit-stride axis: copy x to a contiguous buffer, then plan again.
  const int64_t n = checked_numel(x, fn);
  AlignedPtr<float> tmp = aligned_alloc_array<float>(size_t(n));
  std::vector<RDim> all;
  for (int d = 0; d < x.ndim; ++d) all.push_back({x.shape[d], x.strides[d], 0});
  TensorView xc = x;
  xc.data = tmp.get();
  int64_t stride = 1;
  for (int d = x.ndim - 1; d >= 0; --d) xc.strides[d] = stride, stride *= x.shape[d];
  const float* src = x.ptr<float>();
  float* dst = tmp.get();
  parallel_blocks(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for_runs(all, lo, hi, [&](int64_t i, int64_t xo, int64_t, int64_t len, int64_t xs, int64_t) {
      for (int64_t q = 0; q < len; ++q) dst[i + q] = src[xo + q * xs];
    });
  });
  reduce_impl(xc, reduced, op, out, idx, fn);
}

const char* op_name(ReduceOp op) { return op == ReduceOp::sum ? "sum" : op == ReduceOp::mean ? "mean" : "max"; }

}  // namespace

void reduce_cpu(const TensorView& x, uint32_t reduced, ReduceOp op, const TensorView& out, const TensorView& idx) {
  const char* fn = op_name(op);
  validate(x, reduced, op, out, idx, fn);
  reduce_impl(x, reduced, op, out, idx, fn);
}

void max_backward_cpu(const TensorView& grad, const TensorView& idx, uint32_t reduced, const TensorView& grad_x) {
  const char* fn = "max_backward";
  check_f32_cpu(grad_x, fn, "grad_x");
  check_contiguous(grad_x, fn, "grad_x");
  FASTNN_CHECK_VALUE((reduced >> grad_x.ndim) == 0, fn, ": axes mask names axes beyond x's rank ", grad_x.ndim);
  check_f32_cpu(grad, fn, "grad_out");
  FASTNN_CHECK_VALUE(idx.device == Device::cpu, fn, ": indices must be a CPU array");
  check_dtype(idx, DType::i64, fn, "indices");
  checked_numel(idx, fn);
  check_offsets_fit(idx, fn);
  const int kept_rank = grad_x.ndim - __builtin_popcount(reduced);
  FASTNN_CHECK_VALUE(grad.ndim == kept_rank && idx.ndim == kept_rank, fn,
                     ": grad_out and indices must have the kept axes' shape");
  std::vector<RDim> kept, red;  // kept: (size, grad_x stride, grad stride); red: (size, grad_x stride)
  std::vector<int64_t> istrides;
  int64_t count = 1;
  for (int d = 0, o = 0; d < grad_x.ndim; ++d) {
    if (reduced >> d & 1) {
      red.push_back({grad_x.shape[d], grad_x.strides[d], 0});
      count *= grad_x.shape[d];
      continue;
    }
    FASTNN_CHECK_VALUE(grad.shape[o] == grad_x.shape[d] && idx.shape[o] == grad_x.shape[d], fn,
                       ": grad_out and indices must have the kept axes' shape, got ", shape_str(grad), " and ",
                       shape_str(idx), " for x ", shape_str(grad_x));
    kept.push_back({grad_x.shape[d], grad_x.strides[d], grad.strides[o]});
    istrides.push_back(idx.strides[o]);
    ++o;
  }
  const int64_t n = checked_numel(grad_x, fn);
  float* gx = grad_x.ptr<float>();
  parallel_blocks(0, n, 1 << 16,
               [&](int64_t lo, int64_t hi) { std::memset(gx + lo, 0, size_t(hi - lo) * sizeof(float)); });
  if (n == 0) return;
  if (red.empty()) red.push_back({1, 0, 0});
  if (kept.empty()) kept.push_back({1, 0, 0}), istrides.push_back(0);
  const int64_t O = product(kept);
  const float* g = grad.ptr<float>();
  const int64_t* ix = idx.ptr<int64_t>();
  parallel_blocks(0, O, 4096, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      int64_t xo = 0, go = 0, io = 0, flat = o;
      for (size_t d = kept.size(); d-- > 0;) {
        const int64_t q = flat % kept[d].size;
        flat /= kept[d].size;
        xo += q * kept[d].xs, go += q * kept[d].os, io += q * istrides[d];
      }
      const int64_t i = ix[io];
      FASTNN_CHECK_VALUE(i >= 0 && i < count, fn, ": index ", i, " out of range [0, ", count, ")");
      int64_t ro, dummy;
      unravel(red, red.size(), i, &ro, &dummy);
      gx[xo + ro] = g[go];
    }
  });
}

}  // namespace fastnn
