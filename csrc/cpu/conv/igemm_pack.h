#pragma once
// B-panel packing for the implicit-GEMM convolution: reduction rows × output columns, read
// straight from the image into the micro-kernel's panel layout (kc × NR floats per panel).
#include <cstdint>

#include "common/cpu_features.h"
#include "cpu/conv/igemm.h"

namespace fastnn {

// Lanes [a, b) of panel `panel` are the output positions (n, oy, ox_a + (lane - a)).
struct PackPiece {
  int32_t panel, a, b;
  int64_t n, oy, ox_a;
};

// Packs reduction rows [k0, k0+kc) into npanels panels at out (panel q at out + q*kc*nr):
//   out[q][kk][lane] = plane_kk(n, oy + dy, ox + dx)   (zero outside the plane or past the pieces)
// pieces are sorted by panel, then lane.
struct PackJob {
  const IgemmRow* rows;
  int64_t k0, kc;
  const float* x;  // the group's X; image n at x + n*x_n
  int64_t x_n;
  const PackPiece* pieces;
  int64_t npieces, npanels;
  float* out;  // 64-byte aligned
};

using IgemmPackFn = void (*)(const PackJob& job);

// The packer for an ISA's micro-kernel width nr (the generic one handles any nr).
IgemmPackFn igemm_pack_for(Isa isa, int nr);

void igemm_pack_generic(const PackJob& job, int nr);
#if defined(FASTNN_X86)
void igemm_pack_avx2_16(const PackJob& job);
void igemm_pack_avx512_32(const PackJob& job);
#endif

}  // namespace fastnn
