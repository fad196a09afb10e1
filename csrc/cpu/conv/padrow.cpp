// Padded-row convolution driver (see padrow.h): A packed once per call, then each thread takes
// whole images: pad the image into its scratch, run the tiles into a virtual-pixel output block,
// apply bias + activation per tile while it is in L1, and copy the valid columns out.
#include "cpu/conv/padrow.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/conv/conv_epilogue.h"
#include "cpu/conv/conv_scratch.h"

namespace fastnn {
namespace {

// c[i*ldc + j] = Σ_kk a[kk*mr + i] · b[off[kk] + j]; the reference twin of the vector kernels.
template <int MR, int NR>
void padrow_ref(int64_t kred, const float* a, const float* b, const int64_t* off, float* c, int64_t ldc) {
  float acc[MR][NR] = {};
  for (int64_t kk = 0; kk < kred; ++kk) {
    const float* bk = b + off[kk];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[kk * MR + i] * bk[j];
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = acc[i][j];
}

bool padrow_enabled() {
  const char* env = std::getenv("FASTNN_CONV_PADROW");
  return !(env && env[0] == '0' && env[1] == '\0');
}

}  // namespace

PadrowKernel padrow_kernel_ref() { return {6, 16, padrow_ref<6, 16>}; }

const PadrowKernel& padrow_kernel_for(Isa isa) {
  static const PadrowKernel table[kNumIsas] = {
      padrow_kernel_ref(),
#if defined(FASTNN_X86)
      padrow_kernel_avx2(),
      padrow_kernel_avx2(),  // AVX-512 machines have AVX2+FMA; no 512-bit variant yet
#else
      padrow_kernel_ref(),
      padrow_kernel_ref(),
#endif
  };
  return table[int(isa)];
}

bool padrow_applies(const PadrowProblem& p) {
  if (!padrow_enabled()) return false;
  if (p.pt < 0 || p.pb < 0 || p.pl < 0 || p.pr < 0 || p.Ho() < 1 || p.Wo() < 1) return false;
  const int64_t Hp = p.H + p.pt + p.pb, Wp = p.W + p.pl + p.pr;
  const int64_t kred = p.C * p.R * p.S;
  // Images are the unit of work: fewer than two per thread would leave a core idle.
  if (p.N < 2 * int64_t(get_num_threads())) return false;
  // Few reduction rows: the 12 tile stores and the epilogue outweigh the FMAs (the stem).
  if (kred < 32) return false;
  // Per-image scratch (padded input, virtual output) must stay cache-sized and indexable.
  const int64_t plane = Hp * Wp;
  if (p.C * plane > (int64_t(1) << 22) || p.K * plane > (int64_t(1) << 22)) return false;
  // Few columns per output row: most of each tile would be dropped padding.
  return 4 * p.Wo() >= 3 * Wp;
}

void padrow_conv(const PadrowProblem& p) {
  const Isa isa = active_isa();
  const PadrowKernel& uk = padrow_kernel_for(isa);
  const EpilogueFn epilogue = conv_epilogue_for(isa);
  const int mr = uk.mr, nr = uk.nr;
  const int64_t Ho = p.Ho(), Wo = p.Wo();
  const int64_t Hp = p.H + p.pt + p.pb, Wp = p.W + p.pl + p.pr, plane = Hp * Wp;
  const int64_t kred = p.C * p.R * p.S;
  const int64_t mpad = (p.K + mr - 1) / mr * mr;
  const int64_t V = (Ho - 1) * Wp + Wo;  // virtual pixels up to the last valid one
  const int64_t npan = (V + nr - 1) / nr, Vp = npan * nr;

  // Reduction rows (c, r, s): the A panels (mpad/mr panels of kred × mr) and the B offsets.
  // (igemm's A buffer: the two engines never run inside one another)
  float* apack = conv_scratch(ConvScratch::igemm_a, size_t(mpad * kred));
  std::vector<int64_t> off(static_cast<size_t>(kred));
  for (int64_t c = 0; c < p.C; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) {
        const int64_t kk = (c * p.R + r) * p.S + s;
        off[size_t(kk)] = c * plane + r * p.dh * Wp + s * p.dw;
        for (int64_t k = 0; k < mpad; ++k)
          apack[(k / mr) * kred * mr + kk * mr + k % mr] =
              k < p.K ? p.a[k * p.a_k + c * p.a_c + r * p.a_r + s * p.a_s] : 0.0f;
      }

  parallel_run(int(std::min<int64_t>(p.N, 1 << 16)), [&](int tid, int nthr) {
    const int64_t n0 = p.N * tid / nthr, n1 = p.N * (tid + 1) / nthr;
    if (n0 >= n1) return;
    // Padded image plus nr floats of slack: the last panel's lanes past V read up to nr - 1
    // floats beyond the last plane (their results are dropped; the slack is zero).
    float* xp = thread_workspace(2, size_t(p.C * plane + nr));
    float* yv = thread_workspace(3, size_t(mpad * Vp));
    std::memset(xp + p.C * plane, 0, sizeof(float) * size_t(nr));
    for (int64_t n = n0; n < n1; ++n) {
      const float* xn = p.x + n * p.C * p.H * p.W;
      for (int64_t c = 0; c < p.C; ++c) {
        float* dst = xp + c * plane;
        const float* src = xn + c * p.H * p.W;
        std::memset(dst, 0, sizeof(float) * size_t(p.pt * Wp + p.pl));
        for (int64_t iy = 0; iy < p.H; ++iy) {
          float* row = dst + (p.pt + iy) * Wp + p.pl;
          std::memcpy(row, src + iy * p.W, sizeof(float) * size_t(p.W));
          // right padding of this row and left padding of the next, contiguous
          const int64_t gap = iy + 1 < p.H ? p.pr + p.pl : p.pr;
          std::memset(row + p.W, 0, sizeof(float) * size_t(gap));
        }
        std::memset(dst + (p.pt + p.H) * Wp, 0, sizeof(float) * size_t(p.pb * Wp));
      }
      for (int64_t q = 0; q < npan; ++q) {
        const float* b = xp + q * nr;
        for (int64_t i0 = 0; i0 < mpad; i0 += mr) {
          float* c = yv + i0 * Vp + q * nr;
          uk.fn(kred, apack + i0 * kred, b, off.data(), c, Vp);
          const int m = int(std::min<int64_t>(mr, p.K - i0));
          epilogue(c, Vp, 1, m, nr, p.bias ? p.bias + i0 : nullptr, p.act);
        }
      }
      float* yn = p.y + n * p.K * Ho * Wo;
      for (int64_t k = 0; k < p.K; ++k)
        for (int64_t oy = 0; oy < Ho; ++oy)
          std::memcpy(yn + (k * Ho + oy) * Wo, yv + k * Vp + oy * Wp, sizeof(float) * size_t(Wo));
    }
  });
}

}  // namespace fastnn
