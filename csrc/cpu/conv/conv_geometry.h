#pragma once
// Shape of one 2-D convolution (NCHW, weight (K, C/groups, R, S)), validated once.
//
//   y[n, k, oy, ox] = Σ_{c in group(k), r, s} w[k, c, r, s] · x[n, c, oy*sh + r*dh - pt, ox*sw + s*dw - pl]
//
// conv_transpose2d is described by the conv it is the adjoint of: its output is this conv's
// input (N, C, H, W) and its input is this conv's output (N, K, Ho, Wo). Ho/Wo may then be
// smaller than the natural output size (output_padding ≥ stride, allowed when dilation is
// larger, leaves extra rows at the bottom that no input reads), hence they are stored.
#include <cstdint>

#include "common/errors.h"

namespace fastnn {

struct Conv2dGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;  // input
  int64_t K = 0, R = 0, S = 0;         // weight (K, C/groups, R, S)
  int64_t groups = 1;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding: top, bottom, left, right
  int64_t Ho = 0, Wo = 0;

  int64_t Cg() const { return C / groups; }
  int64_t Kg() const { return K / groups; }
  int64_t taps() const { return R * S; }
  int64_t natural_ho() const { return (H + pt + pb - dh * (R - 1) - 1) / sh + 1; }
  int64_t natural_wo() const { return (W + pl + pr - dw * (S - 1) - 1) / sw + 1; }
  bool is_depthwise() const { return groups == C && groups == K; }
};

// Checks every field and sets Ho, Wo to the natural output size; ValueError naming `fn`.
inline void finish_conv2d_geometry(Conv2dGeometry& g, const char* fn) {
  FASTNN_CHECK_VALUE(g.N >= 0 && g.C >= 0 && g.H >= 0 && g.W >= 0 && g.K >= 0 && g.R >= 1 && g.S >= 1, fn,
                     ": bad sizes (N=", g.N, ", C=", g.C, ", H=", g.H, ", W=", g.W, ", K=", g.K, ", R=", g.R,
                     ", S=", g.S, ")");
  FASTNN_CHECK_VALUE(g.groups >= 1, fn, ": groups must be >= 1, got ", g.groups);
  FASTNN_CHECK_VALUE(g.C % g.groups == 0 && g.K % g.groups == 0, fn, ": groups=", g.groups,
                     " must divide the input channels (", g.C, ") and the output channels (", g.K, ")");
  FASTNN_CHECK_VALUE(g.sh >= 1 && g.sw >= 1, fn, ": stride must be >= 1, got (", g.sh, ", ", g.sw, ")");
  FASTNN_CHECK_VALUE(g.dh >= 1 && g.dw >= 1, fn, ": dilation must be >= 1, got (", g.dh, ", ", g.dw, ")");
  FASTNN_CHECK_VALUE(g.pt >= 0 && g.pb >= 0 && g.pl >= 0 && g.pr >= 0, fn, ": padding must be >= 0");
  const int64_t limit = int64_t(1) << 40;  // keeps every index product below 2^63
  FASTNN_CHECK_VALUE(g.H < limit && g.W < limit && g.R < limit && g.S < limit && g.pt + g.pb < limit &&
                         g.pl + g.pr < limit && g.dh < (int64_t(1) << 20) && g.dw < (int64_t(1) << 20),
                     fn, ": sizes too large");
  const int64_t eh = g.dh * (g.R - 1) + 1, ew = g.dw * (g.S - 1) + 1;
  FASTNN_CHECK_VALUE(g.H + g.pt + g.pb >= eh && g.W + g.pl + g.pr >= ew, fn, ": the padded input (",
                     g.H + g.pt + g.pb, "x", g.W + g.pl + g.pr, ") is smaller than the dilated kernel (", eh,
                     "x", ew, ")");
  g.Ho = g.natural_ho();
  g.Wo = g.natural_wo();
}

}  // namespace fastnn
