#pragma once
// Data gradient for convolutions with few input channels per group (the 7×7/2 stem: C = 3):
// the implicit GEMM would have M = C/groups rows, a fraction of a micro-kernel tile, and would
// pack K·R·S reduction rows per output pixel. Instead, per image and group, blocks of pixels:
//   cols[(c, r, s), p] = Σ_k w[k, c, r, s] · gy[k, p]      (M = C·R·S, a full-width GEMM)
// then col2im adds each column row into grad_x. With stride s, tap (r, s) of output pixel
// (oy, ox) lands on input phase ((r·dh - pt) mod sh, (s·dw - pl) mod sw) at a fixed shift, so
// the rows are added as contiguous runs into phase planes (with margins for the padding) and
// the phases are interleaved into grad_x once per image: no scatter, no write conflicts (one
// image per thread, or, with fewer images than threads, the GEMM threaded and the adds split
// by channel).
#include "cpu/conv/conv_geometry.h"

namespace fastnn {

bool dgrad_col2im_applies(const Conv2dGeometry& g, int mr);
void conv2d_backward_data_col2im(const Conv2dGeometry& g, const float* gy, const float* w, const float* bias,
                                 float* gx);

}  // namespace fastnn
