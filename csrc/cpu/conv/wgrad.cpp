// conv2d weight gradient (and bias gradient).
//
//   gw[k, c, r, s] = Σ_{n, oy, ox} gy[n, k, oy, ox] · x[n, c, oy*sh + r*dh - pt, ox*sw + s*dw - pl]
//
// Per group a GEMM with M = K/groups, N = taps × C/groups (tap-major columns), reduced over
// output pixels. In NCHW both operands would need a gather per element, so each thread first
// transposes a band of output rows to pixel-major (gy → Gt[p][k]) and the input rows that band
// reads (x → Xt[iy][ix][c]); then A panels are MR-float copies (pack_a) and every B panel row
// is one contiguous run of channels of one input pixel. Threads split the output rows and sum
// private accumulators at the end.
#include <algorithm>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/conv/conv2d.h"
#include "cpu/conv/conv_kernels.h"
#include "cpu/conv/conv_scratch.h"
#include "cpu/conv/depthwise.h"
#include "cpu/conv/igemm_pack.h"
#include "cpu/gemm/pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

float* align64(float* p) {
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63);
  return reinterpret_cast<float*>(a);
}

struct WgradBand {
  const float* gt;  // (P_band, K) pixel-major grad_out of the band
  const float* xt;  // (in_rows, W, C) input rows iy_lo .. iy_lo + in_rows
  int64_t oy0, rows, iy_lo, in_rows;
};

// B panels of the band: reduction rows are pixels, columns (tap, channel). Expressed as an
// implicit-GEMM packing job over the NHWC band Xt (rows of W*C floats) so the same per-ISA
// packer runs it: pixel p (output (oy, ox)) is a reduction row shifted to input row
// oy*sh - pt and flat column (ox*sw - pl)*C; a piece of lanes is a run of columns with one
// kernel row r whose flat offsets koff = s*dw*C + gi*Cg + c are consecutive (runs span taps
// when dw == 1 and groups == 1, as consecutive taps are then adjacent in NHWC).
void wgrad_pieces(const Conv2dGeometry& g, int64_t gi, int64_t j0, int64_t ncols, int nr,
                  std::vector<PackPiece>& pieces) {
  const int64_t Cg = g.Cg();
  pieces.clear();
  for (int64_t j = 0; j < ncols; ++j) {
    const int64_t col = j0 + j, t = col / Cg, c = col % Cg, r = t / g.S, s = t % g.S;
    const int64_t koff = s * g.dw * g.C + gi * Cg + c;
    const int32_t panel = int32_t(j / nr), lane = int32_t(j % nr);
    if (!pieces.empty()) {
      PackPiece& last = pieces.back();
      if (last.panel == panel && last.b == lane && last.oy == r * g.dh && last.ox_a + (lane - last.a) == koff) {
        ++last.b;
        continue;
      }
    }
    pieces.push_back(PackPiece{panel, lane, lane + 1, 0, r * g.dh, koff});
  }
}

// A panels from the pixel-major Gt (kc × K): panel rows are MR consecutive channels of one pixel,
// a fixed-size copy (pack_a would call memcpy per pixel).
template <int MR>
void pack_gt_panels(int64_t m, int64_t kc, const float* gt, int64_t ld, float* out) {
  for (int64_t i0 = 0; i0 < m; i0 += MR) {
    const int64_t mm = std::min<int64_t>(MR, m - i0);
    float* dst = out + i0 * kc;
    if (mm == MR) {
      for (int64_t p = 0; p < kc; ++p) std::memcpy(dst + p * MR, gt + p * ld + i0, sizeof(float) * MR);
    } else {
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t i = 0; i < MR; ++i) dst[p * MR + i] = i < mm ? gt[p * ld + i0 + i] : 0.0f;
    }
  }
}

void pack_gt(int mr, int64_t m, int64_t kc, const float* gt, int64_t ld, float* out) {
  switch (mr) {
    case 4: return pack_gt_panels<4>(m, kc, gt, ld, out);
    case 6: return pack_gt_panels<6>(m, kc, gt, ld, out);
    case 8: return pack_gt_panels<8>(m, kc, gt, ld, out);
    case 12: return pack_gt_panels<12>(m, kc, gt, ld, out);
    case 14: return pack_gt_panels<14>(m, kc, gt, ld, out);
    case 16: return pack_gt_panels<16>(m, kc, gt, ld, out);
  }
  pack_a(m, kc, gt, 1, ld, mr, out);
}

// acc[gi][k][t*Cg + c] += Σ_{p in band} Gt[p][gi*Kg + k] · X(p, t, c)
void wgrad_band_gemm(const Conv2dGeometry& g, const SgemmUkernelInfo& uk, IgemmPackFn pack_b, const WgradBand& b,
                     float* acc, float* apack, float* bpack, int64_t kc_max, int64_t nc_max,
                     std::vector<IgemmRow>& rows, std::vector<PackPiece>& pieces) {
  const int64_t Cg = g.Cg(), Kg = g.Kg(), NT = g.taps() * Cg;
  const int mr = uk.mr, nr = uk.nr;
  const int64_t P = b.rows * g.Wo;
  alignas(64) float edge[kMaxMR * kMaxNR];
  rows.resize(size_t(kc_max));
  const int64_t nblk = (P + kc_max - 1) / kc_max, kcb = (P + nblk - 1) / nblk;  // even blocks
  for (int64_t p0 = 0; p0 < P; p0 += kcb) {
    const int64_t kc = std::min(kcb, P - p0);
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t oy = b.oy0 + (p0 + p) / g.Wo, ox = (p0 + p) % g.Wo;
      rows[size_t(p)] = IgemmRow{0, 0, g.W * g.C, b.in_rows, g.W * g.C, oy * g.sh - g.pt - b.iy_lo,
                                 (ox * g.sw - g.pl) * g.C};
    }
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      float* accg = acc + gi * Kg * NT;
      pack_gt(mr, Kg, kc, b.gt + p0 * g.K + gi * Kg, g.K, apack);
      for (int64_t jc = 0; jc < NT; jc += nc_max) {
        const int64_t nc = std::min(nc_max, NT - jc);
        wgrad_pieces(g, gi, jc, nc, nr, pieces);
        const PackJob job{rows.data(), 0, kc, b.xt, 0, pieces.data(), int64_t(pieces.size()), (nc + nr - 1) / nr,
                          bpack};
        pack_b(job);
        for (int64_t jr = 0; jr < nc; jr += nr) {
          const int n = int(std::min<int64_t>(nr, nc - jr));
          const float* bp = bpack + jr * kc;
          for (int64_t ir = 0; ir < Kg; ir += mr) {
            const int m = int(std::min<int64_t>(mr, Kg - ir));
            float* c = accg + ir * NT + jc + jr;
            const float* ap = apack + ir * kc;
            if (m == mr && n == nr) {
              uk.fn(kc, 1.0f, ap, bp, 1.0f, c, NT, 1);
            } else {
              uk.fn(kc, 1.0f, ap, bp, 0.0f, edge, nr, 1);
              for (int i = 0; i < m; ++i)
                for (int j = 0; j < n; ++j) c[i * NT + j] += edge[i * nr + j];
            }
          }
        }
      }
    }
  }
}

}  // namespace

void conv2d_backward_weight_cpu(const Conv2dGeometry& g, const float* gy, const float* x, float* gw) {
  const int64_t Cg = g.Cg(), Kg = g.Kg(), T = g.taps();
  const int64_t wsize = g.K * Cg * T;
  if (wsize == 0) return;
  const int64_t total_rows = g.N * g.Ho;
  if (total_rows == 0 || g.Wo == 0) {
    std::memset(gw, 0, sizeof(float) * size_t(wsize));
    return;
  }
  if (depthwise_applies(g)) {
    depthwise_backward_weight(g, gy, x, gw);
    return;
  }
  const Isa isa = active_isa();
  const SgemmUkernelInfo& uk = sgemm_ukernel_for(isa);
  const TransposeFn transpose = transpose_for(isa);
  const IgemmPackFn pack_b = igemm_pack_for(isa, uk.nr);
  FASTNN_ASSERT(pack_b != nullptr, "conv2d weight gradient: no B packer for micro-kernel width ", uk.nr);
  const int64_t NT = T * Cg;
  // Band of output rows per step: its transposed grad_out and input rows (~192 KiB) stay in L2
  // between the transpose and the packing that reads them.
  const int64_t budget = int64_t(48) << 10;
  const int64_t band_rows =
      std::clamp<int64_t>(budget / std::max<int64_t>(1, g.Wo * g.K + g.sh * g.W * g.C), 1, g.Ho);
  const int64_t kc_max = 256;
  const int64_t nc_max = std::max<int64_t>(uk.nr, std::min<int64_t>((NT + uk.nr - 1) / uk.nr * uk.nr, 512));
  const int max_threads = int(std::min<int64_t>(get_num_threads(), total_rows));
  float* acc = conv_scratch(ConvScratch::wgrad_acc, size_t(max_threads) * size_t(wsize));
  int used = 1;

  parallel_run(max_threads, [&](int tid, int nthr) {
    if (tid == 0) used = nthr;
    float* my = acc + size_t(tid) * size_t(wsize);
    std::memset(my, 0, sizeof(float) * size_t(wsize));
    const int64_t lo = total_rows * tid / nthr, hi = total_rows * (tid + 1) / nthr;
    if (lo >= hi) return;
    const int64_t max_in_rows = std::min(g.H, (band_rows - 1) * g.sh + (g.R - 1) * g.dh + 1);
    const int64_t gt_size = band_rows * g.Wo * g.K, xt_size = max_in_rows * g.W * g.C;
    const int64_t ap_size = kc_max * ((Kg + uk.mr - 1) / uk.mr * uk.mr), bp_size = kc_max * nc_max;
    float* ws = thread_workspace(2, size_t(gt_size + xt_size + ap_size + bp_size + 48));
    float* gt = ws;
    float* xt = gt + gt_size;
    float* apack = align64(xt + xt_size);
    float* bpack = align64(apack + ap_size);
    std::vector<IgemmRow> pack_rows;
    std::vector<PackPiece> pieces;
    for (int64_t row = lo; row < hi;) {
      const int64_t n = row / g.Ho, oy0 = row % g.Ho;
      const int64_t rows = std::min({band_rows, g.Ho - oy0, hi - row});
      row += rows;
      WgradBand b;
      b.oy0 = oy0;
      b.rows = rows;
      b.iy_lo = std::clamp<int64_t>(oy0 * g.sh - g.pt, 0, g.H);
      const int64_t iy_hi = std::clamp<int64_t>((oy0 + rows - 1) * g.sh - g.pt + (g.R - 1) * g.dh + 1, 0, g.H);
      b.in_rows = std::max<int64_t>(0, iy_hi - b.iy_lo);
      // Gt[p][k] = gy[n, k, oy0*Wo + p];  Xt[q][c] = x[n, c, iy_lo*W + q]
      transpose(g.K, rows * g.Wo, gy + (n * g.K) * g.Ho * g.Wo + oy0 * g.Wo, g.Ho * g.Wo, gt, g.K);
      transpose(g.C, b.in_rows * g.W, x + (n * g.C) * g.H * g.W + b.iy_lo * g.W, g.H * g.W, xt, g.C);
      b.gt = gt;
      b.xt = xt;
      wgrad_band_gemm(g, uk, pack_b, b, my, apack, bpack, kc_max, nc_max, pack_rows, pieces);
    }
  });

  // gw[(gi*Kg + k), c, t] = Σ_threads acc[gi][k][t*Cg + c]
  parallel_for(0, g.K, 1, [&](int64_t k_lo, int64_t k_hi) {
    for (int64_t kk = k_lo; kk < k_hi; ++kk) {
      float* dst = gw + kk * Cg * T;
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t t = 0; t < T; ++t) {
          float s = 0.0f;
          for (int th = 0; th < used; ++th) s += acc[size_t(th) * size_t(wsize) + size_t(kk * NT + t * Cg + c)];
          dst[c * T + t] = s;
        }
    }
  });
}

void conv_bias_grad_cpu(int64_t N, int64_t K, int64_t P, const float* gy, float* gb) {
  const ReduceSumFn sum = reduce_sum_for(active_isa());
  parallel_for(0, K, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      double s = 0.0;
      for (int64_t n = 0; n < N; ++n) s += sum(gy + (n * K + k) * P, P);
      gb[k] = float(s);
    }
  });
}

}  // namespace fastnn
