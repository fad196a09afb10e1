// Reference B-panel packer (any panel width) and the per-ISA choice.
#include "cpu/conv/igemm_pack.h"

namespace fastnn {

void igemm_pack_generic(const PackJob& job, int nr) {
  for (int64_t kk = 0; kk < job.kc; ++kk) {
    const IgemmRow& r = job.rows[job.k0 + kk];
    const float* plane = job.x + r.x_off;
    float* row = job.out + kk * nr;
    for (int64_t q = 0; q < job.npanels; ++q)
      for (int l = 0; l < nr; ++l) row[q * job.kc * nr + l] = 0.0f;
    for (int64_t i = 0; i < job.npieces; ++i) {
      const PackPiece& pc = job.pieces[i];
      const int64_t iy = pc.oy + r.dy;
      if (iy < 0 || iy >= r.h) continue;
      const float* src = plane + pc.n * job.x_n + iy * r.x_h;
      float* dst = row + pc.panel * job.kc * nr;
      for (int l = pc.a; l < pc.b; ++l) {
        const int64_t ix = pc.ox_a + (l - pc.a) + r.dx;
        if (ix >= 0 && ix < r.w) dst[l] = src[ix];
      }
    }
  }
}

namespace {
template <int NR>
void generic_fixed(const PackJob& job) {
  igemm_pack_generic(job, NR);
}
}  // namespace

IgemmPackFn igemm_pack_for(Isa isa, int nr) {
#if defined(FASTNN_X86)
  if (isa == Isa::avx2 && nr == 16) return igemm_pack_avx2_16;
  if (isa == Isa::avx512 && nr == 32) return igemm_pack_avx512_32;
#endif
  switch (nr) {
    case 4: return generic_fixed<4>;
    case 8: return generic_fixed<8>;
    case 12: return generic_fixed<12>;
    case 16: return generic_fixed<16>;
    case 24: return generic_fixed<24>;
    case 32: return generic_fixed<32>;
    case 48: return generic_fixed<48>;
  }
  return nullptr;
}

}  // namespace fastnn
