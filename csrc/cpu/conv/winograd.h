#pragma once
// Winograd F(4×4, 3×3) convolution (Lavin & Gray): each 4×4 output tile comes from a 6×6 input
// tile through 36 independent channel reductions, 4× fewer multiplies than the direct form.
//
//   V = Bᵀ d B (input tile)   U = G g Gᵀ (kernel)   M[ξ] = Σ_c U[ξ][k][c] · V[ξ][c]   Y = Aᵀ M A
//
// Lanes of every transform are consecutive tiles of a tile row, so NCHW is read and written
// directly (through a phase split of the input by 4). The 36 reductions run on the GEMM
// micro-kernel with the transformed input produced straight into its B-panel layout.
//
// Accuracy: the transforms amplify rounding (points 0, ±1, 2, -1/2: errors ~10× those of the
// direct sum, a few times below 16·eps·sqrt(C·9) relative to the output scale; Lavin's ±2 points
// reach that bound), and they mix values within a tile, so an Inf
// or NaN input would spread differently than in the direct sum. The driver therefore checks
// that inputs, weights and pre-activation outputs are finite and reports failure otherwise; the
// caller then recomputes with the implicit GEMM, which has the reference's IEEE behaviour.
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/conv/conv_geometry.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

struct WinogradProblem {
  int64_t N, C, K, H, W;        // input (N, C, H, W), output (N, K, Ho, Wo)
  int64_t pt, pl, Ho, Wo;       // output (oy, ox) reads input rows oy - pt + r, columns ox - pl + s
  const float* x;
  // weight element (k, c, r, s) = w[k*w_k + c*w_c + r*w_r + s*w_s] (strides may be negative: flips)
  const float* w;
  int64_t w_k, w_c, w_r, w_s;
  const float* bias;  // length K or null
  Activation act;
  float* y;
};

// Whether F(4×4, 3×3) is used for this convolution (3×3, stride 1, dilation 1, one group, enough
// channels for the transforms to pay off).
bool winograd_forward_applies(const Conv2dGeometry& g);
bool winograd_backward_data_applies(const Conv2dGeometry& g);

// Computes y; false when a non-finite input, weight or output was met (y is then unspecified).
bool winograd_conv3x3(const WinogradProblem& p);

// ---- per-ISA leaf kernels (lanes = consecutive tiles) ----------------------------------------
struct WinogradKernels {
  int lanes;
  // Kernel transform of n ≤ lanes channels: lane l is the 3×3 kernel at w + l*w_c (taps w_r,
  // w_s apart): u[ξ*lanes + l] = (G g Gᵀ)[ξ]; fin accumulates g·0.
  void (*weights)(const float* w, int64_t w_c, int64_t w_r, int64_t w_s, int64_t n, float* u, float* fin);
  // Optional (null when absent): a whole A-panel block, m ≤ 6 output channels (k, w_k apart)
  // × n ≤ lanes channels, written as dst[ξ*xi_stride + c*6 + i] (the MR = 6 micro-kernel layout).
  void (*weights_mr6)(const float* w, int64_t w_k, int64_t w_c, int64_t w_r, int64_t w_s, int64_t m, int64_t n,
                      float* dst, int64_t xi_stride, float* fin);
  // One input plane → 4 column phases: xp[j][r][u] = x[r - pt][4u + j - pl] (zero outside), for
  // r < hp rows and u < twp columns; rowbuf holds 4*twp floats.
  void (*split)(const float* x, int64_t H, int64_t W, int64_t pt, int64_t pl, int64_t hp, int64_t twp, float* xp,
                float* rowbuf);
  // `lanes` tiles (ty, tx .. tx+lanes-1): dst[ξ*xi_stride + lane] = (Bᵀ d B)[ξ]. fin accumulates
  // x·0 (NaN once any input is Inf or NaN).
  void (*input)(const float* xp, int64_t hp, int64_t twp, int64_t ty, int64_t tx, float* dst, int64_t xi_stride,
                float* fin);
  // `lanes` tiles: out[p*ld + 4*lane + q] = (Aᵀ M A)[p][q] + bias, M[ξ] at m + ξ*xi_stride.
  void (*output)(const float* m, int64_t xi_stride, float bias, float* out, int64_t ld, float* fin);
};

const WinogradKernels& winograd_kernels_for(Isa isa);
WinogradKernels winograd_kernels_ref();
#if defined(FASTNN_X86)
WinogradKernels winograd_kernels_avx2();
WinogradKernels winograd_kernels_avx512();
#endif

}  // namespace fastnn
