// avg_pool2d and adaptive_avg_pool2d, forward and backward. A window average is separable:
// forward sums each output row's input rows into one row (vectorisable), then takes window
// sums along it; backward spreads grad/divisor along a row, then adds that row into every
// input row of the window. Both are O(k) per element instead of O(k²).
#include <algorithm>
#include <cstring>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/pool/pool.h"
#include "cpu/pool/pool_kernels.h"

namespace fastnn {
namespace {

// Window of output i along one dimension: the padded extent [s, e) and its real part [lo, hi).
struct Window {
  int64_t s, e, lo, hi;
};

inline Window avg_window(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t L) {
  Window w;
  w.s = i * stride - pad;
  w.e = std::min(w.s + k, L + pad);
  w.lo = std::max<int64_t>(w.s, 0);
  w.hi = std::min(w.e, L);
  return w;
}

inline Window adaptive_window(int64_t i, int64_t out, int64_t L) {
  Window w;
  w.s = w.lo = i * L / out;
  w.e = w.hi = ((i + 1) * L + out - 1) / out;
  return w;
}

inline float avg_divisor(const Window& wy, const Window& wx, bool count_include_pad, int64_t divisor_override) {
  if (divisor_override > 0) return float(divisor_override);
  if (count_include_pad) return float((wy.e - wy.s) * (wx.e - wx.s));
  return float((wy.hi - wy.lo) * (wx.hi - wx.lo));
}

// y[oy, ox] = Σ_window x / divisor, for windows given by row / column window functions.
template <class RowWin, class ColWin, class Div>
void pool_sum_plane(int64_t H, int64_t W, int64_t Ho, int64_t Wo, const float* x, float* y, float* colsum,
                    RowWin row_win, ColWin col_win, Div divisor) {
  for (int64_t oy = 0; oy < Ho; ++oy) {
    const Window wy = row_win(oy);
    std::memset(colsum, 0, sizeof(float) * size_t(W));
    for (int64_t iy = wy.lo; iy < wy.hi; ++iy) {
      const float* row = x + iy * W;
      for (int64_t ix = 0; ix < W; ++ix) colsum[ix] += row[ix];
    }
    for (int64_t ox = 0; ox < Wo; ++ox) {
      const Window wx = col_win(ox);
      float s = 0.0f;
      for (int64_t ix = wx.lo; ix < wx.hi; ++ix) s += colsum[ix];
      y[oy * Wo + ox] = s / divisor(wy, wx);
    }
  }
}

// gx = Σ over windows containing the element of gy / divisor.
template <class RowWin, class ColWin, class Div>
void pool_spread_plane(int64_t H, int64_t W, int64_t Ho, int64_t Wo, const float* gy, float* gx, float* rowbuf,
                       RowWin row_win, ColWin col_win, Div divisor) {
  std::memset(gx, 0, sizeof(float) * size_t(H * W));
  for (int64_t oy = 0; oy < Ho; ++oy) {
    const Window wy = row_win(oy);
    std::memset(rowbuf, 0, sizeof(float) * size_t(W));
    for (int64_t ox = 0; ox < Wo; ++ox) {
      const Window wx = col_win(ox);
      const float v = gy[oy * Wo + ox] / divisor(wy, wx);
      for (int64_t ix = wx.lo; ix < wx.hi; ++ix) rowbuf[ix] += v;
    }
    for (int64_t iy = wy.lo; iy < wy.hi; ++iy) {
      float* row = gx + iy * W;
      for (int64_t ix = 0; ix < W; ++ix) row[ix] += rowbuf[ix];
    }
  }
}

int64_t plane_grain(int64_t plane) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(1, plane)); }

}  // namespace

void avg_pool2d_cpu(const Pool2dGeometry& g, bool count_include_pad, int64_t divisor_override, const float* x,
                    float* y) {
  auto rw = [&](int64_t i) { return avg_window(i, g.kh, g.sh, g.ph, g.H); };
  auto cw = [&](int64_t i) { return avg_window(i, g.kw, g.sw, g.pw, g.W); };
  auto div = [&](const Window& a, const Window& b) { return avg_divisor(a, b, count_include_pad, divisor_override); };
  parallel_for(0, g.N * g.C, plane_grain(g.H * g.W), [&](int64_t lo, int64_t hi) {
    float* colsum = thread_workspace(2, size_t(g.W));
    for (int64_t p = lo; p < hi; ++p)
      pool_sum_plane(g.H, g.W, g.Ho, g.Wo, x + p * g.H * g.W, y + p * g.Ho * g.Wo, colsum, rw, cw, div);
  });
}

void avg_pool2d_backward_cpu(const Pool2dGeometry& g, bool count_include_pad, int64_t divisor_override,
                             const float* gy, float* gx) {
  auto rw = [&](int64_t i) { return avg_window(i, g.kh, g.sh, g.ph, g.H); };
  auto cw = [&](int64_t i) { return avg_window(i, g.kw, g.sw, g.pw, g.W); };
  auto div = [&](const Window& a, const Window& b) { return avg_divisor(a, b, count_include_pad, divisor_override); };
  parallel_for(0, g.N * g.C, plane_grain(g.H * g.W), [&](int64_t lo, int64_t hi) {
    float* rowbuf = thread_workspace(2, size_t(g.W));
    for (int64_t p = lo; p < hi; ++p)
      pool_spread_plane(g.H, g.W, g.Ho, g.Wo, gy + p * g.Ho * g.Wo, gx + p * g.H * g.W, rowbuf, rw, cw, div);
  });
}

void adaptive_avg_pool2d_cpu(int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const float* x, float* y) {
  if (Ho == 1 && Wo == 1) {  // global average pooling: one mean per contiguous plane
    const PoolKernels& k = pool_kernels_for(active_isa());
    parallel_for(0, NC, plane_grain(H * W), [&](int64_t lo, int64_t hi) { k.mean_rows(x + lo * H * W, hi - lo, H * W, y + lo); });
    return;
  }
  auto rw = [&](int64_t i) { return adaptive_window(i, Ho, H); };
  auto cw = [&](int64_t i) { return adaptive_window(i, Wo, W); };
  auto div = [](const Window& a, const Window& b) { return float((a.hi - a.lo) * (b.hi - b.lo)); };
  parallel_for(0, NC, plane_grain(H * W), [&](int64_t lo, int64_t hi) {
    float* colsum = thread_workspace(2, size_t(W));
    for (int64_t p = lo; p < hi; ++p) pool_sum_plane(H, W, Ho, Wo, x + p * H * W, y + p * Ho * Wo, colsum, rw, cw, div);
  });
}

void adaptive_avg_pool2d_backward_cpu(int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const float* gy,
                                      float* gx) {
  if (Ho == 1 && Wo == 1) {  // global average pooling: each plane is its gradient over H·W
    parallel_for(0, NC, plane_grain(H * W), [&](int64_t lo, int64_t hi) {
      for (int64_t p = lo; p < hi; ++p) std::fill_n(gx + p * H * W, H * W, gy[p] / float(H * W));
    });
    return;
  }
  auto rw = [&](int64_t i) { return adaptive_window(i, Ho, H); };
  auto cw = [&](int64_t i) { return adaptive_window(i, Wo, W); };
  auto div = [](const Window& a, const Window& b) { return float((a.hi - a.lo) * (b.hi - b.lo)); };
  parallel_for(0, NC, plane_grain(H * W), [&](int64_t lo, int64_t hi) {
    float* rowbuf = thread_workspace(2, size_t(W));
    for (int64_t p = lo; p < hi; ++p)
      pool_spread_plane(H, W, Ho, Wo, gy + p * Ho * Wo, gx + p * H * W, rowbuf, rw, cw, div);
  });
}

}  // namespace fastnn
