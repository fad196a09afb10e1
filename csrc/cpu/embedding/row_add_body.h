#pragma once
// dst += src, dst = src and dst = 0 + src over vec_ops.h (include only from row_add_{generic,avx2,avx512}.cpp).
#include "cpu/activation/vec_ops.h"
#include "cpu/embedding/embedding_kernels.h"

namespace fastnn {
namespace {

template <class VO>
void row_add(float* dst, const float* src, int64_t n) {
  map_loop<VO, false>(
      dst, n, [&](int64_t i) { return VO::add(VO::load(dst + i), VO::load(src + i)); },
      [&](int64_t i, int k) { return VO::add(VO::load_n(dst + i, k, 0.0f), VO::load_n(src + i, k, 0.0f)); });
}

template <class VO>
void row_copy(float* dst, const float* src, int64_t n, bool stream) {
  constexpr int W = VO::W;
  int64_t i = 0;
  if (stream && W > 1) {
    const uintptr_t mis = (reinterpret_cast<uintptr_t>(dst) / sizeof(float)) % W;
    const int64_t head = mis ? (W - int64_t(mis) < n ? W - int64_t(mis) : n) : 0;
    if (head > 0) VO::store_n(dst, VO::load_n(src, int(head), 0.0f), int(head));
    for (i = head; i + 4 * W <= n; i += 4 * W) {
      const typename VO::V a = VO::load(src + i), b = VO::load(src + i + W), c = VO::load(src + i + 2 * W),
                           d = VO::load(src + i + 3 * W);
      VO::stream(dst + i, a);
      VO::stream(dst + i + W, b);
      VO::stream(dst + i + 2 * W, c);
      VO::stream(dst + i + 3 * W, d);
    }
    for (; i + W <= n; i += W) VO::stream(dst + i, VO::load(src + i));
  } else {
    for (; i + W <= n; i += W) VO::store(dst + i, VO::load(src + i));
  }
  if (i < n) VO::store_n(dst + i, VO::load_n(src + i, int(n - i), 0.0f), int(n - i));
}

template <class VO, bool Stream>
void row_set_impl(float* dst, const float* src, int64_t n) {
  map_loop<VO, Stream>(
      dst, n, [&](int64_t i) { return VO::add(VO::zero(), VO::load(src + i)); },
      [&](int64_t i, int k) { return VO::add(VO::zero(), VO::load_n(src + i, k, 0.0f)); });
}

template <class VO>
void row_set(float* dst, const float* src, int64_t n, bool stream) {
  if (stream)
    row_set_impl<VO, true>(dst, src, n);
  else
    row_set_impl<VO, false>(dst, src, n);
}

}  // namespace
}  // namespace fastnn
