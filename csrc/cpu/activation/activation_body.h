#pragma once
// Activation kernel bodies, written once over the vec_ops.h layer and instantiated per ISA by
// activation_{generic,avx2,avx512}.cpp. Include only from those files.
//
// Formulas (PyTorch definitions; float64 oracles in fastnn.reference.activation):
//   relu        max(x, 0)                      d: g·[x > 0]
//   leaky_relu  x > 0 ? x : s·x                d: x > 0 ? g : s·g
//   gelu        x·Φ(x)                         d: g·(Φ(x) + x·φ(x))
//   gelu_tanh   x·σ(2u), u = √(2/π)(x + 0.044715x³)      (= 0.5x(1 + tanh u) without the
//               cancellation of 1 + tanh u for x ≪ 0)   d: g·(σ + 2x·σ(1-σ)·u')
//   silu        x·σ(x)                         d: g·σ·(1 + x(1 - σ))
//   sigmoid     σ(x)                           d: g·σ(1 - σ)
//   tanh        tanh(x)                        d: g·sech²(x) = g·4e/(1+e)², e = exp(-2|x|)
//   softplus    βx > thr ? x : log1p(exp(βx))/β, evaluated as (max(βx,0) + log1p(exp(-|βx|)))/β
//                                              d: βx > thr ? g : g·σ(βx)
// σ and 1 - σ are both taken from e = exp(-|x|) (σ = 1/(1+e) or e/(1+e)), so neither tail loses
// precision to a subtraction.
#include "cpu/activation/activation_kernels.h"
#include "cpu/activation/vec_ops.h"

namespace fastnn {
namespace {

// σ(x) and 1 - σ(x) = σ(-x), both accurate: r = 1/(1 + e), e·r with e = exp(-|x|), picked by the
// sign of x.
template <class VO>
inline void sigmoid_pair(typename VO::V x, typename VO::V* s, typename VO::V* one_minus_s) {
  using V = typename VO::V;
  const V e = VO::exp_nonpos(VO::neg(VO::abs(x)));
  const V r = VO::div(VO::set1(1.0f), VO::add(VO::set1(1.0f), e));
  const V er = VO::mul(e, r);
  *s = VO::sign_select(x, er, r);
  *one_minus_s = VO::sign_select(x, r, er);
}

// σ(x)·(1 - σ(x)) = e/(1 + e)², e = exp(-|x|): symmetric in x, no select.
template <class VO>
inline typename VO::V sigmoid_grad(typename VO::V x) {
  using V = typename VO::V;
  const V e = VO::exp_nonpos(VO::neg(VO::abs(x)));
  const V q = VO::add(VO::set1(1.0f), e);
  return VO::div(e, VO::mul(q, q));
}

constexpr float kSqrt2OverPi = 0.797884560802865355f;
constexpr float kGeluKappa = 0.044715f;

template <class VO, ActKind K>
struct Act {
  using V = typename VO::V;

  static V fwd(V x, const ActParams& p) {
    if constexpr (K == ActKind::relu) {
      return VO::max(VO::zero(), x);  // NaN survives (second operand)
    } else if constexpr (K == ActKind::leaky_relu) {
      return VO::sign_select(x, VO::mul(x, VO::set1(p.slope)), x);  // -0 → -0·s = -0, as x > 0 ? x : s·x
    } else if constexpr (K == ActKind::gelu) {
      V pdf;
      const V q = VO::normal_tail(VO::abs(x), &pdf);  // Φ(x) = x < 0 ? Q(|x|) : 1 - Q(|x|)
      const V cdf = VO::select(VO::lt(x, VO::zero()), q, VO::sub(VO::set1(1.0f), q));
      return VO::mul(x, cdf);
    } else if constexpr (K == ActKind::gelu_tanh) {
      const V x2 = VO::mul(x, x);
      const V u = VO::mul(VO::mul(VO::set1(kSqrt2OverPi), x), VO::fmadd(VO::set1(kGeluKappa), x2, VO::set1(1.0f)));
      return VO::mul(x, VO::sigmoid(VO::add(u, u)));
    } else if constexpr (K == ActKind::silu) {
      return VO::mul(x, VO::sigmoid(x));
    } else if constexpr (K == ActKind::sigmoid) {
      return VO::sigmoid(x);
    } else if constexpr (K == ActKind::tanh) {
      return VO::tanh(x);
    } else {  // softplus
      const V bx = VO::mul(x, VO::set1(p.beta));
      const V soft = VO::add(VO::max(VO::zero(), bx), VO::log1p_exp_neg(VO::abs(bx)));
      return VO::select(VO::gt(bx, VO::set1(p.threshold)), x, VO::mul(soft, VO::set1(1.0f / p.beta)));
    }
  }

  static V bwd(V g, V x, const ActParams& p) {
    if constexpr (K == ActKind::relu) {
      return VO::select(VO::gt(x, VO::zero()), g, VO::zero());
    } else if constexpr (K == ActKind::leaky_relu) {
      return VO::select(VO::gt(x, VO::zero()), g, VO::mul(g, VO::set1(p.slope)));
    } else if constexpr (K == ActKind::gelu) {
      V pdf;
      const V q = VO::normal_tail(VO::abs(x), &pdf);
      const V cdf = VO::select(VO::lt(x, VO::zero()), q, VO::sub(VO::set1(1.0f), q));
      return VO::mul(g, VO::fmadd(x, pdf, cdf));
    } else if constexpr (K == ActKind::gelu_tanh) {
      const V x2 = VO::mul(x, x);
      const V u = VO::mul(VO::mul(VO::set1(kSqrt2OverPi), x), VO::fmadd(VO::set1(kGeluKappa), x2, VO::set1(1.0f)));
      const V du = VO::mul(VO::set1(kSqrt2OverPi), VO::fmadd(VO::set1(3.0f * kGeluKappa), x2, VO::set1(1.0f)));
      V s, sm;
      sigmoid_pair<VO>(VO::add(u, u), &s, &sm);
      // Where σ(1-σ) underflows to 0 the second term is 0 (2x·u' may overflow float32 to inf
      // there, and inf·0 is no answer); x·0 keeps it NaN for x = ±inf, as the float64 oracle.
      const V ssm = VO::mul(s, sm);
      const V term = VO::select(VO::eq(ssm, VO::zero()), VO::mul(x, VO::zero()),
                                VO::mul(VO::mul(VO::add(x, x), du), ssm));
      return VO::mul(g, VO::add(s, term));
    } else if constexpr (K == ActKind::silu) {
      V s, sm;
      sigmoid_pair<VO>(x, &s, &sm);
      return VO::mul(g, VO::mul(s, VO::fmadd(x, sm, VO::set1(1.0f))));
    } else if constexpr (K == ActKind::sigmoid) {
      return VO::mul(g, sigmoid_grad<VO>(x));
    } else if constexpr (K == ActKind::tanh) {
      // 1 - tanh² = sech² = 4e/(1+e)², e = exp(-2|x|): all terms positive, so no cancellation
      // anywhere (1 - t² is 0 in float from |x| ≈ 9 on), and one exp instead of tanh's.
      const V e = VO::exp_nonpos(VO::mul(VO::abs(x), VO::set1(-2.0f)));
      const V q = VO::add(VO::set1(1.0f), e);
      return VO::mul(g, VO::div(VO::mul(VO::set1(4.0f), e), VO::mul(q, q)));
    } else {  // softplus
      const V bx = VO::mul(x, VO::set1(p.beta));
      return VO::select(VO::gt(bx, VO::set1(p.threshold)), g, VO::mul(g, VO::sigmoid(bx)));
    }
  }
};

// x (n) → y (n)
template <class VO, ActKind K, bool Stream>
void act_forward_impl(const float* x, float* y, int64_t n, const ActParams& p) {
  map_loop<VO, Stream>(
      y, n, [&](int64_t i) { return Act<VO, K>::fwd(VO::load(x + i), p); },
      [&](int64_t i, int k) { return Act<VO, K>::fwd(VO::load_n(x + i, k, 0.0f), p); });
}

// g (n), x (n) → dx (n)
template <class VO, ActKind K, bool Stream>
void act_backward_impl(const float* g, const float* x, float* dx, int64_t n, const ActParams& p) {
  map_loop<VO, Stream>(
      dx, n, [&](int64_t i) { return Act<VO, K>::bwd(VO::load(g + i), VO::load(x + i), p); },
      [&](int64_t i, int k) { return Act<VO, K>::bwd(VO::load_n(g + i, k, 0.0f), VO::load_n(x + i, k, 0.0f), p); });
}

template <class VO, ActKind K>
void act_forward(const float* x, float* y, int64_t n, const ActParams& p, bool stream) {
  if (stream)
    act_forward_impl<VO, K, true>(x, y, n, p);
  else
    act_forward_impl<VO, K, false>(x, y, n, p);
}

template <class VO, ActKind K>
void act_backward(const float* g, const float* x, float* dx, int64_t n, const ActParams& p, bool stream) {
  if (stream)
    act_backward_impl<VO, K, true>(g, x, dx, n, p);
  else
    act_backward_impl<VO, K, false>(g, x, dx, n, p);
}

// g (n), y (n) → dx (n), from the forward output y (ActOutKind): g·y·(1 - y) and
// g·(1 - y)(1 + y). 1 - y is exact for y ≥ ½ (Sterbenz), so both stay within ~2 ulp of the
// float64 value from the same y on every path (1 - y·y unfused, as the generic twin would do
// it, loses up to 1 ulp of y² to cancellation near |y| = 1).
template <class VO, ActOutKind K>
inline typename VO::V bwd_from_output(typename VO::V g, typename VO::V y) {
  const typename VO::V one = VO::set1(1.0f);
  if constexpr (K == ActOutKind::sigmoid)
    return VO::mul(VO::mul(g, y), VO::sub(one, y));
  else
    return VO::mul(g, VO::mul(VO::sub(one, y), VO::add(one, y)));
}

template <class VO, ActOutKind K, bool Stream>
void act_backward_out_impl(const float* g, const float* y, float* dx, int64_t n) {
  map_loop<VO, Stream>(
      dx, n, [&](int64_t i) { return bwd_from_output<VO, K>(VO::load(g + i), VO::load(y + i)); },
      [&](int64_t i, int k) { return bwd_from_output<VO, K>(VO::load_n(g + i, k, 0.0f), VO::load_n(y + i, k, 0.0f)); });
}

template <class VO, ActOutKind K>
void act_backward_out(const float* g, const float* y, float* dx, int64_t n, bool stream) {
  if (stream)
    act_backward_out_impl<VO, K, true>(g, y, dx, n);
  else
    act_backward_out_impl<VO, K, false>(g, y, dx, n);
}

template <class VO>
typename VO::V vecmath_one(VecMathFn fn, typename VO::V x) {
  typename VO::V pdf;
  switch (fn) {
    case VecMathFn::exp: return VO::exp(x);
    case VecMathFn::log: return VO::log(x);
    case VecMathFn::log1p: return VO::log1p(x);
    case VecMathFn::tanh: return VO::tanh(x);
    case VecMathFn::sigmoid: return VO::sigmoid(x);
    case VecMathFn::erf: return VO::erf(x);
    case VecMathFn::erfc: return VO::erfc(x);
    case VecMathFn::normal_tail: return VO::normal_tail(x, &pdf);
    case VecMathFn::normal_pdf: VO::normal_tail(x, &pdf); return pdf;
    case VecMathFn::log1p_exp_neg: return VO::log1p_exp_neg(x);
  }
  return x;
}

template <class VO>
void vecmath(VecMathFn fn, const float* x, float* y, int64_t n) {
  map_loop<VO, false>(
      y, n, [&](int64_t i) { return vecmath_one<VO>(fn, VO::load(x + i)); },
      [&](int64_t i, int k) { return vecmath_one<VO>(fn, VO::load_n(x + i, k, 1.0f)); });
}

template <class VO>
const ActivationKernels& make_activation_kernels() {
  static const ActivationKernels table = {
      {&act_forward<VO, ActKind::relu>, &act_forward<VO, ActKind::leaky_relu>, &act_forward<VO, ActKind::gelu>,
       &act_forward<VO, ActKind::gelu_tanh>, &act_forward<VO, ActKind::silu>, &act_forward<VO, ActKind::sigmoid>,
       &act_forward<VO, ActKind::tanh>, &act_forward<VO, ActKind::softplus>},
      {&act_backward<VO, ActKind::relu>, &act_backward<VO, ActKind::leaky_relu>, &act_backward<VO, ActKind::gelu>,
       &act_backward<VO, ActKind::gelu_tanh>, &act_backward<VO, ActKind::silu>, &act_backward<VO, ActKind::sigmoid>,
       &act_backward<VO, ActKind::tanh>, &act_backward<VO, ActKind::softplus>},
      &vecmath<VO>,
      {&act_backward_out<VO, ActOutKind::sigmoid>, &act_backward_out<VO, ActOutKind::tanh>},
  };
  return table;
}

}  // namespace
}  // namespace fastnn
