#pragma once
// The scalar twin of simd_avx2::VecF32 / simd_avx512::VecF32 (see avx2.h): W = 1, so the
// templated kernels compile to plain C++ loops for the generic (reference) dispatch row and
// for non-x86 builds. Baseline translation units only.
#include <cmath>
#include <cstdint>

namespace fastnn {
namespace simd_scalar {
namespace {

struct VecF32 {
  using reg = float;
  using ireg = int32_t;
  using mask = bool;
  static constexpr int W = 1;

  static reg zero() { return 0.0f; }
  static reg set1(float v) { return v; }
  static reg load(const float* p) { return *p; }
  static void store(float* p, reg v) { *p = v; }
  static void stream(float* p, reg v) { *p = v; }
  static void stream_fence() {}
  // With W == 1 there is no partial vector: these are never reached with 0 < n < W.
  static reg load_tail(const float* p, int n) { return n > 0 ? *p : 0.0f; }
  static void store_tail(float* p, reg v, int n) {
    if (n > 0) *p = v;
  }
  // Lanes >= n (0 < n < W) set to zero.
  static reg keep_first(reg v, int n) { return n > 0 ? v : 0.0f; }
  static reg loadn(const float* p, int n) { return load_tail(p, n); }
  static void storen(float* p, reg v, int n) { store_tail(p, v, n); }

  static reg add(reg a, reg b) { return a + b; }
  static reg sub(reg a, reg b) { return a - b; }
  static reg mul(reg a, reg b) { return a * b; }
  static reg div(reg a, reg b) { return a / b; }
  // Unfused on purpose: baseline x86-64 has no FMA and std::fma would be a slow libm call.
  static reg fmadd(reg a, reg b, reg c) { return a * b + c; }
  static reg fnmadd(reg a, reg b, reg c) { return c - a * b; }
  static reg sqrt(reg a) { return std::sqrt(a); }
  static reg max(reg a, reg b) { return a > b ? a : b; }  // b when either is NaN, as x86
  static reg min(reg a, reg b) { return a < b ? a : b; }
  static reg neg(reg a) { return -a; }
  static float reduce_add(reg a) { return a; }

  static mask gt(reg a, reg b) { return a > b; }
  static mask isnan(reg a) { return a != a; }
  static mask mask_or(mask a, mask b) { return a || b; }
  static mask mask_andnot(mask a, mask b) { return !a && b; }
  static bool any(mask m) { return m; }
  static reg select(mask m, reg t, reg f) { return m ? t : f; }

  static ireg iset1(int32_t v) { return v; }
  static ireg iota() { return 0; }
  static ireg iadd(ireg a, ireg b) { return a + b; }
  static ireg iselect(mask m, ireg t, ireg f) { return m ? t : f; }
  static ireg iloadn(const int32_t* p, int n) { return n > 0 ? *p : 0; }
  static void istoren(int32_t* p, ireg v, int n) {
    if (n > 0) *p = v;
  }
  static void store_lanes(float* v, int32_t* i, reg a, ireg b) { *v = a, *i = b; }
};

}  // namespace
}  // namespace simd_scalar
}  // namespace fastnn
