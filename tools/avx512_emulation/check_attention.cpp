// The AVX-512 leaf kernels of CPU flash attention (csrc/cpu/attention/kernels_avx512.cpp) without
// AVX-512 hardware: every _mm512 intrinsic routed to SIMDe's portable implementation
// (SIMDE_ENABLE_NATIVE_ALIASES, compiled without -mavx512f), each leaf compared with the generic
// reference twin (kernels_ref.cpp) on odd sizes (register-tile and panel tails in every dimension),
// every mask kind, causal thresholds that cut through lane groups, fully masked rows, NaN scores;
// and the exp2_softmax vector math of both ISAs checked against float64 exp2 in ulps.
// Run by tests/test_attention_avx512_emulation.py when the SIMDe headers are installed:
//   g++ -std=c++17 -O0 -mavx2 -mfma -Icsrc tools/avx512_emulation/check_attention.cpp \
//       csrc/cpu/attention/kernels_ref.cpp -o check && ./check
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

// Intrinsics SIMDe 0.7.4 lacks, written from Intel's definitions (masked-off lanes are never touched).
static inline float attn_shim_reduce_add_ps(simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
static inline float attn_shim_reduce_max_ps(simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  float s = t[0];
  for (float x : t) s = x > s ? x : s;
  return s;
}
static inline simde__m512 attn_shim_maskz_loadu_ps(simde__mmask16 k, const void* p) {
  float t[16] = {};
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) t[i] = static_cast<const float*>(p)[i];
  return simde_mm512_loadu_ps(t);
}
static inline void attn_shim_mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) static_cast<float*>(p)[i] = t[i];
}
static inline simde__m512i attn_shim_cvtps_epi32(simde__m512 v) {  // round to nearest even; NaN, overflow → INT_MIN
  float t[16];
  int32_t r[16];
  simde_mm512_storeu_ps(t, v);
  for (int i = 0; i < 16; ++i) {
    const float x = std::nearbyint(t[i]);
    r[i] = (x >= -2147483648.0f && x < 2147483648.0f) ? int32_t(x) : INT32_MIN;
  }
  return simde_mm512_loadu_si512(r);
}
static inline simde__m256 attn_shim_extractf32x8_ps(simde__m512 v, int imm) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  return simde_mm256_loadu_ps(t + 8 * (imm & 1));
}
static inline float attn_shim_cvtss_f32(simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  return t[0];
}
#define _mm512_cvtss_f32 attn_shim_cvtss_f32
#define _mm512_cvtps_epi32 attn_shim_cvtps_epi32
#define _mm512_extractf32x8_ps attn_shim_extractf32x8_ps
#define _mm512_reduce_add_ps attn_shim_reduce_add_ps
#define _mm512_reduce_max_ps attn_shim_reduce_max_ps
#define _mm512_maskz_loadu_ps attn_shim_maskz_loadu_ps
#define _mm512_mask_storeu_ps attn_shim_mask_storeu_ps

#include "cpu/attention/kernels_avx512.cpp"
#include "cpu/simd/avx2.h"

using namespace fastnn::attn;

namespace {

int failures = 0, cases = 0;
std::mt19937 rng(11);

std::vector<float> rnd(size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n + 16);  // slack: 64-byte alignment offset below
  for (auto& x : v) x = d(rng);
  return v;
}

// 64-byte aligned buffer of n floats.
struct Buf {
  std::vector<float> store;
  float* p;
  explicit Buf(size_t n, float fill = 0.0f) : store(n + 16, fill) {
    p = store.data();
    while (reinterpret_cast<uintptr_t>(p) % 64) ++p;
  }
};

// |a - b| <= tol·(max|b| + 1) elementwise, NaN where the other is NaN, equal infinities.
void compare(const char* what, const float* a, const float* b, size_t n, double tol) {
  ++cases;
  double scale = 0;
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(b[i])) scale = std::fmax(scale, std::fabs(double(b[i])));
  for (size_t i = 0; i < n; ++i) {
    const bool na = std::isnan(a[i]), nb = std::isnan(b[i]);
    const bool bad = na != nb || (!na && std::isinf(b[i]) && a[i] != b[i]) ||
                     (!na && std::isfinite(b[i]) && std::fabs(double(a[i]) - double(b[i])) > tol * (scale + 1.0));
    if (bad) {
      std::printf("FAIL %s at %zu: avx512 %.9g vs generic %.9g\n", what, i, a[i], b[i]);
      ++failures;
      return;
    }
  }
}

int64_t pad(int64_t n, int64_t m) { return (n + m - 1) / m * m; }

// ---- gemm ---------------------------------------------------------------------------------------

void check_gemm() {
  const Leaves &x = leaves_avx512(), &r = leaves_generic();
  for (int64_t m : {1, 3, 6, 7, 8, 9, 13, 17})
    for (int64_t n : {16, 32, 48, 64, 112, 128, 192})
      for (int64_t k : {1, 5, 64, 67})
        for (int mode = 0; mode < 3; ++mode) {
          const int64_t lda = k + 3, ldb = n + 16, ldc = n + 16;
          auto a = rnd(static_cast<size_t>(m * lda));
          Buf b(static_cast<size_t>(k * ldb)), c0(static_cast<size_t>(m * ldc)), alpha(static_cast<size_t>(n));
          auto bv = rnd(static_cast<size_t>(k * ldb)), cv = rnd(static_cast<size_t>(m * ldc)), av = rnd(static_cast<size_t>(n), 0.0f, 1.0f);
          std::memcpy(b.p, bv.data(), sizeof(float) * k * ldb);
          std::memcpy(c0.p, cv.data(), sizeof(float) * m * ldc);
          std::memcpy(alpha.p, av.data(), sizeof(float) * n);
          Buf cx(static_cast<size_t>(m * ldc)), cr(static_cast<size_t>(m * ldc));
          std::memcpy(cx.p, c0.p, sizeof(float) * m * ldc);
          std::memcpy(cr.p, c0.p, sizeof(float) * m * ldc);
          // A read both ways: rows along k (rsa = lda, ksa = 1) and transposed (rsa = 1, ksa = m).
          const bool trans = (m + k) % 2;
          const int64_t rsa = trans ? 1 : lda, ksa = trans ? m : 1;
          x.gemm(m, n, k, a.data(), rsa, ksa, b.p, ldb, cx.p, ldc, GemmMode(mode), alpha.p);
          r.gemm(m, n, k, a.data(), rsa, ksa, b.p, ldb, cr.p, ldc, GemmMode(mode), alpha.p);
          compare("gemm", cx.p, cr.p, static_cast<size_t>(m * ldc), 1e-5);
        }
}

// ---- attend (fused forward step) ----------------------------------------------------------------

void check_attend() {
  const Leaves &x = leaves_avx512(), &r = leaves_generic();
  const int64_t bk = x.bk;
  struct Case { int64_t nk, d, dv, n; int mask; };  // mask: 0 none, 1 bias row, 2 bias tile, 3 causal, 4 all
  const Case cs[] = {{64, 64, 64, 96, 0}, {1, 16, 16, 16, 0}, {13, 59, 37, 48, 1}, {64, 128, 128, 64, 2},
                     {33, 100, 98, 80, 3}, {7, 8, 9, 112, 4}, {64, 255, 200, 32, 3}, {40, 24, 31, 144, 4}};
  for (const Case& c : cs) {
    const int64_t ldq = c.n + 16, ldo = c.n + 16, ldk = c.d + 5, ldv = c.dv + 3;
    auto k = rnd(static_cast<size_t>(c.nk * ldk)), v = rnd(static_cast<size_t>(c.nk * ldv));
    Buf qt(static_cast<size_t>(c.d * ldq)), ox(static_cast<size_t>(c.dv * ldo)), orf(static_cast<size_t>(c.dv * ldo));
    auto qv = rnd(static_cast<size_t>(c.d * ldq), -3.0f, 3.0f);
    std::memcpy(qt.p, qv.data(), sizeof(float) * c.d * ldq);
    Buf mx(static_cast<size_t>(c.n)), lx(static_cast<size_t>(c.n)), mr(static_cast<size_t>(c.n)), lr(static_cast<size_t>(c.n));
    Buf sx(static_cast<size_t>(bk * x.panel)), sr(static_cast<size_t>(bk * r.panel));
    std::vector<float> bias_row(static_cast<size_t>(c.nk)), bias_tile(static_cast<size_t>(c.nk * c.n));
    for (int64_t j = 0; j < c.nk; ++j) bias_row[j] = (j % 5 == 0) ? -INFINITY : 0.3f * float(j % 3);
    for (size_t i = 0; i < bias_tile.size(); ++i) bias_tile[i] = (i % 7 == 0) ? -INFINITY : 0.1f * float(i % 4);
    // Three successive key blocks: the running max rises, stays, and (block 2) a lane group starts late.
    for (int64_t i = 0; i < c.n; ++i) mx.p[i] = mr.p[i] = -INFINITY, lx.p[i] = lr.p[i] = 0.0f;
    for (size_t i = 0; i < static_cast<size_t>(c.dv * ldo); ++i) ox.p[i] = orf.p[i] = 0.0f;
    for (int blk = 0; blk < 3; ++blk) {
      FwdBlock f{c.nk, c.d, c.dv, c.n, k.data(), ldk, v.data(), ldv, qt.p, ldq, ox.p, ldo, mx.p, lx.p, sx.p,
                 nullptr, nullptr, c.n, kNoCausal};
      if (c.mask == 1 || c.mask == 4) f.bias_row = bias_row.data();
      if (c.mask == 2 || c.mask == 4) f.bias_tile = bias_tile.data();
      if (c.mask >= 3) f.causal_thr = blk == 2 ? c.n / 2 + 3 : 5 - 3 * blk;  // through the middle of a lane group
      if (blk == 1) qt.p[3 * ldq + 1] = NAN;  // a NaN score poisons its lane, nothing else
      x.attend(f);
      f.ot = orf.p, f.m = mr.p, f.l = lr.p, f.s = sr.p;
      r.attend(f);
      compare("attend m", mx.p, mr.p, static_cast<size_t>(c.n), 1e-6);
      compare("attend l", lx.p, lr.p, static_cast<size_t>(c.n), 2e-5);
      compare("attend O", ox.p, orf.p, static_cast<size_t>(c.dv * ldo), 2e-5);
    }
  }
}

// ---- softmax_bwd ----------------------------------------------------------------------------------

void check_softmax_bwd() {
  const Leaves &x = leaves_avx512(), &r = leaves_generic();
  for (int64_t nk : {1, 17, 64})
    for (int64_t n : {16, 48, 80})
      for (int mask = 0; mask < 4; ++mask) {
        const int64_t lds = n + 16;
        auto s0 = rnd(static_cast<size_t>(nk * lds), -4.0f, 4.0f), dp0 = rnd(static_cast<size_t>(nk * lds));
        Buf sx(static_cast<size_t>(nk * lds)), sr(static_cast<size_t>(nk * lds)), dx(static_cast<size_t>(nk * lds)), dr(static_cast<size_t>(nk * lds));
        std::memcpy(sx.p, s0.data(), sizeof(float) * nk * lds);
        std::memcpy(sr.p, s0.data(), sizeof(float) * nk * lds);
        std::memcpy(dx.p, dp0.data(), sizeof(float) * nk * lds);
        std::memcpy(dr.p, dp0.data(), sizeof(float) * nk * lds);
        Buf lse(static_cast<size_t>(n)), delta(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) lse.p[i] = i % 9 == 0 ? INFINITY : 4.0f + 0.01f * float(i), delta.p[i] = 0.1f * float(i % 5);
        std::vector<float> bias_row(static_cast<size_t>(nk), -0.5f), bias_tile(static_cast<size_t>(nk * n), 0.25f);
        bias_row[0] = -INFINITY;
        ScoreBlock b{sx.p, lds, nk, n, mask == 1 ? bias_row.data() : nullptr, mask == 2 ? bias_tile.data() : nullptr, n,
                     mask == 3 ? 7 : kNoCausal};
        x.softmax_bwd(b, lse.p, delta.p, dx.p, lds);
        b.s = sr.p;
        r.softmax_bwd(b, lse.p, delta.p, dr.p, lds);
        compare("softmax_bwd P", sx.p, sr.p, static_cast<size_t>(nk * lds), 1e-6);
        compare("softmax_bwd dS", dx.p, dr.p, static_cast<size_t>(nk * lds), 1e-6);
      }
}

// ---- decode ---------------------------------------------------------------------------------------

void check_decode() {
  const Leaves &x = leaves_avx512(), &r = leaves_generic();
  for (int rows : {1, 3, 8})
    for (int64_t nk : {1, 15, 16, 100})
      for (int64_t d : {16, 37, 128})
        for (int masked = 0; masked < 2; ++masked) {
          const int64_t dv = d + 3, ldq = pad(d, 16), ldk = d + 1, ldv = dv + 2, lds = pad(nk, 16), ldo = pad(dv, 16);
          auto qv = rnd(static_cast<size_t>(rows * ldq)), k = rnd(static_cast<size_t>(nk * ldk)), v = rnd(static_cast<size_t>(nk * ldv));
          Buf q(static_cast<size_t>(rows * ldq));
          for (int rr = 0; rr < rows; ++rr)
            for (int64_t t = 0; t < ldq; ++t) q.p[rr * ldq + t] = t < d ? qv[rr * ldq + t] : 0.0f;
          auto bias = rnd(static_cast<size_t>(rows * nk));
          std::vector<int64_t> limit(static_cast<size_t>(rows));
          for (int rr = 0; rr < rows; ++rr) limit[rr] = rr == 1 ? 0 : nk - rr;  // row 1 sees no key
          Buf sx(static_cast<size_t>(rows * lds)), sr(static_cast<size_t>(rows * lds)), ox(static_cast<size_t>(rows * ldo)), orf(static_cast<size_t>(rows * ldo));
          std::vector<float> mx(rows, -INFINITY), lx(rows, 0.0f), mr(rows, -INFINITY), lr(rows, 0.0f);
          DecodeBlock b{rows, nk, d, dv, q.p, ldq, k.data(), ldk, v.data(), ldv,
                        masked ? bias.data() : nullptr, nk, masked ? limit.data() : nullptr, sx.p, lds,
                        mx.data(), lx.data(), ox.p, ldo};
          x.decode(b);
          b.s = sr.p, b.m = mr.data(), b.l = lr.data(), b.o = orf.p;
          r.decode(b);
          compare("decode m", mx.data(), mr.data(), static_cast<size_t>(rows), 1e-6);
          compare("decode l", lx.data(), lr.data(), static_cast<size_t>(rows), 1e-5);
          std::vector<float> a(static_cast<size_t>(rows * dv)), e(static_cast<size_t>(rows * dv));
          for (int rr = 0; rr < rows; ++rr)
            for (int64_t t = 0; t < dv; ++t) a[rr * dv + t] = ox.p[rr * ldo + t], e[rr * dv + t] = orf.p[rr * ldo + t];
          compare("decode o", a.data(), e.data(), a.size(), 1e-5);
        }
}

// ---- query block transposes ----------------------------------------------------------------------

void check_transposes() {
  const Leaves &x = leaves_avx512(), &r = leaves_generic();
  for (int64_t n : {1, 8, 13, 16, 35, 96})
    for (int64_t D : {1, 7, 8, 64, 59}) {
      const int64_t sl = D + 3, ld = pad(n, 16) + 16;
      auto src = rnd(static_cast<size_t>(n * sl));
      Buf tx(size_t(D * ld), 7.0f), tr(size_t(D * ld), 7.0f);
      x.pack_transposed(src.data(), sl, n, D, 0.5f, tx.p, ld);
      r.pack_transposed(src.data(), sl, n, D, 0.5f, tr.p, ld);
      // The generic twin pads lanes to 8, AVX-512 to 16: compare the first round_up(n, 8) lanes.
      for (int64_t t = 0; t < D; ++t) compare("pack_transposed", tx.p + t * ld, tr.p + t * ld, static_cast<size_t>(pad(n, 8)), 0.0);
      std::vector<float> rowscale(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) rowscale[i] = i % 4 == 1 ? 0.0f : 1.0f / float(i + 1);
      tx.p[0] = INFINITY;  // a zero row scale still gives exactly 0
      std::vector<float> ux(static_cast<size_t>(n * sl), 9.0f), ur(static_cast<size_t>(n * sl), 9.0f);
      x.unpack_transposed(tx.p, ld, n, D, rowscale.data(), ux.data(), sl);
      r.unpack_transposed(tx.p, ld, n, D, rowscale.data(), ur.data(), sl);
      compare("unpack_transposed", ux.data(), ur.data(), ux.size(), 0.0);
    }
}

// ---- exp2_softmax, both ISAs, in ulps against float64 exp2 ----------------------------------------

double ulps(float got, double want) {
  const double tiny = 1.1754943508222875e-38;
  const double spacing = std::fabs(want) < tiny ? tiny : double(std::nextafter(float(want), INFINITY) - float(want));
  return std::fabs(double(got) - want) / spacing;
}

void check_exp2() {
  std::vector<float> xs;
  for (int i = 0; i <= 400000; ++i) xs.push_back(-130.0f + 257.0f * float(i) / 400000.0f);  // [-130, 127]
  for (float s : {-0.0f, 0.0f, -1e-30f, 1e-30f, -126.0f, -126.5f, -127.0f, -127.5f, 126.99f, 127.0f, 127.5f, 300.0f})
    xs.push_back(s);
  while (xs.size() % 16) xs.push_back(0.0f);
  double worst8 = 0, worst16 = 0;
  for (size_t i = 0; i < xs.size(); i += 16) {
    float y16[16], y8[16];
    _mm512_storeu_ps(y16, fastnn::simd_avx512::exp2_softmax(_mm512_loadu_ps(&xs[i])));
#if defined(__AVX2__) && defined(__FMA__)
    _mm256_storeu_ps(y8, fastnn::simd_avx2::exp2_softmax(_mm256_loadu_ps(&xs[i])));
    _mm256_storeu_ps(y8 + 8, fastnn::simd_avx2::exp2_softmax(_mm256_loadu_ps(&xs[i + 8])));
#else
    std::memcpy(y8, y16, sizeof(y8));
#endif
    for (int t = 0; t < 16; ++t) {
      const double x = xs[i + t];
      if (x <= -127.0) {  // documented: exactly 0 at and below -127
        if (y16[t] != 0.0f || y8[t] != 0.0f) {
          std::printf("FAIL exp2_softmax(%.9g) = %.9g / %.9g, want 0\n", x, y16[t], y8[t]);
          ++failures;
        }
        continue;
      }
      const double want = std::exp2(x < 127.0 ? x : 127.0);  // saturates at 2^127
      if (x < -126.0) {  // denormal range: within 2^-126 absolute
        if (std::fabs(y16[t] - want) > 1.1754943508222875e-38 || std::fabs(y8[t] - want) > 1.1754943508222875e-38) {
          std::printf("FAIL exp2_softmax(%.9g) = %.9g / %.9g, want %.9g within 2^-126\n", x, y16[t], y8[t], want);
          ++failures;
        }
        continue;
      }
      worst16 = std::fmax(worst16, ulps(y16[t], want));
      worst8 = std::fmax(worst8, ulps(y8[t], want));
    }
  }
  float nan_in[16], nan_out[16];
  for (float& v : nan_in) v = NAN;
  _mm512_storeu_ps(nan_out, fastnn::simd_avx512::exp2_softmax(_mm512_loadu_ps(nan_in)));
  for (float v : nan_out)
    if (!std::isnan(v)) {
      std::printf("FAIL exp2_softmax(NaN) = %.9g\n", v);
      ++failures;
      break;
    }
  ++cases;
  std::printf("exp2_softmax worst: avx512 %.2f ulp, avx2 %.2f ulp (bound 2)\n", worst16, worst8);
  if (worst16 > 2.0 || worst8 > 2.0) {
    std::printf("FAIL exp2_softmax above 2 ulp\n");
    ++failures;
  }
}

}  // namespace

int main() {
  check_gemm();
  check_attend();
  check_softmax_bwd();
  check_decode();
  check_transposes();
  check_exp2();
  std::printf("%d cases, %d failures\n", cases, failures);
  return failures ? 1 : 0;
}
