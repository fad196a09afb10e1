#pragma once
// Micro-kernel contract, shared by every ISA translation unit.
//
//   C[MR×NR] = alpha * Σ_k a[k*MR + i] * b[k*NR + j]  + beta * C      (beta == 0: C not read)
//
// a: packed A panel, MR floats per k (column of the tile), 64-byte aligned
// b: packed B panel, NR floats per k (row of the tile), 64-byte aligned
// c: tile of C with element strides rs_c, cs_c (any values); always a full MR×NR tile —
//    the macro-kernel routes edge tiles through a local buffer.
//
// ISA files (*_avx2.cpp, *_avx512.cpp) hold leaf kernels only: no std containers,
// std::function or threading, so no inline function compiled with wide instructions can be
// picked by the linker for baseline code.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

using SgemmUkernel = void (*)(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c,
                              int64_t rs_c, int64_t cs_c);

struct SgemmUkernelInfo {
  SgemmUkernel fn;
  int mr, nr;
  const char* name;
};

SgemmUkernelInfo sgemm_ukernel_ref();
#if defined(FASTNN_X86)
SgemmUkernelInfo sgemm_ukernel_avx2();
SgemmUkernelInfo sgemm_ukernel_avx512();
#endif

constexpr int kMaxMR = 16, kMaxNR = 32;

// The micro-kernel the GEMM driver uses for an ISA (row of the dispatch table). Other
// families (implicit-GEMM convolution, attention) call it on panels they pack themselves.
const SgemmUkernelInfo& sgemm_ukernel_for(Isa isa);

}  // namespace fastnn
