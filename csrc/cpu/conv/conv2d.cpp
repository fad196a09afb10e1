// conv2d forward and data gradient: each becomes one or more stride-1 implicit GEMMs.
//
// Forward with stride s: x is split once into s_h·s_w phase planes (x[φy + s·u, φx + s·v]),
// after which every kernel tap reads one phase plane at stride 1 (tap offset r·d - p splits
// into a phase and a shift), so B panels are packed by contiguous copies.
// Data gradient with stride s: output pixels of one phase (ih ≡ φy mod s_h) receive exactly the
// taps with (φy + pt - r·dh) divisible by s_h, read from grad_out at stride 1: one GEMM per phase
// into a dense block, the blocks then interleaved into grad_x (no scatter-add, no atomics). Few
// input channels per group (the stem) go through a column matrix instead (dgrad_col2im.h).
#include "cpu/conv/conv2d.h"

#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "common/tensor.h"
#include "common/workspace.h"
#include "cpu/conv/conv_kernels.h"
#include "cpu/conv/conv_scratch.h"
#include "cpu/conv/depthwise.h"
#include "cpu/conv/dgrad_col2im.h"
#include "cpu/conv/igemm.h"
#include "cpu/conv/padrow.h"
#include "cpu/conv/winograd.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Phase planes of x: per image and channel, sh*sw planes of hp × wp (hp = ceil(H/sh),
// wp = ceil(W/sw)); plane (φy, φx) holds x[φy + sh*u, φx + sw*v] in its top-left corner.
struct PhaseSplit {
  int64_t hp, wp, plane, chan;
};

PhaseSplit phase_split(const Conv2dGeometry& g, const float* x, float*& buf) {
  PhaseSplit ps;
  ps.hp = ceil_div(g.H, g.sh);
  ps.wp = ceil_div(g.W, g.sw);
  ps.plane = ps.hp * ps.wp;
  ps.chan = g.sh * g.sw * ps.plane;
  buf = conv_scratch(ConvScratch::phase_split, size_t(checked_mul(g.N * g.C, ps.chan, "conv2d")));
  float* out = buf;
  parallel_for(0, g.N * g.C, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc) {
      const float* src = x + nc * g.H * g.W;
      float* dst = out + nc * ps.chan;
      for (int64_t fy = 0; fy < g.sh; ++fy)
        for (int64_t fx = 0; fx < g.sw; ++fx) {
          float* d = dst + (fy * g.sw + fx) * ps.plane;
          for (int64_t u = 0, iy = fy; iy < g.H; ++u, iy += g.sh) {
            const float* s = src + iy * g.W;
            for (int64_t v = 0, ix = fx; ix < g.W; ++v, ix += g.sw) d[u * ps.wp + v] = s[ix];
          }
        }
    }
  });
  return ps;
}

}  // namespace

// ---- forward ---------------------------------------------------------------------------------

namespace {

// The padded-row GEMM (padrow.h) beats Winograd on small images with few channels (Zen 3, 2
// threads: 16→16 at 28², 16→32 and 32→32 at 14² take 0.45-0.6× Winograd's time, where a 4×4 tile
// grid wastes up to 30% of a 14² image); Winograd wins from 32→32 at 56² and 48→96 at 28² on.
bool padrow_before_winograd(int64_t c_in, int64_t c_out, int64_t plane) {
  return std::min(c_in, c_out) <= 32 && plane <= 32 * 32;
}

PadrowProblem padrow_forward_problem(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                                     Activation act, float* y) {
  PadrowProblem p;
  p.N = g.N, p.C = g.C, p.H = g.H, p.W = g.W, p.x = x;
  p.K = g.K, p.R = g.R, p.S = g.S, p.dh = g.dh, p.dw = g.dw;
  p.pt = g.pt, p.pb = g.pb, p.pl = g.pl, p.pr = g.pr;
  p.a = w, p.a_k = g.C * g.R * g.S, p.a_c = g.R * g.S, p.a_r = g.S, p.a_s = 1;
  p.bias = bias, p.act = act, p.y = y;
  return p;
}

// The data gradient of a stride-1 conv as the padded-row conv of grad_out with the flipped,
// transposed kernel; the output must come out at x's size (conv_transpose2d's output_padding
// rows would not), and the padding must not exceed the dilated kernel's reach.
bool padrow_dgrad_problem(const Conv2dGeometry& g, const float* gy, const float* w, const float* bias, float* gx,
                          PadrowProblem& p) {
  if (g.groups != 1 || g.sh != 1 || g.sw != 1) return false;
  p.N = g.N, p.C = g.K, p.H = g.Ho, p.W = g.Wo, p.x = gy;
  p.K = g.C, p.R = g.R, p.S = g.S, p.dh = g.dh, p.dw = g.dw;
  p.pt = g.dh * (g.R - 1) - g.pt, p.pb = g.dh * (g.R - 1) - g.pb;
  p.pl = g.dw * (g.S - 1) - g.pl, p.pr = g.dw * (g.S - 1) - g.pr;
  p.a = w + (g.R - 1) * g.S + (g.S - 1), p.a_k = g.R * g.S, p.a_c = g.C * g.R * g.S, p.a_r = -g.S, p.a_s = -1;
  p.bias = bias, p.act = Activation::none, p.y = gx;
  return p.pt >= 0 && p.pb >= 0 && p.pl >= 0 && p.pr >= 0 && p.Ho() == g.H && p.Wo() == g.W &&
         padrow_applies(p);
}

// y = dy · act'(y) in place (y holds the pre-activation).
void apply_act_grad(const Conv2dGeometry& g, Activation act, const float* dy, float* y) {
  const ActGradFn act_grad = act_grad_for(active_isa());
  parallel_for(0, g.N * g.K * g.Ho * g.Wo, 1 << 14,
               [&](int64_t lo, int64_t hi) { act_grad(y + lo, dy + lo, y + lo, hi - lo, act); });
}

// y = act(conv(x, w) + bias), or with dy: y = dy · act'(conv(x, w) + bias).
void conv2d_forward_impl(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                         Activation act, const float* dy, float* y) {
  if (g.N == 0 || g.K == 0 || g.Ho <= 0 || g.Wo <= 0) return;
  if (depthwise_applies(g)) {
    depthwise_forward(g, x, w, bias, dy ? Activation::none : act, y);
    if (dy) apply_act_grad(g, act, dy, y);
    return;
  }
  if (g.groups == 1 && g.sh == 1 && g.sw == 1 &&
      (padrow_before_winograd(g.C, g.K, g.H * g.W) || !winograd_forward_applies(g))) {
    const PadrowProblem pp = padrow_forward_problem(g, x, w, bias, dy ? Activation::none : act, y);
    if (padrow_applies(pp)) {
      padrow_conv(pp);
      if (dy) apply_act_grad(g, act, dy, y);
      return;
    }
  }
  if (winograd_forward_applies(g)) {
    const WinogradProblem wp{g.N, g.C, g.K, g.H, g.W, g.pt, g.pl, g.Ho, g.Wo, x, w, g.C * 9, 9, 3, 1, bias,
                             dy ? Activation::none : act, y};
    if (winograd_conv3x3(wp)) {  // else a non-finite value: redo directly (IEEE semantics)
      if (dy) apply_act_grad(g, act, dy, y);
      return;
    }
  }
  const int64_t Cg = g.Cg(), Kg = g.Kg(), T = g.taps();
  IgemmProblem p;
  std::vector<IgemmRow> rows(size_t(Cg * T));
  float* split = nullptr;
  if (g.sh == 1 && g.sw == 1) {
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t r = 0; r < g.R; ++r)
        for (int64_t s = 0; s < g.S; ++s)
          rows[size_t((c * g.R + r) * g.S + s)] =
              IgemmRow{c * g.H * g.W, c * T + r * g.S + s, g.W, g.H, g.W, r * g.dh - g.pt, s * g.dw - g.pl};
    p.x = x;
    p.x_n = g.C * g.H * g.W;
    p.x_g = Cg * g.H * g.W;
  } else {
    const PhaseSplit ps = phase_split(g, x, split);
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t r = 0; r < g.R; ++r)
        for (int64_t s = 0; s < g.S; ++s) {
          const int64_t qy = r * g.dh - g.pt, qx = s * g.dw - g.pl;
          const int64_t fy = qy - floor_div(qy, g.sh) * g.sh, fx = qx - floor_div(qx, g.sw) * g.sw;
          rows[size_t((c * g.R + r) * g.S + s)] =
              IgemmRow{c * ps.chan + (fy * g.sw + fx) * ps.plane, c * T + r * g.S + s, ps.wp,
                       ceil_div(g.H - fy, g.sh), ceil_div(g.W - fx, g.sw), floor_div(qy, g.sh),
                       floor_div(qx, g.sw)};
        }
    p.x = split;
    p.x_n = g.C * ps.chan;
    p.x_g = Cg * ps.chan;
  }
  p.groups = g.groups;
  p.batch = g.N;
  p.M = Kg;
  p.kred = Cg * T;
  p.rows = rows.data();
  p.a = w;
  p.a_m = Cg * T;
  p.a_g = Kg * Cg * T;
  p.y = y;
  p.OH = g.Ho;
  p.OW = g.Wo;
  p.y_n = g.K * g.Ho * g.Wo;
  p.y_g = Kg * g.Ho * g.Wo;
  p.y_m = g.Ho * g.Wo;
  p.y_h = g.Wo;
  p.y_w = 1;
  p.bias = bias;
  p.bias_g = Kg;
  p.act = act;
  p.dy = dy;
  igemm_conv(p);
}

}  // namespace

void conv2d_forward_cpu(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                        Activation act, float* y) {
  conv2d_forward_impl(g, x, w, bias, act, nullptr, y);
}

void conv2d_preact_grad_cpu(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                            Activation act, const float* gy, float* out) {
  conv2d_forward_impl(g, x, w, bias, act, gy, out);
}

// ---- data gradient ------------------------------------------------------------------------

void conv2d_backward_data_cpu(const Conv2dGeometry& g, const float* gy, const float* w, const float* bias,
                              float* gx) {
  if (g.N == 0 || g.C == 0 || g.H == 0 || g.W == 0) return;
  if (depthwise_applies(g)) {
    depthwise_backward_data(g, gy, w, bias, gx);
    return;
  }
  if (dgrad_col2im_applies(g, sgemm_ukernel_for(active_isa()).mr)) {
    conv2d_backward_data_col2im(g, gy, w, bias, gx);
    return;
  }
  // (1×1 kernels stay with the implicit GEMM: measured 0.83× there for 64→256 at 56²)
  if (g.taps() > 1 && (padrow_before_winograd(g.K, g.C, g.H * g.W) || !winograd_backward_data_applies(g))) {
    PadrowProblem pp;
    if (padrow_dgrad_problem(g, gy, w, bias, gx, pp)) {
      padrow_conv(pp);
      return;
    }
  }
  if (winograd_backward_data_applies(g)) {
    // grad_x = 3×3 convolution of grad_out with w[k, c, 2-r, 2-s] (input channel k, output c)
    const WinogradProblem wp{g.N, g.K, g.C, g.Ho, g.Wo, 2 - g.pt, 2 - g.pl, g.H, g.W, gy, w + 8, 9,
                             g.C * 9, -3, -1, bias, Activation::none, gx};
    if (winograd_conv3x3(wp)) return;
  }
  const int64_t Cg = g.Cg(), Kg = g.Kg(), T = g.taps();
  // Strided: phase (φy, φx) is computed into a dense block (N, C, OH_φ, OW_φ) of `dense`, so its
  // tiles are stored straight from the micro-kernel's registers (a strided view of grad_x would
  // make every tile of a small image an edge tile), then all phases are interleaved at once.
  const bool strided = g.sh > 1 || g.sw > 1;
  // A panels hold MR input channels per reduction row (k, r, s): with the weights as
  // (K, taps, C/groups) those are MR consecutive floats; in the (K, C/groups, R, S) layout they
  // would be `taps` apart, a cache line each for 4×4 kernels.
  const float* wa = w;
  if (T > 1) {
    float* wt = conv_scratch(ConvScratch::dgrad_w, size_t(g.K * Cg * T));
    const TransposeFn transpose = transpose_for(active_isa());
    parallel_for(0, g.K, std::max<int64_t>(1, 4096 / (Cg * T)), [&](int64_t lo, int64_t hi) {
      for (int64_t kk = lo; kk < hi; ++kk) transpose(Cg, T, w + kk * Cg * T, T, wt + kk * T * Cg, Cg);
    });
    wa = wt;
  }
  float* dense = strided ? conv_scratch(ConvScratch::dgrad_phases, size_t(checked_mul(g.N * g.C, g.H * g.W, "conv2d")))
                         : nullptr;
  std::vector<int64_t> phase_off;  // offset of each phase block in `dense`
  int64_t off = 0;
  for (int64_t fy = 0; fy < std::min(g.sh, g.H); ++fy) {
    for (int64_t fx = 0; fx < std::min(g.sw, g.W); ++fx) {
      // Taps reaching this phase, and where they read grad_out: oy = u + dy.
      std::vector<IgemmRow> rows;
      rows.reserve(size_t(Kg * T));
      for (int64_t k = 0; k < Kg; ++k)
        for (int64_t r = 0; r < g.R; ++r) {
          const int64_t qy = fy + g.pt - r * g.dh;
          if (qy - floor_div(qy, g.sh) * g.sh != 0) continue;
          for (int64_t s = 0; s < g.S; ++s) {
            const int64_t qx = fx + g.pl - s * g.dw;
            if (qx - floor_div(qx, g.sw) * g.sw != 0) continue;
            rows.push_back(IgemmRow{k * g.Ho * g.Wo, (k * T + r * g.S + s) * Cg, g.Wo, g.Ho, g.Wo, qy / g.sh,
                                    qx / g.sw});
          }
        }
      const int64_t OH = ceil_div(g.H - fy, g.sh), OW = ceil_div(g.W - fx, g.sw);
      IgemmProblem p;
      p.groups = g.groups;
      p.batch = g.N;
      p.M = Cg;
      p.kred = int64_t(rows.size());
      p.rows = rows.data();
      p.x = gy;
      p.x_n = g.K * g.Ho * g.Wo;
      p.x_g = Kg * g.Ho * g.Wo;
      p.a = wa;  // A[g, c, (k, t)] = wa[g*Kg*T*Cg + (k*T + t)*Cg + c]
      p.a_m = 1;
      p.a_g = Kg * T * Cg;
      p.OH = OH;
      p.OW = OW;
      if (strided) {
        phase_off.push_back(off);
        p.y = dense + off;
        p.y_n = g.C * OH * OW;
        p.y_g = Cg * OH * OW;
        p.y_m = OH * OW;
        p.y_h = OW;
        p.y_w = 1;
        off += g.N * g.C * OH * OW;
      } else {
        p.y = gx;
        p.y_n = g.C * g.H * g.W;
        p.y_g = Cg * g.H * g.W;
        p.y_m = g.H * g.W;
        p.y_h = g.W;
        p.y_w = 1;
      }
      p.bias = bias;
      p.bias_g = Cg;
      p.act = Activation::none;
      igemm_conv(p);
    }
  }
  if (!strided) return;
  // grad_x[n, c, φy + sh·u, φx + sw·v] = phase (φy, φx)[n, c, u, v]
  const int64_t nfx = std::min(g.sw, g.W);
  parallel_for(0, g.N * g.C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, g.H * g.W)), [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc)
      for (int64_t iy = 0; iy < g.H; ++iy) {
        const int64_t fy = iy % g.sh, u = iy / g.sh, OH = ceil_div(g.H - fy, g.sh);
        float* dst = gx + (nc * g.H + iy) * g.W;
        auto src_row = [&](int64_t fx) {
          const int64_t OW = ceil_div(g.W - fx, g.sw);
          return dense + phase_off[size_t(fy * nfx + fx)] + (nc * OH + u) * OW;
        };
        if (g.sw == 2 && g.W % 2 == 0) {
          const float* a = src_row(0);
          const float* b = src_row(1);
          for (int64_t v = 0; v < g.W / 2; ++v) dst[2 * v] = a[v], dst[2 * v + 1] = b[v];
          continue;
        }
        for (int64_t fx = 0; fx < nfx; ++fx) {
          const float* src = src_row(fx);
          for (int64_t v = 0, ix = fx; ix < g.W; ++v, ix += g.sw) dst[ix] = src[v];
        }
      }
  });
}

}  // namespace fastnn
