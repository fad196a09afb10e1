#include "cpu/embedding/embedding.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <vector>

#if defined(FASTNN_X86)
#include <immintrin.h>  // _mm_sfence (SSE, in the baseline)
#endif

#include "common/parallel.h"
#include "cpu/activation/pointwise.h"
#include "cpu/embedding/embedding_kernels.h"

namespace fastnn {

RowAddFn row_add_kernel(Isa isa) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return row_add_avx512();
    case Isa::avx2: return row_add_avx2();
#endif
    default: return row_add_generic();
  }
}

RowCopyFn row_copy_kernel(Isa isa) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return row_copy_avx512();
    case Isa::avx2: return row_copy_avx2();
#endif
    default: return row_copy_generic();
  }
}

RowSetFn row_set_kernel(Isa isa) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return row_set_avx512();
    case Isa::avx2: return row_set_avx2();
#endif
    default: return row_set_generic();
  }
}

namespace {

// Walks the index positions (the indices' dims) with the offsets of the indices and of the
// matching row of a (..., D) array.
struct IndexWalk {
  int nd = 0;
  int64_t shape[kMaxDims] = {};
  int64_t s_idx[kMaxDims] = {}, s_row[kMaxDims] = {};

  IndexWalk(const TensorView& idx, const TensorView& rows) {
    for (int d = 0; d < idx.ndim; ++d) {
      if (idx.shape[d] == 1) continue;
      shape[nd] = idx.shape[d];
      s_idx[nd] = idx.strides[d];
      s_row[nd] = rows.strides[d];
      ++nd;
    }
  }
  void begin(int64_t flat, int64_t* i, int64_t* oi, int64_t* orow) const {
    *oi = *orow = 0;
    for (int d = nd - 1; d >= 0; --d) {
      i[d] = flat % shape[d];
      flat /= shape[d];
      *oi += i[d] * s_idx[d];
      *orow += i[d] * s_row[d];
    }
  }
  void next(int64_t* i, int64_t* oi, int64_t* orow) const {
    for (int d = nd - 1; d >= 0; --d) {
      *oi += s_idx[d];
      *orow += s_row[d];
      if (++i[d] < shape[d]) return;
      *oi -= shape[d] * s_idx[d];
      *orow -= shape[d] * s_row[d];
      i[d] = 0;
    }
  }
};

int64_t read_index(const TensorView& t, int64_t off) {
  return t.dtype == DType::i64 ? t.ptr<int64_t>()[off] : int64_t(t.ptr<int32_t>()[off]);
}

std::string shape_str(const TensorView& t, int upto) {
  std::string s = "(";
  for (int d = 0; d < upto; ++d) s += str_cat(d ? ", " : "", t.shape[d]);
  return s + (upto == 1 ? ",)" : ")");
}

void check_rows(const TensorView& rows, const TensorView& idx, int64_t D, const char* fn, const char* arg,
                bool output) {
  check_dtype(rows, DType::f32, fn, arg);
  FASTNN_CHECK_VALUE(rows.device == Device::cpu, fn, ": ", arg, " must be a CPU array");
  bool ok = rows.ndim == idx.ndim + 1 && rows.shape[idx.ndim] == D;
  for (int d = 0; ok && d < idx.ndim; ++d) ok = rows.shape[d] == idx.shape[d];
  FASTNN_CHECK_VALUE(ok, fn, ": ", arg, " must have shape indices.shape + (", D, ",), got ",
                     shape_str(rows, rows.ndim));
  if (output && checked_numel(rows, fn) > 0)
    for (int d = 0; d < rows.ndim; ++d)
      FASTNN_CHECK_VALUE(rows.shape[d] <= 1 || rows.strides[d] != 0, fn, ": ", arg, " must not have zero strides");
  check_offsets_fit(rows, fn);
}

void check_indices(const TensorView& idx, const char* fn) {
  FASTNN_CHECK_TYPE(idx.dtype == DType::i64 || idx.dtype == DType::i32, fn,
                    ": indices must be int64 or int32, got ", dtype_name(idx.dtype));
  FASTNN_CHECK_VALUE(idx.device == Device::cpu, fn, ": indices must be a CPU array");
  FASTNN_CHECK_VALUE(idx.ndim < kMaxDims, fn, ": indices may have at most ", kMaxDims - 1, " dimensions");
  checked_numel(idx, fn);
  check_offsets_fit(idx, fn);
}

[[noreturn]] void throw_bad_index(const TensorView& idx, const IndexWalk& walk, int64_t pos, int64_t V,
                                  const char* fn) {
  int64_t i[kMaxDims], oi, orow;
  walk.begin(pos, i, &oi, &orow);
  std::string where;
  int w = 0;
  for (int d = 0; d < idx.ndim; ++d) where += str_cat(d ? ", " : "", idx.shape[d] == 1 ? 0 : i[w++]);
  throw ValueError(str_cat(fn, ": indices[", where, "] = ", read_index(idx, oi), " is out of range for ",
                           V, " embeddings (valid: 0 .. ", V - 1, ")"));
}

// Position of the first index outside [0, V), or -1.
int64_t first_bad_index(const TensorView& idx, const IndexWalk& walk, int64_t N, int64_t V) {
  std::atomic<int64_t> first{std::numeric_limits<int64_t>::max()};
  parallel_for(0, N, 1 << 16, [&](int64_t lo, int64_t hi) {
    int64_t i[kMaxDims], oi, orow;
    walk.begin(lo, i, &oi, &orow);
    for (int64_t p = lo; p < hi; ++p, walk.next(i, &oi, &orow)) {
      const int64_t v = read_index(idx, oi);
      if (v < 0 || v >= V) {
        int64_t cur = first.load();
        while (p < cur && !first.compare_exchange_weak(cur, p)) {
        }
        return;
      }
    }
  });
  const int64_t f = first.load();
  return f == std::numeric_limits<int64_t>::max() ? -1 : f;
}

}  // namespace

void embedding_cpu(const TensorView& idx, const TensorView& weight, const TensorView& out) {
  const char* fn = "embedding";
  check_indices(idx, fn);
  check_dtype(weight, DType::f32, fn, "weight");
  FASTNN_CHECK_VALUE(weight.device == Device::cpu, fn, ": weight must be a CPU array");
  FASTNN_CHECK_VALUE(weight.ndim == 2, fn, ": weight must have shape (num_embeddings, embedding_dim), got ",
                     shape_str(weight, weight.ndim));
  check_offsets_fit(weight, fn);
  const int64_t V = weight.shape[0], D = weight.shape[1];
  check_rows(out, idx, D, fn, "out", true);
  const int64_t N = checked_numel(idx, fn);
  const IndexWalk walk(idx, out);
  const int64_t ws = weight.strides[0], wc = weight.strides[1], oc = out.strides[idx.ndim];
  const float* pw = weight.ptr<float>();
  float* po = out.ptr<float>();
  std::atomic<int64_t> first{std::numeric_limits<int64_t>::max()};
  const RowCopyFn copy = row_copy_kernel(active_isa());
  // The output is written once and not read here: past the last-level cache, non-temporal stores
  // save its read-for-ownership (the rows read are scattered, so their traffic is what it is).
  const bool stream = pointwise_stream_stores(2 * N * D * int64_t(sizeof(float)));
  parallel_for(0, N, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t lo, int64_t hi) {
    int64_t i[kMaxDims] = {}, oi, orow;
    walk.begin(lo, i, &oi, &orow);
    // One position ahead: the next row's lines are requested while this one is copied (rows are
    // scattered, so the hardware prefetcher only picks a row up after its first misses).
    int64_t ni[kMaxDims], noi = oi, norow = orow;
    std::copy(i, i + kMaxDims, ni);
    for (int64_t p = lo; p < hi; ++p, walk.next(i, &oi, &orow)) {
      if (p + 1 < hi && wc == 1) {
        walk.next(ni, &noi, &norow);
        const int64_t vn = read_index(idx, noi);
        if (vn >= 0 && vn < V)
          for (int64_t c = 0; c < D; c += 16) __builtin_prefetch(pw + vn * ws + c, 0, 3);
      }
      const int64_t v = read_index(idx, oi);
      if (v < 0 || v >= V) {  // remember the first; the output is discarded by the raise
        int64_t cur = first.load();
        while (p < cur && !first.compare_exchange_weak(cur, p)) {
        }
        continue;
      }
      const float* src = pw + v * ws;
      float* dst = po + orow;
      if (wc == 1 && oc == 1)
        copy(dst, src, D, stream);
      else
        for (int64_t c = 0; c < D; ++c) dst[c * oc] = src[c * wc];
    }
#if defined(FASTNN_X86)
    if (stream) _mm_sfence();  // order this thread's streaming stores before the join
#endif
  });
  if (first.load() != std::numeric_limits<int64_t>::max()) throw_bad_index(idx, walk, first.load(), V, fn);
}

void embedding_backward_cpu(const TensorView& g, const TensorView& idx, int64_t padding_idx,
                            const TensorView& gw) {
  const char* fn = "embedding_backward";
  check_indices(idx, fn);
  check_dtype(gw, DType::f32, fn, "out");
  FASTNN_CHECK_VALUE(gw.device == Device::cpu, fn, ": out must be a CPU array");
  FASTNN_CHECK_VALUE(gw.ndim == 2, fn, ": out must have shape (num_embeddings, embedding_dim), got ",
                     shape_str(gw, gw.ndim));
  const int64_t V = gw.shape[0], D = gw.shape[1];
  if (V * D > 0)
    FASTNN_CHECK_VALUE((V <= 1 || gw.strides[0] != 0) && (D <= 1 || gw.strides[1] != 0), fn,
                       ": out must not have zero strides");
  check_offsets_fit(gw, fn);
  check_rows(g, idx, D, fn, "grad_out", false);
  FASTNN_CHECK_VALUE(padding_idx >= -1 && padding_idx < V, fn, ": padding_idx must be in [0, ", V, ") or -1, got ",
                     padding_idx);
  const int64_t N = checked_numel(idx, fn);
  const IndexWalk walk(idx, g);
  const int64_t bad = first_bad_index(idx, walk, N, V);
  if (bad >= 0) throw_bad_index(idx, walk, bad, V, fn);

  const int64_t gs = gw.strides[0], gc = gw.strides[1], oc = g.strides[idx.ndim];
  float* pgw = gw.ptr<float>();
  const float* pg = g.ptr<float>();
  const bool unit = gc == 1 && oc == 1;
  // Unit strides: a row's first contribution is written (0 + g, row_set) rather than added to a
  // zeroed row, and only the rows no index touches are zeroed, with streaming stores when the
  // gradient outgrows the cache. The (V, D) gradient is then written once instead of zeroed
  // (read for ownership + write) and read back. first[v]: the first position with index v.
  std::vector<int64_t> first;
  if (unit && N > 0 && D > 0) {
    first.assign(size_t(V), -1);
    int64_t i[kMaxDims], oi, orow;
    walk.begin(0, i, &oi, &orow);
    for (int64_t p = 0; p < N; ++p, walk.next(i, &oi, &orow)) {
      const int64_t v = read_index(idx, oi);
      if (v != padding_idx && first[size_t(v)] < 0) first[size_t(v)] = p;
    }
  }
  const bool stream = unit && pointwise_stream_stores(int64_t(sizeof(float)) * (V * D + N * D));
  const RowCopyFn copy = row_copy_kernel(active_isa());
  const std::vector<float> zeros(first.empty() ? 0 : size_t(D), 0.0f);
  parallel_for(0, V, std::max<int64_t>(1, 65536 / std::max<int64_t>(D, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t v = lo; v < hi; ++v) {
      if (!first.empty()) {
        if (first[size_t(v)] < 0) copy(pgw + v * gs, zeros.data(), D, stream);
      } else if (gc == 1) {
        std::memset(pgw + v * gs, 0, size_t(D) * sizeof(float));
      } else {
        for (int64_t c = 0; c < D; ++c) pgw[v * gs + c * gc] = 0.0f;
      }
    }
#if defined(FASTNN_X86)
    if (stream) _mm_sfence();
#endif
  });
  if (N == 0 || D == 0) return;
  const RowAddFn add = row_add_kernel(active_isa());
  const RowSetFn set = row_set_kernel(active_isa());
  // Accumulates positions in index order into rows [r0, r1) and columns [c0, c1).
  auto accumulate = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    int64_t i[kMaxDims] = {}, oi, orow;
    walk.begin(0, i, &oi, &orow);
    int64_t ni[kMaxDims], noi = oi, norow = orow;  // one position ahead, as the forward
    std::copy(i, i + kMaxDims, ni);
    for (int64_t p = 0; p < N; ++p, walk.next(i, &oi, &orow)) {
      if (unit && p + 1 < N) {  // the next row to be added to (a first contribution is only written)
        walk.next(ni, &noi, &norow);
        const int64_t vn = read_index(idx, noi);
        if (vn >= r0 && vn < r1 && first[size_t(vn)] != p + 1)
          for (int64_t c = c0; c < c1; c += 16) __builtin_prefetch(pgw + vn * gs + c, 1, 3);
      }
      const int64_t v = read_index(idx, oi);
      if (v < r0 || v >= r1 || v == padding_idx) continue;
      float* dst = pgw + v * gs;
      const float* src = pg + orow;
      if (unit) {
        if (first[size_t(v)] == p)
          set(dst + c0, src + c0, c1 - c0, stream);
        else
          add(dst + c0, src + c0, c1 - c0);
      } else {
        for (int64_t c = c0; c < c1; ++c) dst[c * gc] += src[c * oc];
      }
    }
#if defined(FASTNN_X86)
    if (stream) _mm_sfence();  // this thread's streaming stores before the join
#endif
  };
  const int64_t work = N * D;
  if (work < (int64_t(1) << 15) || get_num_threads() == 1) {
    accumulate(0, V, 0, D);
  } else if (D >= 64) {  // every thread owns a column slice (multiples of 16 floats) of every row
    parallel_for(0, (D + 15) / 16, 1, [&](int64_t lo, int64_t hi) { accumulate(0, V, lo * 16, std::min(D, hi * 16)); });
  } else {  // narrow rows: every thread owns a range of rows
    parallel_for(0, V, 1, [&](int64_t lo, int64_t hi) { accumulate(lo, hi, 0, D); });
  }
}

}  // namespace fastnn
