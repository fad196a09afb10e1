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

// Two outputs: the aligned-streaming head of ga does not align gb, so only ga streams when the
// two are not equally aligned; gb uses normal stores then.
template <class V>
void mul_backward(const float* g, const float* a, const float* b, float* ga, float* gb, int64_t n, bool stream) {
  constexpr int W = V::W;
  const int64_t head = stream_head<V>(ga, n, stream);
  const bool both = stream && stream_head<V>(gb, n, true) == head;
  int64_t i = 0;
  if (head) {
    const int m = int(head);
    typename V::reg gv = V::load_tail(g, m);
    V::store_tail(ga, V::mul(gv, V::load_tail(b, m)), m);
    V::store_tail(gb, V::mul(gv, V::load_tail(a, m)), m);
    i = head;
  }
  for (; i + W <= n; i += W) {
    typename V::reg gv = V::load(g + i);
    typename V::reg x = V::mul(gv, V::load(b + i)), y = V::mul(gv, V::load(a + i));
    if (stream) V::stream(ga + i, x);
    else V::store(ga + i, x);
    if (both) V::stream(gb + i, y);
    else V::store(gb + i, y);
  }
  if (i < n) {
    const int m = int(n - i);
    typename V::reg gv = V::load_tail(g + i, m);
    V::store_tail(ga + i, V::mul(gv, V::load_tail(b + i, m)), m);
    V::store_tail(gb + i, V::mul(gv, V::load_tail(a + i, m)), m);
  }
  if (stream) V::stream_fence();
}

template <class V>
BinaryKernels make_binary_kernels() {
  return {binary_vv<V>, binary_vs<V>, fill<V>, mul_backward<V>};
}

}  // namespace
}  // namespace fastnn
