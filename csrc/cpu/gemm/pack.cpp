// Generic packers (baseline ISA). The panel width is a template parameter for the widths the
// kernels use, so the per-k inner copy is fully unrolled.
#include "cpu/gemm/pack.h"

namespace fastnn {
namespace {

// One panel: w (≤ W) valid lines of length kc, line l, position k at src[l*ls + k*ks];
// out[k*W + l], lines w..W-1 zero.
template <int W>
void pack_panel(int64_t kc, const float* src, int64_t ls, int64_t ks, int w, float* out) {
  if (w == W) {
    if (ls == 1) {  // the W values of one k are contiguous
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * ks;
        float* d = out + k * W;
        for (int l = 0; l < W; ++l) d[l] = s[l];
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* s = src + k * ks;
        float* d = out + k * W;
        for (int l = 0; l < W; ++l) d[l] = s[l * ls];
      }
    }
    return;
  }
  for (int64_t k = 0; k < kc; ++k) {
    float* d = out + k * W;
    for (int l = 0; l < w; ++l) d[l] = src[l * ls + k * ks];
    for (int l = w; l < W; ++l) d[l] = 0.0f;
  }
}

void pack_panel_any(int64_t kc, const float* src, int64_t ls, int64_t ks, int w, int W, float* out) {
  for (int64_t k = 0; k < kc; ++k) {
    float* d = out + k * W;
    for (int l = 0; l < w; ++l) d[l] = src[l * ls + k * ks];
    for (int l = w; l < W; ++l) d[l] = 0.0f;
  }
}

// n lines of length kc (line stride ls, element stride ks) → ceil(n/W) panels.
void pack_lines(int64_t n, int64_t kc, const float* src, int64_t ls, int64_t ks, int W, float* out) {
  for (int64_t l0 = 0; l0 < n; l0 += W) {
    const int w = int(n - l0 < W ? n - l0 : W);
    const float* s = src + l0 * ls;
    switch (W) {
      case 4: pack_panel<4>(kc, s, ls, ks, w, out); break;
      case 6: pack_panel<6>(kc, s, ls, ks, w, out); break;
      case 8: pack_panel<8>(kc, s, ls, ks, w, out); break;
      case 14: pack_panel<14>(kc, s, ls, ks, w, out); break;
      case 16: pack_panel<16>(kc, s, ls, ks, w, out); break;
      case 32: pack_panel<32>(kc, s, ls, ks, w, out); break;
      default: pack_panel_any(kc, s, ls, ks, w, W, out); break;
    }
    out += kc * W;
  }
}

}  // namespace

void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, int mr, float* out) {
  pack_lines(mc, kc, a, rs, cs, mr, out);
}

void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, int nr, float* out) {
  pack_lines(nc, kc, b, cs, rs, nr, out);
}

}  // namespace fastnn
