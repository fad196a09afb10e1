// Winograd F(4×4, 3×3) driver: kernel transform into A panels, phase split of the input, then
// per block of tiles: input transform into B panels, 36 micro-kernel reductions, output
// transform with bias and activation. Also the scalar reference leaf kernels.
#include "cpu/conv/winograd.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/conv/conv_epilogue.h"
#include "cpu/conv/conv_scratch.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

struct VecScalar {
  using reg = float;
  static constexpr int W = 1;
  static reg zero() { return 0.0f; }
  static reg set1(float f) { return f; }
  static reg loadu(const float* p) { return *p; }
  static void storeu(float* p, reg v) { *p = v; }
  static reg add(reg a, reg b) { return a + b; }
  static reg sub(reg a, reg b) { return a - b; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg fma(reg a, reg b, reg c) { return a * b + c; }
  static reg fnma(reg a, reg b, reg c) { return c - a * b; }
  static void deinterleave4(const float* s, reg& p0, reg& p1, reg& p2, reg& p3) {
    p0 = s[0], p1 = s[1], p2 = s[2], p3 = s[3];
  }
  static void interleave4_store(float* d, reg r0, reg r1, reg r2, reg r3) { d[0] = r0, d[1] = r1, d[2] = r2, d[3] = r3; }
};

#include "cpu/conv/winograd_body.inc"

// Below these channel counts the transforms cost more than the 4× fewer multiplies save.
constexpr int64_t kMinChannels = 16;
// The kernel transform costs ~K·C·36 and writes 4× the weights; the savings grow with the
// number of 4×4 tiles, which must pay it back (measured break-even ~40 tiles).
constexpr int64_t kMinTiles = 64;

int64_t tiles(int64_t N, int64_t Ho, int64_t Wo) { return N * ((Ho + 3) / 4) * ((Wo + 3) / 4); }

// A tile row run inside a panel: lanes [la, lb) are tiles (n, ty, tx0 + lane - la).
struct Run {
  int64_t la, lb, n, ty, tx0;
};

int panel_runs(int64_t t0, int64_t nt, int64_t TH, int64_t TW, Run* runs) {
  int count = 0;
  for (int64_t l = 0; l < nt;) {
    const int64_t t = t0 + l, n = t / (TH * TW), ty = t / TW % TH, tx = t % TW;
    const int64_t len = std::min(nt - l, TW - tx);
    runs[count++] = Run{l, l + len, n, ty, tx};
    l += len;
  }
  return count;
}

}  // namespace

WinogradKernels winograd_kernels_ref() {
  return {1, wino_weights<VecScalar>, nullptr, wino_split<VecScalar>, wino_input<VecScalar>, wino_output<VecScalar>};
}

const WinogradKernels& winograd_kernels_for(Isa isa) {
  static const WinogradKernels table[kNumIsas] = {
      winograd_kernels_ref(),
#if defined(FASTNN_X86)
      winograd_kernels_avx2(),
      winograd_kernels_avx512(),
#else
      winograd_kernels_ref(),
      winograd_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

namespace {
// FASTNN_CONV_WINOGRAD=0 turns the Winograd path off (tests and benchmarks of the direct path).
bool winograd_enabled() {
  const char* env = std::getenv("FASTNN_CONV_WINOGRAD");
  return !(env && env[0] == '0' && env[1] == '\0');
}
}  // namespace

bool winograd_forward_applies(const Conv2dGeometry& g) {
  return winograd_enabled() && g.R == 3 && g.S == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 && g.groups == 1 &&
         g.C >= kMinChannels && g.K >= kMinChannels && tiles(g.N, g.Ho, g.Wo) >= kMinTiles;
}

bool winograd_backward_data_applies(const Conv2dGeometry& g) {
  // The data gradient is the 3×3 convolution of grad_out with the flipped kernel and padding
  // 2 - p at the top and left (p > 2 there would need cropping on the input side).
  return winograd_enabled() && g.R == 3 && g.S == 3 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
         g.groups == 1 && g.C >= kMinChannels && g.K >= kMinChannels && g.pt <= 2 && g.pl <= 2 &&
         tiles(g.N, g.H, g.W) >= kMinTiles;
}

bool winograd_conv3x3(const WinogradProblem& p) {
  const Isa isa = active_isa();
  const WinogradKernels& wk = winograd_kernels_for(isa);
  const SgemmUkernelInfo& uk = sgemm_ukernel_for(isa);
  const int64_t MR = uk.mr, NR = uk.nr, lanes = wk.lanes;
  if (NR % lanes != 0 || lanes > 16 || NR > kMaxNR || MR > kMaxMR || p.pt < 0 || p.pl < 0) return false;
  if (p.N == 0 || p.K == 0 || p.Ho <= 0 || p.Wo <= 0) return true;
  const int64_t C = p.C, K = p.K, Kpad = (K + MR - 1) / MR * MR;
  const int64_t TH = (p.Ho + 3) / 4, TW = (p.Wo + 3) / 4, T = p.N * TH * TW;
  const int64_t hp = 4 * TH + 2, twp = (TW + lanes + lanes - 1) / lanes * lanes;
  const int64_t split_plane = 4 * hp * twp;

  // ---- kernel transform: Ap[ξ][k panel][c][MR] = (G g Gᵀ)[ξ], one K panel × `lanes` channels
  //      at a time so each ξ block (lanes × MR floats) is written contiguously.
  float* ap = conv_scratch(ConvScratch::wino_u, size_t(36 * Kpad * C));
  std::atomic<bool> weights_finite{true};
  parallel_for(0, Kpad / MR, 1, [&](int64_t lo, int64_t hi) {
    alignas(64) float u[kMaxMR * 36 * 16];  // [k in panel][ξ][lane]
    alignas(64) float fin[16] = {};
    for (int64_t panel = lo; panel < hi; ++panel)
      for (int64_t c0 = 0; c0 < C; c0 += lanes) {
        const int64_t nc = std::min(lanes, C - c0);
        if (wk.weights_mr6 && MR == 6) {
          wk.weights_mr6(p.w + panel * MR * p.w_k + c0 * p.w_c, p.w_k, p.w_c, p.w_r, p.w_s,
                         std::min(MR, K - panel * MR), nc, ap + panel * MR * C + c0 * MR, Kpad * C, fin);
          continue;
        }
        for (int64_t i = 0; i < MR; ++i) {
          const int64_t k = panel * MR + i;
          float* uk_ = u + i * 36 * lanes;
          if (k < K) {
            wk.weights(p.w + k * p.w_k + c0 * p.w_c, p.w_c, p.w_r, p.w_s, nc, uk_, fin);
          } else {
            std::memset(uk_, 0, sizeof(float) * size_t(36 * lanes));
          }
        }
        for (int64_t xi = 0; xi < 36; ++xi) {
          float* dst = ap + (xi * Kpad + panel * MR) * C + c0 * MR;
          for (int64_t l = 0; l < nc; ++l)
            for (int64_t i = 0; i < MR; ++i) dst[l * MR + i] = u[(i * 36 + xi) * lanes + l];
        }
      }
    for (int64_t l = 0; l < lanes; ++l)
      if (fin[l] != 0.0f) weights_finite.store(false, std::memory_order_relaxed);
  });
  if (!weights_finite.load()) return false;

  // ---- phase split of every input plane ------------------------------------------------------
  float* xp = conv_scratch(ConvScratch::wino_x, size_t(p.N * C * split_plane));
  parallel_for(0, p.N * C, 1, [&](int64_t lo, int64_t hi) {
    float* rowbuf = thread_workspace(2, size_t(4 * twp));
    for (int64_t nc = lo; nc < hi; ++nc)
      wk.split(p.x + nc * p.H * p.W, p.H, p.W, p.pt, p.pl, hp, twp, xp + nc * split_plane, rowbuf);
  });

  // ---- blocks of NB panels (NR tiles each), all threads on one block at a time: transforms
  //      split by channel, the 36 reductions by (ξ, K panel) so each U[ξ] is read by one thread
  //      and stays in its L2 while it sweeps the block's panels.
  const int64_t npanels = (T + NR - 1) / NR;
  const int64_t s_panel = 36 * (C + 1) * NR, m_panel = 36 * Kpad * NR;  // C+1: slack row for spills
  const int64_t NB = std::clamp<int64_t>((int64_t(4) << 20) / (4 * (s_panel + m_panel)), 1, npanels);
  float* S = conv_scratch(ConvScratch::wino_s, size_t(NB * s_panel + NR));
  // Vectors that start near a panel's end read (and discard) lanes past it: keep all of M finite.
  float* M = conv_scratch(ConvScratch::wino_m, size_t(NB * m_panel + NR));
  std::memset(M, 0, sizeof(float) * size_t(NB * m_panel + NR));
  const EpilogueFn epilogue = conv_epilogue_for(isa);
  std::atomic<bool> finite{true};
  auto check = [&](const float* fin) {
    for (int64_t l = 0; l < lanes; ++l)
      if (fin[l] != 0.0f) finite.store(false, std::memory_order_relaxed);
  };

  for (int64_t b0 = 0; b0 < npanels; b0 += NB) {
    const int64_t nq = std::min(NB, npanels - b0);
    // input transform: (panel, channel) items
    parallel_for(0, nq * C, 1, [&](int64_t lo, int64_t hi) {
      alignas(64) float fin[64] = {};
      alignas(64) float tmp[36 * 64];
      Run runs[kMaxNR];
      int64_t q_runs = -1;
      int nr = 0;
      for (int64_t qc = lo; qc < hi; ++qc) {
        const int64_t q = qc / C, c = qc % C, t0 = (b0 + q) * NR, nt = std::min(NR, T - t0);
        float* Sq = S + q * s_panel;
        if (q != q_runs) {
          nr = panel_runs(t0, nt, TH, TW, runs);
          q_runs = q;
        }
        if (nt < NR)  // lanes past the last tile: zeros, so the reductions stay finite
          for (int64_t xi = 0; xi < 36; ++xi)
            for (int64_t l = nt; l < NR; ++l) Sq[xi * (C + 1) * NR + c * NR + l] = 0.0f;
        // Runs go in lane order, so a vector spilling past its run is overwritten by the next run;
        // one that would spill past the panel row (into row c+1, another item) goes through tmp.
        for (int r = 0; r < nr; ++r) {
          const float* plane = xp + (runs[r].n * C + c) * split_plane;
          for (int64_t L = runs[r].la; L < runs[r].lb; L += lanes) {
            const int64_t tx = runs[r].tx0 + L - runs[r].la;
            if (L + lanes <= NR) {
              wk.input(plane, hp, twp, runs[r].ty, tx, Sq + c * NR + L, (C + 1) * NR, fin);
            } else {
              wk.input(plane, hp, twp, runs[r].ty, tx, tmp, lanes, fin);
              for (int64_t xi = 0; xi < 36; ++xi)
                for (int64_t l = L; l < NR; ++l) Sq[xi * (C + 1) * NR + c * NR + l] = tmp[xi * lanes + l - L];
            }
          }
        }
      }
      check(fin);
    });
    // 36 reductions over the channels
    const int64_t nir = Kpad / MR;
    parallel_for(0, 36 * nir, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t item = lo; item < hi; ++item) {
        const int64_t xi = item / nir, ir = item % nir * MR;
        const float* a = ap + (xi * Kpad + ir) * C;
        for (int64_t q = 0; q < nq; ++q)
          uk.fn(C, 1.0f, a, S + q * s_panel + xi * (C + 1) * NR, 0.0f, M + q * m_panel + (xi * Kpad + ir) * NR, NR,
                1);
      }
    });
    // output transform: (panel, output channel) items
    parallel_for(0, nq * K, 1, [&](int64_t lo, int64_t hi) {
      alignas(64) float fin[64] = {};
      alignas(64) float tmp[4 * 4 * 16];
      Run runs[kMaxNR];
      int64_t q_runs = -1;
      int nr = 0;
      for (int64_t qk = lo; qk < hi; ++qk) {
        const int64_t q = qk / K, k = qk % K, t0 = (b0 + q) * NR, nt = std::min(NR, T - t0);
        if (q != q_runs) {
          nr = panel_runs(t0, nt, TH, TW, runs);
          q_runs = q;
        }
        const float* Mq = M + q * m_panel;
        const float bias = p.bias ? p.bias[k] : 0.0f;
        for (int r = 0; r < nr; ++r) {
          const Run& run = runs[r];
          const int64_t rows = std::min<int64_t>(4, p.Ho - 4 * run.ty);
          for (int64_t L = run.la; L < run.lb; L += lanes) {
            const int64_t tx = run.tx0 + L - run.la, nl = std::min(lanes, run.lb - L);
            const int64_t cols = std::min(4 * nl, p.Wo - 4 * tx);
            float* dst = p.y + ((run.n * K + k) * p.Ho + 4 * run.ty) * p.Wo + 4 * tx;
            if (rows == 4 && cols == 4 * lanes) {
              wk.output(Mq + k * NR + L, Kpad * NR, bias, dst, p.Wo, fin);
            } else {
              wk.output(Mq + k * NR + L, Kpad * NR, bias, tmp, 4 * lanes, fin);
              for (int64_t i = 0; i < rows; ++i)
                std::memcpy(dst + i * p.Wo, tmp + i * 4 * lanes, sizeof(float) * size_t(cols));
            }
            if (p.act != Activation::none) epilogue(dst, p.Wo, 1, int(rows), int(cols), nullptr, p.act);
          }
        }
      }
      check(fin);
    });
  }
  return finite.load();
}

}  // namespace fastnn
