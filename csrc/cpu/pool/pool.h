#pragma once
// 2-D pooling on contiguous NCHW float32 planes, PyTorch semantics (fastnn.reference.pool).
//
//   x (N, C, H, W) → y (N, C, Ho, Wo);  max_pool2d indices: int64 flat ih*W + iw in the plane.
#include <cstdint>

#include "common/cpu_features.h"
#include "common/errors.h"

namespace fastnn {

struct Pool2dGeometry {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t Ho = 0, Wo = 0;
};

// One dimension's output size (PyTorch pooling_output_shape): with ceil_mode the last window
// is dropped when it would start in the right padding. ValueError naming fn when invalid.
int64_t pool_output_size(int64_t L, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode, const char* fn);
// Checks kernel/stride/padding/dilation (padding at most half the kernel) and sets Ho, Wo.
void finish_pool2d_geometry(Pool2dGeometry& g, bool ceil_mode, const char* fn);

// y = window max; indices (may be null) = argmax (first maximum in row-major tap order; a NaN
// wins, the last NaN when several). Padding never wins.
void max_pool2d_cpu(const Pool2dGeometry& g, const float* x, float* y, int64_t* indices);
// gx = grad_out scatter-added to the indices (-1: no contribution). ValueError on an index
// outside the plane.
void max_pool2d_backward_cpu(const Pool2dGeometry& g, const float* gy, const int64_t* indices, float* gx);

// Divisor rule: divisor_override if > 0, else the window clipped to the padded input
// (count_include_pad) or the number of real input elements in it.
void avg_pool2d_cpu(const Pool2dGeometry& g, bool count_include_pad, int64_t divisor_override, const float* x,
                    float* y);
void avg_pool2d_backward_cpu(const Pool2dGeometry& g, bool count_include_pad, int64_t divisor_override,
                             const float* gy, float* gx);

// Output (i, j) averages rows [floor(i*H/Ho), ceil((i+1)*H/Ho)) × the same rule for columns.
void adaptive_avg_pool2d_cpu(int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const float* x, float* y);
void adaptive_avg_pool2d_backward_cpu(int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const float* gy,
                                      float* gx);

}  // namespace fastnn
