#pragma once
// Small leaf kernels the convolution drivers share, one row per ISA (row 0: the reference).
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

// dst[j*dst_rs + i] = src[i*src_rs + j]   for i < rows, j < cols   (rows × cols → cols × rows)
using TransposeFn = void (*)(int64_t rows, int64_t cols, const float* src, int64_t src_rs, float* dst,
                             int64_t dst_rs);
// Σ x[0..n)
using ReduceSumFn = float (*)(const float* x, int64_t n);
// out[i] = g[i] · act'(z[i])   (z: the pre-activation; out may alias g)
using ActGradFn = void (*)(const float* z, const float* g, float* out, int64_t n, Activation act);

struct ConvKernels {
  TransposeFn transpose;
  ReduceSumFn reduce_sum;
  ActGradFn act_grad;
};

// d act(z) / dz, scalar: the reference the vector act_grad kernels are tested against.
float activation_derivative(Activation act, float z);

const ConvKernels& conv_kernels_for(Isa isa);
inline TransposeFn transpose_for(Isa isa) { return conv_kernels_for(isa).transpose; }
inline ReduceSumFn reduce_sum_for(Isa isa) { return conv_kernels_for(isa).reduce_sum; }
inline ActGradFn act_grad_for(Isa isa) { return conv_kernels_for(isa).act_grad; }

ConvKernels conv_kernels_ref();
#if defined(FASTNN_X86)
ConvKernels conv_kernels_avx2();
ConvKernels conv_kernels_avx512();
#endif

}  // namespace fastnn
