// The AVX-512 path of the glue kernels (norm, reduce, elementwise, optim) without AVX-512
// hardware: the kernel bodies instantiated with simd_avx512::VecF32, every _mm512 intrinsic
// routed to SIMDe's portable implementation (SIMDE_ENABLE_NATIVE_ALIASES, compiled without
// -mavx512f), compared with the scalar (generic) instantiation on odd sizes, masked tails,
// misaligned streaming outputs, NaN and ties. Run by tests/test_avx512_emulation.py when the
// SIMDe headers are installed (Debian: libsimde-dev):
//   g++ -std=c++17 -O1 -Icsrc tools/avx512_emulation/check.cpp -o check && ./check
// Mutation-checked: swapping select's operands, widening the tail mask, > turned into >=, or a
// 32-byte streaming alignment each make it fail.
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <simde/x86/avx512.h>
// Intrinsics SIMDe 0.7.4 lacks, written from Intel's definitions (masked-off lanes are never
// touched; the streaming store insists on its 64-byte alignment).
static inline float shim_reduce_add_ps(simde__m512 v) {
  float t[16]; simde_mm512_storeu_ps(t, v); float s = 0; for (float x : t) s += x; return s;
}
static inline float shim_reduce_max_ps(simde__m512 v) {
  float t[16]; simde_mm512_storeu_ps(t, v); float s = t[0]; for (float x : t) s = x > s ? x : s; return s;
}
static inline simde__m512 shim_maskz_loadu_ps(simde__mmask16 k, const void* p) {
  float t[16] = {}; for (int i = 0; i < 16; ++i) if (k >> i & 1) t[i] = static_cast<const float*>(p)[i];
  return simde_mm512_loadu_ps(t);
}
static inline void shim_mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 v) {
  float t[16]; simde_mm512_storeu_ps(t, v); for (int i = 0; i < 16; ++i) if (k >> i & 1) static_cast<float*>(p)[i] = t[i];
}
static inline simde__m512i shim_maskz_loadu_epi32(simde__mmask16 k, const void* p) {
  int32_t t[16] = {}; for (int i = 0; i < 16; ++i) if (k >> i & 1) t[i] = static_cast<const int32_t*>(p)[i];
  return simde_mm512_loadu_si512(t);
}
static inline void shim_mask_storeu_epi32(void* p, simde__mmask16 k, simde__m512i v) {
  int32_t t[16]; simde_mm512_storeu_si512(t, v); for (int i = 0; i < 16; ++i) if (k >> i & 1) static_cast<int32_t*>(p)[i] = t[i];
}
static inline void shim_stream_ps(void* p, simde__m512 v) {
  if (reinterpret_cast<uintptr_t>(p) % 64) { std::fprintf(stderr, "FAIL stream_ps to a misaligned address\n"); std::abort(); }
  simde_mm512_storeu_ps(p, v);
}
#define _mm512_reduce_add_ps shim_reduce_add_ps
#define _mm512_reduce_max_ps shim_reduce_max_ps
#define _mm512_maskz_loadu_ps shim_maskz_loadu_ps
#define _mm512_mask_storeu_ps shim_mask_storeu_ps
#define _mm512_maskz_loadu_epi32 shim_maskz_loadu_epi32
#define _mm512_mask_storeu_epi32 shim_mask_storeu_epi32
#define _mm512_stream_ps shim_stream_ps
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "cpu/simd/avx512.h"
#include "cpu/simd/scalar.h"
#include "cpu/norm/norm_body.h"
#include "cpu/reduce/reduce_body.h"
#include "cpu/elementwise/binary_body.h"
#include "cpu/optim/optim_body.h"

using namespace fastnn;
using V16 = simd_avx512::VecF32;
using V1 = simd_scalar::VecF32;

static int failures = 0;
static std::mt19937 rng(7);
static std::vector<float> rnd(size_t n) {
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
static void compare(const char* what, const std::vector<float>& a, const std::vector<float>& b, double tol) {
  double scale = 0;
  for (float x : b) scale = std::max(scale, double(std::fabs(x)));
  for (size_t i = 0; i < a.size(); ++i) {
    const bool na = std::isnan(a[i]), nb = std::isnan(b[i]);
    if (na != nb || (!na && std::fabs(double(a[i]) - double(b[i])) > tol * (scale + 1e-30))) {
      std::printf("FAIL %s at %zu: avx512 %.9g vs scalar %.9g\n", what, i, a[i], b[i]);
      ++failures;
      return;
    }
  }
}

int main() {
  const NormKernels kn16 = make_norm_kernels<V16>(), kn1 = make_norm_kernels<V1>();
  const ReduceKernels kr16 = make_reduce_kernels<V16>(), kr1 = make_reduce_kernels<V1>();
  const BinaryKernels kb16 = make_binary_kernels<V16>(), kb1 = make_binary_kernels<V1>();
  const OptimKernels ko16 = make_optim_kernels<V16>(), ko1 = make_optim_kernels<V1>();
  int cases = 0;
  for (int64_t n : {1, 7, 15, 16, 17, 33, 63, 64, 65, 127, 129, 1000, 1031, 4099}) {
    const int64_t rows = 5;
    auto x = rnd(size_t(rows * n)), g = rnd(size_t(rows * n)), w = rnd(static_cast<size_t>(n)), b = rnd(static_cast<size_t>(n));
    for (int variant = 0; variant < 2; ++variant) {  // variant 1: streaming stores, misaligned output
      const bool stream = variant == 1;
      // layer_norm / rms_norm forward and backward
      for (int layer = 0; layer < 2; ++layer) {
        std::vector<float> y16(size_t(rows * n + 3)), y1(size_t(rows * n + 3)), m16(rows), m1(rows), r16(rows), r1(rows);
        RowNormFwdArgs a;
        a.n = n, a.x = x.data(), a.ldx = n, a.w = w.data(), a.b = layer ? b.data() : nullptr, a.eps = 1e-5f;
        a.ldy = n, a.mean = layer ? m16.data() : nullptr, a.rstd = r16.data(), a.stream = stream;
        a.y = y16.data() + variant;
        (layer ? kn16.layer_norm_fwd : kn16.rms_norm_fwd)(a, 0, rows);
        a.y = y1.data() + variant, a.mean = layer ? m1.data() : nullptr, a.rstd = r1.data();
        (layer ? kn1.layer_norm_fwd : kn1.rms_norm_fwd)(a, 0, rows);
        compare(layer ? "layer_norm y" : "rms_norm y", y16, y1, 1e-5);
        compare("rstd", r16, r1, 1e-5);
        std::vector<float> dx16(size_t(rows * n + 3)), dx1(size_t(rows * n + 3)), acc16(size_t(6 * n)), acc1(size_t(6 * n));
        RowNormBwdArgs bb;
        bb.n = n, bb.g = g.data(), bb.ldg = n, bb.x = x.data(), bb.ldx = n, bb.w = w.data(), bb.eps = 1e-5f;
        bb.mean = nullptr, bb.rstd = nullptr, bb.lddx = n, bb.want_dw = true, bb.want_db = layer, bb.stream = stream;
        bb.dx = dx16.data() + variant;
        (layer ? kn16.layer_norm_bwd : kn16.rms_norm_bwd)(bb, 0, rows, acc16.data());
        bb.dx = dx1.data() + variant;
        (layer ? kn1.layer_norm_bwd : kn1.rms_norm_bwd)(bb, 0, rows, acc1.data());
        if (n > 1) compare(layer ? "layer_norm dx" : "rms_norm dx", dx16, dx1, 1e-4);
        compare("norm dw/db accumulators", acc16, acc1, 1e-5);
        cases += 4;
      }
      // batch_norm chunk and column kernels
      float mu16, q16, mu1, q1;
      kn16.bn_chunk_stats(x.data(), n, &mu16, &q16);
      kn1.bn_chunk_stats(x.data(), n, &mu1, &q1);
      compare("bn_chunk_stats", {mu16, q16}, {mu1, q1}, 1e-5);
      std::vector<float> o16(size_t(n + 3)), o1(size_t(n + 3));
      kn16.bn_chunk_apply(x.data(), o16.data() + variant, n, 0.1f, 1.3f, -0.2f, stream);
      kn1.bn_chunk_apply(x.data(), o1.data() + variant, n, 0.1f, 1.3f, -0.2f, stream);
      compare("bn_chunk_apply", o16, o1, 1e-6);
      float s16[2], s1[2];
      kn16.bn_chunk_sums(g.data(), x.data(), n, 0.1f, s16);
      kn1.bn_chunk_sums(g.data(), x.data(), n, 0.1f, s1);
      compare("bn_chunk_sums", {s16[0], s16[1]}, {s1[0], s1[1]}, 1e-5);
      kn16.bn_chunk_dx(g.data(), x.data(), o16.data() + variant, n, 0.7f, -0.3f, 0.1f, 0.05f, stream);
      kn1.bn_chunk_dx(g.data(), x.data(), o1.data() + variant, n, 0.7f, -0.3f, 0.1f, 0.05f, stream);
      compare("bn_chunk_dx", o16, o1, 1e-6);
      std::vector<float> cm16(static_cast<size_t>(n)), cq16(static_cast<size_t>(n)), sc16(size_t(2 * n)), cm1(static_cast<size_t>(n)), cq1(static_cast<size_t>(n)), sc1(size_t(2 * n));
      int64_t c16 = 0, c1 = 0;
      kn16.bn_col_stats(x.data(), n, 0, rows, n, cm16.data(), cq16.data(), &c16, sc16.data());
      kn1.bn_col_stats(x.data(), n, 0, rows, n, cm1.data(), cq1.data(), &c1, sc1.data());
      compare("bn_col_stats mean", cm16, cm1, 1e-5);
      compare("bn_col_stats m2", cq16, cq1, 1e-5);
      std::vector<float> Y16(size_t(rows * n)), Y1(size_t(rows * n));
      kn16.bn_col_apply(x.data(), n, Y16.data(), n, 0, rows, n, w.data(), b.data(), g.data(), stream);
      kn1.bn_col_apply(x.data(), n, Y1.data(), n, 0, rows, n, w.data(), b.data(), g.data(), stream);
      compare("bn_col_apply", Y16, Y1, 1e-6);
      std::vector<float> A16(size_t(6 * n)), A1(size_t(6 * n));
      kn16.bn_col_sums(g.data(), n, x.data(), n, 0, rows, n, w.data(), A16.data(), Y16.data(), n, b.data(), stream);
      kn1.bn_col_sums(g.data(), n, x.data(), n, 0, rows, n, w.data(), A1.data(), Y1.data(), n, b.data(), stream);
      compare("bn_col_sums acc", A16, A1, 1e-5);
      compare("bn_col_sums dx", Y16, Y1, 1e-6);
      kn16.bn_col_dx(g.data(), n, x.data(), n, Y16.data(), n, 0, rows, n, w.data(), b.data(), g.data(), x.data(), stream);
      kn1.bn_col_dx(g.data(), n, x.data(), n, Y1.data(), n, 0, rows, n, w.data(), b.data(), g.data(), x.data(), stream);
      compare("bn_col_dx", Y16, Y1, 1e-6);
      cases += 9;
      // elementwise
      kb16.vv(variant ? BinaryOp::mul : BinaryOp::add, x.data(), g.data(), o16.data() + variant, n, stream);
      kb1.vv(variant ? BinaryOp::mul : BinaryOp::add, x.data(), g.data(), o1.data() + variant, n, stream);
      compare("binary vv", o16, o1, 0);
      kb16.vs(variant ? BinaryOp::add : BinaryOp::mul, x.data(), 0.37f, o16.data() + variant, n, stream);
      kb1.vs(variant ? BinaryOp::add : BinaryOp::mul, x.data(), 0.37f, o1.data() + variant, n, stream);
      compare("binary vs", o16, o1, 0);
      kb16.fill(o16.data() + variant, n, 2.5f, stream);
      kb1.fill(o1.data() + variant, n, 2.5f, stream);
      compare("fill", o16, o1, 0);
      std::vector<float> p16(size_t(n + 3)), p1(size_t(n + 3));
      kb16.mul_backward(g.data(), x.data(), w.data(), o16.data() + variant, p16.data(), n, stream);
      kb1.mul_backward(g.data(), x.data(), w.data(), o1.data() + variant, p1.data(), n, stream);
      compare("mul_backward ga", o16, o1, 0);
      compare("mul_backward gb", p16, p1, 0);
      cases += 5;
    }
    // reductions
    std::vector<float> rs16(rows), rs1(rows), rv16(rows), rv1(rows);
    std::vector<int32_t> ri16(rows), ri1(rows);
    auto xt = x;
    if (n > 40) xt[size_t(n + 37)] = NAN, xt[size_t(n + 39)] = NAN;         // row 1: first NaN at 37
    if (n > 20) xt[size_t(2 * n + 5)] = xt[size_t(2 * n + 19)] = 5.0f;       // row 2: tie, first wins
    if (n > 100) xt[size_t(3 * n + 7)] = xt[size_t(3 * n + 39)] = xt[size_t(3 * n + 71)] = 6.0f;  // same lane
    if (n > 3) xt[size_t(1 * n + 3)] = xt[size_t(3 * n + 3)] = 9.0f;          // column 3: tie across rows
    kr16.rows_sum(x.data(), n, rows, n, rs16.data());
    kr1.rows_sum(x.data(), n, rows, n, rs1.data());
    compare("rows_sum", rs16, rs1, 1e-5);
    kr16.rows_max(xt.data(), n, rows, n, rv16.data(), ri16.data());
    kr1.rows_max(xt.data(), n, rows, n, rv1.data(), ri1.data());
    compare("rows_max val", rv16, rv1, 0);
    for (int r = 0; r < rows; ++r)
      if (ri16[size_t(r)] != ri1[size_t(r)]) std::printf("FAIL rows_max idx row %d n %ld: %d vs %d\n", r, long(n), ri16[size_t(r)], ri1[size_t(r)]), ++failures;
    std::vector<float> ca16(size_t(3 * n)), ca1(size_t(3 * n));
    kr16.cols_sum(x.data(), n, rows, n, ca16.data());
    kr1.cols_sum(x.data(), n, rows, n, ca1.data());
    compare("cols_sum", ca16, ca1, 1e-6);
    std::vector<float> cv16(static_cast<size_t>(n), -INFINITY), cv1(static_cast<size_t>(n), -INFINITY);
    std::vector<int32_t> cr16(static_cast<size_t>(n), -1), cr1(static_cast<size_t>(n), -1);
    kr16.cols_max(xt.data(), n, rows, n, cv16.data(), cr16.data());
    kr1.cols_max(xt.data(), n, rows, n, cv1.data(), cr1.data());
    compare("cols_max val", cv16, cv1, 0);
    for (int64_t j = 0; j < n; ++j)
      if (cr16[size_t(j)] != cr1[size_t(j)]) { std::printf("FAIL cols_max idx col %ld\n", long(j)); ++failures; break; }
    // optimizers
    for (int nesterov = 0; nesterov < 2; ++nesterov) {
      SgdArgs sa;
      sa.lr = 0.1f, sa.momentum = 0.9f, sa.one_minus_dampening = 0.8f, sa.weight_decay = 0.01f;
      sa.use_momentum = true, sa.nesterov = nesterov, sa.first_step = false, sa.maximize = nesterov;
      auto P16 = x, P1 = x, B16 = w, B1 = w;
      P16.resize(static_cast<size_t>(n)), P1.resize(static_cast<size_t>(n));
      ko16.sgd(P16.data(), g.data(), B16.data(), n, sa);
      ko1.sgd(P1.data(), g.data(), B1.data(), n, sa);
      compare("sgd param", P16, P1, 1e-6);
      compare("sgd buf", B16, B1, 1e-6);
      AdamArgs aa;
      aa.lr_decay = nesterov ? 0.999f : 1.0f, aa.weight_decay = nesterov ? 0.0f : 0.01f, aa.lerp_w = 0.1f;
      aa.beta2 = 0.999f, aa.one_minus_beta2 = 0.001f, aa.step_size = 0.01f, aa.inv_bc2_sqrt = 3.0f, aa.eps = 1e-8f;
      aa.amsgrad = nesterov, aa.maximize = false;
      std::vector<float> M16(static_cast<size_t>(n), 0.1f), M1(static_cast<size_t>(n), 0.1f), S16(static_cast<size_t>(n), 0.2f), S1(static_cast<size_t>(n), 0.2f), X16(static_cast<size_t>(n), 0.3f), X1(static_cast<size_t>(n), 0.3f);
      ko16.adam(P16.data(), g.data(), M16.data(), S16.data(), X16.data(), n, aa);
      ko1.adam(P1.data(), g.data(), M1.data(), S1.data(), X1.data(), n, aa);
      compare("adam param", P16, P1, 1e-6);
      compare("adam m", M16, M1, 1e-6);
      compare("adam v", S16, S1, 1e-6);
      compare("adam vmax", X16, X1, 1e-6);
      cases += 6;
    }
  }
  std::printf("%d kernel comparisons, %d failures\n", cases, failures);
  return failures != 0;
}
