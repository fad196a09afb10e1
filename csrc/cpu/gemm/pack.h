#pragma once
// Packing: copies a block of A or B, through any strides, into the contiguous,
// zero-padded micro-panels the micro-kernels stream (see ukernel.h). A packer writes exactly
// ceil(mc/mr)·mr·kc (or ceil(nc/nr)·nr·kc) floats and reads only elements inside the block.
#include <cstdint>

namespace fastnn {

// A block (mc × kc) → ceil(mc/mr) panels of kc×mr floats.       a(i, k) = a[i*rs + k*cs]
void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, int mr, float* out);
// B block (kc × nc) → ceil(nc/nr) panels of kc×nr floats.       b(k, j) = b[k*rs + j*cs]
void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, int nr, float* out);

#if defined(FASTNN_X86)
// AVX2 packers (pack_avx2.cpp): 8×8 register transposes when the source is k-contiguous,
// vector copies when it is panel-contiguous; other layouts and widths use the generic code.
void sgemm_pack_a_avx2(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, int mr, float* out);
void sgemm_pack_b_avx2(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, int nr, float* out);
#endif

}  // namespace fastnn
