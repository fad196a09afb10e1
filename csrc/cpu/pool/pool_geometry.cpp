#include "cpu/pool/pool.h"

namespace fastnn {

int64_t pool_output_size(int64_t L, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode, const char* fn) {
  const int64_t num = L + 2 * p - d * (k - 1) - 1;
  FASTNN_CHECK_VALUE(num >= 0, fn, ": the pooling window (", d * (k - 1) + 1, ") is larger than the padded input (",
                     L + 2 * p, ")");
  int64_t out = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
  if (ceil_mode && (out - 1) * s >= L + p) --out;
  return out;
}

void finish_pool2d_geometry(Pool2dGeometry& g, bool ceil_mode, const char* fn) {
  FASTNN_CHECK_VALUE(g.N >= 0 && g.C >= 0 && g.H >= 0 && g.W >= 0, fn, ": bad input shape");
  FASTNN_CHECK_VALUE(g.kh >= 1 && g.kw >= 1, fn, ": kernel_size must be >= 1, got (", g.kh, ", ", g.kw, ")");
  FASTNN_CHECK_VALUE(g.sh >= 1 && g.sw >= 1, fn, ": stride must be >= 1, got (", g.sh, ", ", g.sw, ")");
  FASTNN_CHECK_VALUE(g.dh >= 1 && g.dw >= 1, fn, ": dilation must be >= 1, got (", g.dh, ", ", g.dw, ")");
  FASTNN_CHECK_VALUE(g.ph >= 0 && g.pw >= 0 && g.ph <= g.kh / 2 && g.pw <= g.kw / 2, fn,
                     ": padding must be >= 0 and at most half the kernel size, got padding (", g.ph, ", ", g.pw,
                     ") for kernel_size (", g.kh, ", ", g.kw, ")");
  const int64_t limit = int64_t(1) << 40;
  FASTNN_CHECK_VALUE(g.H < limit && g.W < limit && g.kh < limit && g.kw < limit && g.sh < limit && g.sw < limit &&
                         g.dh < (int64_t(1) << 20) && g.dw < (int64_t(1) << 20),
                     fn, ": sizes too large");
  g.Ho = pool_output_size(g.H, g.kh, g.sh, g.ph, g.dh, ceil_mode, fn);
  g.Wo = pool_output_size(g.W, g.kw, g.sw, g.pw, g.dw, ceil_mode, fn);
}

}  // namespace fastnn
