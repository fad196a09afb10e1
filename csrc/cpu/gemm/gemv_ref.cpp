// Portable matrix-vector kernels (the reference twins of gemv_avx2.cpp).
#include "cpu/gemm/gemv.h"

namespace fastnn {

// y[j] = Σ_k w[j*ldw + k]·x[k]; four partial sums per row so the baseline build vectorises.
void sgemv_dot_ref(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y) {
  for (int64_t j = 0; j < n; ++j) {
    const float* wj = w + j * ldw;
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int64_t i = 0;
    for (; i + 4 <= k; i += 4)
      for (int l = 0; l < 4; ++l) s[l] += wj[i + l] * x[i + l];
    for (; i < k; ++i) s[0] += wj[i] * x[i];
    y[j] = (s[0] + s[1]) + (s[2] + s[3]);
  }
}

// y[j] = Σ_k x[k]·w[k*ldw + j], rows of w accumulated into y one at a time.
void sgemv_axpy_ref(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y) {
  for (int64_t j = 0; j < n; ++j) y[j] = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    const float xi = x[i];
    const float* wi = w + i * ldw;
    for (int64_t j = 0; j < n; ++j) y[j] += xi * wi[j];
  }
}

}  // namespace fastnn
