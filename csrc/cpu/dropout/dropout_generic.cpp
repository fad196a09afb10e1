// Generic (scalar) dropout: per 64-element group, the 16 counters' Philox outputs, then elements.
#include "common/philox.h"
#include "cpu/dropout/dropout_kernels.h"

namespace fastnn {

void dropout_generic(const float* x, float* y, uint8_t* mask, int64_t n, int64_t start, const DropoutParams& p,
                     bool) {
  const int64_t end = start + n;
  uint32_t w[64];
  for (int64_t i = start; i < end;) {
    const int64_t g0 = i & ~int64_t(63);
    const int64_t stop = end < g0 + 64 ? end : g0 + 64;
    const bool uniform = p.threshold == 0 || p.threshold >= kDropoutKeepNone;
    if (!uniform) {
      const uint64_t q0 = uint64_t(g0 >> 6) * 16;
      for (int l = 0; l < 16; ++l) {
        const uint64_t q = q0 + uint64_t(l);
        const Philox4 c = {{uint32_t(q), uint32_t(q >> 32), uint32_t(p.offset), uint32_t(p.offset >> 32)}};
        const Philox4 r = philox4x32_10(c, uint32_t(p.seed), uint32_t(p.seed >> 32));
        for (int j = 0; j < 4; ++j) w[j * 16 + l] = r.v[j];
      }
    }
    for (; i < stop; ++i) {
      const bool keep = p.threshold == 0 || (p.threshold < kDropoutKeepNone && w[i - g0] >= p.threshold);
      const int64_t k = i - start;
      if (y) y[k] = x[k] * (keep ? p.scale : 0.0f);
      if (mask) mask[k] = keep ? 1 : 0;
    }
  }
}

}  // namespace fastnn
