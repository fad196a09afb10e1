#pragma once
// Broadcasting binary leaf kernels, written once over V (see cpu/simd/vec_algos.h); included by
// binary_ref.cpp, binary_avx2.cpp and binary_avx512.cpp.
#include "cpu/elementwise/binary_kernels.h"
#include "cpu/simd/vec_algos.h"

namespace fastnn {
namespace {

template <class V, BinaryOp Op>
typename V::reg apply_op(typename V::reg a, typename V::reg b) {
  return Op == BinaryOp::add ? V::add(a, b) : V::mul(a, b);
}

template <class V, BinaryOp Op>
void vv_impl(const float* a, const float* b, float* out, int64_t n, bool stream) {
  map_row<V>(out, n, stream, [&](int64_t i, int m) { return apply_op<V, Op>(V::loadn(a + i, m), V::loadn(b + i, m)); });
  if (stream) V::stream_fence();
}

template <class V, BinaryOp Op>
void vs_impl(const float* a, float b, float* out, int64_t n, bool stream) {
  const typename V::reg vb = V::set1(b);
  map_row<V>(out, n, stream, [&](int64_t i, int m) { return apply_op<V, Op>(V::loadn(a + i, m), vb); });
  if (stream) V::stream_fence();
}

template <class V>
void binary_vv(BinaryOp op, const float* a, const float* b, float* out, int64_t n, bool stream) {
  if (op == BinaryOp::add) vv_impl<V, BinaryOp::add>(a, b, out, n, stream);
  else vv_impl<V, BinaryOp::mul>(a, b, out, n, stream);
}

template <class V>
void binary_vs(BinaryOp op, const float* a, float b, float* out, int64_t n, bool stream) {
  if (op == BinaryOp::add) vs_impl<V, BinaryOp::add>(a, b, out, n, stream);
  else vs_impl<V, BinaryOp::mul>(a, b, out, n, stream);
}

template <class V>
void fill(float* out, int64_t n, float v, bool stream) {
  const typename V::reg vv = V::set1(v);
  map_row<V>(out, n, stream, [&](int64_t, int) { return vv; });
  if (stream) V::stream_fence();
}

// Two outputs in one pass. Streaming needs whole lines in both, so it is used only when ga and
// gb sit at the same offset within a cache line (then one span fits both).
template <class V>
void mul_backward(const float* g, const float* a, const float* b, float* ga, float* gb, int64_t n, bool stream) {
  constexpr int W = V::W;
  const bool both = stream && uintptr_t(ga) % 64 == uintptr_t(gb) % 64;
  int64_t head, body_end, i = 0;
  stream_span<V>(ga, n, both, &head, &body_end);
  auto step = [&](int64_t j, int m, bool nt) {
    typename V::reg gv = V::loadn(g + j, m);
    typename V::reg x = V::mul(gv, V::loadn(b + j, m)), y = V::mul(gv, V::loadn(a + j, m));
    if (nt) {
      V::stream(ga + j, x), V::stream(gb + j, y);
    } else {
      V::storen(ga + j, x, m), V::storen(gb + j, y, m);
    }
  };
  if (body_end > head) {
    for (; i + W <= head; i += W) step(i, W, false);
    if (i < head) step(i, int(head - i), false);
    for (i = head; i < body_end; i += W) step(i, W, true);
  }
  for (; i + W <= n; i += W) step(i, W, false);
  if (i < n) step(i, int(n - i), false);
  if (both) V::stream_fence();
}

template <class V>
BinaryKernels make_binary_kernels() {
  return {binary_vv<V>, binary_vs<V>, fill<V>, mul_backward<V>};
}

}  // namespace
}  // namespace fastnn
