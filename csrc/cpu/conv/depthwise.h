#pragma once
// Depthwise convolution (groups == C, one input channel per group, any channel multiplier
// K/C): direct kernels on NCHW planes. A GEMM would have M = 1 here; instead each plane is a
// small 2-D correlation, vectorised along the output row, with the kernel taps in registers.
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/conv/conv_geometry.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

// One output plane as a correlation of one input plane (zero outside [0,H)×[0,W)):
//
//   out[oy*out_h + ox*out_w] = bias + Σ_{i<nr, j<ns} wt[i*ns + j] · in[(oy*sy + ry[i])*in_h + ox*sx + cx[j]]
//
// (accumulate: add to out instead of bias.) Forward: ry = r*dh - pt, cx = s*dw - pl. Data
// gradient (per output phase): the taps that reach the phase, with sy = sx = 1.
struct DwPlane {
  const float* in;
  int64_t in_h, H, W;
  float* out;
  int64_t out_h, out_w, OH, OW;
  int64_t sy, sx;
  int nr, ns;
  const int64_t* ry;
  const int64_t* cx;
  const float* wt;
  float bias;
  bool accumulate;
  float* scratch;  // DepthwiseKernels::plane_scratch(*this) floats
};

// Weight gradient of one plane pair, accumulated:
//   acc[i*ns + j] += Σ_{oy, ox} gy[oy*OW + ox] · x[(oy*sy + ry[i])*W + ox*sx + cx[j]]
struct DwWgradPlane {
  const float* gy;
  int64_t OH, OW;
  const float* x;
  int64_t H, W;
  int64_t sy, sx;
  int nr, ns;
  const int64_t* ry;
  const int64_t* cx;
  double* acc;
  float* scratch;  // DepthwiseKernels::wgrad_scratch(*this) floats
};

// The kernels copy the input plane into scratch (zero columns around it, split into sx column
// phases, slack past the right edge) so their inner loops have no border cases; *_scratch say
// how many floats that takes.
struct DepthwiseKernels {
  void (*plane)(const DwPlane& p);
  void (*wgrad)(const DwWgradPlane& p);
  int64_t (*plane_scratch)(const DwPlane& p);
  int64_t (*wgrad_scratch)(const DwWgradPlane& p);
};

const DepthwiseKernels& depthwise_kernels_for(Isa isa);
DepthwiseKernels depthwise_kernels_ref();
#if defined(FASTNN_X86)
DepthwiseKernels depthwise_kernels_avx2();
DepthwiseKernels depthwise_kernels_avx512();
#endif

// Drivers (threads over planes). They apply when groups == C and each group has one input channel.
inline bool depthwise_applies(const Conv2dGeometry& g) { return g.groups > 1 && g.groups == g.C && g.Cg() == 1; }
void depthwise_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                       Activation act, float* y);
void depthwise_backward_data(const Conv2dGeometry& g, const float* gy, const float* w, const float* bias,
                             float* gx);
void depthwise_backward_weight(const Conv2dGeometry& g, const float* gy, const float* x, float* gw);

}  // namespace fastnn
