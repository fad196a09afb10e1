// AVX2+FMA matrix-vector kernels: memory-bound, so the point is to read w exactly once, in long
// sequential runs, with enough independent work to keep the loads flowing.
#include <immintrin.h>

#include "cpu/gemm/gemv.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {
namespace v = simd_avx2;

// One output row: Σ_k w[k]·x[k] with two accumulators; masked tail (nothing read past k).
inline float dot_row(int64_t k, const float* w, const float* x) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), s1);
  }
  for (; i < k; i += 8) {
    const __m256i m = v::tail_mask(int(k - i < 8 ? k - i : 8));
    s0 = _mm256_fmadd_ps(_mm256_maskload_ps(w + i, m), _mm256_maskload_ps(x + i, m), s0);
  }
  return v::hsum(_mm256_add_ps(s0, s1));
}

}  // namespace

// Four rows at a time share each load of x; 8 accumulators cover the FMA latency.
void sgemv_dot_avx2(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* w0 = w + j * ldw;
    const float* w1 = w0 + ldw;
    const float* w2 = w1 + ldw;
    const float* w3 = w2 + ldw;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), x0, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), x0, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), x0, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), x0, a3);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i + 8), x1, b0);
      b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i + 8), x1, b1);
      b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i + 8), x1, b2);
      b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i + 8), x1, b3);
    }
    for (; i < k; i += 8) {
      const __m256i m = v::tail_mask(int(k - i < 8 ? k - i : 8));
      const __m256 x0 = _mm256_maskload_ps(x + i, m);
      a0 = _mm256_fmadd_ps(_mm256_maskload_ps(w0 + i, m), x0, a0);
      a1 = _mm256_fmadd_ps(_mm256_maskload_ps(w1 + i, m), x0, a1);
      a2 = _mm256_fmadd_ps(_mm256_maskload_ps(w2 + i, m), x0, a2);
      a3 = _mm256_fmadd_ps(_mm256_maskload_ps(w3 + i, m), x0, a3);
    }
    y[j] = v::hsum(_mm256_add_ps(a0, b0));
    y[j + 1] = v::hsum(_mm256_add_ps(a1, b1));
    y[j + 2] = v::hsum(_mm256_add_ps(a2, b2));
    y[j + 3] = v::hsum(_mm256_add_ps(a3, b3));
  }
  for (; j < n; ++j) y[j] = dot_row(k, w + j * ldw, x);
}

// y (n floats, in L1 for the caller's column range) += eight rows of w at a time: each pass
// over y then carries 8 rows' worth of FMAs per load/store of y.
void sgemv_axpy_avx2(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y) {
  const int64_t nv = n / 8 * 8;
  const __m256i tail = v::tail_mask(int(n - nv));
  for (int64_t j = 0; j < nv; j += 8) _mm256_storeu_ps(y + j, _mm256_setzero_ps());
  if (nv < n) _mm256_maskstore_ps(y + nv, tail, _mm256_setzero_ps());
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const float* wr[8];
    __m256 xr[8];
    for (int r = 0; r < 8; ++r) {
      wr[r] = w + (i + r) * ldw;
      xr[r] = _mm256_set1_ps(x[i + r]);
    }
    for (int64_t j = 0; j < nv; j += 8) {
      __m256 s0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr[0] + j), xr[0], _mm256_loadu_ps(y + j));
      __m256 s1 = _mm256_mul_ps(_mm256_loadu_ps(wr[1] + j), xr[1]);
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr[2] + j), xr[2], s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr[3] + j), xr[3], s1);
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr[4] + j), xr[4], s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr[5] + j), xr[5], s1);
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr[6] + j), xr[6], s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr[7] + j), xr[7], s1);
      _mm256_storeu_ps(y + j, _mm256_add_ps(s0, s1));
    }
    if (nv < n) {
      __m256 s = _mm256_maskload_ps(y + nv, tail);
      for (int r = 0; r < 8; ++r) s = _mm256_fmadd_ps(_mm256_maskload_ps(wr[r] + nv, tail), xr[r], s);
      _mm256_maskstore_ps(y + nv, tail, s);
    }
  }
  for (; i < k; ++i) {
    const float* wi = w + i * ldw;
    const __m256 xi = _mm256_set1_ps(x[i]);
    for (int64_t j = 0; j < nv; j += 8)
      _mm256_storeu_ps(y + j, _mm256_fmadd_ps(_mm256_loadu_ps(wi + j), xi, _mm256_loadu_ps(y + j)));
    if (nv < n)
      _mm256_maskstore_ps(y + nv, tail,
                          _mm256_fmadd_ps(_mm256_maskload_ps(wi + nv, tail), xi, _mm256_maskload_ps(y + nv, tail)));
  }
}

}  // namespace fastnn
