// cross_entropy from logits, fused with the log-softmax: the forward reads each slice of logits
// once from memory (max + Σ w·x, then Σ exp from cache), the backward twice (stats, then the
// gradient), and neither materialises log-probabilities.
//
// Per position i (class axis c, target t, weight w, smoothing ε, W = Σ_c w_c, lse = m + log s):
//   loss_i = valid_i · ((1 - ε)·w_t·(lse - x_t) + ε/C·(W·lse - Σ_c w_c x_c))
//   dx_ic  = coef_i · valid_i · (p_c·((1 - ε) w_t + ε/C·W) - ε/C·w_c - (1 - ε) w_t [c = t])
// with coef_i = grad_out_i (none), grad_out (sum) or grad_out / Σ_i valid_i w_{t_i} (mean), so
// an all-ignored batch gives NaN under 'mean' (0/0), as PyTorch.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/activation/activation.h"
#include "cpu/activation/pointwise.h"
#include "cpu/loss/loss.h"
#include "cpu/loss/loss_kernels.h"

namespace fastnn {

Reduction parse_reduction(const std::string& s, const char* fn) {
  if (s == "mean") return Reduction::mean;
  if (s == "sum") return Reduction::sum;
  if (s == "none") return Reduction::none;
  throw ValueError(str_cat(fn, ": reduction must be 'mean', 'sum' or 'none', got '", s, "'"));
}

const LossKernels& loss_kernels(Isa isa) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return loss_kernels_avx512();
    case Isa::avx2: return loss_kernels_avx2();
#endif
    default: return loss_kernels_generic();
  }
}

namespace {

constexpr int kOpLogits = 0, kOpTarget = 1, kOpPer = 2, kOpDx = 3, kNumOps = 4;

// Positions = every logits index with the class dimension (1) and optionally a lane dimension
// removed; per operand element offsets, walked with an odometer.
struct PosWalk {
  int nd = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kNumOps][kMaxDims] = {};
  int64_t count = 1;

  // views: logits-shaped (logits, dx) or target-shaped (target, out / grad_out); null = absent
  PosWalk(const TensorView* ops[kNumOps], int skip_lane) {
    const TensorView& lg = *ops[kOpLogits];
    for (int d = 0; d < lg.ndim; ++d) {
      if (d == 1 || d == skip_lane || lg.shape[d] == 1) continue;
      shape[nd] = lg.shape[d];
      for (int k = 0; k < kNumOps; ++k) stride[k][nd] = strides_at(ops[k], k, d);
      count *= shape[nd];
      ++nd;
    }
  }
  static int64_t strides_at(const TensorView* t, int k, int d) {
    if (!t || !t->data) return 0;
    const bool target_like = k == kOpTarget || k == kOpPer;
    return target_like ? t->strides[d == 0 ? 0 : d - 1] : t->strides[d];
  }
  void begin(int64_t flat, int64_t* idx, int64_t* off) const {
    for (int k = 0; k < kNumOps; ++k) off[k] = 0;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = flat % shape[d];
      flat /= shape[d];
      for (int k = 0; k < kNumOps; ++k) off[k] += idx[d] * stride[k][d];
    }
  }
  void next(int64_t* idx, int64_t* off) const {
    for (int d = nd - 1; d >= 0; --d) {
      for (int k = 0; k < kNumOps; ++k) off[k] += stride[k][d];
      if (++idx[d] < shape[d]) return;
      for (int k = 0; k < kNumOps; ++k) off[k] -= shape[d] * stride[k][d];
      idx[d] = 0;
    }
  }
};

int64_t read_index(const TensorView& t, int64_t off) {
  return t.dtype == DType::i64 ? t.ptr<int64_t>()[off] : int64_t(t.ptr<int32_t>()[off]);
}

struct Partial {
  double loss = 0.0, weight = 0.0;
  int64_t bad_pos = -1;  // first position (in its task) whose target is out of range
};

struct Setup {
  const CrossEntropyArgs& a;
  const LossKernels& K;
  int64_t C = 0;
  std::vector<float> w;  // contiguous copy of weight (empty: unweighted)
  double W = 0.0;        // Σ w (C when unweighted)
  double eps = 0.0;
  bool smooth = false;
  const float* wptr() const { return w.empty() ? nullptr : w.data(); }
  double wt(int64_t t) const { return w.empty() ? 1.0 : double(w[size_t(t)]); }

  // dx at the target class, in double: p_t·((1-ε)w_t + ε/C·W) - ε/C·w_t - (1-ε)w_t, where the
  // kernel's float a·p_t - b·w_t would leave rounding noise in the cancellation (C = 1: exactly 0).
  float target_grad(double coef, float xt, float m, double ls, double w_t) const {
    const double pt = std::exp((double(xt) - m) - ls), ec = eps / double(C);
    return float(coef * (pt * ((1.0 - eps) * w_t + ec * W) - ec * w_t - (1.0 - eps) * w_t));
  }

  // Loss of one valid position from its slice statistics (double from here on).
  // wx = Σ_c w_c (x_c - m), so Σ_c w_c log p_c = wx - W·log s.
  double loss(float m, float s, float wx, float xt, double w_t) const {
    const double ls = std::log(double(s));
    double l = -(1.0 - eps) * w_t * ((double(xt) - m) - ls);
    if (smooth) l -= eps / double(C) * (double(wx) - W * ls);
    return l;
  }
};

std::string shape_str(const TensorView& t) {
  std::string s = "(";
  for (int d = 0; d < t.ndim; ++d) s += str_cat(d ? ", " : "", t.shape[d]);
  return s + (t.ndim == 1 ? ",)" : ")");
}

void validate(const CrossEntropyArgs& a, const char* fn) {
  const TensorView& lg = a.logits;
  check_dtype(lg, DType::f32, fn, "logits");
  FASTNN_CHECK_VALUE(lg.device == Device::cpu && a.target.device == Device::cpu, fn, ": arrays must be on the CPU");
  FASTNN_CHECK_VALUE(lg.ndim >= 2, fn, ": logits must have shape (N, C) or (N, C, d1, ...), got ", shape_str(lg));
  FASTNN_CHECK_VALUE(lg.shape[1] >= 1, fn, ": logits must have at least one class, got shape ", shape_str(lg));
  FASTNN_CHECK_TYPE(a.target.dtype == DType::i64 || a.target.dtype == DType::i32, fn,
                    ": target must be int64 or int32 class indices, got ", dtype_name(a.target.dtype));
  bool ok = a.target.ndim == lg.ndim - 1 && a.target.shape[0] == lg.shape[0];
  for (int d = 2; ok && d < lg.ndim; ++d) ok = a.target.shape[d - 1] == lg.shape[d];
  FASTNN_CHECK_VALUE(ok, fn, ": target must have shape (N, d1, ...) matching logits ", shape_str(lg), ", got ",
                     shape_str(a.target));
  if (a.weight.data) {
    check_dtype(a.weight, DType::f32, fn, "weight");
    FASTNN_CHECK_VALUE(a.weight.ndim == 1 && a.weight.shape[0] == lg.shape[1], fn, ": weight must have shape (",
                       lg.shape[1], ",), got ", shape_str(a.weight));
    check_offsets_fit(a.weight, fn);
  }
  FASTNN_CHECK_VALUE(std::isfinite(a.label_smoothing) && a.label_smoothing >= 0.0 && a.label_smoothing <= 1.0, fn,
                     ": label_smoothing must be in [0, 1], got ", a.label_smoothing);
  checked_numel(lg, fn);
  check_offsets_fit(lg, fn);
  check_offsets_fit(a.target, fn);
}

Setup make_setup(const CrossEntropyArgs& a) {
  Setup s{a, loss_kernels(active_isa()), 0, {}, 0.0, 0.0, false};
  s.C = a.logits.shape[1];
  s.eps = a.label_smoothing;
  s.smooth = s.eps > 0.0;
  if (a.weight.data) {
    s.w.resize(size_t(s.C));
    for (int64_t c = 0; c < s.C; ++c) s.w[size_t(c)] = a.weight.ptr<float>()[c * a.weight.strides[0]];
    for (float v : s.w) s.W += v;
  } else {
    s.W = double(s.C);
  }
  return s;
}

// A non-class dimension with unit stride in every given logits-shaped view, or -1.
int lane_dim(const TensorView& lg, const TensorView* dx) {
  int best = -1;
  for (int d = 0; d < lg.ndim; ++d) {
    if (d == 1 || lg.shape[d] < 2 || lg.strides[d] != 1 || (dx && dx->strides[d] != 1)) continue;
    if (best < 0 || lg.shape[d] > lg.shape[best]) best = d;
  }
  return best;
}

[[noreturn]] void throw_bad_target(const CrossEntropyArgs& a, const PosWalk& walk, int64_t pos, const char* fn) {
  // Recover the target's multi-index from the walk position (walk dims are the target's dims
  // of size > 1, in order).
  int64_t idx[kMaxDims], off[kNumOps];
  walk.begin(pos, idx, off);
  const int64_t value = read_index(a.target, off[kOpTarget]);
  std::string where = "[";
  int w = 0;
  for (int d = 0; d < a.target.ndim; ++d) {
    const int64_t i = a.target.shape[d] == 1 ? 0 : idx[w++];
    where += str_cat(d ? ", " : "", i);
  }
  throw ValueError(str_cat(fn, ": target", where, "] = ", value, " is out of range for ", a.logits.shape[1],
                           " classes (ignore_index = ", a.ignore_index, ")"));
}

// Positions per task: about 16K logits, but at least 8 rows of a long row set, so each row's
// successor (prefetched while the row is computed) is usually in the same task.
int64_t rows_per_task(int64_t C, int64_t rows) {
  const int64_t per = std::clamp<int64_t>(16384 / std::max<int64_t>(C, 1), 1, 4096);
  return rows >= 64 * get_num_threads() ? std::max<int64_t>(per, 8) : per;
}

// The logits row of the position after the current one, when it is in [.., p1) and has unit
// class stride (the prefetch target of the row kernels), else null.
const float* next_row(const PosWalk& walk, const int64_t* idx, const int64_t* off, int64_t p, int64_t p1,
                      const float* px, int64_t sc) {
  if (sc != 1 || p + 1 >= p1) return nullptr;
  int64_t i2[kMaxDims], o2[kNumOps];
  std::copy(idx, idx + walk.nd, i2);
  std::copy(off, off + kNumOps, o2);
  walk.next(i2, o2);
  return px + o2[kOpLogits];
}

// Σ over tasks in order; the first bad target (lowest position) is thrown.
template <class TaskFn>
Partial run_tasks(int64_t tasks, int64_t grain, const TaskFn& task) {
  std::vector<Partial> parts(size_t(std::max<int64_t>(tasks, 0)));
  dynamic_for(0, tasks, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) parts[size_t(t)] = task(t);
  });
  Partial total;
  for (const Partial& p : parts) {
    if (p.bad_pos >= 0 && total.bad_pos < 0) total.bad_pos = p.bad_pos;
    total.loss += p.loss;
    total.weight += p.weight;
  }
  return total;
}

}  // namespace

// ---- forward ----------------------------------------------------------------------------------

double cross_entropy_cpu(const CrossEntropyArgs& a, const TensorView& out) {
  const char* fn = "cross_entropy";
  validate(a, fn);
  const bool none = a.reduction == Reduction::none;
  if (none) check_pointwise_operand(out, a.target, fn, "out", true);
  const Setup S = make_setup(a);
  const TensorView& lg = a.logits;
  const int64_t C = S.C, sc = lg.strides[1];
  const float* px = lg.ptr<float>();
  float* po = none ? out.ptr<float>() : nullptr;
  const int q = (C == 1 || sc == 1) ? -1 : lane_dim(lg, nullptr);
  const TensorView* ops[kNumOps] = {&lg, &a.target, none ? &out : nullptr, nullptr};
  Partial total;

  if (q < 0) {  // one slice at a time: in place (unit class stride) or gathered
    const PosWalk walk(ops, -1);
    const int64_t per = rows_per_task(C, walk.count), tasks = (walk.count + per - 1) / per;
    total = run_tasks(tasks, 1, [&](int64_t task) {
      Partial part;
      float* buf = sc == 1 ? nullptr : thread_workspace(1, size_t(C));
      int64_t idx[kMaxDims], off[kNumOps];
      const int64_t p0 = task * per, p1 = std::min(walk.count, p0 + per);
      walk.begin(p0, idx, off);
      for (int64_t p = p0; p < p1; ++p, walk.next(idx, off)) {
        const int64_t t = read_index(a.target, off[kOpTarget]);
        double l = 0.0;
        if (t != a.ignore_index) {
          if (t < 0 || t >= C) {
            if (part.bad_pos < 0) part.bad_pos = p;
            continue;
          }
          const float* x = px + off[kOpLogits];
          if (buf) {
            for (int64_t c = 0; c < C; ++c) buf[c] = x[c * sc];
            x = buf;
          }
          float m, s, wx = 0.0f;
          S.K.ce_row_stats(x, C, S.wptr(), &m, &s, S.smooth ? &wx : nullptr, next_row(walk, idx, off, p, p1, px, sc));
          const double w_t = S.wt(t);
          l = S.loss(m, s, wx, x[t], w_t);
          part.loss += l;
          part.weight += w_t;
        }
        if (po) po[off[kOpPer]] = float(l);
      }
      return part;
    });
    if (total.bad_pos >= 0) throw_bad_target(a, walk, total.bad_pos, fn);
  } else {  // kCeColumns adjacent slices at once along lane dimension q
    const PosWalk walk(ops, q);
    const int64_t L = lg.shape[q], blocks = (L + kCeColumns - 1) / kCeColumns;
    const int tq = q == 0 ? 0 : q - 1;  // the lane dimension in the target-shaped arrays
    const int64_t ts = a.target.strides[tq], os = none ? out.strides[tq] : 0;
    total = run_tasks(walk.count * blocks, std::max<int64_t>(1, 16384 / (C * kCeColumns)), [&](int64_t task) {
      Partial part;
      int64_t idx[kMaxDims], off[kNumOps];
      walk.begin(task / blocks, idx, off);
      const int64_t l0 = (task % blocks) * kCeColumns;
      const int n = int(std::min<int64_t>(kCeColumns, L - l0));
      alignas(64) float m[kCeColumns], s[kCeColumns], wx[kCeColumns];
      const float* x = px + off[kOpLogits] + l0;
      S.K.ce_col_stats(x, sc, C, n, S.wptr(), m, s, S.smooth ? wx : nullptr);
      for (int l = 0; l < n; ++l) {
        const int64_t t = read_index(a.target, off[kOpTarget] + (l0 + l) * ts);
        double loss = 0.0;
        if (t != a.ignore_index) {
          if (t < 0 || t >= C) {
            if (part.bad_pos < 0) part.bad_pos = task;  // resolved to the lane below
            continue;
          }
          const double w_t = S.wt(t);
          loss = S.loss(m[l], s[l], S.smooth ? wx[l] : 0.0f, x[t * sc + l], w_t);
          part.loss += loss;
          part.weight += w_t;
        }
        if (po) po[off[kOpPer] + (l0 + l) * os] = float(loss);
      }
      return part;
    });
    if (total.bad_pos >= 0) {  // report the first bad lane of the first bad task, in target order
      const PosWalk all(ops, -1);
      int64_t idx[kMaxDims], off[kNumOps];
      all.begin(0, idx, off);
      for (int64_t p = 0; p < all.count; ++p, all.next(idx, off)) {
        const int64_t t = read_index(a.target, off[kOpTarget]);
        if (t != a.ignore_index && (t < 0 || t >= C)) throw_bad_target(a, all, p, fn);
      }
    }
  }
  if (a.reduction == Reduction::sum) return total.loss;
  if (a.reduction == Reduction::mean) return total.loss / total.weight;  // 0/0 = NaN when all ignored
  return 0.0;
}

// ---- backward ---------------------------------------------------------------------------------

void cross_entropy_backward_cpu(const CrossEntropyArgs& a, const TensorView& grad_out, double gs,
                                const TensorView& dx) {
  const char* fn = "cross_entropy_backward";
  validate(a, fn);
  const bool none = a.reduction == Reduction::none;
  if (none) check_pointwise_operand(grad_out, a.target, fn, "grad_out", false);
  check_pointwise_operand(dx, a.logits, fn, "out", true);
  const Setup S = make_setup(a);
  const TensorView& lg = a.logits;
  const int64_t C = S.C, sc = lg.strides[1], dsc = dx.strides[1];
  const float* px = lg.ptr<float>();
  float* pd = dx.ptr<float>();
  const float* pg = none ? grad_out.ptr<float>() : nullptr;
  const TensorView* ops[kNumOps] = {&lg, &a.target, none ? &grad_out : nullptr, &dx};

  // Pass over the targets: validation (before anything is written) and Σ valid w_t for 'mean'.
  const PosWalk all(ops, -1);
  const int64_t per_t = 4096, ttasks = (all.count + per_t - 1) / per_t;
  const Partial tw = run_tasks(ttasks, 1, [&](int64_t task) {
    Partial part;
    int64_t idx[kMaxDims], off[kNumOps];
    const int64_t p0 = task * per_t, p1 = std::min(all.count, p0 + per_t);
    all.begin(p0, idx, off);
    for (int64_t p = p0; p < p1; ++p, all.next(idx, off)) {
      const int64_t t = read_index(a.target, off[kOpTarget]);
      if (t == a.ignore_index) continue;
      if (t < 0 || t >= C) {
        if (part.bad_pos < 0) part.bad_pos = p;
      } else {
        part.weight += S.wt(t);
      }
    }
    return part;
  });
  if (tw.bad_pos >= 0) throw_bad_target(a, all, tw.bad_pos, fn);
  const double scale = a.reduction == Reduction::mean ? gs / tw.weight : gs;  // mean, all ignored: NaN
  if (a.reduction == Reduction::mean && !(tw.weight != 0.0)) {
    const PosWalk w2(ops, -1);
    dynamic_for(0, w2.count, std::max<int64_t>(1, 16384 / C), [&](int64_t lo, int64_t hi) {
      int64_t idx[kMaxDims], off[kNumOps];
      w2.begin(lo, idx, off);
      for (int64_t p = lo; p < hi; ++p, w2.next(idx, off))
        for (int64_t c = 0; c < C; ++c) pd[off[kOpDx] + c * dsc] = std::numeric_limits<float>::quiet_NaN();
    });
    return;
  }
  const double e1 = 1.0 - S.eps, ec = S.eps / double(C);

  const int q = (C == 1 || (sc == 1 && dsc == 1)) ? -1 : lane_dim(lg, &dx);
  if (q < 0) {
    const PosWalk walk(ops, -1);
    const int64_t per = rows_per_task(C, walk.count);
    const bool gather = sc != 1 || dsc != 1;
    const bool stream = !gather && pointwise_stream_stores(8 * C * walk.count);
    dynamic_for(0, (walk.count + per - 1) / per, 1, [&](int64_t lo, int64_t hi) {
      float* bx = gather ? thread_workspace(1, size_t(C)) : nullptr;
      float* bd = gather ? thread_workspace(2, size_t(C)) : nullptr;
      float* scratch = stream ? thread_workspace(3, size_t(C)) : nullptr;
      int64_t idx[kMaxDims], off[kNumOps];
      const int64_t p0 = lo * per, p1 = std::min(walk.count, hi * per);
      walk.begin(p0, idx, off);
      for (int64_t p = p0; p < p1; ++p, walk.next(idx, off)) {
        const int64_t t = read_index(a.target, off[kOpTarget]);
        float* d = pd + off[kOpDx];
        if (t == a.ignore_index) {
          for (int64_t c = 0; c < C; ++c) d[c * dsc] = 0.0f;
          continue;
        }
        const float* x = px + off[kOpLogits];
        if (gather) {
          for (int64_t c = 0; c < C; ++c) bx[c] = x[c * sc];
          x = bx;
        }
        float* dd = gather ? bd : d;
        const double coef = (pg ? double(pg[off[kOpPer]]) : 1.0) * scale;
        const double w_t = S.wt(t);
        float m, s;
        S.K.ce_row_grad(x, dd, C, float(coef * (e1 * w_t + ec * S.W)), float(coef * ec), S.wptr(), stream, scratch,
                        next_row(walk, idx, off, p, p1, px, sc), &m, &s);
        dd[t] = S.target_grad(coef, x[t], m, std::log(double(s)), w_t);
        if (gather)
          for (int64_t c = 0; c < C; ++c) d[c * dsc] = bd[c];
      }
    });
    return;
  }
  const PosWalk walk(ops, q);
  const int64_t L = lg.shape[q], blocks = (L + kCeColumns - 1) / kCeColumns;
  const int tq = q == 0 ? 0 : q - 1;
  const int64_t ts = a.target.strides[tq], gls = none ? grad_out.strides[tq] : 0;
  dynamic_for(0, walk.count * blocks, std::max<int64_t>(1, 16384 / (C * kCeColumns)), [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      int64_t idx[kMaxDims], off[kNumOps];
      walk.begin(task / blocks, idx, off);
      const int64_t l0 = (task % blocks) * kCeColumns;
      const int n = int(std::min<int64_t>(kCeColumns, L - l0));
      alignas(64) float m[kCeColumns], s[kCeColumns], ls[kCeColumns], va[kCeColumns], vb[kCeColumns];
      int64_t tl[kCeColumns];
      const float* x = px + off[kOpLogits] + l0;
      float* d = pd + off[kOpDx] + l0;
      S.K.ce_col_stats(x, sc, C, n, nullptr, m, s, nullptr);
      for (int l = 0; l < n; ++l) {
        tl[l] = read_index(a.target, off[kOpTarget] + (l0 + l) * ts);
        const bool valid = tl[l] != a.ignore_index;
        const double coef = valid ? (pg ? double(pg[off[kOpPer] + (l0 + l) * gls]) : 1.0) * scale : 0.0;
        const double w_t = valid ? S.wt(tl[l]) : 0.0;
        ls[l] = float(std::log(double(s[l])));
        va[l] = float(coef * (e1 * w_t + ec * S.W));
        vb[l] = float(coef * ec);
      }
      S.K.ce_col_backward(x, sc, d, dsc, C, n, m, ls, va, vb, S.wptr());
      for (int l = 0; l < n; ++l) {
        if (tl[l] == a.ignore_index) {
          for (int64_t c = 0; c < C; ++c) d[c * dsc + l] = 0.0f;
          continue;
        }
        const double coef = (pg ? double(pg[off[kOpPer] + (l0 + l) * gls]) : 1.0) * scale;
        d[tl[l] * dsc + l] = S.target_grad(coef, x[tl[l] * sc + l], m[l], std::log(double(s[l])), S.wt(tl[l]));
      }
    }
  });
}

}  // namespace fastnn
