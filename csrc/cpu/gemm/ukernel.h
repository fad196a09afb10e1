#pragma once
// Micro-kernel contract, shared by every ISA translation unit.
//
// Basic kernel (stable; used directly by convolution and attention):
//   C[MR×NR] = alpha * Σ_k a[k*MR + i] * b[k*NR + j]  + beta * C      (beta == 0: C not read)
//
// a: packed A panel, MR floats per k (column of the tile), 64-byte aligned
// b: packed B panel, NR floats per k (row of the tile), 64-byte aligned
// c: tile of C with element strides rs_c, cs_c (any values); always a full MR×NR tile.
//
// Extended kernel (what the GEMM driver calls): the same product, plus
// - ldb: floats between consecutive k rows of b. NR for a packed panel; the row stride of B
//   when the driver streams an unpacked row-major B (then b needs no alignment, and all NR
//   columns of every row must be readable);
// - m ≤ MR, n ≤ NR: only the top-left m×n of the tile of C is read or written (edge tiles; the
//   packed panels are zero-padded to MR/NR, so the product itself is always full-size);
// - ep (nullptr: none): bias and activation applied while the tile is in registers, see
//   SgemmTileEpilogue.
//
// ISA files (*_avx2.cpp, *_avx512.cpp) hold leaf kernels only: no std containers,
// std::function or threading, so no inline function compiled with wide instructions can be
// picked by the linker for baseline code.
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {

using SgemmUkernel = void (*)(int64_t kc, float alpha, const float* a, const float* b, float beta, float* c,
                              int64_t rs_c, int64_t cs_c);

// Tile epilogue, with z = alpha·(A·B) + beta·C + bias:
//   dy == nullptr:  C = act(z)                      (forward: fused bias + activation)
//   dy != nullptr:  C = dy ⊙ act'(z)                (backward: gradient of the pre-activation,
//                                                     fused into the GEMM that recomputes z)
// Pointers are already offset to the tile: bias[j] (j < n) per column, or bias[i] (i < m) per
// row when bias_per_row, contiguous; dy(i, j) = dy[i*rs_dy + j*cs_dy].
struct SgemmTileEpilogue {
  const float* bias = nullptr;
  bool bias_per_row = false;
  Activation act = Activation::none;
  const float* dy = nullptr;
  int64_t rs_dy = 0, cs_dy = 0;
};

using SgemmUkernelEx = void (*)(int64_t kc, float alpha, const float* a, const float* b, int64_t ldb, float beta,
                                float* c, int64_t rs_c, int64_t cs_c, int m, int n, const SgemmTileEpilogue* ep);

// Same as SgemmUkernelEx for a full-height tile (m == MR) whose A rows are read in place:
// a(i, k) = a[i*lda + k] (row-major A, unit column stride), so A needs no packing. Optional
// (nullptr: the driver packs A).
using SgemmUkernelRowA = void (*)(int64_t kc, float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                                  float beta, float* c, int64_t rs_c, int64_t cs_c, int n,
                                  const SgemmTileEpilogue* ep);

// Matrix-vector leaf kernels, for GEMMs with M == 1 or N == 1 (streamed, no packing):
//   dot:   y[j] = Σ_k w[j*ldw + k]·x[k]     (w's rows contiguous: one dot product per output)
//   axpy:  y[j] = Σ_k x[k]·w[k*ldw + j]     (w's rows are k: rows scaled and summed into y)
// for j < n; x contiguous (k floats), y contiguous (n floats, overwritten).
using SgemvKernel = void (*)(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y);

// Packing routines matched to the kernel's MR / NR (see pack.h for the layout).
using SgemmPackA = void (*)(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, int mr, float* out);
using SgemmPackB = void (*)(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, int nr, float* out);

struct SgemmUkernelInfo {
  SgemmUkernel fn;
  int mr, nr;
  const char* name;
  SgemmUkernelEx fn_ex;
  SgemmPackA pack_a;
  SgemmPackB pack_b;
  SgemmUkernelRowA fn_rowa;
  SgemvKernel gemv_dot, gemv_axpy;
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
