// max_pool2d forward (value + argmax) and backward (scatter-add to the argmax), per plane.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/pool/pool.h"
#include "cpu/pool/pool_kernels.h"

namespace fastnn {
namespace {

// Taps [lo, hi) of a window starting at `start` (step d, k taps) that land in [0, L).
inline void valid_taps(int64_t start, int64_t k, int64_t d, int64_t L, int64_t& lo, int64_t& hi) {
  lo = start >= 0 ? 0 : (-start + d - 1) / d;
  hi = start > L - 1 ? 0 : std::min(k, (L - 1 - start) / d + 1);
  if (hi < lo) hi = lo;
}

}  // namespace

// The reference plane kernel: every output scanned in row-major tap order.
void max_pool_plane_ref(const Pool2dGeometry& g, const float* x, float* y, int64_t* ind) {
  for (int64_t oy = 0; oy < g.Ho; ++oy) {
    const int64_t hs = oy * g.sh - g.ph;
    int64_t r0, r1;
    valid_taps(hs, g.kh, g.dh, g.H, r0, r1);
    for (int64_t ox = 0; ox < g.Wo; ++ox) {
      const int64_t ws = ox * g.sw - g.pw;
      int64_t c0, c1;
      valid_taps(ws, g.kw, g.dw, g.W, c0, c1);
      float best = -std::numeric_limits<float>::infinity();
      int64_t idx = -1;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t iy = hs + r * g.dh;
        const float* row = x + iy * g.W;
        for (int64_t c = c0; c < c1; ++c) {
          const int64_t ix = ws + c * g.dw;
          const float v = row[ix];
          if (idx < 0 || v > best || std::isnan(v)) best = v, idx = iy * g.W + ix;
        }
      }
      y[oy * g.Wo + ox] = best;
      if (ind) ind[oy * g.Wo + ox] = idx;
    }
  }
}

void max_pool2d_cpu(const Pool2dGeometry& g, const float* x, float* y, int64_t* indices) {
  const int64_t plane_in = g.H * g.W, plane_out = g.Ho * g.Wo;
  // The vector kernels keep indices in int32 lanes.
  const PoolKernels& k = pool_kernels_for(plane_in < (int64_t(1) << 31) ? active_isa() : Isa::generic);
  parallel_for(0, g.N * g.C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, plane_in)), [&](int64_t lo, int64_t hi) {
    float* scratch = thread_workspace(2, size_t(k.max_scratch(g)));
    for (int64_t p = lo; p < hi; ++p)
      k.max_plane(g, x + p * plane_in, y + p * plane_out, indices ? indices + p * plane_out : nullptr, scratch);
  });
}

void max_pool2d_backward_cpu(const Pool2dGeometry& g, const float* gy, const int64_t* indices, float* gx) {
  const int64_t plane_in = g.H * g.W, plane_out = g.Ho * g.Wo;
  parallel_for(0, g.N * g.C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, plane_in)), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      float* dst = gx + p * plane_in;
      std::memset(dst, 0, sizeof(float) * size_t(plane_in));
      const float* src = gy + p * plane_out;
      const int64_t* ind = indices + p * plane_out;
      for (int64_t o = 0; o < plane_out; ++o) {
        const int64_t i = ind[o];
        if (i == -1) continue;
        FASTNN_CHECK_VALUE(i >= 0 && i < plane_in, "max_pool2d_backward: indices holds ", i,
                           ", outside the input plane of ", plane_in, " elements");
        dst[i] += src[o];
      }
    }
  });
}

}  // namespace fastnn
