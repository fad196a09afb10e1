#pragma once
// Optimizer step leaf kernels, written once over V (see cpu/simd/vec_algos.h); included by
// optim_ref.cpp, optim_avx2.cpp and optim_avx512.cpp. The flags in the argument structs are
// loop invariant (branch-predicted, and the loops are memory bound).
#include "cpu/optim/optim_kernels.h"
#include "cpu/simd/vec_algos.h"

namespace fastnn {
namespace {

// Applies f(i, m) to vectors [i, i + m) of [0, n), m == W or the tail.
template <class V, class F>
void for_vectors(int64_t n, const F& f) {
  constexpr int W = V::W;
  int64_t i = 0;
  for (; i + W <= n; i += W) f(i, W);
  if (i < n) f(i, int(n - i));
}

template <class V>
void sgd(float* p, const float* grad, float* buf, int64_t n, const SgdArgs& a) {
  using reg = typename V::reg;
  const reg lr = V::set1(a.lr), mom = V::set1(a.momentum), damp = V::set1(a.one_minus_dampening),
            wd = V::set1(a.weight_decay);
  const bool decay = a.weight_decay != 0.0f;
  for_vectors<V>(n, [&](int64_t i, int m) {
    reg pv = V::loadn(p + i, m), g = V::loadn(grad + i, m);
    if (a.maximize) g = V::neg(g);
    if (decay) g = V::fmadd(wd, pv, g);
    if (a.use_momentum) {
      reg b = a.first_step ? g : V::fmadd(damp, g, V::mul(mom, V::loadn(buf + i, m)));
      V::storen(buf + i, b, m);
      g = a.nesterov ? V::fmadd(mom, b, g) : b;
    }
    V::storen(p + i, V::fnmadd(lr, g, pv), m);
  });
}

template <class V>
void adam(float* p, const float* grad, float* mbuf, float* vbuf, float* vmax, int64_t n, const AdamArgs& a) {
  using reg = typename V::reg;
  const reg lr_decay = V::set1(a.lr_decay), wd = V::set1(a.weight_decay), w = V::set1(a.lerp_w),
            one_minus_w = V::set1(1.0f - a.lerp_w), b2 = V::set1(a.beta2), omb2 = V::set1(a.one_minus_beta2),
            step = V::set1(a.step_size), ibc2 = V::set1(a.inv_bc2_sqrt), eps = V::set1(a.eps);
  const bool decoupled = a.lr_decay != 1.0f, decay = a.weight_decay != 0.0f, lerp_low = a.lerp_w < 0.5f;
  for_vectors<V>(n, [&](int64_t i, int m) {
    reg pv = V::loadn(p + i, m), g = V::loadn(grad + i, m);
    if (a.maximize) g = V::neg(g);
    if (decoupled) pv = V::mul(pv, lr_decay);
    if (decay) g = V::fmadd(wd, pv, g);
    // torch's lerp: weight < 0.5 ? m + w (g - m) : g - (g - m) (1 - w)
    reg mv = V::loadn(mbuf + i, m), d = V::sub(g, mv);
    mv = lerp_low ? V::fmadd(w, d, mv) : V::fnmadd(d, one_minus_w, g);
    reg vv = V::fmadd(V::mul(omb2, g), g, V::mul(V::loadn(vbuf + i, m), b2));
    V::storen(mbuf + i, mv, m);
    V::storen(vbuf + i, vv, m);
    if (a.amsgrad) {
      reg old = V::loadn(vmax + i, m);  // torch.maximum: a NaN on either side propagates
      vv = V::select(V::isnan(old), old, V::max(old, vv));
      V::storen(vmax + i, vv, m);
    }
    reg denom = V::fmadd(V::sqrt(vv), ibc2, eps);
    V::storen(p + i, V::fnmadd(step, V::div(mv, denom), pv), m);
  });
}

template <class V>
OptimKernels make_optim_kernels() {
  return {sgd<V>, adam<V>};
}

}  // namespace
}  // namespace fastnn
