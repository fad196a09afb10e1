#pragma once
// Stride-1 convolution as a GEMM over "padded-row" pixels, with no B packing.
//
// Each image is copied once into a zero-padded plane per channel (Hp × Wp, Hp = H + pt + pb,
// Wp = W + pl + pr). Output pixel (oy, ox) is given the virtual index v = oy·Wp + ox, so the input
// it reads for tap (c, r, s) sits at  xp[v + c·Hp·Wp + r·dh·Wp + s·dw]: for every reduction row
// (c, r, s) the NR consecutive virtual pixels of a panel are NR consecutive floats of the padded
// image. The micro-kernel loads them straight from there (one offset per reduction row) instead of
// reading a packed B panel, so small images with few channels — where packing B costs as much as
// the FMAs (14×14, 16-32 channels) — run at GEMM speed. The price: the Wp - Wo virtual pixels
// past each output row are computed and dropped (2 of 16 for a 14×14 3×3 layer).
//
//   y[n, k, oy, ox] = act( bias[k] + Σ_{c, r, s} A(k, c, r, s) · xpad[n, c, oy + r·dh, ox + s·dw] )
//
// Forward: A = w. Data gradient of a stride-1 conv: x = grad_out, A(c, k, r, s) = w[k, c, R-1-r,
// S-1-s] (negative strides) and padding dh·(R-1) - pt on top (likewise the other sides).
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

struct PadrowProblem {
  int64_t N = 0, C = 0, H = 0, W = 0;     // input (N, C, H, W), contiguous
  const float* x = nullptr;
  int64_t K = 0, R = 0, S = 0, dh = 1, dw = 1;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // zero padding, each >= 0
  // A(k, c, r, s) = a[k*a_k + c*a_c + r*a_r + s*a_s]   (strides may be negative)
  const float* a = nullptr;
  int64_t a_k = 0, a_c = 0, a_r = 0, a_s = 0;
  const float* bias = nullptr;             // (K,) or null
  Activation act = Activation::none;
  float* y = nullptr;                      // (N, K, Ho, Wo), contiguous
  int64_t Ho() const { return H + pt + pb - dh * (R - 1); }
  int64_t Wo() const { return W + pl + pr - dw * (S - 1); }
};

// c[i*ldc + j] = Σ_kk a[kk*mr + i] · b[off[kk] + j]   for i < mr, j < nr (a whole tile, no edges)
using PadrowUkernel = void (*)(int64_t kred, const float* a, const float* b, const int64_t* off, float* c,
                               int64_t ldc);

struct PadrowKernel {
  int mr, nr;
  PadrowUkernel fn;
};

// One row per ISA, row 0 the scalar reference. AVX-512 machines run the AVX2 kernel.
const PadrowKernel& padrow_kernel_for(Isa isa);
PadrowKernel padrow_kernel_ref();
#if defined(FASTNN_X86)
PadrowKernel padrow_kernel_avx2();
#endif

// Whether the padded-row path takes this problem: enough images to share among the threads,
// enough reduction rows to amortise the tile stores, indices within int32-safe ranges, and not
// switched off by FASTNN_CONV_PADROW=0.
bool padrow_applies(const PadrowProblem& p);

// Runs on up to get_num_threads() threads (images split among them).
void padrow_conv(const PadrowProblem& p);

}  // namespace fastnn
