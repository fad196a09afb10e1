#include "cpu/softmax/softmax.h"

#include <algorithm>
#include <cmath>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/activation/activation.h"
#include "cpu/activation/pointwise.h"
#include "cpu/softmax/softmax_kernels.h"

namespace fastnn {

const SoftmaxKernels& softmax_kernels(Isa isa) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return softmax_kernels_avx512();
    case Isa::avx2: return softmax_kernels_avx2();
#endif
    default: return softmax_kernels_generic();
  }
}

namespace {

// The dimensions other than the softmax axis (and, for the column path, the lane dimension),
// walked by flat index. Operand k's element offset of slice `flat` is offset(k, flat).
struct SliceWalk {
  int nd = 0;
  int nops = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[3][kMaxDims] = {};
  int64_t count = 1;

  SliceWalk(const TensorView* const* ops, int n, int skip_a, int skip_b) : nops(n) {
    for (int d = 0; d < ops[0]->ndim; ++d) {
      if (d == skip_a || d == skip_b || ops[0]->shape[d] == 1) continue;
      shape[nd] = ops[0]->shape[d];
      for (int k = 0; k < n; ++k) stride[k][nd] = ops[k]->strides[d];
      count *= shape[nd];
      ++nd;
    }
  }
  void offsets(int64_t flat, int64_t* off) const {
    for (int k = 0; k < nops; ++k) off[k] = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int64_t i = flat % shape[d];
      flat /= shape[d];
      for (int k = 0; k < nops; ++k) off[k] += i * stride[k][d];
    }
  }
};

// A dimension other than `dim` with unit stride in every operand (the column path's lanes), or -1.
int lane_dim(const TensorView* const* ops, int n, int dim) {
  int best = -1;
  for (int d = 0; d < ops[0]->ndim; ++d) {
    if (d == dim || ops[0]->shape[d] < 2) continue;
    bool unit = true;
    for (int k = 0; k < n; ++k) unit = unit && ops[k]->strides[d] == 1;
    if (unit && (best < 0 || ops[0]->shape[d] > ops[0]->shape[best])) best = d;
  }
  return best;
}

void gather_row(float* dst, const float* src, int64_t stride, int64_t C) {
  for (int64_t c = 0; c < C; ++c) dst[c] = src[c * stride];
}
void scatter_row(float* dst, const float* src, int64_t stride, int64_t C) {
  for (int64_t c = 0; c < C; ++c) dst[c * stride] = src[c];
}

int normalize_dim(int dim, int ndim, const char* fn) {
  const int lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  FASTNN_CHECK_VALUE(dim >= lo && dim <= hi, fn, ": dim ", dim, " is out of range for an array with ", ndim,
                     " dimensions");
  return dim < 0 ? dim + std::max(ndim, 1) : dim;
}

constexpr int64_t kGrainElements = 32768;

// Rows per dynamically scheduled task: about kGrainElements, but at least 8 rows of a long
// row set so that each row's successor (prefetched while the row is computed) is usually in the
// same task.
int64_t rows_per_task(int64_t C, int64_t rows) {
  const int64_t per = std::max<int64_t>(1, kGrainElements / std::max<int64_t>(C, 1));
  return rows >= 64 * get_num_threads() ? std::max<int64_t>(per, 8) : per;
}

}  // namespace

void softmax_cpu(const TensorView& x, const TensorView& y, int dim, bool log) {
  const char* fn = log ? "log_softmax" : "softmax";
  check_pointwise_operand(x, x, fn, "x", false);
  check_pointwise_operand(y, x, fn, "out", true);
  dim = normalize_dim(dim, x.ndim, fn);
  if (checked_numel(x, fn) == 0) return;
  if (x.ndim == 0) {  // a single element: softmax 1, log_softmax 0 (NaN/inf as the 1-element row)
    const float v = *x.ptr<float>();
    *y.ptr<float>() = log ? v - v : (v - v) + 1.0f;
    return;
  }
  const SoftmaxKernels& K = softmax_kernels(active_isa());
  const TensorView* ops[2] = {&x, &y};
  const int64_t C = x.shape[dim];
  const int64_t xs = x.strides[dim], ys = y.strides[dim];
  const float* px = x.ptr<float>();
  float* py = y.ptr<float>();

  if (C == 1 || (xs == 1 && ys == 1)) {  // rows in place
    SliceWalk w(ops, 2, dim, -1);
    const bool stream = pointwise_stream_stores(8 * C * w.count);
    dynamic_for(0, w.count, rows_per_task(C, w.count), [&](int64_t lo, int64_t hi) {
      float* scratch = stream && !log ? thread_workspace(1, size_t(C)) : nullptr;
      int64_t off[2], next[2];
      w.offsets(lo, off);
      for (int64_t r = lo; r < hi; ++r) {
        if (r + 1 < hi) w.offsets(r + 1, next);
        K.row(px + off[0], py + off[1], C, log, stream, scratch, r + 1 < hi ? px + next[0] : nullptr);
        off[0] = next[0], off[1] = next[1];
      }
    });
    return;
  }
  const int q = lane_dim(ops, 2, dim);
  if (q >= 0) {  // columns: up to kSoftmaxColumns slices side by side
    SliceWalk w(ops, 2, dim, q);
    const int64_t L = x.shape[q], blocks = (L + kSoftmaxColumns - 1) / kSoftmaxColumns;
    dynamic_for(0, w.count * blocks, std::max<int64_t>(1, kGrainElements / (C * kSoftmaxColumns)),
                 [&](int64_t lo, int64_t hi) {
                   int64_t off[2];
                   for (int64_t t = lo; t < hi; ++t) {
                     w.offsets(t / blocks, off);
                     const int64_t l0 = (t % blocks) * kSoftmaxColumns;
                     const int n = int(std::min<int64_t>(kSoftmaxColumns, L - l0));
                     K.col(px + off[0] + l0, xs, py + off[1] + l0, ys, C, n, log);
                   }
                 });
    return;
  }
  SliceWalk w(ops, 2, dim, -1);  // anything else: gather each slice
  dynamic_for(0, w.count, std::max<int64_t>(1, kGrainElements / C), [&](int64_t lo, int64_t hi) {
    float* bx = thread_workspace(1, size_t(C));
    float* by = thread_workspace(2, size_t(C));
    int64_t off[2];
    for (int64_t r = lo; r < hi; ++r) {
      w.offsets(r, off);
      gather_row(bx, px + off[0], xs, C);
      K.row(bx, by, C, log, false, nullptr, nullptr);
      scatter_row(py + off[1], by, ys, C);
    }
  });
}

void softmax_backward_cpu(const TensorView& g, const TensorView& y, const TensorView& dx, int dim, bool log) {
  const char* fn = log ? "log_softmax_backward" : "softmax_backward";
  check_pointwise_operand(y, y, fn, "y", false);
  check_pointwise_operand(g, y, fn, "grad_out", false);
  check_pointwise_operand(dx, y, fn, "out", true);
  dim = normalize_dim(dim, y.ndim, fn);
  if (checked_numel(y, fn) == 0) return;
  if (y.ndim == 0) {
    const float gv = *g.ptr<float>(), yv = *y.ptr<float>();
    *dx.ptr<float>() = log ? gv - std::exp(yv) * gv : yv * (gv - gv * yv);
    return;
  }
  const SoftmaxKernels& K = softmax_kernels(active_isa());
  const TensorView* ops[3] = {&g, &y, &dx};
  const int64_t C = y.shape[dim];
  const int64_t gs = g.strides[dim], ys = y.strides[dim], ds = dx.strides[dim];
  const float* pg = g.ptr<float>();
  const float* py = y.ptr<float>();
  float* pd = dx.ptr<float>();

  if (C == 1 || (gs == 1 && ys == 1 && ds == 1)) {
    SliceWalk w(ops, 3, dim, -1);
    const bool stream = pointwise_stream_stores(12 * C * w.count);
    dynamic_for(0, w.count, rows_per_task(C, w.count), [&](int64_t lo, int64_t hi) {
      int64_t off[3], next[3];
      w.offsets(lo, off);
      for (int64_t r = lo; r < hi; ++r) {
        const bool more = r + 1 < hi;
        if (more) w.offsets(r + 1, next);
        K.row_backward(pg + off[0], py + off[1], pd + off[2], C, log, stream, more ? pg + next[0] : nullptr,
                       more ? py + next[1] : nullptr);
        for (int k = 0; k < 3; ++k) off[k] = next[k];
      }
    });
    return;
  }
  const int q = lane_dim(ops, 3, dim);
  if (q >= 0) {
    SliceWalk w(ops, 3, dim, q);
    const int64_t L = y.shape[q], blocks = (L + kSoftmaxColumns - 1) / kSoftmaxColumns;
    dynamic_for(0, w.count * blocks, std::max<int64_t>(1, kGrainElements / (C * kSoftmaxColumns)),
                 [&](int64_t lo, int64_t hi) {
                   int64_t off[3];
                   for (int64_t t = lo; t < hi; ++t) {
                     w.offsets(t / blocks, off);
                     const int64_t l0 = (t % blocks) * kSoftmaxColumns;
                     const int n = int(std::min<int64_t>(kSoftmaxColumns, L - l0));
                     K.col_backward(pg + off[0] + l0, gs, py + off[1] + l0, ys, pd + off[2] + l0, ds, C, n, log);
                   }
                 });
    return;
  }
  SliceWalk w(ops, 3, dim, -1);
  dynamic_for(0, w.count, std::max<int64_t>(1, kGrainElements / C), [&](int64_t lo, int64_t hi) {
    float* bg = thread_workspace(1, size_t(C));
    float* by = thread_workspace(2, size_t(C));
    float* bd = thread_workspace(3, size_t(C));
    int64_t off[3];
    for (int64_t r = lo; r < hi; ++r) {
      w.offsets(r, off);
      gather_row(bg, pg + off[0], gs, C);
      gather_row(by, py + off[1], ys, C);
      K.row_backward(bg, by, bd, C, log, false, nullptr, nullptr);
      scatter_row(pd + off[2], bd, ds, C);
    }
  });
}

}  // namespace fastnn
