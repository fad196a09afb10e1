#pragma once
// Leaf kernels of dropout, one per ISA (row 0: the generic twin). The stream is defined in
// common/philox.h ("fastnn dropout stream v1"); every path produces the same bits.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

struct DropoutParams {
  uint64_t seed = 0, offset = 0;
  uint64_t threshold = 0;  // keep iff word ≥ threshold; 0: keep all, 2^32: keep none
  float scale = 1.0f;      // float(1 / (1 - p)) for kept elements
};

// Elements start .. start + n - 1 of the stream:
//   y[k] = x[k] · (keep ? scale : 0)   when y is not null (NaN / inf stay NaN when dropped, as x·0)
//   mask[k] = keep ? 1 : 0             when mask is not null
// x, y: (n) floats, mask: (n) bytes. stream: non-temporal stores for y where aligned.
using DropoutFn = void (*)(const float* x, float* y, uint8_t* mask, int64_t n, int64_t start, const DropoutParams& p,
                           bool stream);

void dropout_generic(const float* x, float* y, uint8_t* mask, int64_t n, int64_t start, const DropoutParams& p,
                     bool stream);
#if defined(FASTNN_X86)
void dropout_avx2(const float* x, float* y, uint8_t* mask, int64_t n, int64_t start, const DropoutParams& p,
                  bool stream);
void dropout_avx512(const float* x, float* y, uint8_t* mask, int64_t n, int64_t start, const DropoutParams& p,
                    bool stream);
#endif
DropoutFn dropout_kernel(Isa isa);

constexpr uint64_t kDropoutKeepNone = uint64_t(1) << 32;

}  // namespace fastnn
