#include "cpu/gemm/pack.h"

#include <cstring>

namespace fastnn {

void pack_a(int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, int mr, float* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int m = int(mc - i0 < mr ? mc - i0 : mr);
    const float* src = a + i0 * rs;
    if (rs == 1 && m == mr) {  // column-major A (e.g. a transposed view): mr floats contiguous per k
      for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * mr, src + k * cs, sizeof(float) * mr);
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = out + k * mr;
        for (int i = 0; i < m; ++i) dst[i] = src[i * rs + k * cs];
        for (int i = m; i < mr; ++i) dst[i] = 0.0f;
      }
    }
    out += kc * mr;
  }
}

void pack_b(int64_t kc, int64_t nc, const float* b, int64_t rs, int64_t cs, int nr, float* out) {
  for (int64_t j0 = 0; j0 < nc; j0 += nr) {
    const int n = int(nc - j0 < nr ? nc - j0 : nr);
    const float* src = b + j0 * cs;
    if (cs == 1 && n == nr) {  // row-major B: nr floats contiguous per k
      for (int64_t k = 0; k < kc; ++k) std::memcpy(out + k * nr, src + k * rs, sizeof(float) * nr);
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        float* dst = out + k * nr;
        for (int j = 0; j < n; ++j) dst[j] = src[k * rs + j * cs];
        for (int j = n; j < nr; ++j) dst[j] = 0.0f;
      }
    }
    out += kc * nr;
  }
}

}  // namespace fastnn
