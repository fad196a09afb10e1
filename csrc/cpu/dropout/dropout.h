#pragma once
// Dropout with a counter-based stream (common/philox.h): the keep-mask of element i depends only
// on (seed, offset, i) — not on the thread count, the ISA path or the device — so a backward
// pass (or an autograd tape) regenerates it from the seed instead of storing it.
//   y    = x · keep / (1 - p)        (keep drawn with P(keep) = 1 - ceil(p·2^32)/2^32)
//   mask = keep                      (bytes 0 / 1; optional)
// The backward is the same map applied to grad_out.
#include <cstdint>

#include "common/tensor.h"

namespace fastnn {

// x, y: float32 of one shape (y may be x); mask: uint8 / bool of that shape. Any of y, mask may
// be absent (data == nullptr); with y absent, x may be absent too (mask only, shape from mask).
void dropout_cpu(const TensorView& x, const TensorView& y, const TensorView& mask, double p, uint64_t seed,
                 uint64_t offset);

}  // namespace fastnn
