// layer_norm and rms_norm drivers: rows of a (rows, n) view are independent, so threads split
// the rows; the weight/bias gradients are column sums over rows, accumulated per thread
// (blocked + compensated, see kahan_fold) and merged here in double.
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/parallel_blocks.h"
#include "common/workspace.h"
#include "cpu/norm/norm.h"
#include "cpu/norm/norm_kernels.h"
#include "cpu/stream_policy.h"
#include "cpu/view_checks.h"

namespace fastnn {
namespace {

// Rows per scheduling block: ~64K elements, but at least 4 blocks per thread when rows allow.
int64_t row_block(int64_t rows, int64_t n) {
  const int64_t by_size = std::max<int64_t>(1, 65536 / std::max<int64_t>(n, 1));
  const int64_t by_count = std::max<int64_t>(1, rows / (4 * int64_t(get_num_threads())));
  return std::min(by_size, by_count);
}

void check_eps(double eps, const char* fn) {
  FASTNN_CHECK_VALUE(std::isfinite(eps) && eps >= 0, fn, ": eps must be finite and >= 0, got ", eps);
}

void check_vec(const TensorView& t, int64_t n, const char* fn, const char* arg) {
  if (!t.data) return;
  check_f32_cpu(t, fn, arg);
  check_shape(t, {n}, fn, arg);
  check_contiguous(t, fn, arg);
}

void check_rows_like(const TensorView& t, const TensorView& like, const char* fn, const char* arg) {
  check_f32_cpu(t, fn, arg);
  check_rows(t, fn, arg);
  check_shape(t, {like.shape[0], like.shape[1]}, fn, arg);
}

void fill(const TensorView& t, float v) {
  if (!t.data) return;
  float* p = t.ptr<float>();
  const int64_t n = t.ndim ? t.shape[0] : 1;
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

// ---- forward ---------------------------------------------------------------------------------

void row_norm_fwd(const char* fn, bool layer, const TensorView& x, const TensorView& w, const TensorView& b,
                  double eps, const TensorView& y, const TensorView& mean, const TensorView& rstd) {
  check_f32_cpu(x, fn, "x");
  check_rows(x, fn, "x");
  const int64_t rows = x.shape[0], n = x.shape[1];
  check_rows_like(y, x, fn, "y");
  check_vec(w, n, fn, "weight");
  check_vec(b, n, fn, "bias");
  check_vec(mean, rows, fn, "mean");
  check_vec(rstd, rows, fn, "rstd");
  check_eps(eps, fn);
  if (rows == 0) return;
  if (n == 0) {  // statistics of nothing, as NumPy: NaN
    fill(mean, std::numeric_limits<float>::quiet_NaN());
    fill(rstd, std::numeric_limits<float>::quiet_NaN());
    return;
  }
  RowNormFwdArgs a;
  a.n = n;
  a.x = x.ptr<float>(), a.ldx = x.strides[0];
  a.w = w.ptr<float>(), a.b = b.ptr<float>();
  a.eps = float(eps);
  a.y = y.ptr<float>(), a.ldy = y.strides[0];
  a.mean = mean.ptr<float>(), a.rstd = rstd.ptr<float>();
  a.stream = use_streaming_stores(2 * rows * n * int64_t(sizeof(float)));
  const NormKernels& k = norm_kernels_for(active_isa());
  const RowNormFwdFn leaf = layer ? k.layer_norm_fwd : k.rms_norm_fwd;
  parallel_blocks(0, rows, row_block(rows, n), [&](int64_t lo, int64_t hi) { leaf(a, lo, hi); });
}

// ---- backward --------------------------------------------------------------------------------

void row_norm_bwd(const char* fn, bool layer, const TensorView& g, const TensorView& x, const TensorView& w,
                  const TensorView& mean, const TensorView& rstd, double eps, const TensorView& dx,
                  const TensorView& dw, const TensorView& db) {
  check_f32_cpu(x, fn, "x");
  check_rows(x, fn, "x");
  const int64_t rows = x.shape[0], n = x.shape[1];
  check_rows_like(g, x, fn, "grad_out");
  check_rows_like(dx, x, fn, "grad_x");
  check_vec(w, n, fn, "weight");
  check_vec(mean, rows, fn, "mean");
  check_vec(rstd, rows, fn, "rstd");
  check_vec(dw, n, fn, "grad_weight");
  check_vec(db, n, fn, "grad_bias");
  if (layer) {
    FASTNN_CHECK_VALUE(!mean.data == !rstd.data, fn, ": pass both mean and rstd (saved by the forward) or neither");
  }
  check_eps(eps, fn);

  const bool want = dw.data || db.data;
  if (rows == 0 || n == 0) {
    if (dw.data) std::memset(dw.data, 0, size_t(n) * sizeof(float));
    if (db.data) std::memset(db.data, 0, size_t(n) * sizeof(float));
    return;
  }
  RowNormBwdArgs a;
  a.n = n;
  a.g = g.ptr<float>(), a.ldg = g.strides[0];
  a.x = x.ptr<float>(), a.ldx = x.strides[0];
  a.w = w.ptr<float>();
  a.mean = mean.ptr<float>(), a.rstd = rstd.ptr<float>();
  a.eps = float(eps);
  a.dx = dx.ptr<float>(), a.lddx = dx.strides[0];
  a.want_dw = dw.data != nullptr, a.want_db = db.data != nullptr;
  a.stream = use_streaming_stores(3 * rows * n * int64_t(sizeof(float)));
  const NormKernels& k = norm_kernels_for(active_isa());
  const RowNormBwdFn leaf = layer ? k.layer_norm_bwd : k.rms_norm_bwd;

  // Blocks of whole fold groups where rows allow, so the compensated folds stay rare.
  const int64_t block = std::max(row_block(rows, n), std::min<int64_t>(rows, kNormFoldRows));
  const int max_threads = block_threads(rows, block);
  const size_t per_thread = want ? size_t(6 * n) : 0;
  AlignedPtr<float> acc = aligned_alloc_array<float>(per_thread * size_t(max_threads));
  if (want) std::memset(acc.get(), 0, per_thread * size_t(max_threads) * sizeof(float));
  const int used = max_threads;
  parallel_blocks_tid(
      0, rows, block, [&](int tid, int64_t lo, int64_t hi) { leaf(a, lo, hi, acc.get() + per_thread * size_t(tid)); },
      max_threads);
  // Thread totals are sum - comp (see kahan_fold); threads that got no rows hold zeros.
  auto merge = [&](const TensorView& out, int64_t sum_off, int64_t comp_off) {
    if (!out.data) return;
    float* o = out.ptr<float>();
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int t = 0; t < used; ++t) {
        const float* base = acc.get() + per_thread * size_t(t);
        s += double(base[sum_off + j]) - double(base[comp_off + j]);
      }
      o[j] = float(s);
    }
  };
  merge(dw, 2 * n, 3 * n);
  merge(db, 4 * n, 5 * n);
}

}  // namespace

void layer_norm_fwd_cpu(const TensorView& x, const TensorView& w, const TensorView& b, double eps,
                        const TensorView& y, const TensorView& mean, const TensorView& rstd) {
  row_norm_fwd("layer_norm", true, x, w, b, eps, y, mean, rstd);
}

void layer_norm_bwd_cpu(const TensorView& g, const TensorView& x, const TensorView& w, const TensorView& mean,
                        const TensorView& rstd, double eps, const TensorView& dx, const TensorView& dw,
                        const TensorView& db) {
  row_norm_bwd("layer_norm_backward", true, g, x, w, mean, rstd, eps, dx, dw, db);
}

void rms_norm_fwd_cpu(const TensorView& x, const TensorView& w, double eps, const TensorView& y,
                      const TensorView& rstd) {
  row_norm_fwd("rms_norm", false, x, w, TensorView{}, eps, y, TensorView{}, rstd);
}

void rms_norm_bwd_cpu(const TensorView& g, const TensorView& x, const TensorView& w, const TensorView& rstd,
                      double eps, const TensorView& dx, const TensorView& dw) {
  row_norm_bwd("rms_norm_backward", false, g, x, w, TensorView{}, rstd, eps, dx, dw, TensorView{});
}

}  // namespace fastnn
