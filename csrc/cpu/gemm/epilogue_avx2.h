#pragma once
// Tile write-back with the fused epilogue, in AVX2 (8-lane chunks), for the micro-kernels of
// ukernel_avx2.cpp and ukernel_avx512.cpp: the kernel spills its accumulators to an aligned
// row-major MR×NR tile and calls write_back_general. Everything here has internal linkage
// (anonymous namespace), so each ISA translation unit keeps its own copy, compiled with its own
// flags — never shared through the linker.
#include <immintrin.h>

#include "cpu/gemm/ukernel.h"
#include "cpu/simd/avx2.h"

namespace fastnn {
namespace {

namespace v = simd_avx2;

namespace gact = simd_avx2::gemm_act;

template <Activation A>
inline __m256 act_forward(__m256 x) {
  if constexpr (A == Activation::relu) return gact::relu(x);
  else if constexpr (A == Activation::gelu) return gact::gelu(x);
  else if constexpr (A == Activation::gelu_tanh) return gact::gelu_tanh(x);
  else if constexpr (A == Activation::sigmoid) return v::sigmoid(x);
  else if constexpr (A == Activation::tanh) return v::tanh(x);
  else if constexpr (A == Activation::silu) return gact::silu(x);
  else return x;
}

template <Activation A>
inline __m256 act_grad(__m256 x) {
  if constexpr (A == Activation::relu) return gact::relu_grad(x);
  else if constexpr (A == Activation::gelu) return gact::gelu_grad(x);
  else if constexpr (A == Activation::gelu_tanh) return gact::gelu_tanh_grad(x);
  else if constexpr (A == Activation::sigmoid) return gact::sigmoid_grad(x);
  else if constexpr (A == Activation::tanh) return gact::tanh_grad(x);
  else if constexpr (A == Activation::silu) return gact::silu_grad(x);
  else return _mm256_set1_ps(1.0f);
}

// nh (1..8) floats at p[j*stride]; lanes ≥ nh are zero and their memory is never touched.
inline __m256 load_part(const float* p, int64_t stride, int nh, __m256i mask) {
  if (stride == 1) return nh == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask);
  alignas(32) float t[8] = {};
  for (int j = 0; j < nh; ++j) t[j] = p[j * stride];
  return _mm256_load_ps(t);
}

inline void store_part(float* p, int64_t stride, int nh, __m256i mask, __m256 x) {
  if (stride == 1) {
    if (nh == 8) _mm256_storeu_ps(p, x);
    else _mm256_maskstore_ps(p, mask, x);
    return;
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, x);
  for (int j = 0; j < nh; ++j) p[j * stride] = t[j];
}

// tile: the MR×NR product (row-major, 32-byte aligned). Writes the top-left m×n of C.
template <int NR, Activation A, bool Backward>
void write_back(const float* tile, float alpha, float beta, float* c, int64_t rs_c, int64_t cs_c, int m, int n,
                const SgemmTileEpilogue* ep) {
  const float* bias = ep ? ep->bias : nullptr;
  const bool per_row = ep && ep->bias_per_row;
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  for (int h = 0; h < NR / 8; ++h) {
    const int nh = n - 8 * h < 8 ? n - 8 * h : 8;
    if (nh <= 0) break;
    const __m256i mask = v::tail_mask(nh);
    const __m256 col_bias = (bias && !per_row) ? load_part(bias + 8 * h, 1, nh, mask) : _mm256_setzero_ps();
    for (int i = 0; i < m; ++i) {
      float* ci = c + i * rs_c + 8 * h * cs_c;
      __m256 z = _mm256_mul_ps(va, _mm256_load_ps(tile + i * NR + 8 * h));
      if (beta != 0.0f) z = _mm256_fmadd_ps(vb, load_part(ci, cs_c, nh, mask), z);
      if (bias) z = _mm256_add_ps(z, per_row ? _mm256_set1_ps(bias[i]) : col_bias);
      if constexpr (Backward) {
        const __m256 dy = load_part(ep->dy + i * ep->rs_dy + 8 * h * ep->cs_dy, ep->cs_dy, nh, mask);
        z = _mm256_mul_ps(dy, act_grad<A>(z));
      } else {
        z = act_forward<A>(z);
      }
      store_part(ci, cs_c, nh, mask, z);
    }
  }
}

template <int NR, bool Backward>
void write_back_dispatch(const float* tile, float alpha, float beta, float* c, int64_t rs_c, int64_t cs_c, int m,
                         int n, const SgemmTileEpilogue* ep) {
  switch (ep ? ep->act : Activation::none) {
    case Activation::none: return write_back<NR, Activation::none, Backward>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
    case Activation::relu: return write_back<NR, Activation::relu, Backward>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
    case Activation::gelu: return write_back<NR, Activation::gelu, Backward>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
    case Activation::gelu_tanh:
      return write_back<NR, Activation::gelu_tanh, Backward>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
    case Activation::sigmoid:
      return write_back<NR, Activation::sigmoid, Backward>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
    case Activation::tanh: return write_back<NR, Activation::tanh, Backward>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
    case Activation::silu: return write_back<NR, Activation::silu, Backward>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
  }
}

template <int NR>
__attribute__((noinline)) void write_back_general(const float* tile, float alpha, float beta, float* c, int64_t rs_c,
                                                  int64_t cs_c, int m, int n, const SgemmTileEpilogue* ep) {
  if (ep && ep->dy) write_back_dispatch<NR, true>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
  else write_back_dispatch<NR, false>(tile, alpha, beta, c, rs_c, cs_c, m, n, ep);
}

}  // namespace
}  // namespace fastnn
