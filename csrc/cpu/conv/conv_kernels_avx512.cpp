// Shared convolution leaf kernels, AVX-512: 16-lane sum and activation gradients; transposes use
// 8×8 blocks on YMM registers (AVX-512VL machines run them at full width). Compiled and
// dispatched; unverified on hardware here (no AVX-512 machine).
#include <immintrin.h>

#include "cpu/conv/conv_act_avx512.h"
#include "cpu/conv/conv_kernels.h"
#include "cpu/simd/avx512.h"

namespace fastnn {
namespace {

void transpose_avx512(int64_t rows, int64_t cols, const float* src, int64_t src_rs, float* dst, int64_t dst_rs) {
  constexpr int64_t T = 64;
  for (int64_t i0 = 0; i0 < rows; i0 += T)
    for (int64_t j0 = 0; j0 < cols; j0 += T) {
      const int64_t i1 = i0 + T < rows ? i0 + T : rows, j1 = j0 + T < cols ? j0 + T : cols;
      int64_t i = i0;
      for (; i + 8 <= i1; i += 8) {
        int64_t j = j0;
        for (; j + 8 <= j1; j += 8) {
          const float* s = src + i * src_rs + j;
          __m256 r0 = _mm256_loadu_ps(s + 0 * src_rs), r1 = _mm256_loadu_ps(s + 1 * src_rs);
          __m256 r2 = _mm256_loadu_ps(s + 2 * src_rs), r3 = _mm256_loadu_ps(s + 3 * src_rs);
          __m256 r4 = _mm256_loadu_ps(s + 4 * src_rs), r5 = _mm256_loadu_ps(s + 5 * src_rs);
          __m256 r6 = _mm256_loadu_ps(s + 6 * src_rs), r7 = _mm256_loadu_ps(s + 7 * src_rs);
          __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
          __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
          __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
          __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
          __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
          __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
          __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
          __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
          float* d = dst + j * dst_rs + i;
          _mm256_storeu_ps(d + 0 * dst_rs, _mm256_permute2f128_ps(u0, u4, 0x20));
          _mm256_storeu_ps(d + 1 * dst_rs, _mm256_permute2f128_ps(u1, u5, 0x20));
          _mm256_storeu_ps(d + 2 * dst_rs, _mm256_permute2f128_ps(u2, u6, 0x20));
          _mm256_storeu_ps(d + 3 * dst_rs, _mm256_permute2f128_ps(u3, u7, 0x20));
          _mm256_storeu_ps(d + 4 * dst_rs, _mm256_permute2f128_ps(u0, u4, 0x31));
          _mm256_storeu_ps(d + 5 * dst_rs, _mm256_permute2f128_ps(u1, u5, 0x31));
          _mm256_storeu_ps(d + 6 * dst_rs, _mm256_permute2f128_ps(u2, u6, 0x31));
          _mm256_storeu_ps(d + 7 * dst_rs, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; j < j1; ++j)
          for (int64_t ii = i; ii < i + 8; ++ii) dst[j * dst_rs + ii] = src[ii * src_rs + j];
      }
      for (; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) dst[j * dst_rs + i] = src[i * src_rs + j];
    }
}

float reduce_sum_avx512(const float* x, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
  }
  for (; i + 16 <= n; i += 16) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
  float s = simd_avx512::hsum(_mm512_add_ps(a0, a1));
  for (; i < n; ++i) s += x[i];
  return s;
}

template <Activation A>
void act_grad_loop(const float* z, const float* g, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(g + i), conv_act512::act_grad<A>(_mm512_loadu_ps(z + i))));
  for (; i < n; ++i) out[i] = g[i] * activation_derivative(A, z[i]);
}

void act_grad_avx512(const float* z, const float* g, float* out, int64_t n, Activation act) {
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

ConvKernels conv_kernels_avx512() { return {transpose_avx512, reduce_sum_avx512, act_grad_avx512}; }

}  // namespace fastnn
