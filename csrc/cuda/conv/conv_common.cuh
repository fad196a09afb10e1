#pragma once
// Device-side pieces shared by the CUDA convolution kernels: the geometry and the implicit-GEMM
// views of the three passes.
//   fwd:   C[m = (n, oh, ow)][k] = Σ_{(c, r, s)} x[n, c, oh·sh - ph + r·dh, ow·sw - pw + s·dw] · w[k, c, r, s]
//   dgrad: C[m = (n, ih, iw)][c] = Σ_{(k, r, s)} dy[n, k, (ih + ph - r·dh)/sh, ...] · w[k, c, r, s]
//          (taps whose output coordinate is fractional or outside [0, Ho) contribute nothing)
//   wgrad: C[k][(c, r, s)]     = Σ_{(n, oh, ow)} dy[n, k, oh, ow] · x[n, c, oh·sh - ph + r·dh, ...]
// all per group (channels [g·Cg, (g+1)·Cg) in, [g·Kg, (g+1)·Kg) out).
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/gemm/gemm_common.cuh"  // to_float / from_float, act_forward / act_derivative

namespace fastnn {
namespace cuda {
namespace conv {

enum Pass : int { kFwd = 0, kDgrad = 1, kWgrad = 2 };

struct Geom {
  int64_t N, C, H, W;   // input (of the forward convolution)
  int64_t K, R, S;      // out channels, kernel
  int64_t Ho, Wo;       // output (of the forward convolution)
  int64_t sh, sw, ph, pw, dh, dw;
  int64_t groups, Cg, Kg;
};

// x (NCHW) strides in elements, so channels-last views are read in place.
struct Strides4 {
  int64_t n, c, h, w;
};

}  // namespace conv

struct ConvLaunch {
  conv::Geom g;
  int pass;
  const void* x;          // fwd / wgrad: x; dgrad: unused
  conv::Strides4 xs;
  const void* dy;         // dgrad / wgrad: grad of the forward output, contiguous NCHW
  const void* w;          // fwd / dgrad: weight, contiguous (K, Cg, R, S)
  void* out;              // fwd: y (N, K, Ho, Wo); dgrad: dx (N, C, H, W); wgrad: dw (K, Cg, R, S); contiguous
  const void* bias;       // fwd only, or null
  int act;                // fwd epilogue activation (GEMM codes)
};

// Launchers (throw on launch errors). dtype: 0 f32, 1 f16, 2 bf16.
void launch_conv_igemm_simt(const ConvLaunch& L, int dtype, cudaStream_t s);
// Tensor cores (bf16 / f16) for fwd and dgrad: src is NHWC (contiguous, channels of the pass's
// input: C for fwd, K for dgrad), wt the weight repacked (out, R, S, in) per group.
void launch_conv_igemm_sm80(const ConvLaunch& L, const void* src_nhwc, const void* wt, bool bf16, cudaStream_t s);
// Depthwise (groups == C, Cg == 1): direct kernels for the three passes.
void launch_conv_depthwise(const ConvLaunch& L, int dtype, cudaStream_t s);

}  // namespace cuda
}  // namespace fastnn
