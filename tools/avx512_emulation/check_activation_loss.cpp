// The AVX-512 path of the activation, softmax, loss, dropout and embedding kernels without AVX-512
// hardware: the bodies instantiated with VecAvx512 (csrc/cpu/activation/vec_ops.h) and the
// dropout_avx512 leaf, every _mm512 intrinsic routed to SIMDe's portable implementation
// (SIMDE_ENABLE_NATIVE_ALIASES, compiled without -mavx512f), checked against
//   - float64 libm, in ulps, for the vector math (the bounds tests/test_vector_math.py enforces),
//   - the scalar (generic) instantiation for every kernel: odd sizes, masked tails, misaligned
//     streaming outputs, NaN / inf,
//   - bit-exact equality with the generic twin for dropout masks and values and for row_add / row_copy / row_set.
// Run by tests/test_avx512_emulation_activation.py when the SIMDe headers are installed:
//   g++ -std=c++17 -O0 -mavx2 -mfma -Icsrc tools/avx512_emulation/check_activation_loss.cpp -o check && ./check
// -mfma matters: SIMDe then emulates the 512-bit FMAs with fused 256-bit ones, as the hardware fuses
// them (exp_neg_sq's exact splitting of a² relies on it; unfused, the tails of erfc lose ~60 ulp).
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

// Intrinsics SIMDe 0.7.4 lacks, written from Intel's definitions (masked-off lanes are never
// touched; the streaming store insists on its 64-byte alignment).
static inline float shim2_reduce_add_ps(simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
static inline float shim2_reduce_max_ps(simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  float s = t[0];
  for (float x : t) s = x > s ? x : s;
  return s;
}
static inline simde__m512 shim2_mask_loadu_ps(simde__m512 src, simde__mmask16 k, const void* p) {
  float t[16];
  simde_mm512_storeu_ps(t, src);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) t[i] = static_cast<const float*>(p)[i];
  return simde_mm512_loadu_ps(t);
}
static inline void shim2_mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 v) {
  float t[16];
  simde_mm512_storeu_ps(t, v);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) static_cast<float*>(p)[i] = t[i];
}
static inline void shim2_stream_ps(void* p, simde__m512 v) {
  if (reinterpret_cast<uintptr_t>(p) % 64) {
    std::fprintf(stderr, "FAIL stream_ps to a misaligned address\n");
    std::abort();
  }
  simde_mm512_storeu_ps(p, v);
}
static inline simde__m512 shim2_cvtepi32_ps(simde__m512i a) {
  int32_t t[16];
  float f[16];
  simde_mm512_storeu_si512(t, a);
  for (int i = 0; i < 16; ++i) f[i] = float(t[i]);
  return simde_mm512_loadu_ps(f);
}
#define _mm512_cvtepi32_ps shim2_cvtepi32_ps
#define _mm512_reduce_add_ps shim2_reduce_add_ps
#define _mm512_reduce_max_ps shim2_reduce_max_ps
#define _mm512_mask_loadu_ps shim2_mask_loadu_ps
#define _mm512_mask_storeu_ps shim2_mask_storeu_ps
#define _mm512_stream_ps shim2_stream_ps
// Arithmetic right shift of 32-bit lanes (SIMDe 0.7.4 lacks it; GCC's header defines the name as a
// macro when not optimizing, hence the #undef).
static inline simde__m512i shim2_srai_epi32(simde__m512i a, unsigned n) {
  int32_t t[16];
  simde_mm512_storeu_si512(t, a);
  for (int i = 0; i < 16; ++i) t[i] = n > 31 ? (t[i] < 0 ? -1 : 0) : t[i] >> n;
  return simde_mm512_loadu_si512(t);
}
#undef _mm512_srai_epi32
#define _mm512_srai_epi32 shim2_srai_epi32

#define FASTNN_AVX512_EMULATION 1
#include "cpu/activation/activation_body.h"
#include "cpu/embedding/row_add_body.h"
#include "cpu/loss/loss_body.h"
#include "cpu/softmax/softmax_body.h"
// the dropout leaves are plain functions: compile both twins into this program
#include "cpu/dropout/dropout_avx512.cpp"
#include "cpu/dropout/dropout_generic.cpp"

using namespace fastnn;

static int failures = 0, checks = 0;
static std::mt19937 rng(11);

static std::vector<float> rnd(size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Element-wise: NaN where the scalar twin has NaN, equal infinities, else within rtol of it
// (plus a floor of atol times the largest magnitude, for values that cancel to ~0).
static void compare(const char* what, int64_t n, const float* a, const float* b, double rtol, double atol = 1e-6,
                    double abs_floor = 0.0) {
  ++checks;
  double scale = 0;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(b[i])) scale = std::max(scale, double(std::fabs(b[i])));
  for (int64_t i = 0; i < n; ++i) {
    const bool na = std::isnan(a[i]), nb = std::isnan(b[i]);
    const bool ia = std::isinf(a[i]), ib = std::isinf(b[i]);
    bool bad = na != nb || ia != ib || (ia && a[i] != b[i]);
    if (!bad && !na && !ia)
      bad = std::fabs(double(a[i]) - double(b[i])) > rtol * std::fabs(double(b[i])) + std::max(atol * scale, abs_floor);
    if (bad) {
      std::printf("FAIL %s (n=%lld) at %lld: avx512 %.9g vs scalar %.9g\n", what, (long long)n, (long long)i, a[i], b[i]);
      ++failures;
      return;
    }
  }
}

static void compare(const char* what, const std::vector<float>& a, const std::vector<float>& b, double rtol) {
  compare(what, int64_t(a.size()), a.data(), b.data(), rtol);
}

// ---- vector math against float64 ---------------------------------------------------------------

static double ulps(float got, double want) {
  const double tiny = 1.17549435e-38;
  const double a = std::fabs(want);
  const double unit = a < tiny ? tiny : double(std::nextafter(float(a), INFINITY) - float(a));
  return std::fabs(double(got) - want) / unit;
}

static void check_vecmath() {
  struct Case {
    VecMathFn fn;
    const char* name;
    double lo, hi, bound;
    double (*ref)(double);
  };
  const Case cases[] = {
      {VecMathFn::exp, "exp", -87, 88, 2.0, [](double x) { return std::exp(x); }},
      {VecMathFn::log, "log", 1e-30, 1e30, 2.5, [](double x) { return std::log(x); }},
      {VecMathFn::log1p, "log1p", -0.999, 10, 2.5, [](double x) { return std::log1p(x); }},
      {VecMathFn::tanh, "tanh", -12, 12, 2.5, [](double x) { return std::tanh(x); }},
      {VecMathFn::sigmoid, "sigmoid", -87, 30, 3.0, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }},
      {VecMathFn::erf, "erf", -6, 6, 3.5, [](double x) { return std::erf(x); }},
      {VecMathFn::erfc, "erfc", -6, 9.2, 7.0, [](double x) { return std::erfc(x); }},
      {VecMathFn::normal_tail, "normal_tail", 0, 13, 7.0, [](double a) { return 0.5 * std::erfc(a / std::sqrt(2.0)); }},
      {VecMathFn::normal_pdf, "normal_pdf", 0, 13, 4.0,
       [](double a) { return std::exp(-0.5 * a * a) / std::sqrt(2.0 * M_PI); }},
      {VecMathFn::log1p_exp_neg, "log1p_exp_neg", 0, 87, 3.0, [](double a) { return std::log1p(std::exp(-a)); }},
  };
  const int64_t n = 100003;  // not a multiple of 16: a masked tail
  std::vector<float> x(n), y(n);
  for (const Case& c : cases) {
    const bool geometric = c.fn == VecMathFn::log;
    for (int64_t i = 0; i < n; ++i) {
      const double t = double(i) / double(n - 1);
      x[i] = float(geometric ? c.lo * std::pow(c.hi / c.lo, t) : c.lo + (c.hi - c.lo) * t);
    }
    vecmath<VecAvx512>(c.fn, x.data(), y.data(), n);
    ++checks;
    double worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double u = ulps(y[i], c.ref(double(x[i])));
      if (!(u <= worst)) worst = u, at = i;
    }
    if (!(worst <= c.bound)) {
      std::printf("FAIL vector %s: %.2f ulp at x=%.9g (bound %.1f)\n", c.name, worst, x[at], c.bound);
      ++failures;
    }
  }
  // special values: the AVX-512 path must agree with the scalar twin (libm) on NaN / inf / 0
  const float sp[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, -1.0f, 1e-45f, 3.4e38f, -3.4e38f, 100.0f, -100.0f};
  const int ns = int(sizeof(sp) / sizeof(sp[0]));
  for (VecMathFn f : {VecMathFn::exp, VecMathFn::log, VecMathFn::log1p, VecMathFn::tanh, VecMathFn::sigmoid,
                      VecMathFn::erf, VecMathFn::erfc}) {
    float a[16], b[16];
    vecmath<VecAvx512>(f, sp, a, ns);
    vecmath<VecScalar>(f, sp, b, ns);
    for (int i = 0; i < ns; ++i)  // exp flushes underflow (exp(-100)) to 0: compare that lane loosely
      if (std::isfinite(b[i]) && std::fabs(b[i]) < 1e-30f) a[i] = b[i] = 0.0f;
    compare("vector math special values", ns, a, b, 1e-6);
  }
}

// ---- activations -----------------------------------------------------------------------------------

static const char* const kFwdNames[kNumActKinds] = {"relu",      "leaky_relu", "gelu", "gelu_tanh",
                                                    "silu",      "sigmoid",    "tanh", "softplus"};
static const char* const kBwdNames[kNumActKinds] = {"relu_backward", "leaky_relu_backward", "gelu_backward",
                                                    "gelu_tanh_backward", "silu_backward", "sigmoid_backward",
                                                    "tanh_backward", "softplus_backward"};

static void check_activations() {
  const ActivationKernels& k16 = make_activation_kernels<VecAvx512>();
  const ActivationKernels& k1 = make_activation_kernels<VecScalar>();
  ActParams p;
  p.slope = 0.2f, p.beta = 1.5f, p.threshold = 10.0f;
  for (int64_t n : {1, 7, 15, 16, 17, 31, 33, 64, 65, 127, 129, 1000, 1031}) {
    auto x = rnd(size_t(n), -12.f, 12.f), g = rnd(size_t(n), -1.f, 1.f);
    const float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-30f, 88.0f, -88.0f, 1e30f, -1e30f};
    for (int64_t i = 0; i < n && i < 10; ++i) x[size_t(i * 7 % n)] = special[i];
    for (int kind = 0; kind < kNumActKinds; ++kind)
      for (int variant = 0; variant < 2; ++variant) {  // variant 1: streaming stores into a misaligned output
        const bool stream = variant == 1;
        std::vector<float> a(size_t(n + 17)), b(size_t(n + 17));
        k16.forward[kind](x.data(), a.data() + variant, n, p, stream);
        k1.forward[kind](x.data(), b.data() + variant, n, p, stream);
        compare(kFwdNames[kind], n, a.data() + variant, b.data() + variant, 2e-6);
        k16.backward[kind](g.data(), x.data(), a.data() + variant, n, p, stream);
        k1.backward[kind](g.data(), x.data(), b.data() + variant, n, p, stream);
        compare(kBwdNames[kind], n, a.data() + variant, b.data() + variant, 4e-6);
      }
    // backwards from the forward output y (sigmoid: y in [0, 1], tanh: y in [-1, 1]; specials too)
    static const char* const kOutNames[kNumActOutKinds] = {"sigmoid_backward(y)", "tanh_backward(y)"};
    auto y = rnd(size_t(n), -1.f, 1.f);
    const float yspecial[] = {NAN, 1.0f, -1.0f, 0.0f, -0.0f, 1e-30f, INFINITY, -INFINITY};
    for (int64_t i = 0; i < n && i < 8; ++i) y[size_t(i * 5 % n)] = yspecial[i];
    for (int kind = 0; kind < kNumActOutKinds; ++kind)
      for (int variant = 0; variant < 2; ++variant) {
        const bool stream = variant == 1;
        std::vector<float> a(size_t(n + 17)), b(size_t(n + 17));
        k16.backward_from_output[kind](g.data(), y.data(), a.data() + variant, n, stream);
        k1.backward_from_output[kind](g.data(), y.data(), b.data() + variant, n, stream);
        compare(kOutNames[kind], n, a.data() + variant, b.data() + variant, 1e-6);
      }
  }
}

// ---- softmax ---------------------------------------------------------------------------------------

static void check_softmax() {
  const SoftmaxKernels& k16 = make_softmax_kernels<VecAvx512>();
  const SoftmaxKernels& k1 = make_softmax_kernels<VecScalar>();
  for (int64_t C : {1, 7, 15, 16, 17, 33, 64, 100, 129, 1000, 4099})
    for (int log = 0; log < 2; ++log)
      for (int variant = 0; variant < 2; ++variant) {
        const bool stream = variant == 1;
        auto x = rnd(size_t(C), -20.f, 20.f), g = rnd(size_t(C), -1.f, 1.f);
        std::vector<float> a(size_t(C + 17)), b(size_t(C + 17)), s16(static_cast<size_t>(C)), s1(static_cast<size_t>(C));
        const std::vector<float> next = rnd(size_t(C), -1.f, 1.f);  // only prefetched
        k16.row(x.data(), a.data() + variant, C, log, stream, s16.data(), next.data());
        k1.row(x.data(), b.data() + variant, C, log, stream, s1.data(), nullptr);
        compare(log ? "log_softmax row" : "softmax row", C, a.data() + variant, b.data() + variant, 1e-5);
        const std::vector<float> y(b.begin() + variant, b.begin() + variant + C);
        k16.row_backward(g.data(), y.data(), a.data() + variant, C, log, stream, next.data(), g.data());
        k1.row_backward(g.data(), y.data(), b.data() + variant, C, log, stream, nullptr, nullptr);
        // dx = y (g - Σ g y): the sums run in other orders, so judge against |g|·|y| ≤ 1, not |dx|
        compare(log ? "log_softmax row backward" : "softmax row backward", C, a.data() + variant, b.data() + variant,
                1e-5, 1e-6, 1e-6);
      }
  // a NaN / +inf / all -inf slice: NaN everywhere in both
  for (float bad : {NAN, INFINITY}) {
    std::vector<float> x = rnd(37, -1.f, 1.f), a(37), b(37);
    x[20] = bad;
    k16.row(x.data(), a.data(), 37, false, false, nullptr, nullptr);
    k1.row(x.data(), b.data(), 37, false, false, nullptr, nullptr);
    compare("softmax row with NaN/inf", a, b, 1e-5);
  }
  // columns: C rows of L ≤ 64 lanes, row strides wider than L
  for (int L : {1, 5, 16, 17, 40, 64})
    for (int64_t C : {1, 3, 33})
      for (int log = 0; log < 2; ++log) {
        const int64_t ld = 70;
        auto x = rnd(size_t(C * ld), -10.f, 10.f), g = rnd(size_t(C * ld), -1.f, 1.f);
        std::vector<float> a(size_t(C * ld)), b(size_t(C * ld));
        k16.col(x.data(), ld, a.data(), ld, C, L, log);
        k1.col(x.data(), ld, b.data(), ld, C, L, log);
        compare("softmax columns", a, b, 1e-5);
        const std::vector<float> y = b;
        k16.col_backward(g.data(), ld, y.data(), ld, a.data(), ld, C, L, log);
        k1.col_backward(g.data(), ld, y.data(), ld, b.data(), ld, C, L, log);
        compare("softmax columns backward", a, b, 1e-5);
      }
}

// ---- losses ----------------------------------------------------------------------------------------

static void check_losses() {
  const LossKernels& k16 = make_loss_kernels<VecAvx512>();
  const LossKernels& k1 = make_loss_kernels<VecScalar>();
  for (int64_t C : {1, 7, 16, 17, 33, 129, 1000}) {
    auto x = rnd(size_t(C), -15.f, 15.f), w = rnd(size_t(C), 0.2f, 2.f);
    for (const float* wp : {static_cast<const float*>(nullptr), static_cast<const float*>(w.data())}) {
      float m16, s16, wx16, m1, s1, wx1;
      k16.ce_row_stats(x.data(), C, wp, &m16, &s16, &wx16, x.data());
      k1.ce_row_stats(x.data(), C, wp, &m1, &s1, &wx1, nullptr);
      compare("cross_entropy row stats", {m16, s16, wx16}, {m1, s1, wx1}, 1e-5);
      for (int variant = 0; variant < 2; ++variant) {  // variant 1: streaming into a misaligned output
        std::vector<float> a(size_t(C + 17)), b(size_t(C + 17)), sc16(static_cast<size_t>(C)), sc1(static_cast<size_t>(C));
        float gm16, gs16, gm1, gs1;
        k16.ce_row_grad(x.data(), a.data() + variant, C, 0.7f, 0.01f, wp, variant == 1, sc16.data(), x.data(), &gm16,
                        &gs16);
        k1.ce_row_grad(x.data(), b.data() + variant, C, 0.7f, 0.01f, wp, variant == 1, sc1.data(), nullptr, &gm1, &gs1);
        compare("cross_entropy row gradient", C, a.data() + variant, b.data() + variant, 1e-5);
        compare("cross_entropy row gradient stats", {gm16, gs16}, {gm1, gs1}, 1e-5);
      }
    }
  }
  for (int L : {1, 9, 16, 64})
    for (int64_t C : {1, 5, 40}) {
      const int64_t ld = 80;
      auto x = rnd(size_t(C * ld), -10.f, 10.f), w = rnd(size_t(C), 0.2f, 2.f);
      std::vector<float> m16(64), s16(64), wx16(64), m1(64), s1(64), wx1(64);
      k16.ce_col_stats(x.data(), ld, C, L, w.data(), m16.data(), s16.data(), wx16.data());
      k1.ce_col_stats(x.data(), ld, C, L, w.data(), m1.data(), s1.data(), wx1.data());
      compare("cross_entropy column stats m", L, m16.data(), m1.data(), 1e-6);
      compare("cross_entropy column stats s", L, s16.data(), s1.data(), 1e-5);
      compare("cross_entropy column stats wx", L, wx16.data(), wx1.data(), 1e-5);
      std::vector<float> ls(64), va(64), vb(64), a(size_t(C * ld)), b(size_t(C * ld));
      for (int l = 0; l < L; ++l) ls[l] = std::log(s1[l]), va[l] = 0.3f + 0.01f * l, vb[l] = 0.002f * l;
      k16.ce_col_backward(x.data(), ld, a.data(), ld, C, L, m1.data(), ls.data(), va.data(), vb.data(), w.data());
      k1.ce_col_backward(x.data(), ld, b.data(), ld, C, L, m1.data(), ls.data(), va.data(), vb.data(), w.data());
      compare("cross_entropy column backward", a, b, 1e-5);
    }
  for (int64_t n : {1, 7, 16, 17, 100, 1023, 1024, 1025, 5000}) {
    auto p = rnd(size_t(n), 0.0f, 1.0f), t = rnd(size_t(n), 0.f, 1.f), w = rnd(size_t(n), 0.5f, 2.f);
    auto x = rnd(size_t(n), -30.f, 30.f), pw = rnd(size_t(n), 0.5f, 3.f), g = rnd(size_t(n), -1.f, 1.f);
    p[0] = 0.0f;
    if (n > 1) p[1] = 1.0f;
    for (int hw = 0; hw < 2; ++hw) {
      const float* wp = hw ? w.data() : nullptr;
      std::vector<float> o16(static_cast<size_t>(n)), o1(static_cast<size_t>(n));
      int64_t bad16 = 0, bad1 = 0;
      const double s16 = k16.bce(p.data(), t.data(), wp, o16.data(), n, &bad16);
      const double s1 = k1.bce(p.data(), t.data(), wp, o1.data(), n, &bad1);
      compare("bce elements", o16, o1, 1e-5);
      compare("bce sum", {float(s16)}, {float(s1)}, 1e-5);
      if (bad16 != 0 || bad1 != 0) std::printf("FAIL bce counted %lld / %lld bad inputs\n", (long long)bad16, (long long)bad1), ++failures;
      for (const float* pwp : {static_cast<const float*>(nullptr), static_cast<const float*>(pw.data())}) {
        const double l16 = k16.bce_logits(x.data(), t.data(), wp, pwp, o16.data(), n);
        const double l1 = k1.bce_logits(x.data(), t.data(), wp, pwp, o1.data(), n);
        compare("bce_logits elements", o16, o1, 1e-5);
        compare("bce_logits sum", {float(l16)}, {float(l1)}, 1e-5);
        for (int variant = 0; variant < 2; ++variant)
          for (const float* gp : {static_cast<const float*>(nullptr), static_cast<const float*>(g.data())}) {
            std::vector<float> a(size_t(n + 17)), b(size_t(n + 17));
            k16.bce_logits_backward(gp, 0.3f, x.data(), t.data(), wp, pwp, a.data() + variant, n, variant == 1);
            k1.bce_logits_backward(gp, 0.3f, x.data(), t.data(), wp, pwp, b.data() + variant, n, variant == 1);
            compare("bce_logits backward", n, a.data() + variant, b.data() + variant, 4e-6);
            k16.bce_backward(gp, 0.3f, p.data(), t.data(), wp, a.data() + variant, n, variant == 1);
            k1.bce_backward(gp, 0.3f, p.data(), t.data(), wp, b.data() + variant, n, variant == 1);
            compare("bce backward", n, a.data() + variant, b.data() + variant, 1e-6);
          }
      }
    }
    std::vector<float> o16(static_cast<size_t>(n)), o1(static_cast<size_t>(n));
    compare("mse sum", {float(k16.mse(x.data(), t.data(), o16.data(), n))}, {float(k1.mse(x.data(), t.data(), o1.data(), n))}, 1e-5);
    compare("mse elements", o16, o1, 1e-6);
    for (int variant = 0; variant < 2; ++variant) {
      std::vector<float> a(size_t(n + 17)), b(size_t(n + 17));
      k16.mse_backward(g.data(), 0.5f, x.data(), t.data(), a.data() + variant, n, variant == 1);
      k1.mse_backward(g.data(), 0.5f, x.data(), t.data(), b.data() + variant, n, variant == 1);
      compare("mse backward", n, a.data() + variant, b.data() + variant, 1e-6);
    }
  }
  // inputs outside [0, 1] are counted on both paths
  std::vector<float> p = {0.5f, 1.5f, -0.1f, 0.2f, 2.0f, 0.9f, 0.1f, 0.3f, 0.4f, 0.6f, 0.7f, 0.8f, 0.05f, 0.15f, 0.25f, 0.35f, -3.f};
  std::vector<float> t(p.size(), 0.f), o(p.size());
  int64_t bad16 = 0, bad1 = 0;
  k16.bce(p.data(), t.data(), nullptr, o.data(), int64_t(p.size()), &bad16);
  k1.bce(p.data(), t.data(), nullptr, o.data(), int64_t(p.size()), &bad1);
  ++checks;
  if (bad16 != 4 || bad1 != 4) std::printf("FAIL bce out-of-range count %lld / %lld (want 4)\n", (long long)bad16, (long long)bad1), ++failures;
}

// ---- dropout and row_add: bit-exact with the generic twin ---------------------------------------------

static void check_dropout() {
  for (double prob : {0.0, 0.1, 0.5, 0.9, 1.0})
    for (int64_t start : {int64_t(0), int64_t(5), int64_t(63), int64_t(64), int64_t(1000), (int64_t(1) << 36) + 3})
      for (int64_t n : {1, 15, 16, 64, 65, 200, 1031}) {
        DropoutParams prm;
        prm.seed = 0x0123456789abcdefull;
        prm.offset = 77;
        prm.threshold = prob >= 1.0 ? kDropoutKeepNone : uint64_t(std::ceil(prob * 4294967296.0));
        prm.scale = prob >= 1.0 ? 0.0f : float(1.0 / (1.0 - prob));
        auto x = rnd(size_t(n), -1.f, 1.f);
        x[0] = NAN;
        for (int variant = 0; variant < 2; ++variant) {
          std::vector<float> y16(size_t(n + 17)), y1(size_t(n + 17));
          std::vector<uint8_t> m16(static_cast<size_t>(n)), m1(static_cast<size_t>(n));
          dropout_avx512(x.data(), y16.data() + variant, m16.data(), n, start, prm, variant == 1);
          dropout_generic(x.data(), y1.data() + variant, m1.data(), n, start, prm, variant == 1);
          ++checks;
          bool same = m16 == m1;
          for (int64_t i = 0; i < n && same; ++i) {
            const float a = y16[size_t(i + variant)], b = y1[size_t(i + variant)];
            same = (std::isnan(a) && std::isnan(b)) || a == b;
          }
          if (!same) {
            std::printf("FAIL dropout p=%g start=%lld n=%lld differs from the generic twin\n", prob, (long long)start,
                        (long long)n);
            ++failures;
          }
        }
      }
  const RowAddFn add16 = &row_add<VecAvx512>, add1 = &row_add<VecScalar>;
  for (int64_t n : {1, 15, 16, 17, 100, 1031}) {
    auto src = rnd(size_t(n), -1.f, 1.f), d16 = rnd(size_t(n), -1.f, 1.f);
    auto d1 = d16;
    add16(d16.data(), src.data(), n);
    add1(d1.data(), src.data(), n);
    compare("row_add", d16, d1, 0.0);
  }
  const RowCopyFn copy16 = &row_copy<VecAvx512>, copy1 = &row_copy<VecScalar>;
  for (int64_t n : {1, 15, 16, 17, 100, 1031})
    for (int variant = 0; variant < 4; ++variant) {  // odd variants stream; 2, 3: misaligned output
      auto src = rnd(size_t(n), -1.f, 1.f);
      std::vector<float> d16(size_t(n + 16)), d1(size_t(n + 16));
      const int off = variant / 2;
      copy16(d16.data() + off, src.data(), n, variant % 2 == 1);
      copy1(d1.data() + off, src.data(), n, variant % 2 == 1);
      compare("row_copy", d16, d1, 0.0);
    }
  const RowSetFn set16 = &row_set<VecAvx512>, set1 = &row_set<VecScalar>;
  for (int64_t n : {1, 15, 16, 17, 100, 1031})
    for (int variant = 0; variant < 4; ++variant) {  // as row_copy; -0 must come out +0 (0 + src)
      auto src = rnd(size_t(n), -1.f, 1.f);
      src[0] = -0.0f;
      std::vector<float> d16(size_t(n + 16), 5.0f), d1(size_t(n + 16), 5.0f);
      const int off = variant / 2;
      set16(d16.data() + off, src.data(), n, variant % 2 == 1);
      set1(d1.data() + off, src.data(), n, variant % 2 == 1);
      compare("row_set", d16, d1, 0.0);
      if (std::signbit(d16[size_t(off)]) || std::signbit(d1[size_t(off)])) {
        std::printf("FAIL row_set kept a -0\n");
        ++failures;
      }
    }
}

int main() {
  check_vecmath();
  check_activations();
  check_softmax();
  check_losses();
  check_dropout();
  std::printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
