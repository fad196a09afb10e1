// Implicit-GEMM convolution driver: A packing, B packing straight from the image, blocking,
// threading and the write-back of tiles (direct, or scattered when a tile's columns do not
// form one contiguous output row).
#include "cpu/conv/igemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"
#include "common/errors.h"
#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/activation_math.h"
#include "cpu/conv/conv_epilogue.h"
#include "cpu/conv/conv_kernels.h"
#include "cpu/conv/conv_scratch.h"
#include "cpu/conv/igemm_pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

// A run of a B panel's columns lying in one output row: columns [js, js+len) of the panel are
// output positions (n, oy, ox0 .. ox0+len-1).
struct Segment {
  int64_t js, len, n, oy, ox0;
};

// Splits the panel's columns [j0, j0+ncols) (column j = (n*OH + oy)*OW + ox) into row segments.
int panel_segments(const IgemmProblem& p, int64_t j0, int64_t ncols, Segment* seg) {
  const int64_t plane = p.OH * p.OW;
  int count = 0;
  int64_t j = j0, js = 0;
  while (js < ncols) {
    const int64_t n = j / plane, rem = j % plane, oy = rem / p.OW, ox = rem % p.OW;
    const int64_t len = std::min(ncols - js, p.OW - ox);
    seg[count++] = Segment{js, len, n, oy, ox};
    js += len;
    j += len;
  }
  return count;
}

// The chunk's columns [j_begin, j_begin + ncols) as panel pieces: row segments split at panel
// boundaries (j_begin is panel aligned).
void chunk_pieces(const IgemmProblem& p, int64_t j_begin, int64_t ncols, int nr, std::vector<Segment>& segs,
                  std::vector<PackPiece>& pieces) {
  segs.resize(size_t(ncols));
  const int ns = panel_segments(p, j_begin, ncols, segs.data());
  pieces.clear();
  for (int s = 0; s < ns; ++s) {
    const Segment& sg = segs[size_t(s)];
    for (int64_t j = 0; j < sg.len;) {
      const int64_t col = sg.js + j, lane = col % nr;
      const int64_t n = std::min<int64_t>(sg.len - j, nr - lane);
      pieces.push_back(PackPiece{int32_t(col / nr), int32_t(lane), int32_t(lane + n), sg.n, sg.oy, sg.ox0 + j});
      j += n;
    }
  }
}

struct Blocking {
  int64_t kc, mc, nc;  // nc in columns (a multiple of nr)
};

Blocking blocking_for(const SgemmUkernelInfo& uk, int64_t kred, int64_t M) {
  const CpuFeatures& f = cpu_features();
  Blocking b;
  // KC: a B micro-panel (kc × nr) takes half of L1; blocks split kred evenly.
  const int64_t kc_max = std::clamp<int64_t>(f.l1d_bytes / 2 / (uk.nr * 4), 64, 512);
  const int64_t nk = std::max<int64_t>(1, (kred + kc_max - 1) / kc_max);
  b.kc = std::max<int64_t>(1, (kred + nk - 1) / nk);
  // MC: the A block (mc × kc) stays in half of L2 while B micro-panels stream past it.
  b.mc = std::clamp<int64_t>(f.l2_bytes / 2 / (b.kc * 4) / uk.mr * uk.mr, uk.mr, 4096);
  b.mc = std::min<int64_t>(b.mc, (M + uk.mr - 1) / uk.mr * uk.mr);
  // NC: the packed B block (kc × nc) takes a quarter of L2.
  b.nc = std::clamp<int64_t>(f.l2_bytes / 4 / (b.kc * 4) / uk.nr * uk.nr, uk.nr, 64 * uk.nr);
  return b;
}

// An edge tile (m ≤ MR rows, n ≤ NR columns, row stride nr in `edge`) into Y: stored on the
// first KC block, added afterwards; on the last, bias + activation — or, with dy, the gradient
// of the pre-activation dy · act'(z). Column j of Y (and dy) is at base + j*y_w when base ≥ 0,
// else at col_off[j]; rows are y_m apart.
void write_edge_tile(const float* edge, int nr, int m, int n, bool first, bool last, int64_t base, int64_t y_w,
                     const int64_t* col_off, int64_t y_m, float* yrows, const float* dyrows, const float* bias,
                     Activation act) {
  for (int i = 0; i < m; ++i) {
    const float b = bias ? bias[i] : 0.0f;
    for (int j = 0; j < n; ++j) {
      const int64_t off = i * y_m + (base >= 0 ? base + j * y_w : col_off[j]);
      float v = edge[i * nr + j];
      if (!first) v += yrows[off];
      if (last) v = dyrows ? dyrows[off] * activation_derivative(act, v + b) : apply_activation(act, v + b);
      yrows[off] = v;
    }
  }
}

// Y = act(bias), or dy · act'(bias), for every output (empty reduction).
void fill_bias_only(const IgemmProblem& p) {
  parallel_for(0, p.groups * p.batch, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t gn = lo; gn < hi; ++gn) {
      const int64_t g = gn / p.batch, n = gn % p.batch;
      for (int64_t m = 0; m < p.M; ++m) {
        const float z = p.bias ? p.bias[g * p.bias_g + m] : 0.0f;
        const int64_t off = g * p.y_g + n * p.y_n + m * p.y_m;
        const float v = apply_activation(p.act, z), d = activation_derivative(p.act, z);
        for (int64_t oy = 0; oy < p.OH; ++oy)
          for (int64_t ox = 0; ox < p.OW; ++ox) {
            const int64_t o = off + oy * p.y_h + ox * p.y_w;
            p.y[o] = p.dy ? p.dy[o] * d : v;
          }
      }
    }
  });
}

}  // namespace

void igemm_conv(const IgemmProblem& p) {
  if (p.groups <= 0 || p.batch <= 0 || p.M <= 0 || p.OH <= 0 || p.OW <= 0) return;
  if (p.kred == 0) {
    fill_bias_only(p);
    return;
  }
  const Isa isa = active_isa();
  const SgemmUkernelInfo& uk = sgemm_ukernel_for(isa);
  const int mr = uk.mr, nr = uk.nr;
  const IgemmPackFn pack_b = igemm_pack_for(isa, nr);
  FASTNN_ASSERT(pack_b != nullptr, "igemm: no B packer for micro-kernel width ", nr);
  const EpilogueFn epilogue = conv_epilogue_for(isa);
  const Blocking blk = blocking_for(uk, p.kred, p.M);
  const int64_t mpad = (p.M + mr - 1) / mr * mr;
  const int64_t npanels_m = mpad / mr;

  // ---- A: every group's weights as MR-row panels, per KC block: offset(g, k0, i0) =
  //      g*mpad*kred + k0*mpad + i0*kc.
  float* apack = conv_scratch(ConvScratch::igemm_a, size_t(p.groups * mpad * p.kred));
  if (p.a_m == 1) {
    // M contiguous weights per reduction row (the data gradient's (K, taps, C) layout): each row
    // is read once and spread over the panels.
    parallel_for(0, p.groups * p.kred, 64, [&](int64_t lo, int64_t hi) {
      for (int64_t item = lo; item < hi; ++item) {
        const int64_t g = item / p.kred, kk = item % p.kred;
        const int64_t k0 = kk / blk.kc * blk.kc, kc = std::min(blk.kc, p.kred - k0);
        const float* src = p.a + g * p.a_g + p.rows[kk].a_off;
        float* dst = apack + g * mpad * p.kred + k0 * mpad + (kk - k0) * mr;
        for (int64_t i0 = 0; i0 < p.M; i0 += mr, dst += mr * kc) {
          const int m = int(std::min<int64_t>(mr, p.M - i0));
          for (int i = 0; i < m; ++i) dst[i] = src[i0 + i];
          for (int i = m; i < mr; ++i) dst[i] = 0.0f;
        }
      }
    });
  } else {
    // Rows m strided (the forward's (K, C, R, S) layout): per panel, its MR rows stream along kk.
    parallel_for(0, p.groups * npanels_m, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t gi = lo; gi < hi; ++gi) {
        const int64_t g = gi / npanels_m, i0 = gi % npanels_m * mr;
        const int m = int(std::min<int64_t>(mr, p.M - i0));
        const float* ag = p.a + g * p.a_g + i0 * p.a_m;
        for (int64_t k0 = 0; k0 < p.kred; k0 += blk.kc) {
          const int64_t kc = std::min(blk.kc, p.kred - k0);
          float* dst = apack + g * mpad * p.kred + k0 * mpad + i0 * kc;
          for (int64_t kk = 0; kk < kc; ++kk) {
            const int64_t off = p.rows[k0 + kk].a_off;
            for (int i = 0; i < m; ++i) dst[kk * mr + i] = ag[i * p.a_m + off];
            for (int i = m; i < mr; ++i) dst[kk * mr + i] = 0.0f;
          }
        }
      }
    });
  }

  // ---- columns: (g, NR-panel) items split evenly across threads.
  const int64_t ncols = p.batch * p.OH * p.OW;
  const int64_t npanels = (ncols + nr - 1) / nr;
  const int64_t total = p.groups * npanels;
  const int64_t nc_panels = blk.nc / nr;
  const int max_threads = int(std::min<int64_t>(total, 1 << 16));
  parallel_run(max_threads, [&](int tid, int nthr) {
    const int64_t begin = total * tid / nthr, end = total * (tid + 1) / nthr;
    if (begin >= end) return;
    float* bpack = thread_workspace(2, size_t(blk.kc * nc_panels * nr + kMaxNR));
    Segment segs[kMaxNR];
    std::vector<Segment> chunk_segs;
    std::vector<PackPiece> pieces;
    alignas(64) float edge[kMaxMR * kMaxNR];
    int64_t col_off[kMaxNR];
    for (int64_t cur = begin; cur < end;) {
      const int64_t g = cur / npanels, p0 = cur % npanels;
      const int64_t chunk = std::min({end - cur, npanels - p0, nc_panels});
      cur += chunk;
      const float* xg = p.x + g * p.x_g;
      float* yg = p.y + g * p.y_g;
      const float* dyg = p.dy ? p.dy + g * p.y_g : nullptr;
      const float* bias = p.bias ? p.bias + g * p.bias_g : nullptr;
      const float* ag = apack + g * mpad * p.kred;
      const int64_t j_begin = p0 * nr, j_end = std::min(ncols, (p0 + chunk) * nr);
      chunk_pieces(p, j_begin, j_end - j_begin, nr, chunk_segs, pieces);
      PackJob job{p.rows, 0, 0, xg, p.x_n, pieces.data(), int64_t(pieces.size()),
                  (j_end - j_begin + nr - 1) / nr, bpack};
      for (int64_t k0 = 0; k0 < p.kred; k0 += blk.kc) {
        const int64_t kc = std::min(blk.kc, p.kred - k0);
        const bool first = k0 == 0, last = k0 + kc >= p.kred;
        job.k0 = k0;
        job.kc = kc;
        pack_b(job);
        for (int64_t ic = 0; ic < p.M; ic += blk.mc) {
          const int64_t mc = std::min(blk.mc, p.M - ic);
          for (int64_t j0 = j_begin, q = 0; j0 < j_end; j0 += nr, ++q) {
            const int64_t n = std::min<int64_t>(nr, j_end - j0);
            const int ns = panel_segments(p, j0, n, segs);
            const float* b = bpack + q * kc * nr;
            // A direct tile: the panel's columns are equally spaced in Y: one output row segment,
            // or consecutive rows of one image when the output plane is dense (NCHW forward).
            // The extended micro-kernel writes partial tiles (m < MR, n < NR) in place.
            const bool dense_plane = p.y_h == p.OW * p.y_w;
            const bool uniform = ns == 1 || (dense_plane && segs[0].n == segs[ns - 1].n);
            const bool direct_cols = uniform && (n == nr || uk.fn_ex);
            int64_t base_off = 0;
            if (uniform) {
              base_off = segs[0].n * p.y_n + segs[0].oy * p.y_h + segs[0].ox0 * p.y_w;
            } else {
              for (int s = 0; s < ns; ++s)
                for (int64_t l = 0; l < segs[s].len; ++l)
                  col_off[segs[s].js + l] = segs[s].n * p.y_n + segs[s].oy * p.y_h + (segs[s].ox0 + l) * p.y_w;
            }
            for (int64_t i0 = ic; i0 < ic + mc; i0 += mr) {
              const int m = int(std::min<int64_t>(mr, p.M - i0));
              const float* a = ag + k0 * mpad + i0 * kc;
              const float* brow = bias ? bias + i0 : nullptr;
              const int64_t row_off = i0 * p.y_m;
              if (direct_cols && uk.fn_ex) {
                float* c = yg + row_off + base_off;
                SgemmTileEpilogue tep;
                tep.bias = brow;
                tep.bias_per_row = true;
                tep.act = p.act;
                tep.dy = dyg ? dyg + row_off + base_off : nullptr;
                tep.rs_dy = p.y_m;
                tep.cs_dy = p.y_w;
                const bool with_ep = last && (brow || p.act != Activation::none || dyg);
                uk.fn_ex(kc, 1.0f, a, b, nr, first ? 0.0f : 1.0f, c, p.y_m, p.y_w, m, int(n), with_ep ? &tep : nullptr);
              } else if (direct_cols && m == mr && !dyg) {
                float* c = yg + row_off + base_off;
                uk.fn(kc, 1.0f, a, b, first ? 0.0f : 1.0f, c, p.y_m, p.y_w);
                if (last) epilogue(c, p.y_m, p.y_w, m, int(n), brow, p.act);
              } else {
                uk.fn(kc, 1.0f, a, b, 0.0f, edge, nr, 1);
                write_edge_tile(edge, nr, m, int(n), first, last, uniform ? base_off : -1, p.y_w, col_off, p.y_m,
                                yg + row_off, dyg ? dyg + row_off : nullptr, brow, p.act);
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace fastnn
