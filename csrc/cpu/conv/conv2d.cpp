// conv2d forward and data gradient: each becomes one or more stride-1 implicit GEMMs.
//
// Forward with stride s: x is split once into s_h·s_w phase planes (x[φy + s·u, φx + s·v]),
// after which every kernel tap reads one phase plane at stride 1 (tap offset r·d - p splits
// into a phase and a shift), so B panels are packed by contiguous copies.
// Data gradient with stride s: output pixels of one phase (ih ≡ φy mod s_h) receive exactly the
// taps with (φy + pt - r·dh) divisible by s_h, read from grad_out at stride 1: one GEMM per phase
// writing a strided view of grad_x (no scatter-add, no atomics).
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
  if (winograd_backward_data_applies(g)) {
    // grad_x = 3×3 convolution of grad_out with w[k, c, 2-r, 2-s] (input channel k, output c)
    const WinogradProblem wp{g.N, g.K, g.C, g.Ho, g.Wo, 2 - g.pt, 2 - g.pl, g.H, g.W, gy, w + 8, 9,
                             g.C * 9, -3, -1, bias, Activation::none, gx};
    if (winograd_conv3x3(wp)) return;
  }
  const int64_t Cg = g.Cg(), Kg = g.Kg(), T = g.taps();
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
            rows.push_back(IgemmRow{k * g.Ho * g.Wo, k * Cg * T + r * g.S + s, g.Wo, g.Ho, g.Wo, qy / g.sh,
                                    qx / g.sw});
          }
        }
      IgemmProblem p;
      p.groups = g.groups;
      p.batch = g.N;
      p.M = Cg;
      p.kred = int64_t(rows.size());
      p.rows = rows.data();
      p.x = gy;
      p.x_n = g.K * g.Ho * g.Wo;
      p.x_g = Kg * g.Ho * g.Wo;
      p.a = w;
      p.a_m = T;
      p.a_g = Kg * Cg * T;
      p.y = gx + fy * g.W + fx;
      p.OH = ceil_div(g.H - fy, g.sh);
      p.OW = ceil_div(g.W - fx, g.sw);
      p.y_n = g.C * g.H * g.W;
      p.y_g = Cg * g.H * g.W;
      p.y_m = g.H * g.W;
      p.y_h = g.sh * g.W;
      p.y_w = g.sw;
      p.bias = bias;
      p.bias_g = Cg;
      p.act = Activation::none;
      igemm_conv(p);
    }
  }
}

}  // namespace fastnn
