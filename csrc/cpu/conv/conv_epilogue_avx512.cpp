// Bias + activation on output tiles, AVX-512. Compiled and dispatched; unverified on hardware
// here (no AVX-512 machine).
#include <immintrin.h>

#include "cpu/conv/conv_act_avx512.h"
#include "cpu/conv/conv_epilogue.h"

namespace fastnn {
namespace {

template <Activation A>
void epilogue(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias) {
  for (int i = 0; i < m; ++i) {
    float* ci = c + i * rs;
    const __m512 b = _mm512_set1_ps(bias ? bias[i] : 0.0f);
    for (int j0 = 0; j0 < n; j0 += 16) {
      const int nj = n - j0 < 16 ? n - j0 : 16;
      const __mmask16 mask = __mmask16((1u << nj) - 1u);
      if (cs == 1) {
        const __m512 x = _mm512_maskz_loadu_ps(mask, ci + j0);
        _mm512_mask_storeu_ps(ci + j0, mask, conv_act512::act<A>(_mm512_add_ps(x, b)));
      } else {
        alignas(64) float t[16] = {};
        for (int j = 0; j < nj; ++j) t[j] = ci[(j0 + j) * cs];
        _mm512_store_ps(t, conv_act512::act<A>(_mm512_add_ps(_mm512_load_ps(t), b)));
        for (int j = 0; j < nj; ++j) ci[(j0 + j) * cs] = t[j];
      }
    }
  }
}

}  // namespace

void conv_epilogue_avx512(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias, Activation a) {
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
