#pragma once
// PyTorch activations and their derivatives on AVX-512 registers, built on simd/avx512.h
// (which has exp, tanh, sigmoid, erf, normal_tail but no GEMM epilogue set). For *_avx512.cpp
// translation units only: everything has internal linkage. Unverified on hardware here.
#include <immintrin.h>

#include "cpu/gemm/sgemm.h"
#include "cpu/simd/avx512.h"

namespace fastnn {
namespace {
namespace conv_act512 {

namespace v = simd_avx512;

inline __m512 one() { return _mm512_set1_ps(1.0f); }
inline __m512 absv(__m512 x) { return _mm512_abs_ps(x); }

// Φ(x) and φ(x) from the tail Q(|x|).
inline __m512 normal_cdf(__m512 x, __m512* pdf) {
  const __m512 q = v::normal_tail(absv(x), pdf);
  const __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
  return _mm512_mask_sub_ps(q, pos, one(), q);
}
inline __m512 gelu_tanh_2u(__m512 x) {
  return _mm512_mul_ps(_mm512_set1_ps(2.0f * 0.79788456080286536f),
                       _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x), _mm512_mul_ps(x, x), x));
}
// σ(x) and σ'(x) = e/(1 + e)², e = e^{-|x|}.
inline __m512 sigmoid_and_grad(__m512 x, __m512* grad) {
  const __m512 e = v::exp(_mm512_sub_ps(_mm512_setzero_ps(), absv(x)));
  const __m512 r = _mm512_div_ps(one(), _mm512_add_ps(one(), e));
  const __m512 er = _mm512_mul_ps(e, r);
  *grad = _mm512_mul_ps(er, r);
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ), er, r);
}

template <Activation A>
inline __m512 act(__m512 x) {
  if constexpr (A == Activation::relu) return _mm512_max_ps(_mm512_setzero_ps(), x);  // NaN: 2nd operand
  else if constexpr (A == Activation::gelu) {
    __m512 pdf;
    return _mm512_mul_ps(x, normal_cdf(x, &pdf));
  } else if constexpr (A == Activation::gelu_tanh) return _mm512_mul_ps(x, v::sigmoid(gelu_tanh_2u(x)));
  else if constexpr (A == Activation::sigmoid) return v::sigmoid(x);
  else if constexpr (A == Activation::tanh) return v::tanh(x);
  else if constexpr (A == Activation::silu) return _mm512_mul_ps(x, v::sigmoid(x));
  else return x;
}

template <Activation A>
inline __m512 act_grad(__m512 x) {
  if constexpr (A == Activation::relu) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ), one());
  } else if constexpr (A == Activation::sigmoid) {
    __m512 g;
    sigmoid_and_grad(x, &g);
    return g;
  } else if constexpr (A == Activation::tanh) {
    const __m512 e = v::exp(_mm512_mul_ps(_mm512_set1_ps(-2.0f), absv(x)));
    const __m512 r = _mm512_div_ps(one(), _mm512_add_ps(one(), e));
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(4.0f), e), _mm512_mul_ps(r, r));
  } else if constexpr (A == Activation::silu) {
    __m512 g;
    const __m512 s = sigmoid_and_grad(x, &g);
    return _mm512_fmadd_ps(x, g, s);
  } else if constexpr (A == Activation::gelu) {
    __m512 pdf;
    const __m512 cdf = normal_cdf(x, &pdf);
    return _mm512_fmadd_ps(x, pdf, cdf);
  } else if constexpr (A == Activation::gelu_tanh) {
    __m512 g;
    const __m512 s = sigmoid_and_grad(gelu_tanh_2u(x), &g);
    const __m512 d2u = _mm512_mul_ps(_mm512_set1_ps(2.0f * 0.79788456080286536f),
                                     _mm512_fmadd_ps(_mm512_set1_ps(3.0f * 0.044715f), _mm512_mul_ps(x, x), one()));
    return _mm512_fmadd_ps(_mm512_mul_ps(x, g), d2u, s);
  } else {
    return one();
  }
}

}  // namespace conv_act512
}  // namespace
}  // namespace fastnn
