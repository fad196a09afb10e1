// Bias + activation on output tiles, AVX2 (activations from simd/avx2.h, the GEMM epilogue's).
#include <immintrin.h>

#include "cpu/conv/conv_epilogue.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {

namespace v = simd_avx2;
namespace gact = simd_avx2::gemm_act;

template <Activation A>
inline __m256 act(__m256 x) {
  if constexpr (A == Activation::relu) return gact::relu(x);
  else if constexpr (A == Activation::gelu) return gact::gelu(x);
  else if constexpr (A == Activation::gelu_tanh) return gact::gelu_tanh(x);
  else if constexpr (A == Activation::sigmoid) return v::sigmoid(x);
  else if constexpr (A == Activation::tanh) return v::tanh(x);
  else if constexpr (A == Activation::silu) return gact::silu(x);
  else return x;
}

template <Activation A>
void epilogue(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias) {
  for (int i = 0; i < m; ++i) {
    float* ci = c + i * rs;
    const __m256 b = _mm256_set1_ps(bias ? bias[i] : 0.0f);
    if (cs == 1) {
      int j = 0;
      for (; j + 8 <= n; j += 8) _mm256_storeu_ps(ci + j, act<A>(_mm256_add_ps(_mm256_loadu_ps(ci + j), b)));
      if (j < n) {
        const __m256i mask = v::tail_mask(n - j);
        _mm256_maskstore_ps(ci + j, mask, act<A>(_mm256_add_ps(_mm256_maskload_ps(ci + j, mask), b)));
      }
    } else {
      for (int j0 = 0; j0 < n; j0 += 8) {
        alignas(32) float t[8] = {};
        const int nj = n - j0 < 8 ? n - j0 : 8;
        for (int j = 0; j < nj; ++j) t[j] = ci[(j0 + j) * cs];
        _mm256_store_ps(t, act<A>(_mm256_add_ps(_mm256_load_ps(t), b)));
        for (int j = 0; j < nj; ++j) ci[(j0 + j) * cs] = t[j];
      }
    }
  }
}

}  // namespace

void conv_epilogue_avx2(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias, Activation a) {
  switch (a) {
    case Activation::none:
      if (bias) epilogue<Activation::none>(c, rs, cs, m, n, bias);
      return;
    case Activation::relu: return epilogue<Activation::relu>(c, rs, cs, m, n, bias);
    case Activation::gelu: return epilogue<Activation::gelu>(c, rs, cs, m, n, bias);
    case Activation::gelu_tanh: return epilogue<Activation::gelu_tanh>(c, rs, cs, m, n, bias);
    case Activation::sigmoid: return epilogue<Activation::sigmoid>(c, rs, cs, m, n, bias);
    case Activation::tanh: return epilogue<Activation::tanh>(c, rs, cs, m, n, bias);
    case Activation::silu: return epilogue<Activation::silu>(c, rs, cs, m, n, bias);
  }
}

}  // namespace fastnn
