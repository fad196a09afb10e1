// The AVX-512 path of the depthwise-convolution and pooling leaf kernels without AVX-512 hardware:
// csrc/cpu/conv/depthwise_body.inc and csrc/cpu/pool/pool_body.inc instantiated with
// simd_avx512::VecF32 (plus the pool's deinterleave2, as in pool_avx512.cpp), every _mm512
// intrinsic routed to SIMDe's portable implementation, compared with the scalar (generic)
// instantiation: odd widths (masked tails, partial blocks of 1..4 vectors), strides 1-3,
// dilation, padding, a channel plane with Inf/NaN, max-pool ties and NaN (values and int64
// indices must match exactly). Run by tests/test_avx512_emulation.py when the SIMDe headers are
// installed:
//   g++ -std=c++17 -O1 -Icsrc tools/avx512_emulation/check_conv_pool.cpp -o check && ./check
// Mutation-checked: a short tail count in the depthwise storen, a dropped keep_first in its
// weight gradient, even/odd swapped in deinterleave2 and a dropped tail in mean_rows each make it
// fail. (Mistakes shared by both twins are the pytest parity tests' job.)
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

// Intrinsics SIMDe 0.7.4 lacks, written from Intel's definitions (masked-off lanes are never
// touched).
static inline float shim3_reduce_add_ps(simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
static inline float shim3_reduce_max_ps(simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  float s = t[0];
  for (float x : t) s = x > s ? x : s;
  return s;
}
static inline simde__m512 shim3_maskz_loadu_ps(simde__mmask16 k, const void* p) {
  float t[16] = {};
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) t[i] = static_cast<const float*>(p)[i];
  return simde_mm512_loadu_ps(t);
}
static inline void shim3_mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) static_cast<float*>(p)[i] = t[i];
}
static inline simde__m512i shim3_maskz_loadu_epi32(simde__mmask16 k, const void* p) {
  int32_t t[16] = {};
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) t[i] = static_cast<const int32_t*>(p)[i];
  return simde_mm512_loadu_si512(t);
}
static inline void shim3_mask_storeu_epi32(void* p, simde__mmask16 k, simde__m512i v) {
  int32_t t[16];
  simde_mm512_storeu_si512(t, v);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) static_cast<int32_t*>(p)[i] = t[i];
}
#define _mm512_reduce_add_ps shim3_reduce_add_ps
#define _mm512_reduce_max_ps shim3_reduce_max_ps
#define _mm512_maskz_loadu_ps shim3_maskz_loadu_ps
#define _mm512_mask_storeu_ps shim3_mask_storeu_ps
#define _mm512_maskz_loadu_epi32 shim3_maskz_loadu_epi32
#define _mm512_mask_storeu_epi32 shim3_mask_storeu_epi32

#include "cpu/conv/depthwise.h"
#include "cpu/pool/pool.h"
#include "cpu/pool/pool_vec_avx512.h"
#include "cpu/simd/scalar.h"

namespace fastnn {
namespace {

using V16 = PoolVecAvx512;  // VecF32 + deinterleave2, as pool_avx512.cpp
struct V1 : simd_scalar::VecF32 {
  static void deinterleave2(const float* s, reg& p0, reg& p1) { p0 = s[0], p1 = s[1]; }
};

#include "cpu/conv/depthwise_body.inc"
#include "cpu/pool/pool_body.inc"

int failures = 0, cases = 0;
std::mt19937 rng(11);

std::vector<float> rnd(size_t n, int lo = -1, int hi = 1, bool ints = false) {
  std::uniform_real_distribution<float> d{float(lo), float(hi)};
  std::uniform_int_distribution<int> di{lo, hi};
  std::vector<float> v(n);
  for (auto& x : v) x = ints ? float(di(rng)) : d(rng);
  return v;
}

void compare(const char* what, const float* a, const float* b, size_t n, double tol) {
  ++cases;
  double scale = 0;
  for (size_t i = 0; i < n; ++i) scale = std::isfinite(b[i]) ? std::max(scale, double(std::fabs(b[i]))) : scale;
  for (size_t i = 0; i < n; ++i) {
    const bool na = std::isnan(a[i]), nb = std::isnan(b[i]);
    const bool bad = na != nb || (!na && (std::isinf(a[i]) || std::isinf(b[i]) ? a[i] != b[i]
                                                                              : std::fabs(double(a[i]) - double(b[i])) >
                                                                                    tol * (scale + 1e-30)));
    if (bad) {
      std::printf("FAIL %s at %zu: avx512 %.9g vs scalar %.9g\n", what, i, a[i], b[i]);
      ++failures;
      return;
    }
  }
}

// One depthwise plane, forward (and an accumulating second pass) and the weight gradient.
void check_depthwise(int64_t H, int64_t W, int nr, int ns, int64_t sy, int64_t sx, int64_t dh, int64_t dw, int64_t pt,
                     int64_t pl, bool nonfinite) {
  std::vector<int64_t> ry(static_cast<size_t>(nr)), cx(static_cast<size_t>(ns));
  for (int i = 0; i < nr; ++i) ry[size_t(i)] = i * dh - pt;
  for (int j = 0; j < ns; ++j) cx[size_t(j)] = j * dw - pl;
  const int64_t OH = (H + 2 * pt - dh * (nr - 1) - 1) / sy + 1, OW = (W + 2 * pl - dw * (ns - 1) - 1) / sx + 1;
  if (OH < 1 || OW < 1) return;
  auto x = rnd(size_t(H * W)), wt = rnd(size_t(nr * ns)), gy = rnd(size_t(OH * OW));
  if (nonfinite) x[size_t(H * W - 1)] = INFINITY, x[size_t((H / 2) * W)] = NAN;
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<float> y16(size_t(OH * OW + 5), 7.0f), y1(size_t(OH * OW + 5), 7.0f);
    DwPlane p{x.data(), W, H, W, y16.data(), OW, 1, OH, OW, sy, sx, nr, ns, ry.data(), cx.data(), wt.data(), 0.25f,
              pass == 1, nullptr};
    std::vector<float> s16(size_t(dw_scratch<V16>(p))), s1(size_t(dw_scratch<V1>(p)));
    p.scratch = s16.data();
    dw_plane<V16>(p);
    p.out = y1.data(), p.scratch = s1.data();
    dw_plane<V1>(p);
    compare(pass ? "depthwise plane (accumulate)" : "depthwise plane", y16.data(), y1.data(), y16.size(), 1e-5);
  }
  double a16[64] = {}, a1[64] = {};
  DwWgradPlane q{gy.data(), OH, OW, x.data(), H, W, sy, sx, nr, ns, ry.data(), cx.data(), a16, nullptr};
  std::vector<float> s16(size_t(dw_wgrad_scratch<V16>(q))), s1(size_t(dw_wgrad_scratch<V1>(q)));
  q.scratch = s16.data();
  dw_wgrad<V16>(q);
  q.acc = a1, q.scratch = s1.data();
  dw_wgrad<V1>(q);
  float f16[64], f1[64];
  for (int t = 0; t < nr * ns; ++t) f16[t] = float(a16[t]), f1[t] = float(a1[t]);
  compare("depthwise weight gradient", f16, f1, size_t(nr * ns), 1e-5);
}

void check_max_pool(int64_t H, int64_t W, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  Pool2dGeometry g;
  g.N = g.C = 1, g.H = H, g.W = W, g.kh = g.kw = k, g.sh = g.sw = s, g.ph = g.pw = p, g.dh = g.dw = d;
  auto out = [&](int64_t L) {
    const int64_t num = L + 2 * p - d * (k - 1) - 1;
    int64_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (ceil_mode && (o - 1) * s >= L + p) --o;
    return o;
  };
  if (H + 2 * p < d * (k - 1) + 1 || W + 2 * p < d * (k - 1) + 1) return;
  g.Ho = out(H), g.Wo = out(W);
  auto x = rnd(size_t(H * W), -2, 2, true);  // many ties
  x[size_t(W / 2)] = NAN, x[size_t(H * W - 1)] = -INFINITY;
  if (H * W > 6) x[size_t(H * W - 5)] = NAN;
  for (int with_ind = 0; with_ind < 2; ++with_ind) {
    const size_t n = size_t(g.Ho * g.Wo);
    std::vector<float> y16(n), y1(n), s16(size_t(mp_scratch<V16>(g))), s1(size_t(mp_scratch<V1>(g)));
    std::vector<int64_t> i16(n, -7), i1(n, -7);
    mp_plane_any<V16>(g, x.data(), y16.data(), with_ind ? i16.data() : nullptr, s16.data());
    mp_plane_any<V1>(g, x.data(), y1.data(), with_ind ? i1.data() : nullptr, s1.data());
    ++cases;
    for (size_t i = 0; i < n; ++i) {
      const bool same = (std::isnan(y16[i]) && std::isnan(y1[i])) || y16[i] == y1[i];
      if (!same || i16[i] != i1[i]) {
        std::printf("FAIL max_pool H=%lld W=%lld k=%lld s=%lld p=%lld d=%lld at %zu: avx512 %g (%lld) vs scalar %g (%lld)\n",
                    (long long)H, (long long)W, (long long)k, (long long)s, (long long)p, (long long)d, i, y16[i],
                    (long long)i16[i], y1[i], (long long)i1[i]);
        ++failures;
        break;
      }
    }
  }
}

}  // namespace
}  // namespace fastnn

int main() {
  using namespace fastnn;
  for (int64_t W : {1, 5, 13, 16, 17, 28, 33, 64, 70, 129})
    for (int64_t s : {1, 2}) {
      check_depthwise(9, W, 3, 3, s, s, 1, 1, 1, 1, false);
      check_depthwise(7, W, 5, 5, s, s, 2, 2, 4, 4, W % 2 == 1);
      check_depthwise(6, W, 1, 7, 1, s, 1, 1, 0, 3, true);
    }
  for (int64_t W : {1, 2, 7, 16, 31, 32, 33, 65, 112, 131})
    for (int64_t k : {1, 2, 3, 4})
      for (int64_t s : {1, 2, 3})
        for (int64_t p = 0; p <= k / 2; ++p)
          for (bool ceil_mode : {false, true}) {
            check_max_pool(5, W, k, s, p, 1, ceil_mode);
            check_max_pool(6, W, k, s, p, 2, ceil_mode);
          }
  for (int64_t L : {1, 7, 15, 16, 17, 31, 32, 33, 49, 196, 3136}) {
    const int64_t rows = 5;
    auto x = rnd(size_t(rows * L));
    std::vector<float> y16(rows), y1(rows);
    mean_rows<V16>(x.data(), rows, L, y16.data());
    mean_rows<V1>(x.data(), rows, L, y1.data());
    compare("mean_rows", y16.data(), y1.data(), size_t(rows), 1e-5);
  }
  std::printf("%d cases, %d failures\n", cases, failures);
  return failures ? 1 : 0;
}
