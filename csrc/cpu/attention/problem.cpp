#include "cpu/attention/problem.h"

#include <cmath>
#include <cstring>

namespace fastnn {
namespace attn {

namespace {

void check_f32_4d(const char* fn, const char* arg, const TensorView& t) {
  check_dtype(t, DType::f32, fn, arg);
  FASTNN_CHECK_VALUE(t.device == Device::cpu, fn, ": ", arg, " must be a CPU array");
  FASTNN_CHECK_VALUE(t.ndim == 4, fn, ": ", arg, " must have 4 dimensions (B, H, L, D), got ", t.ndim);
}

void check_extent(const char* fn, const char* arg, const TensorView& t) {
  const std::string what = str_cat(fn, ": ", arg);
  checked_numel(t, what.c_str());
  check_offsets_fit(t, what.c_str());
}

std::string shape_str(const int64_t* s, int n) {
  std::string r = "(";
  for (int i = 0; i < n; ++i) r += str_cat(i ? ", " : "", s[i]);
  return r + ")";
}

}  // namespace

void check_input(const char* fn, const char* arg, const TensorView& t, int ndim, const int64_t* shape) {
  check_dtype(t, DType::f32, fn, arg);
  FASTNN_CHECK_VALUE(t.device == Device::cpu, fn, ": ", arg, " must be a CPU array");
  bool same = t.ndim == ndim;
  for (int d = 0; same && d < ndim; ++d) same = t.shape[d] == shape[d];
  FASTNN_CHECK_VALUE(same, fn, ": ", arg, " must have shape ", shape_str(shape, ndim), ", got ",
                     shape_str(t.shape, t.ndim));
  check_extent(fn, arg, t);
}

void check_output(const char* fn, const char* arg, const TensorView& t, int ndim, const int64_t* shape) {
  check_input(fn, arg, t, ndim, shape);
  int64_t numel = 1;
  for (int d = 0; d < ndim; ++d) numel *= t.shape[d];
  if (numel == 0) return;  // NumPy gives empty arrays zero strides
  for (int d = 0; d < ndim; ++d)
    FASTNN_CHECK_VALUE(t.shape[d] <= 1 || t.strides[d] != 0, fn, ": ", arg, " must not have zero strides");
}

Operand operand_of(const TensorView& t) {
  return Operand{t.ptr<float>(), t.strides[0], t.strides[1], t.strides[2], t.strides[3]};
}

Lse lse_of(const TensorView& t) {
  if (!t.data) return Lse{};
  return Lse{t.ptr<float>(), t.strides[0], t.strides[1], t.strides[2]};
}

Problem make_problem(const char* fn, const TensorView& q, const TensorView& k, const TensorView& v,
                     const TensorView& mask, bool causal, double scale) {
  check_f32_4d(fn, "q", q);
  check_f32_4d(fn, "k", k);
  check_f32_4d(fn, "v", v);
  Problem p;
  p.B = q.shape[0];
  p.Hq = q.shape[1];
  p.Lq = q.shape[2];
  p.D = q.shape[3];
  p.Hkv = k.shape[1];
  p.Lk = k.shape[2];
  p.Dv = v.shape[3];
  FASTNN_CHECK_VALUE(k.shape[0] == p.B && v.shape[0] == p.B, fn, ": batch sizes differ: q has ", p.B, ", k has ",
                     k.shape[0], ", v has ", v.shape[0]);
  FASTNN_CHECK_VALUE(v.shape[1] == p.Hkv && v.shape[2] == p.Lk, fn, ": k and v must agree in (heads, length), got ",
                     "k ", shape_str(k.shape, 4), " and v ", shape_str(v.shape, 4));
  FASTNN_CHECK_VALUE(k.shape[3] == p.D, fn, ": q and k must have the same head dim, got ", p.D, " and ", k.shape[3]);
  FASTNN_CHECK_VALUE(p.D >= 1 && p.Dv >= 1, fn, ": head dims must be >= 1, got D=", p.D, ", Dv=", p.Dv);
  FASTNN_CHECK_VALUE(p.Hkv >= 1 && p.Hq % p.Hkv == 0, fn, ": q heads (", p.Hq, ") must be a multiple of k/v heads (",
                     p.Hkv, ")");
  FASTNN_CHECK_VALUE(std::isfinite(scale), fn, ": scale must be finite, got ", scale);
  check_extent(fn, "q", q);
  check_extent(fn, "k", k);
  check_extent(fn, "v", v);
  p.rep = p.Hq / p.Hkv;
  p.off = p.Lk - p.Lq;
  p.causal = causal;
  p.scale = float(scale);
  p.q = operand_of(q);
  p.k = operand_of(k);
  p.v = operand_of(v);
  if (mask.data) {
    FASTNN_CHECK_TYPE(mask.dtype == DType::b8 || mask.dtype == DType::f32, fn,
                      ": mask must be bool or float32, got ", dtype_name(mask.dtype));
    FASTNN_CHECK_VALUE(mask.device == Device::cpu, fn, ": mask must be a CPU array");
    const int64_t full[4] = {p.B, p.Hq, p.Lq, p.Lk};
    bool ok = mask.ndim == 4;
    for (int d = 0; ok && d < 4; ++d) ok = mask.shape[d] == full[d] || mask.shape[d] == 1;
    FASTNN_CHECK_VALUE(ok, fn, ": mask must broadcast to ", shape_str(full, 4), " as a 4-d array, got ",
                       shape_str(mask.shape, mask.ndim));
    check_extent(fn, "mask", mask);
    p.mask.p = mask.data;
    p.mask.is_bool = mask.dtype == DType::b8;
    // A size-1 dimension broadcasts: its index is always 0, whatever its stride.
    p.mask.sb = mask.shape[0] == 1 ? 0 : mask.strides[0];
    p.mask.sh = mask.shape[1] == 1 ? 0 : mask.strides[1];
    p.mask.si = mask.shape[2] == 1 ? 0 : mask.strides[2];
    p.mask.sj = mask.shape[3] == 1 ? 0 : mask.strides[3];
  }
  return p;
}

bool fill_mask_bias(const Mask& m, int64_t b, int64_t h, int64_t q0, int64_t nq, int64_t kb, int64_t nk, float unit,
                    float* row_buf, float* tile_buf, ScoreBlock& blk) {
  const float ninf = -__builtin_inff();
  bool live = false;
  if (m.si == 0) {
    for (int64_t j = 0; j < nk; ++j) {
      row_buf[j] = unit * m.bias(b, h, 0, kb + j);
      live |= row_buf[j] != ninf;
    }
    blk.bias_row = row_buf;
    return live;
  }
  // Read along keys (the usual contiguous axis of a mask), write transposed.
  for (int64_t i = 0; i < nq; ++i)
    for (int64_t j = 0; j < nk; ++j) {
      const float x = unit * m.bias(b, h, q0 + i, kb + j);
      tile_buf[j * blk.ldbias + i] = x;
      live |= x != ninf;
    }
  for (int64_t j = 0; j < nk; ++j)
    for (int64_t i = nq; i < blk.n; ++i) tile_buf[j * blk.ldbias + i] = 0.0f;
  blk.bias_tile = tile_buf;
  return live;
}

void pack_rows(const float* src, int64_t sl, int64_t sd, int64_t nk, int64_t n, float* dst, int64_t ld) {
  for (int64_t j = 0; j < nk; ++j) {
    const float* s = src + j * sl;
    float* d = dst + j * ld;
    if (sd == 1)
      std::memcpy(d, s, size_t(n) * sizeof(float));
    else
      for (int64_t t = 0; t < n; ++t) d[t] = s[t * sd];
  }
}

void pack_transposed(const Leaves& lv, const float* src, int64_t sl, int64_t sd, int64_t n, int64_t D, float scale,
                     float* dst, int64_t ld) {
  if (sd == 1) return lv.pack_transposed(src, sl, n, D, scale, dst, ld);
  const int64_t np = round_up(n, lv.lanes);
  for (int64_t d = 0; d < D; ++d) {
    for (int64_t i = 0; i < n; ++i) dst[d * ld + i] = scale * src[i * sl + d * sd];
    for (int64_t i = n; i < np; ++i) dst[d * ld + i] = 0.0f;
  }
}

void unpack_transposed(const Leaves& lv, const float* src, int64_t ld, int64_t n, int64_t D, const float* rowscale,
                       float* dst, int64_t sl, int64_t sd) {
  if (sd == 1) return lv.unpack_transposed(src, ld, n, D, rowscale, dst, sl);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) dst[i * sl + d * sd] = rowscale[i] == 0.0f ? 0.0f : rowscale[i] * src[d * ld + i];
}

int64_t choose_bq(const Leaves& lv, int64_t Lq, int64_t units, int64_t min_tasks, int64_t bytes_per_query,
                  int64_t budget) {
  const int64_t cap = round_up(Lq > 0 ? Lq : 1, lv.bq);
  for (int64_t bq = lv.bq_max; bq > lv.bq; bq /= 2) {
    if (bq * bytes_per_query > budget) continue;
    const int64_t b = bq < cap ? bq : cap;
    if (units * ((Lq + b - 1) / b) >= min_tasks) return b;
  }
  return lv.bq;
}

const Leaves& leaves_for(Isa isa) {
  // Row 0 is the generic reference twin; without x86 every row falls back to it.
  static const Leaves* const table[kNumIsas] = {
      &leaves_generic(),
#if defined(FASTNN_X86)
      &leaves_avx2(),
      &leaves_avx512(),
#else
      &leaves_generic(),
      &leaves_generic(),
#endif
  };
  return *table[int(isa)];
}

}  // namespace attn
}  // namespace fastnn
