#pragma once
// Bias + activation on an output tile, applied once the tile's reduction is complete (while
// it is still in cache):  c[i*rs + j*cs] = act(c[i*rs + j*cs] + bias[i])  for i < m, j < n.
// bias may be null. One function per ISA; row 0 is the scalar reference.
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

using EpilogueFn = void (*)(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias, Activation act);

EpilogueFn conv_epilogue_for(Isa isa);

void conv_epilogue_ref(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias, Activation act);
#if defined(FASTNN_X86)
void conv_epilogue_avx2(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias, Activation act);
void conv_epilogue_avx512(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias, Activation act);
#endif

}  // namespace fastnn
