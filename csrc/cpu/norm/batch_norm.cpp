// batch_norm driver. x is viewed as (N, C, S) (S = product of the spatial dims, 1 for (N, C)).
//
// Statistics per channel over N*S elements, read from memory once:
//   plane mode (S >= kBnPlaneMin): work units are chunks (<= kBnChunk elements) of the (n, c)
//     planes, in memory order; each chunk gets exact two-pass stats while it sits in L1/L2, and
//     chunks merge (Chan et al.) into per-thread, per-channel running stats in double.
//   column mode (small S): rows of L = C*S columns, Welford per column within blocks of rows,
//     Chan-merged per thread, then per channel here.
// The normalisation is a second pass; the backward takes one pass for the two channel sums
// and one for grad_x (eval mode fuses them in column mode).
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/parallel_blocks.h"
#include "common/workspace.h"
#include "cpu/norm/norm.h"
#include "cpu/norm/norm_kernels.h"
#include "cpu/stream_policy.h"
#include "cpu/view_checks.h"

namespace fastnn {
namespace {

struct Moments {  // count, mean, M2 = sum of squared deviations
  double n = 0, mean = 0, m2 = 0;
  void merge(double nb, double mb, double m2b) {
    if (nb == 0) return;
    const double nn = n + nb, delta = mb - mean;
    mean += delta * (nb / nn);
    m2 += m2b + delta * delta * (n * nb / nn);
    n = nn;
  }
};

struct Shape3 {
  int64_t N, C, S;
};

// Plane-mode work units: chunk `chunk` elements of each of the N*C planes, cpp chunks per plane.
struct Units {
  int64_t cpp, chunk, count;
  Units(const Shape3& s) {
    cpp = std::max<int64_t>(1, (s.S + kBnChunk - 1) / kBnChunk);
    chunk = (s.S + cpp - 1) / cpp;
    count = s.N * s.C * cpp;
  }
  // -> element offset, length and channel of unit u.
  void at(const Shape3& s, int64_t u, int64_t* off, int64_t* len, int64_t* c) const {
    const int64_t p = u / cpp, ci = u % cpp;
    *c = p % s.C;
    *off = p * s.S + ci * chunk;
    *len = std::min(chunk, s.S - ci * chunk);
  }
  // Units per scheduling block: ~64K elements.
  int64_t block() const { return std::max<int64_t>(1, 65536 / std::max<int64_t>(chunk, 1)); }
};

bool plane_mode(const Shape3& s) { return s.S >= kBnPlaneMin; }

// Rows per scheduling block in column mode: ~64K elements, whole Welford blocks.
int64_t col_block(int64_t L) { return std::max<int64_t>(kBnWelfordBlock, 65536 / std::max<int64_t>(L, 1)); }

// Per-channel moments of x over N and S.
std::vector<Moments> channel_moments(const NormKernels& k, const float* x, const Shape3& s) {
  const int64_t C = s.C;
  std::vector<Moments> out(static_cast<size_t>(C));
  if (plane_mode(s)) {
    const Units units(s);
    const int T = block_threads(units.count, units.block());
    std::vector<Moments> part(size_t(T) * size_t(C));
    parallel_blocks_tid(0, units.count, units.block(), [&](int tid, int64_t lo, int64_t hi) {
      Moments* mine = part.data() + size_t(tid) * size_t(C);
      for (int64_t u = lo; u < hi; ++u) {
        int64_t off, len, c;
        units.at(s, u, &off, &len, &c);
        float mean, m2;
        k.bn_chunk_stats(x + off, len, &mean, &m2);
        mine[c].merge(double(len), mean, m2);
      }
    }, T);
    for (int t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) {
        const Moments& m = part[size_t(t) * size_t(C) + size_t(c)];
        out[size_t(c)].merge(m.n, m.mean, m.m2);
      }
    return out;
  }
  const int64_t L = C * s.S, block = col_block(L);
  const int T = block_threads(s.N, block);
  const size_t per = size_t(4 * L);  // mean, m2, scratch (2 L)
  AlignedPtr<float> buf = aligned_alloc_array<float>(per * size_t(T));
  std::memset(buf.get(), 0, per * size_t(T) * sizeof(float));
  std::vector<int64_t> counts(size_t(T), 0);
  parallel_blocks_tid(0, s.N, block, [&](int tid, int64_t lo, int64_t hi) {
    float* b = buf.get() + per * size_t(tid);
    k.bn_col_stats(x, L, lo, hi, L, b, b + L, &counts[size_t(tid)], b + 2 * L);
  }, T);
  for (int t = 0; t < T; ++t) {
    const float* b = buf.get() + per * size_t(t);
    for (int64_t j = 0; j < L; ++j) out[size_t(j / s.S)].merge(double(counts[size_t(t)]), b[j], b[L + j]);
  }
  return out;
}

// y = (x - mean[c]) * scale[c] + shift[c].
void apply(const NormKernels& k, const float* x, float* y, const Shape3& s, const std::vector<float>& mean,
           const std::vector<float>& scale, const std::vector<float>& shift, bool stream) {
  if (plane_mode(s)) {
    const Units units(s);
    parallel_blocks(0, units.count, units.block(), [&](int64_t lo, int64_t hi) {
      for (int64_t u = lo; u < hi; ++u) {
        int64_t off, len, c;
        units.at(s, u, &off, &len, &c);
        k.bn_chunk_apply(x + off, y + off, len, mean[size_t(c)], scale[size_t(c)], shift[size_t(c)], stream);
      }
    });
    return;
  }
  const int64_t L = s.C * s.S;
  const size_t Lz = static_cast<size_t>(L);
  std::vector<float> em(Lz), es(Lz), eb(Lz);  // per column
  for (int64_t j = 0; j < L; ++j) {
    const size_t c = size_t(j / s.S);
    em[size_t(j)] = mean[c], es[size_t(j)] = scale[c], eb[size_t(j)] = shift[c];
  }
  parallel_blocks(0, s.N, col_block(L), [&](int64_t lo, int64_t hi) {
    k.bn_col_apply(x, L, y, L, lo, hi, L, em.data(), es.data(), eb.data(), stream);
  });
}

void check_vec(const TensorView& t, int64_t n, const char* fn, const char* arg) {
  if (!t.data) return;
  check_f32_cpu(t, fn, arg);
  check_shape(t, {n}, fn, arg);
  check_contiguous(t, fn, arg);
}

Shape3 check_x(const TensorView& x, const char* fn, const char* arg) {
  check_f32_cpu(x, fn, arg);
  FASTNN_CHECK_VALUE(x.ndim == 3, fn, ": ", arg, " must be viewed as 3-D (N, C, S), got shape ", shape_str(x));
  check_contiguous(x, fn, arg);
  return {x.shape[0], x.shape[1], x.shape[2]};
}

void check_like(const TensorView& t, const Shape3& s, const char* fn, const char* arg) {
  check_f32_cpu(t, fn, arg);
  check_shape(t, {s.N, s.C, s.S}, fn, arg);
  check_contiguous(t, fn, arg);
}

void check_scalars(double eps, double momentum, const char* fn) {
  FASTNN_CHECK_VALUE(std::isfinite(eps) && eps >= 0, fn, ": eps must be finite and >= 0, got ", eps);
  FASTNN_CHECK_VALUE(std::isfinite(momentum), fn, ": momentum must be finite, got ", momentum);
}

// Statistics to normalise with: batch (training) or running (eval); rstd = 1/sqrt(var + eps).
void stats_for(const NormKernels& k, const float* x, const Shape3& s, bool training, const TensorView& rm,
               const TensorView& rv, double eps, double momentum, bool update_running, std::vector<float>* mean,
               std::vector<float>* rstd) {
  const size_t C = size_t(s.C);
  mean->assign(C, 0.0f);
  rstd->assign(C, 0.0f);
  if (training) {
    const std::vector<Moments> m = channel_moments(k, x, s);
    const double count = double(s.N) * double(s.S);
    for (size_t c = 0; c < C; ++c) {
      const double var = m[c].m2 / count;
      (*mean)[c] = float(m[c].mean);
      (*rstd)[c] = float(1.0 / std::sqrt(var + eps));
      if (update_running && rm.data) {
        float& r = rm.ptr<float>()[c];
        r = float((1.0 - momentum) * double(r) + momentum * m[c].mean);
      }
      if (update_running && rv.data) {
        float& r = rv.ptr<float>()[c];
        r = float((1.0 - momentum) * double(r) + momentum * m[c].m2 / (count - 1.0));
      }
    }
  } else {
    for (size_t c = 0; c < C; ++c) {
      (*mean)[c] = rm.ptr<float>()[c];
      (*rstd)[c] = float(1.0 / std::sqrt(double(rv.ptr<float>()[c]) + eps));
    }
  }
}

void check_count(const Shape3& s, bool training, const char* fn) {
  if (training) {
    FASTNN_CHECK_VALUE(s.N * s.S > 1, fn, ": expected more than 1 value per channel when training, got input (N=",
                       s.N, ", C=", s.C, ", spatial=", s.S, ")");
  }
}

}  // namespace

void batch_norm_fwd_cpu(const TensorView& x, const TensorView& running_mean, const TensorView& running_var,
                        const TensorView& w, const TensorView& b, bool training, double momentum, double eps,
                        const TensorView& y, const TensorView& save_mean, const TensorView& save_rstd) {
  const char* fn = "batch_norm";
  const Shape3 s = check_x(x, fn, "x");
  check_like(y, s, fn, "y");
  check_vec(running_mean, s.C, fn, "running_mean");
  check_vec(running_var, s.C, fn, "running_var");
  check_vec(w, s.C, fn, "weight");
  check_vec(b, s.C, fn, "bias");
  check_vec(save_mean, s.C, fn, "save_mean");
  check_vec(save_rstd, s.C, fn, "save_rstd");
  check_scalars(eps, momentum, fn);
  FASTNN_CHECK_VALUE(training || (running_mean.data && running_var.data), fn,
                     ": running_mean and running_var are required when training=False");
  check_count(s, training, fn);
  if (s.C == 0) return;

  const NormKernels& k = norm_kernels_for(active_isa());
  std::vector<float> mean, rstd;
  stats_for(k, x.ptr<float>(), s, training, running_mean, running_var, eps, momentum, true, &mean, &rstd);
  std::vector<float> scale(static_cast<size_t>(s.C)), shift(static_cast<size_t>(s.C));
  for (size_t c = 0; c < size_t(s.C); ++c) {
    scale[c] = w.data ? w.ptr<float>()[c] * rstd[c] : rstd[c];
    shift[c] = b.data ? b.ptr<float>()[c] : 0.0f;
    if (save_mean.data) save_mean.ptr<float>()[c] = mean[c];
    if (save_rstd.data) save_rstd.ptr<float>()[c] = rstd[c];
  }
  const int64_t elems = s.N * s.C * s.S;
  if (elems == 0) return;
  apply(k, x.ptr<float>(), y.ptr<float>(), s, mean, scale, shift,
        use_streaming_stores(2 * elems * int64_t(sizeof(float))));
}

void batch_norm_bwd_cpu(const TensorView& g, const TensorView& x, const TensorView& w,
                        const TensorView& running_mean, const TensorView& running_var, bool training,
                        double eps, const TensorView& mean_in, const TensorView& rstd_in, const TensorView& dx,
                        const TensorView& dw, const TensorView& db) {
  const char* fn = "batch_norm_backward";
  const Shape3 s = check_x(x, fn, "x");
  check_like(g, s, fn, "grad_out");
  check_like(dx, s, fn, "grad_x");
  check_vec(w, s.C, fn, "weight");
  check_vec(running_mean, s.C, fn, "running_mean");
  check_vec(running_var, s.C, fn, "running_var");
  check_vec(mean_in, s.C, fn, "mean");
  check_vec(rstd_in, s.C, fn, "rstd");
  check_vec(dw, s.C, fn, "grad_weight");
  check_vec(db, s.C, fn, "grad_bias");
  check_scalars(eps, 0.0, fn);
  FASTNN_CHECK_VALUE(!mean_in.data == !rstd_in.data, fn, ": pass both mean and rstd (saved by the forward) or neither");
  FASTNN_CHECK_VALUE(training || mean_in.data || (running_mean.data && running_var.data), fn,
                     ": running_mean and running_var are required when training=False");
  check_count(s, training, fn);
  if (s.C == 0) return;

  const NormKernels& k = norm_kernels_for(active_isa());
  const size_t C = size_t(s.C);
  std::vector<float> mean, rstd;
  if (mean_in.data) {
    mean.assign(mean_in.ptr<float>(), mean_in.ptr<float>() + C);
    rstd.assign(rstd_in.ptr<float>(), rstd_in.ptr<float>() + C);
  } else {
    stats_for(k, x.ptr<float>(), s, training, running_mean, running_var, eps, 0.0, false, &mean, &rstd);
  }
  std::vector<float> a(C);
  for (size_t c = 0; c < C; ++c) a[c] = w.data ? w.ptr<float>()[c] * rstd[c] : rstd[c];

  const float* gp = g.ptr<float>();
  const float* xp = x.ptr<float>();
  float* dxp = dx.ptr<float>();
  const int64_t elems = s.N * s.C * s.S;
  const bool stream = use_streaming_stores(3 * elems * int64_t(sizeof(float)));
  std::vector<double> sg(C, 0.0), sgx(C, 0.0);  // sum(g), sum(g (x - mean)) per channel
  bool dx_done = false;

  if (elems > 0 && plane_mode(s)) {
    const Units units(s);
    const int T = block_threads(units.count, units.block());
    std::vector<double> part(size_t(T) * 2 * C, 0.0);
    parallel_blocks_tid(0, units.count, units.block(), [&](int tid, int64_t lo, int64_t hi) {
      double* mine = part.data() + size_t(tid) * 2 * C;
      for (int64_t u = lo; u < hi; ++u) {
        int64_t off, len, c;
        units.at(s, u, &off, &len, &c);
        float sums[2];
        k.bn_chunk_sums(gp + off, xp + off, len, mean[size_t(c)], sums);
        mine[2 * c] += sums[0];
        mine[2 * c + 1] += sums[1];
        if (!training)  // grad_x = a g (independent of x) while the chunk is in cache
          k.bn_chunk_apply(gp + off, dxp + off, len, 0.0f, a[size_t(c)], 0.0f, stream);
      }
    }, T);
    for (int t = 0; t < T; ++t) {
      const double* p = part.data() + size_t(t) * 2 * C;
      for (size_t c = 0; c < C; ++c) sg[c] += p[2 * c], sgx[c] += p[2 * c + 1];
    }
    dx_done = !training;
  } else if (elems > 0) {
    const int64_t L = s.C * s.S, block = col_block(L);
    const int T = block_threads(s.N, block);
    std::vector<float> em(static_cast<size_t>(L)), ea(static_cast<size_t>(L));
    for (int64_t j = 0; j < L; ++j) em[size_t(j)] = mean[size_t(j / s.S)], ea[size_t(j)] = a[size_t(j / s.S)];
    const size_t per = size_t(6 * L);
    AlignedPtr<float> acc = aligned_alloc_array<float>(per * size_t(T));
    std::memset(acc.get(), 0, per * size_t(T) * sizeof(float));
    parallel_blocks_tid(0, s.N, block, [&](int tid, int64_t lo, int64_t hi) {
      k.bn_col_sums(gp, L, xp, L, lo, hi, L, em.data(), acc.get() + per * size_t(tid), training ? nullptr : dxp, L,
                    ea.data(), stream);
    }, T);
    for (int t = 0; t < T; ++t) {
      const float* b = acc.get() + per * size_t(t);
      for (int64_t j = 0; j < L; ++j) {
        const size_t c = size_t(j / s.S);
        sg[c] += double(b[2 * L + j]) - double(b[3 * L + j]);
        sgx[c] += double(b[4 * L + j]) - double(b[5 * L + j]);
      }
    }
    dx_done = !training;
  }

  for (size_t c = 0; c < C; ++c) {
    if (dw.data) dw.ptr<float>()[c] = float(sgx[c] * double(rstd[c]));
    if (db.data) db.ptr<float>()[c] = float(sg[c]);
  }
  if (elems == 0 || dx_done) return;

  // Training: dx = a (g - sum(g)/n - (x - mean) rstd^2 sum(g (x - mean))/n).
  const double count = double(s.N) * double(s.S);
  std::vector<float> c2(C), c3(C);
  for (size_t c = 0; c < C; ++c) {
    const double r = rstd[c];
    c2[c] = float(-double(a[c]) * r * r * sgx[c] / count);
    c3[c] = float(-double(a[c]) * sg[c] / count);
  }
  if (plane_mode(s)) {
    const Units units(s);
    parallel_blocks(0, units.count, units.block(), [&](int64_t lo, int64_t hi) {
      for (int64_t u = lo; u < hi; ++u) {
        int64_t off, len, c;
        units.at(s, u, &off, &len, &c);
        const size_t ci = size_t(c);
        k.bn_chunk_dx(gp + off, xp + off, dxp + off, len, a[ci], c2[ci], mean[ci], c3[ci], stream);
      }
    });
    return;
  }
  const int64_t L = s.C * s.S;
  const size_t Lz = static_cast<size_t>(L);
  std::vector<float> ea(Lz), e2(Lz), em(Lz), e3(Lz);
  for (int64_t j = 0; j < L; ++j) {
    const size_t c = size_t(j / s.S);
    ea[size_t(j)] = a[c], e2[size_t(j)] = c2[c], em[size_t(j)] = mean[c], e3[size_t(j)] = c3[c];
  }
  parallel_blocks(0, s.N, col_block(L), [&](int64_t lo, int64_t hi) {
    k.bn_col_dx(gp, L, xp, L, dxp, L, lo, hi, L, ea.data(), e2.data(), em.data(), e3.data(), stream);
  });
}

}  // namespace fastnn
