// Shared convolution leaf kernels, AVX2+FMA: 8×8 register transposes, an 8-lane sum, and the
// activation gradient (simd/avx2.h's GEMM-epilogue derivatives).
#include <immintrin.h>

#include "cpu/conv/conv_kernels.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {

inline void transpose8x8(const float* src, int64_t src_rs, float* dst, int64_t dst_rs) {
  __m256 r0 = _mm256_loadu_ps(src + 0 * src_rs), r1 = _mm256_loadu_ps(src + 1 * src_rs);
  __m256 r2 = _mm256_loadu_ps(src + 2 * src_rs), r3 = _mm256_loadu_ps(src + 3 * src_rs);
  __m256 r4 = _mm256_loadu_ps(src + 4 * src_rs), r5 = _mm256_loadu_ps(src + 5 * src_rs);
  __m256 r6 = _mm256_loadu_ps(src + 6 * src_rs), r7 = _mm256_loadu_ps(src + 7 * src_rs);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(dst + 0 * dst_rs, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(dst + 1 * dst_rs, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(dst + 2 * dst_rs, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(dst + 3 * dst_rs, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(dst + 4 * dst_rs, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(dst + 5 * dst_rs, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(dst + 6 * dst_rs, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(dst + 7 * dst_rs, _mm256_permute2f128_ps(u3, u7, 0x31));
}

// (rows × cols) → (cols × rows) in strips of 16 source rows: each destination row then gets 16
// contiguous floats (a whole cache line) per strip, and a strip of 256 columns keeps both sides
// (16 KiB each) in L1 while few pages are open at once.
void transpose_avx2(int64_t rows, int64_t cols, const float* src, int64_t src_rs, float* dst, int64_t dst_rs) {
  constexpr int64_t TJ = 256;
  int64_t i = 0;
  for (; i + 16 <= rows; i += 16)
    for (int64_t j0 = 0; j0 < cols; j0 += TJ) {
      const int64_t j1 = j0 + TJ < cols ? j0 + TJ : cols;
      int64_t j = j0;
      for (; j + 8 <= j1; j += 8) {
        transpose8x8(src + i * src_rs + j, src_rs, dst + j * dst_rs + i, dst_rs);
        transpose8x8(src + (i + 8) * src_rs + j, src_rs, dst + j * dst_rs + i + 8, dst_rs);
      }
      for (; j < j1; ++j)
        for (int64_t ii = i; ii < i + 16; ++ii) dst[j * dst_rs + ii] = src[ii * src_rs + j];
    }
  for (; i + 8 <= rows; i += 8) {
    int64_t j = 0;
    for (; j + 8 <= cols; j += 8) transpose8x8(src + i * src_rs + j, src_rs, dst + j * dst_rs + i, dst_rs);
    for (; j < cols; ++j)
      for (int64_t ii = i; ii < i + 8; ++ii) dst[j * dst_rs + ii] = src[ii * src_rs + j];
  }
  for (; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * dst_rs + i] = src[i * src_rs + j];
}

float reduce_sum_avx2(const float* x, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
  float s = simd_avx2::hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (; i < n; ++i) s += x[i];
  return s;
}

template <Activation A>
void act_grad_loop(const float* z, const float* g, float* out, int64_t n) {
  namespace gact = simd_avx2::gemm_act;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(z + i);
    __m256 d;
    if constexpr (A == Activation::relu) d = gact::relu_grad(x);
    else if constexpr (A == Activation::gelu) d = gact::gelu_grad(x);
    else if constexpr (A == Activation::gelu_tanh) d = gact::gelu_tanh_grad(x);
    else if constexpr (A == Activation::sigmoid) d = gact::sigmoid_grad(x);
    else if constexpr (A == Activation::tanh) d = gact::tanh_grad(x);
    else if constexpr (A == Activation::silu) d = gact::silu_grad(x);
    else d = _mm256_set1_ps(1.0f);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(g + i), d));  // a product: NaN/Inf in g propagate
  }
  for (; i < n; ++i) out[i] = g[i] * activation_derivative(A, z[i]);
}

void act_grad_avx2(const float* z, const float* g, float* out, int64_t n, Activation act) {
  switch (act) {
    case Activation::none:
      for (int64_t i = 0; i < n; ++i) out[i] = g[i];
      return;
    case Activation::relu: return act_grad_loop<Activation::relu>(z, g, out, n);
    case Activation::gelu: return act_grad_loop<Activation::gelu>(z, g, out, n);
    case Activation::gelu_tanh: return act_grad_loop<Activation::gelu_tanh>(z, g, out, n);
    case Activation::sigmoid: return act_grad_loop<Activation::sigmoid>(z, g, out, n);
    case Activation::tanh: return act_grad_loop<Activation::tanh>(z, g, out, n);
    case Activation::silu: return act_grad_loop<Activation::silu>(z, g, out, n);
  }
}

}  // namespace

ConvKernels conv_kernels_avx2() { return {transpose_avx2, reduce_sum_avx2, act_grad_avx2}; }

}  // namespace fastnn
