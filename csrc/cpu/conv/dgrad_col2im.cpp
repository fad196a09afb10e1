// Data gradient through a column matrix and phase-plane col2im; see dgrad_col2im.h.
#include "cpu/conv/dgrad_col2im.h"

#include <algorithm>
#include <cstring>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Tap offset q = r·d - p split as q = s·shift + phase (0 ≤ phase < s).
struct TapPhase {
  int64_t phase, shift;
};
TapPhase tap_phase(int64_t q, int64_t s) {
  const int64_t shift = floor_div(q, s);
  return {q - shift * s, shift};
}

// The phase planes of one (image, group): Cg channels × sh·sw phases × hq rows × wq columns.
// Plane row u - u_lo holds input row sh·u + φy; output row oy with a tap of row shift qy adds
// into plane row oy + qy - u_lo (columns alike, with v_lo).
struct PhaseGrid {
  int64_t u_lo, v_lo, hq, wq, plane, chan;
};

PhaseGrid phase_grid(const Conv2dGeometry& g) {
  int64_t qy_min = 0, qy_max = 0, qx_min = 0, qx_max = 0;
  for (int64_t r = 0; r < g.R; ++r) {
    const int64_t q = tap_phase(r * g.dh - g.pt, g.sh).shift;
    qy_min = r == 0 ? q : std::min(qy_min, q), qy_max = r == 0 ? q : std::max(qy_max, q);
  }
  for (int64_t s = 0; s < g.S; ++s) {
    const int64_t q = tap_phase(s * g.dw - g.pl, g.sw).shift;
    qx_min = s == 0 ? q : std::min(qx_min, q), qx_max = s == 0 ? q : std::max(qx_max, q);
  }
  PhaseGrid pg;
  pg.u_lo = std::min<int64_t>(qy_min, 0);
  pg.v_lo = std::min<int64_t>(qx_min, 0);
  pg.hq = std::max(g.Ho - 1 + qy_max, (g.H - 1) / g.sh) - pg.u_lo + 1;
  pg.wq = (std::max(g.Wo - 1 + qx_max, (g.W - 1) / g.sw) - pg.v_lo + 1 + 15) / 16 * 16;
  pg.plane = pg.hq * pg.wq;
  pg.chan = g.sh * g.sw * pg.plane;
  return pg;
}

// acc[c] += the column rows of channels [c_lo, c_hi): cols (Cg·R·S × np) for pixels
// [p0, p0 + np) of the image, each row added as runs of one output row.
void add_columns(const Conv2dGeometry& g, const PhaseGrid& pg, const float* cols, int64_t p0, int64_t np,
                 int64_t c_lo, int64_t c_hi, float* acc) {
  for (int64_t c = c_lo; c < c_hi; ++c)
    for (int64_t r = 0; r < g.R; ++r) {
      const TapPhase ty = tap_phase(r * g.dh - g.pt, g.sh);
      for (int64_t s = 0; s < g.S; ++s) {
        const TapPhase tx = tap_phase(s * g.dw - g.pl, g.sw);
        const float* src = cols + ((c * g.R + r) * g.S + s) * np;
        float* plane = acc + c * pg.chan + (ty.phase * g.sw + tx.phase) * pg.plane;
        for (int64_t p = 0; p < np;) {
          const int64_t oy = (p0 + p) / g.Wo, ox0 = (p0 + p) % g.Wo;
          const int64_t len = std::min(np - p, g.Wo - ox0);
          float* dst = plane + (oy + ty.shift - pg.u_lo) * pg.wq + (ox0 + tx.shift - pg.v_lo);
          const float* s0 = src + p;
          for (int64_t i = 0; i < len; ++i) dst[i] += s0[i];
          p += len;
        }
      }
    }
}

// grad_x channels [c_lo, c_hi) of one (image, group) = their phases interleaved, plus bias.
void interleave_phases(const Conv2dGeometry& g, const PhaseGrid& pg, const float* acc, const float* bias,
                       int64_t c_lo, int64_t c_hi, float* gxg) {
  for (int64_t c = c_lo; c < c_hi; ++c) {
    const float b = bias ? bias[c] : 0.0f;
    for (int64_t iy = 0; iy < g.H; ++iy) {
      float* dst = gxg + (c * g.H + iy) * g.W;
      const float* rows = acc + c * pg.chan + (iy % g.sh) * g.sw * pg.plane + (iy / g.sh - pg.u_lo) * pg.wq - pg.v_lo;
      if (g.sw == 1) {
        for (int64_t ix = 0; ix < g.W; ++ix) dst[ix] = rows[ix] + b;
        continue;
      }
      for (int64_t fx = 0; fx < std::min(g.sw, g.W); ++fx) {
        const float* src = rows + fx * pg.plane;
        for (int64_t v = 0, ix = fx; ix < g.W; ++v, ix += g.sw) dst[ix] = src[v] + b;
      }
    }
  }
}

}  // namespace

bool dgrad_col2im_applies(const Conv2dGeometry& g, int mr) { return g.Cg() < mr && g.Cg() * g.taps() >= 2 * mr; }

void conv2d_backward_data_col2im(const Conv2dGeometry& g, const float* gy, const float* w, const float* bias,
                                 float* gx) {
  const int64_t Cg = g.Cg(), Kg = g.Kg(), CRS = Cg * g.taps(), P = g.Ho * g.Wo;
  const PhaseGrid pg = phase_grid(g);
  const int64_t acc_floats = Cg * pg.chan;
  // Pixel block: the column buffer (CRS × pb) stays near 256 KiB.
  const int64_t pb = std::clamp<int64_t>((int64_t(1) << 16) / std::max<int64_t>(CRS, 1) / 16 * 16, 16, 4096);
  const int64_t items = g.N * g.groups;
  // cols (CRS × np) = W_gᵀ (CRS × Kg) · gy_g[:, p0 : p0+np]
  auto gemm = [&](int64_t gi, const float* gyg, int64_t p0, int64_t np, float* cols, bool threaded) {
    const ConstMatrix a{w + gi * Kg * CRS, 1, CRS}, b{gyg + p0, P, 1};
    if (threaded) sgemm(CRS, np, Kg, 1.0f, a, b, 0.0f, Matrix{cols, np, 1});
    else sgemm_serial(CRS, np, Kg, 1.0f, a, b, 0.0f, Matrix{cols, np, 1});
  };
  if (items >= get_num_threads()) {  // one (image, group) per thread at a time
    parallel_for(0, items, 1, [&](int64_t lo, int64_t hi) {
      float* cols = thread_workspace(2, size_t(CRS * pb));
      float* acc = thread_workspace(3, size_t(acc_floats));
      for (int64_t item = lo; item < hi; ++item) {
        const int64_t n = item / g.groups, gi = item % g.groups;
        const float* gyg = gy + (n * g.K + gi * Kg) * P;
        std::memset(acc, 0, sizeof(float) * size_t(acc_floats));
        for (int64_t p0 = 0; p0 < P; p0 += pb) {
          const int64_t np = std::min(pb, P - p0);
          gemm(gi, gyg, p0, np, cols, false);
          add_columns(g, pg, cols, p0, np, 0, Cg, acc);
        }
        interleave_phases(g, pg, acc, bias ? bias + gi * Cg : nullptr, 0, Cg,
                          gx + (n * g.C + gi * Cg) * g.H * g.W);
      }
    });
    return;
  }
  // Fewer images than threads: the GEMM threaded, the adds and the interleave split by channel.
  float* cols = thread_workspace(2, size_t(CRS * pb));
  float* acc = thread_workspace(3, size_t(acc_floats));
  for (int64_t item = 0; item < items; ++item) {
    const int64_t n = item / g.groups, gi = item % g.groups;
    const float* gyg = gy + (n * g.K + gi * Kg) * P;
    std::memset(acc, 0, sizeof(float) * size_t(acc_floats));
    for (int64_t p0 = 0; p0 < P; p0 += pb) {
      const int64_t np = std::min(pb, P - p0);
      gemm(gi, gyg, p0, np, cols, true);
      parallel_for(0, Cg, 1, [&](int64_t lo, int64_t hi) { add_columns(g, pg, cols, p0, np, lo, hi, acc); });
    }
    parallel_for(0, Cg, 1, [&](int64_t lo, int64_t hi) {
      interleave_phases(g, pg, acc, bias ? bias + gi * Cg : nullptr, lo, hi, gx + (n * g.C + gi * Cg) * g.H * g.W);
    });
  }
}

}  // namespace fastnn
