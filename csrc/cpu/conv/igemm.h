#pragma once
// Implicit-GEMM convolution engine, NCHW, stride 1 in the column space.
//
// For each group g, image n and output position (oy, ox):
//
//   Y[g, n, m, oy, ox] = act( bias[g, m] + Σ_kk A[g, m, kk] · X[g, n, rows[kk]](oy + dy, ox + dx) )
//
// The GEMM has M rows (output channels of the group), columns (n, oy, ox) over all images, and
// a reduction over `rows`: each reduction row names an input plane (a channel, or a phase
// plane of a channel for strided convolutions), a shift (dy, dx) and the weight element it is
// multiplied with. Reads outside the plane are zero (padding). B micro-panels are packed
// straight from the image into the micro-kernel's layout (never a whole im2col matrix); A
// (the weights) is packed once per call. The micro-kernel is the GEMM family's
// (sgemm_ukernel_for): forward convolution, the data gradient (as a convolution of grad_out,
// per output phase when strided) and conv_transpose2d all run through here.
#include <cstdint>

#include "cpu/gemm/sgemm.h"

namespace fastnn {

struct IgemmRow {
  int64_t x_off;  // plane offset from the (group, image) base of X
  int64_t a_off;  // weight offset from the (group, row m) base of A
  int64_t x_h;    // row stride of the plane
  int64_t h, w;   // plane size; reads outside [0,h)×[0,w) are zero
  int64_t dy, dx;  // the element read for output (oy, ox) is plane(oy + dy, ox + dx)
};

struct IgemmProblem {
  int64_t groups = 1, batch = 0, M = 0;
  int64_t kred = 0;              // number of reduction rows (may be 0: Y = act(bias))
  const IgemmRow* rows = nullptr;
  const float* x = nullptr;      // X plane of (g, n) at x + g*x_g + n*x_n
  int64_t x_n = 0, x_g = 0;
  const float* a = nullptr;      // A[g, m, kk] = a[g*a_g + m*a_m + rows[kk].a_off]
  int64_t a_m = 0, a_g = 0;
  float* y = nullptr;            // Y[g, n, m, oy, ox] = y[g*y_g + n*y_n + m*y_m + oy*y_h + ox*y_w]
  int64_t OH = 0, OW = 0;
  int64_t y_n = 0, y_g = 0, y_m = 0, y_h = 0, y_w = 1;
  const float* bias = nullptr;   // bias[g*bias_g + m], or null
  int64_t bias_g = 0;
  Activation act = Activation::none;
  // Backward of a fused activation: with dy set (same layout as Y), Y = dy · act'(z) where z is
  // the pre-activation above — computed in the epilogue, z is never stored.
  const float* dy = nullptr;
};

// Runs on up to get_num_threads() threads with the active ISA's micro-kernel.
void igemm_conv(const IgemmProblem& p);

}  // namespace fastnn
