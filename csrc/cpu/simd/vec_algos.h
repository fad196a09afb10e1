#pragma once
// Width-generic building blocks over V = simd_{avx512,avx2,scalar}::VecF32, for kernels that
// are written once and instantiated per ISA (the including file has included its ISA header).
// Everything lives in an unnamed namespace: each translation unit gets its own copy, compiled
// with that unit's flags, and none can leak into baseline code through the linker.
#include <cstdint>

namespace fastnn {
namespace {

// Vectors per leaf of the pairwise recursion. Inside a leaf, S interleaved accumulator sets of
// W lanes each sum kPairwiseLeafVectors / S elements; leaves combine pairwise, so the rounding
// error of a length-n sum grows like log2(n / leaf), not n.
constexpr int64_t kPairwiseLeafVectors = 64;

// K sums over i in [begin, end): acc(i, m, a) adds the contribution of elements [i, i + m)
// into the K registers a[0..K); m is V::W for full vectors (a constant after inlining) or
// 0 < m < W for the tail, whose unused lanes must contribute zero.
template <class V, int K, class Acc>
void pairwise_sums(int64_t begin, int64_t end, const Acc& acc, float* out) {
  constexpr int W = V::W;
  constexpr int64_t kLeaf = kPairwiseLeafVectors * W;
  const int64_t n = end - begin;
  if (n <= kLeaf) {
    // S interleaved accumulator sets: enough independent add chains to cover the add latency
    // and keep loads in flight (4 for a single sum, 2 when each set already holds K >= 2).
    constexpr int S = K == 1 ? 4 : 2;
    typename V::reg a[S][K];
    for (int s = 0; s < S; ++s)
      for (int k = 0; k < K; ++k) a[s][k] = V::zero();
    int64_t i = begin;
    for (; i + S * W <= end; i += S * W)
      for (int s = 0; s < S; ++s) acc(i + s * W, W, a[s]);
    for (int s = 0; i + W <= end; i += W, ++s) acc(i, W, a[s]);
    if (i < end) acc(i, int(end - i), a[S - 1]);
    for (int k = 0; k < K; ++k) {
      typename V::reg t = a[0][k];
      for (int s = 1; s < S; ++s) t = V::add(t, a[s][k]);
      out[k] = V::reduce_add(t);
    }
    return;
  }
  // Split on a leaf boundary so every leaf but the last is full.
  const int64_t leaves = (n + kLeaf - 1) / kLeaf;
  const int64_t mid = begin + leaves / 2 * kLeaf;
  float lo[K], hi[K];
  pairwise_sums<V, K>(begin, mid, acc, lo);
  pairwise_sums<V, K>(mid, end, acc, hi);
  for (int k = 0; k < K; ++k) out[k] = lo[k] + hi[k];
}

// Sum of x[0..n).
template <class V>
float pairwise_sum(const float* x, int64_t n) {
  float s;
  pairwise_sums<V, 1>(0, n, [&](int64_t i, int m, typename V::reg* a) { a[0] = V::add(a[0], V::loadn(x + i, m)); },
                      &s);
  return s;
}

// Inside a vector loop over i: prefetches the line of next[i] into L2 once per 64-byte line.
// Multi-pass row kernels call it in their cache-resident pass so that the next row streams in
// from memory while this one is computed (otherwise memory idles during those passes).
// Prefetching past the end of an array is harmless (prefetches never fault).
template <class V>
void prefetch_next(const float* next, int64_t i) {
  if ((i & 15) < V::W) __builtin_prefetch(next + i, 0, 2);
}

// Non-temporal stores pay only when they fill whole cache lines: a line written partly by a
// streaming store leaves the write-combining buffer partial, which memory then has to merge
// (a read-modify-write). So a streamed row is split into a head up to the first 64-byte line
// boundary and a remainder after the last whole line, both written with normal stores, and a
// body of whole lines written with streaming stores.
constexpr int64_t kLineFloats = 16;  // floats per 64-byte cache line

// Streamed body [*head, *body_end) of an n-float row at y (empty when not streaming).
template <class V>
void stream_span(const float* y, int64_t n, bool stream, int64_t* head, int64_t* body_end) {
  if (!stream || V::W == 1) {
    *head = *body_end = 0;
    return;
  }
  int64_t h = int64_t((64 - uintptr_t(y) % 64) % 64 / sizeof(float));
  h = h < n ? h : n;
  *head = h;
  *body_end = h + (n - h) / kLineFloats * kLineFloats;
}

// y[i] = f(i, m) for i in [0, n) by vectors: f returns the register for elements [i, i + m)
// (m == V::W, or 0 < m < W for a partial vector). With stream, whole cache lines are written
// with non-temporal stores (no read-for-ownership of y); the caller fences once at the end.
template <class V, class F>
void map_row(float* y, int64_t n, bool stream, const F& f) {
  constexpr int W = V::W;
  int64_t head, body_end, i = 0;
  stream_span<V>(y, n, stream, &head, &body_end);
  if (body_end > head) {
    for (; i + W <= head; i += W) V::store(y + i, f(i, W));
    if (i < head) V::store_tail(y + i, f(i, int(head - i)), int(head - i));
    for (i = head; i < body_end; i += W) V::stream(y + i, f(i, W));
  }
  for (; i + W <= n; i += W) V::store(y + i, f(i, W));
  if (i < n) V::store_tail(y + i, f(i, int(n - i)), int(n - i));
}

// Compensated (Kahan) accumulation of a block partial sum: sum[j] + comp[j] tracks the exact
// total of every block folded in so far with ~1 ulp error, independent of how many blocks
// (the true total is sum - comp). blk is reset to zero for the next block.
template <class V>
void kahan_fold(float* sum, float* comp, float* blk, int64_t n) {
  constexpr int W = V::W;
  auto step = [&](int64_t j, int m) {
    typename V::reg y = V::sub(V::loadn(blk + j, m), V::loadn(comp + j, m));
    typename V::reg s = V::loadn(sum + j, m);
    typename V::reg t = V::add(s, y);
    V::storen(comp + j, V::sub(V::sub(t, s), y), m);
    V::storen(sum + j, t, m);
    V::storen(blk + j, V::zero(), m);
  };
  int64_t j = 0;
  for (; j + W <= n; j += W) step(j, W);
  if (j < n) step(j, int(n - j));
}

}  // namespace
}  // namespace fastnn
