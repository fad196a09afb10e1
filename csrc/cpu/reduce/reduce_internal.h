#pragma once
// Pieces shared by the reduction driver files (reduce.cpp, reduce_rows_ordered.cpp): the
// planned axes, index arithmetic, partial results and the output store. Baseline code only.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "cpu/reduce/reduce.h"
#include "cpu/reduce/reduce_kernels.h"

namespace fastnn {
namespace reduce_detail {

constexpr int64_t kRunChunk = 1024;             // rows per leaf call in row mode (scratch size)
constexpr int64_t kColBlock = 8192;             // columns per task in column mode (accumulators in L2)
constexpr int64_t kMaxPiece = int64_t(1) << 30;  // int32 positions inside the max leaves
constexpr int kScratchSlot = 3;                 // thread_workspace slot used here

struct RDim {
  int64_t size, xs, os;
};

inline int64_t product(const std::vector<RDim>& dims) {
  int64_t p = 1;
  for (const RDim& d : dims) p *= d.size;
  return p;
}

// Merges neighbours whose strides make them one axis (x strides, and out strides if kept).
inline void coalesce(std::vector<RDim>* dims, bool with_os) {
  std::vector<RDim> out;
  for (const RDim& d : *dims) {
    if (!out.empty()) {
      RDim& p = out.back();
      if (p.xs == d.xs * d.size && (!with_os || p.os == d.os * d.size)) {
        p = {p.size * d.size, d.xs, d.os};
        continue;
      }
    }
    out.push_back(d);
  }
  *dims = out;
}

// x and out offsets of the row-major flat index `flat` over dims.
inline void unravel(const std::vector<RDim>& dims, size_t ndims, int64_t flat, int64_t* xo, int64_t* oo) {
  int64_t x = 0, o = 0;
  for (size_t d = ndims; d-- > 0;) {
    const int64_t q = flat % dims[d].size;
    flat /= dims[d].size;
    x += q * dims[d].xs;
    o += q * dims[d].os;
  }
  *xo = x, *oo = o;
}

// f(first flat index, x offset, out offset, run length, x stride, out stride) for the runs of
// flat indices [f0, f1) along the innermost of dims (non-empty).
template <class F>
void for_runs(const std::vector<RDim>& dims, int64_t f0, int64_t f1, const F& f) {
  const RDim& in = dims.back();
  for (int64_t i = f0; i < f1;) {
    const int64_t pos = i % in.size, len = std::min(in.size - pos, f1 - i);
    int64_t xo, oo;
    unravel(dims, dims.size() - 1, i / in.size, &xo, &oo);
    f(i, xo + pos * in.xs, oo + pos * in.os, len, in.xs, in.os);
    i += len;
  }
}

// A partial result: sum (double) or the first maximum (value, flat index) seen so far.
struct Part {
  double sum = 0;
  float val = -std::numeric_limits<float>::infinity();
  int64_t idx = -1;
  // (v, i) comes after everything already seen: it wins only if strictly better.
  void take_later(float v, int64_t i) {
    if (idx < 0 || v > val || (std::isnan(v) && !std::isnan(val))) val = v, idx = i;
  }
  // (v, i) from anywhere: NaN beats numbers, greater wins, ties go to the smaller index.
  void take_any(float v, int64_t i) {
    if (i < 0) return;
    const bool vn = std::isnan(v), bn = std::isnan(val);
    const bool wins = idx < 0 || (vn ? (!bn || i < idx) : (!bn && (v > val || (v == val && i < idx))));
    if (wins) val = v, idx = i;
  }
};

struct Ctx {
  const ReduceKernels* k;
  ReduceOp op;
  const float* x;
  float* out;
  int64_t* idx;
  double scale;  // 1/count for mean
};

inline void store(const Ctx& c, int64_t oo, const Part& p) {
  if (c.op == ReduceOp::max) {
    c.out[oo] = p.val;
    c.idx[oo] = p.idx;
  } else {
    c.out[oo] = float(p.sum * c.scale);
  }
}

// Row mode over all rows in memory order (see reduce_rows_ordered.cpp). comb: every axis but
// the contiguous reduced run of Lr floats, in x's order, each marked kept or reduced. Returns
// false (nothing done) when the layout does not suit it.
struct CDim {
  int64_t size, xs, os;
  bool reduced;
};
bool run_rows_ordered(const Ctx& c, const std::vector<CDim>& comb, int64_t Lr);

}  // namespace reduce_detail
}  // namespace fastnn
