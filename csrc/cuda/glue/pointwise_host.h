#pragma once
// Host side of the pointwise kernels: dims of same-shaped views merged where every operand
// allows it, so that contiguous arrays become one flat run and the kernels skip the index decode.
#include "common/tensor.h"
#include "cuda/glue/glue_device.cuh"

namespace fastnn {
namespace cuda {

// ops[0..nops): views of one shape (the caller checked). Size-1 dims are dropped; dims d-1, d
// merge when stride[d-1] == stride[d] * shape[d] for every operand.
inline PwShape collapse_pointwise(const TensorView* const* ops, int nops) {
  PwShape s{};
  const TensorView& ref = *ops[0];
  s.n = 1;
  int nd = 0;
  for (int d = 0; d < ref.ndim; ++d) {
    s.n *= ref.shape[d];
    if (ref.shape[d] == 1) continue;
    if (nd > 0) {
      bool merge = true;
      for (int o = 0; o < nops; ++o) merge = merge && s.strides[o][nd - 1] == ops[o]->strides[d] * ref.shape[d];
      if (merge) {
        s.shape[nd - 1] *= ref.shape[d];
        for (int o = 0; o < nops; ++o) s.strides[o][nd - 1] = ops[o]->strides[d];
        continue;
      }
    }
    s.shape[nd] = ref.shape[d];
    for (int o = 0; o < nops; ++o) s.strides[o][nd] = ops[o]->strides[d];
    ++nd;
  }
  if (nd == 0) {  // a single element
    s.shape[0] = 1;
    for (int o = 0; o < nops; ++o) s.strides[o][0] = 1;
    nd = 1;
  }
  s.ndim = nd;
  return s;
}

inline bool pw_flat(const PwShape& s, int nops) {
  if (s.ndim != 1) return false;
  for (int o = 0; o < nops; ++o)
    if (s.strides[o][0] != 1) return false;
  return true;
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace cuda
}  // namespace fastnn
