// Depthwise convolution drivers (threads over planes) and the scalar reference kernels.
#include "cpu/conv/depthwise.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/conv/conv_epilogue.h"
#include "cpu/simd/scalar.h"

namespace fastnn {
namespace {

using VecScalar = simd_scalar::VecF32;

#include "cpu/conv/depthwise_body.inc"

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t floor_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

}  // namespace

DepthwiseKernels depthwise_kernels_ref() {
  return {dw_plane<VecScalar>, dw_wgrad<VecScalar>, dw_scratch<VecScalar>, dw_wgrad_scratch<VecScalar>};
}

const DepthwiseKernels& depthwise_kernels_for(Isa isa) {
  static const DepthwiseKernels table[kNumIsas] = {
      depthwise_kernels_ref(),
#if defined(FASTNN_X86)
      depthwise_kernels_avx2(),
      depthwise_kernels_avx512(),
#else
      depthwise_kernels_ref(),
      depthwise_kernels_ref(),
#endif
  };
  return table[int(isa)];
}

void depthwise_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                       Activation act, float* y) {
  const Isa isa = active_isa();
  const DepthwiseKernels& k = depthwise_kernels_for(isa);
  const EpilogueFn epilogue = conv_epilogue_for(isa);
  const int64_t mult = g.K / g.C, T = g.taps();
  std::vector<int64_t> ry(size_t(g.R)), cx(size_t(g.S));
  for (int64_t r = 0; r < g.R; ++r) ry[size_t(r)] = r * g.dh - g.pt;
  for (int64_t s = 0; s < g.S; ++s) cx[size_t(s)] = s * g.dw - g.pl;
  parallel_for(0, g.N * g.K, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t nk = lo; nk < hi; ++nk) {
      const int64_t n = nk / g.K, kk = nk % g.K, c = kk / mult;
      DwPlane p{x + (n * g.C + c) * g.H * g.W, g.W, g.H, g.W,
                y + nk * g.Ho * g.Wo, g.Wo, 1, g.Ho, g.Wo,
                g.sh, g.sw, int(g.R), int(g.S), ry.data(), cx.data(),
                w + kk * T, bias ? bias[kk] : 0.0f, false, nullptr};
      p.scratch = thread_workspace(3, size_t(k.plane_scratch(p)));
      k.plane(p);
      if (act != Activation::none) epilogue(p.out, g.Wo, 1, int(g.Ho), int(g.Wo), nullptr, act);
    }
  });
}

// grad_x phase by phase: input pixels ≡ (φy, φx) mod stride receive the taps with
// (φ + p - r·d) divisible by the stride, read from grad_out at stride 1.
void depthwise_backward_data(const Conv2dGeometry& g, const float* gy, const float* w, const float* bias,
                             float* gx) {
  const DepthwiseKernels& k = depthwise_kernels_for(active_isa());
  const int64_t mult = g.K / g.C, T = g.taps();
  parallel_for(0, g.N * g.C, 1, [&](int64_t lo, int64_t hi) {
    float* wt = thread_workspace(2, size_t(T));
    std::vector<int64_t> ry, cx, rsel, ssel;
    for (int64_t nc = lo; nc < hi; ++nc) {
      const int64_t n = nc / g.C, c = nc % g.C;
      float* plane = gx + nc * g.H * g.W;
      const float b = bias ? bias[c] : 0.0f;
      for (int64_t fy = 0; fy < std::min(g.sh, g.H); ++fy)
        for (int64_t fx = 0; fx < std::min(g.sw, g.W); ++fx) {
          ry.clear(), cx.clear(), rsel.clear(), ssel.clear();
          for (int64_t r = 0; r < g.R; ++r)
            if (floor_mod(fy + g.pt - r * g.dh, g.sh) == 0) rsel.push_back(r), ry.push_back((fy + g.pt - r * g.dh) / g.sh);
          for (int64_t s = 0; s < g.S; ++s)
            if (floor_mod(fx + g.pl - s * g.dw, g.sw) == 0) ssel.push_back(s), cx.push_back((fx + g.pl - s * g.dw) / g.sw);
          float* out = plane + fy * g.W + fx;
          const int64_t OH = ceil_div(g.H - fy, g.sh), OW = ceil_div(g.W - fx, g.sw);
          if (rsel.empty() || ssel.empty()) {
            for (int64_t u = 0; u < OH; ++u)
              for (int64_t v = 0; v < OW; ++v) out[u * g.sh * g.W + v * g.sw] = b;
            continue;
          }
          for (int64_t m = 0; m < mult; ++m) {
            const int64_t kk = c * mult + m;
            for (size_t i = 0; i < rsel.size(); ++i)
              for (size_t j = 0; j < ssel.size(); ++j)
                wt[i * ssel.size() + j] = w[kk * T + rsel[i] * g.S + ssel[j]];
            DwPlane p{gy + (n * g.K + kk) * g.Ho * g.Wo, g.Wo, g.Ho, g.Wo,
                      out, g.sh * g.W, g.sw, OH, OW,
                      1, 1, int(rsel.size()), int(ssel.size()), ry.data(), cx.data(),
                      wt, b, m > 0, nullptr};
            p.scratch = thread_workspace(3, size_t(k.plane_scratch(p)));
            k.plane(p);
          }
        }
    }
  });
}

void depthwise_backward_weight(const Conv2dGeometry& g, const float* gy, const float* x, float* gw) {
  const DepthwiseKernels& k = depthwise_kernels_for(active_isa());
  const int64_t mult = g.K / g.C, T = g.taps();
  std::vector<int64_t> ry(size_t(g.R)), cx(size_t(g.S));
  for (int64_t r = 0; r < g.R; ++r) ry[size_t(r)] = r * g.dh - g.pt;
  for (int64_t s = 0; s < g.S; ++s) cx[size_t(s)] = s * g.dw - g.pl;
  parallel_for(0, g.K, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> acc(static_cast<size_t>(T), 0.0);
    for (int64_t kk = lo; kk < hi; ++kk) {
      std::fill(acc.begin(), acc.end(), 0.0);
      const int64_t c = kk / mult;
      for (int64_t n = 0; n < g.N; ++n) {
        DwWgradPlane p{gy + (n * g.K + kk) * g.Ho * g.Wo, g.Ho, g.Wo, x + (n * g.C + c) * g.H * g.W, g.H, g.W,
                       g.sh, g.sw, int(g.R), int(g.S), ry.data(), cx.data(), acc.data(), nullptr};
        p.scratch = thread_workspace(3, size_t(k.wgrad_scratch(p)));
        k.wgrad(p);
      }
      for (int64_t t = 0; t < T; ++t) gw[kk * T + t] = float(acc[size_t(t)]);
    }
  });
}

}  // namespace fastnn
