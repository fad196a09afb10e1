// conv2d weight gradient (and bias gradient).
//
//   gw[k, c, r, s] = Σ_{n, oy, ox} gy[n, k, oy, ox] · x[n, c, oy*sh + r*dh - pt, ox*sw + s*dw - pl]
//
// Per group a GEMM with M = K/groups, N = taps × C/groups (tap-major columns), reduced over
// output pixels. In NCHW both operands would need a gather per element, so each thread first
// transposes a band of output rows to pixel-major (gy → Gt[p][k]) and the input rows that band
// reads (x → Xt[iy][ix][c]); then A panels are MR-float copies (pack_gt) and every B panel row
// is one contiguous run of channels of one input pixel. A band gathers output rows of several
// images when images are small, so each reduction block is long (up to kKcMax pixels) and the
// accumulator, read and written once per block, is amortised even when it is large (the DCGAN
// layer's is 512 × 4096). Threads split the output rows and sum private accumulators at the end.
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

// Reduction block (pixels) and the band sizes (floats of transposed gy + x per thread).
constexpr int64_t kKcMax = 256;
constexpr int64_t kBandFloats = int64_t(48) << 10;   // a band this size stays in L2
constexpr int64_t kBandFloatsMax = int64_t(512) << 10;  // grown up to this to reach kKcMax pixels
// Packed-operand blocks: A (MC × KC) and B (KC × NC) of about these many bytes.
constexpr int64_t kABlockBytes = int64_t(128) << 10;
constexpr int64_t kBBlockBytes = int64_t(256) << 10;

float* align64(float* p) {
  const uintptr_t a = (reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t(63);
  return reinterpret_cast<float*>(a);
}

// Output rows oy0 .. oy0+rows of image n; its transposed gy at Gt row `p0` (pixel index in the
// band) and the input rows iy_lo .. iy_lo+in_rows it reads at Xt + xt_off.
struct WgradSegment {
  int64_t n, oy0, rows, iy_lo, in_rows, p0, xt_off;
};

WgradSegment make_segment(const Conv2dGeometry& g, int64_t n, int64_t oy0, int64_t rows) {
  WgradSegment s{n, oy0, rows, 0, 0, 0, 0};
  s.iy_lo = std::clamp<int64_t>(oy0 * g.sh - g.pt, 0, g.H);
  const int64_t iy_hi = std::clamp<int64_t>((oy0 + rows - 1) * g.sh - g.pt + (g.R - 1) * g.dh + 1, 0, g.H);
  s.in_rows = std::max<int64_t>(0, iy_hi - s.iy_lo);
  return s;
}

// B panels of the band: reduction rows are pixels, columns (tap, channel). Expressed as an
// implicit-GEMM packing job over the NHWC band Xt (rows of W*C floats) so the same per-ISA
// packer runs it: pixel p (output (oy, ox) of a segment) is a reduction row over its segment's
// input rows, shifted to row oy*sh - pt - iy_lo and flat column (ox*sw - pl)*C; a piece of lanes
// is a run of columns with one kernel row r whose flat offsets koff = s*dw*C + gi*Cg + c are
// consecutive (runs span taps when dw == 1 and groups == 1, as consecutive taps are then
// adjacent in NHWC).
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

struct WgradPlan {
  SgemmUkernelInfo uk;
  IgemmPackFn pack_b;
  int64_t seg_rows;  // output rows per segment
  int64_t kc_max, nc_max, mc_max;
};

// acc[gi][k][t*Cg + c] += Σ_{p in band} Gt[p][gi*Kg + k] · X(p, t, c)
// Loops: KC blocks of pixels → group → A (Kg × kc, packed whole) → NC chunks of columns
// (B packed) → MC blocks of rows → micro-panels.
void wgrad_band_gemm(const Conv2dGeometry& g, const WgradPlan& pl, const WgradSegment* segs, int nsegs,
                     int64_t P, const float* gt, const float* xt, float* acc, float* apack, float* bpack,
                     std::vector<IgemmRow>& rows, std::vector<PackPiece>& pieces) {
  const int64_t Cg = g.Cg(), Kg = g.Kg(), NT = g.taps() * Cg;
  const SgemmUkernelInfo& uk = pl.uk;
  const int mr = uk.mr, nr = uk.nr;
  rows.resize(size_t(P));
  for (int s = 0; s < nsegs; ++s) {
    const WgradSegment& sg = segs[s];
    for (int64_t q = 0; q < sg.rows * g.Wo; ++q) {
      const int64_t oy = sg.oy0 + q / g.Wo, ox = q % g.Wo;
      rows[size_t(sg.p0 + q)] = IgemmRow{sg.xt_off, 0, g.W * g.C, sg.in_rows, g.W * g.C,
                                         oy * g.sh - g.pt - sg.iy_lo, (ox * g.sw - g.pl) * g.C};
    }
  }
  const int64_t nblk = (P + pl.kc_max - 1) / pl.kc_max, kcb = (P + nblk - 1) / nblk;  // even blocks
  for (int64_t p0 = 0; p0 < P; p0 += kcb) {
    const int64_t kc = std::min(kcb, P - p0);
    for (int64_t gi = 0; gi < g.groups; ++gi) {
      float* accg = acc + gi * Kg * NT;
      pack_gt(mr, Kg, kc, gt + p0 * g.K + gi * Kg, g.K, apack);
      for (int64_t jc = 0; jc < NT; jc += pl.nc_max) {
        const int64_t nc = std::min(pl.nc_max, NT - jc);
        wgrad_pieces(g, gi, jc, nc, nr, pieces);
        const PackJob job{rows.data(), p0, kc, xt, 0, pieces.data(), int64_t(pieces.size()), (nc + nr - 1) / nr,
                          bpack};
        pl.pack_b(job);
        for (int64_t ic = 0; ic < Kg; ic += pl.mc_max) {
          const int64_t mc = std::min(pl.mc_max, Kg - ic);
          for (int64_t jr = 0; jr < nc; jr += nr) {
            const int n = int(std::min<int64_t>(nr, nc - jr));
            const float* bp = bpack + jr * kc;
            for (int64_t ir = ic; ir < ic + mc; ir += mr) {
              const int m = int(std::min<int64_t>(mr, Kg - ir));
              uk.fn_ex(kc, 1.0f, apack + ir * kc, bp, nr, 1.0f, accg + ir * NT + jc + jr, NT, 1, m, n, nullptr);
            }
          }
        }
      }
    }
  }
}

WgradPlan plan_wgrad(const Conv2dGeometry& g, Isa isa) {
  WgradPlan pl;
  pl.uk = sgemm_ukernel_for(isa);
  FASTNN_ASSERT(pl.uk.fn_ex != nullptr, "conv2d weight gradient: the micro-kernel has no partial-tile form");
  pl.pack_b = igemm_pack_for(isa, pl.uk.nr);
  FASTNN_ASSERT(pl.pack_b != nullptr, "conv2d weight gradient: no B packer for micro-kernel width ", pl.uk.nr);
  const int mr = pl.uk.mr, nr = pl.uk.nr;
  const int64_t NT = g.taps() * g.Cg();
  pl.seg_rows = std::clamp<int64_t>(kBandFloats / std::max<int64_t>(1, g.Wo * g.K + g.sh * g.W * g.C), 1, g.Ho);
  pl.kc_max = kKcMax;
  pl.nc_max = std::clamp<int64_t>(kBBlockBytes / (4 * pl.kc_max) / nr * nr, nr, (NT + nr - 1) / nr * nr);
  pl.mc_max = std::max<int64_t>(mr, kABlockBytes / (4 * pl.kc_max) / mr * mr);
  return pl;
}

// Floats of Gt and Xt a segment needs.
int64_t segment_floats(const Conv2dGeometry& g, const WgradSegment& s) {
  return s.rows * g.Wo * g.K + s.in_rows * g.W * g.C;
}

// Segments of the next band from output row `row` (of N*Ho) up to `hi`: at least one, then more
// while the band has fewer than kc_max pixels and stays within kBandFloatsMax, or while it stays
// within kBandFloats. Returns the rows taken.
int64_t next_band(const Conv2dGeometry& g, const WgradPlan& pl, int64_t row, int64_t hi,
                  std::vector<WgradSegment>& segs, int64_t& P, int64_t& gt_floats, int64_t& xt_floats) {
  segs.clear();
  P = gt_floats = xt_floats = 0;
  const int64_t start = row;
  while (row < hi) {
    const int64_t n = row / g.Ho, oy0 = row % g.Ho;
    WgradSegment s = make_segment(g, n, oy0, std::min({pl.seg_rows, g.Ho - oy0, hi - row}));
    const int64_t total = gt_floats + xt_floats + segment_floats(g, s);
    if (!segs.empty() && !(total <= kBandFloats || (P < pl.kc_max && total <= kBandFloatsMax))) break;
    s.p0 = P;
    s.xt_off = xt_floats;
    segs.push_back(s);
    P += s.rows * g.Wo;
    gt_floats += s.rows * g.Wo * g.K;
    xt_floats += s.in_rows * g.W * g.C;
    row += s.rows;
  }
  return row - start;
}

}  // namespace

void conv2d_backward_weight_cpu(const Conv2dGeometry& g, const float* gy, const float* x, float* gw) {
  const int64_t Cg = g.Cg(), T = g.taps();
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
  if (g.R == 1 && g.S == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 && g.Ho == g.H && g.Wo == g.W) {
    // 1×1, stride 1, no padding: a plain GEMM per image and group, accumulated over images,
    //   gw_g (Kg × Cg) += gy_{n,g} (Kg × P) · x_{n,g}ᵀ (P × Cg)
    // (the GEMM's packing does the transposition the band path would do separately).
    const int64_t Kg = g.Kg(), P = g.H * g.W;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t gi = 0; gi < g.groups; ++gi)
        sgemm(Kg, Cg, P, 1.0f, ConstMatrix{gy + (n * g.K + gi * Kg) * P, P, 1},
              ConstMatrix{x + (n * g.C + gi * Cg) * P, 1, P}, n == 0 ? 0.0f : 1.0f, Matrix{gw + gi * Kg * Cg, Cg, 1});
    return;
  }
  const Isa isa = active_isa();
  const WgradPlan pl = plan_wgrad(g, isa);
  const TransposeFn transpose = transpose_for(isa);
  const int64_t NT = T * Cg;
  const int max_threads = int(std::min<int64_t>(get_num_threads(), total_rows));
  float* acc = conv_scratch(ConvScratch::wgrad_acc, size_t(max_threads) * size_t(wsize));
  int used = 1;

  parallel_run(max_threads, [&](int tid, int nthr) {
    if (tid == 0) used = nthr;
    float* my = acc + size_t(tid) * size_t(wsize);
    std::memset(my, 0, sizeof(float) * size_t(wsize));
    const int64_t lo = total_rows * tid / nthr, hi = total_rows * (tid + 1) / nthr;
    std::vector<WgradSegment> segs;
    std::vector<IgemmRow> pack_rows;
    std::vector<PackPiece> pieces;
    const int64_t ap_size = pl.kc_max * ((g.Kg() + pl.uk.mr - 1) / pl.uk.mr * pl.uk.mr);
    const int64_t bp_size = pl.kc_max * pl.nc_max;
    for (int64_t row = lo; row < hi;) {
      int64_t P, gt_size, xt_size;
      row += next_band(g, pl, row, hi, segs, P, gt_size, xt_size);
      float* ws = thread_workspace(2, size_t(gt_size + xt_size + ap_size + bp_size + 48));
      float* gt = ws;
      float* xt = gt + gt_size;
      float* apack = align64(xt + xt_size);
      float* bpack = align64(apack + ap_size);
      // Gt[p][k] = gy[n, k, oy0*Wo + p];  Xt[q][c] = x[n, c, iy_lo*W + q]
      for (const WgradSegment& s : segs) {
        transpose(g.K, s.rows * g.Wo, gy + (s.n * g.K) * g.Ho * g.Wo + s.oy0 * g.Wo, g.Ho * g.Wo, gt + s.p0 * g.K,
                  g.K);
        transpose(g.C, s.in_rows * g.W, x + (s.n * g.C) * g.H * g.W + s.iy_lo * g.W, g.H * g.W, xt + s.xt_off,
                  g.C);
      }
      wgrad_band_gemm(g, pl, segs.data(), int(segs.size()), P, gt, xt, my, apack, bpack, pack_rows, pieces);
    }
  });

  // acc[0] += the other threads' accumulators, then gw[(gi*Kg + k), c, t] = acc[0][gi][k][t*Cg + c]
  // (a T × Cg → Cg × T transpose per output channel).
  if (used > 1)
    parallel_for(0, wsize, 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int th = 1; th < used; ++th) {
        const float* src = acc + size_t(th) * size_t(wsize);
        for (int64_t i = lo; i < hi; ++i) acc[i] += src[i];
      }
    });
  parallel_for(0, g.K, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, NT)), [&](int64_t lo, int64_t hi) {
    for (int64_t kk = lo; kk < hi; ++kk) transpose(T, Cg, acc + kk * NT, Cg, gw + kk * Cg * T, T);
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
