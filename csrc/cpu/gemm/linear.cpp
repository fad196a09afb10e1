#include "cpu/gemm/linear.h"

#include <algorithm>

#include "common/workspace.h"

namespace fastnn {
namespace {

void check_cpu_f32(const TensorView& t, int ndim, const char* fn, const char* arg) {
  check_dtype(t, DType::f32, fn, arg);
  FASTNN_CHECK_VALUE(t.device == Device::cpu, fn, ": ", arg, " must be a CPU array");
  check_ndim(t, ndim, fn, arg);
  checked_numel(t, fn);
  check_offsets_fit(t, fn);
}

void check_shape2(const TensorView& t, int64_t r, int64_t c, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(t.shape[0] == r && t.shape[1] == c, fn, ": ", arg, " must have shape (", r, ", ", c,
                     "), got (", t.shape[0], ", ", t.shape[1], ")");
}

void check_output(const TensorView& t, const char* fn, const char* arg) {
  for (int d = 0; d < t.ndim; ++d)
    if (t.shape[d] == 0) return;  // empty: NumPy gives such arrays zero strides
  for (int d = 0; d < t.ndim; ++d)
    FASTNN_CHECK_VALUE(t.shape[d] <= 1 || t.strides[d] != 0, fn, ": ", arg, " must not have zero strides");
}

// Byte range [lo, hi) a view can touch (empty views touch nothing).
struct Span {
  uintptr_t lo = 0, hi = 0;
};
Span span_of(const TensorView& t) {
  Span s;
  if (!t.data) return s;
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < t.ndim; ++d) {
    if (t.shape[d] == 0) return s;
    const int64_t reach = (t.shape[d] - 1) * t.strides[d];
    (reach < 0 ? lo : hi) += reach;
  }
  const uintptr_t base = reinterpret_cast<uintptr_t>(t.data);
  s.lo = base + uintptr_t(lo * 4);
  s.hi = base + uintptr_t((hi + 1) * 4);
  return s;
}

void check_no_overlap(const TensorView& out, const char* out_name, const TensorView& in, const char* in_name,
                      const char* fn) {
  const Span a = span_of(out), b = span_of(in);
  FASTNN_CHECK_VALUE(a.lo == a.hi || b.lo == b.hi || a.hi <= b.lo || b.hi <= a.lo, fn, ": ", out_name,
                     " overlaps ", in_name, " in memory");
}

// Scratch for the pre-activation gradient: cached per calling thread up to kCachedGradBytes
// (training calls linear_backward with the same shapes every step; a fresh buffer would be
// page-faulted in each time), one-off allocations (freed by `own`) above that.
constexpr size_t kCachedGradBytes = size_t(128) << 20;
float* grad_pre_buffer(size_t floats, AlignedPtr<float>& own) {
  thread_local AlignedPtr<float> cache;
  thread_local size_t cap = 0;
  if (floats * sizeof(float) > kCachedGradBytes) {
    own = aligned_alloc_array<float>(floats);
    return own.get();
  }
  if (cap < floats) {
    cache.reset();
    cache = aligned_alloc_array<float>(floats);
    cap = floats;
  }
  return cache.get();
}

ConstMatrix as_const(const TensorView& t) { return {t.ptr<const float>(), t.strides[0], t.strides[1]}; }
Matrix as_mut(const TensorView& t) { return {t.ptr<float>(), t.strides[0], t.strides[1]}; }

// x (M, K), weight (N, K), bias (N) or none; returns (M, N, K).
void validate_inputs(const TensorView& x, const TensorView& weight, const TensorView& bias, const char* fn,
                     int64_t& M, int64_t& N, int64_t& K) {
  check_cpu_f32(x, 2, fn, "x");
  check_cpu_f32(weight, 2, fn, "weight");
  M = x.shape[0];
  K = x.shape[1];
  N = weight.shape[0];
  FASTNN_CHECK_VALUE(weight.shape[1] == K, fn, ": weight must have shape (out_features, ", K,
                     ") to match x's last dimension ", K, ", got (", weight.shape[0], ", ", weight.shape[1], ")");
  if (bias.data) {
    check_cpu_f32(bias, 1, fn, "bias");
    FASTNN_CHECK_VALUE(bias.shape[0] == N, fn, ": bias must have shape (", N, ",), got (", bias.shape[0], ",)");
  }
}

}  // namespace

Activation parse_activation(const std::string& name, const char* fn) {
  if (name == "none" || name == "identity") return Activation::none;
  if (name == "relu") return Activation::relu;
  if (name == "gelu") return Activation::gelu;
  if (name == "gelu_tanh") return Activation::gelu_tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  if (name == "silu") return Activation::silu;
  throw ValueError(str_cat(fn, ": activation must be one of None, 'relu', 'gelu', 'gelu_tanh', 'sigmoid', 'tanh', "
                               "'silu', got '", name, "'"));
}

void linear_cpu(const TensorView& x, const TensorView& weight, const TensorView& bias, Activation act,
                const TensorView& out) {
  const char* fn = "linear";
  int64_t M, N, K;
  validate_inputs(x, weight, bias, fn, M, N, K);
  check_cpu_f32(out, 2, fn, "out");
  check_shape2(out, M, N, fn, "out");
  check_output(out, fn, "out");
  check_no_overlap(out, "out", x, "x", fn);
  check_no_overlap(out, "out", weight, "weight", fn);
  check_no_overlap(out, "out", bias, "bias", fn);
  if (M == 0 || N == 0) return;
  GemmEpilogue ep;
  ep.bias = bias.data ? bias.ptr<const float>() : nullptr;
  ep.bias_stride = bias.data ? bias.strides[0] : 1;
  ep.act = act;
  // Wᵀ(k, n) = W[n, k]: row stride = W's column stride and vice versa.
  const ConstMatrix wt{weight.ptr<const float>(), weight.strides[1], weight.strides[0]};
  sgemm(M, N, K, 1.0f, as_const(x), wt, 0.0f, as_mut(out), ep);
}

void linear_backward_cpu(const TensorView& grad_out, const TensorView& x, const TensorView& weight,
                         const TensorView& bias, Activation act, const TensorView& grad_x,
                         const TensorView& grad_weight, const TensorView& grad_bias) {
  const char* fn = "linear_backward";
  int64_t M, N, K;
  validate_inputs(x, weight, bias, fn, M, N, K);
  check_cpu_f32(grad_out, 2, fn, "grad_out");
  check_shape2(grad_out, M, N, fn, "grad_out");
  check_cpu_f32(grad_x, 2, fn, "grad_x");
  check_shape2(grad_x, M, K, fn, "grad_x");
  check_cpu_f32(grad_weight, 2, fn, "grad_weight");
  check_shape2(grad_weight, N, K, fn, "grad_weight");
  check_output(grad_x, fn, "grad_x");
  check_output(grad_weight, fn, "grad_weight");
  if (grad_bias.data) {
    FASTNN_CHECK_VALUE(bias.data, fn, ": grad_bias given without bias");
    check_cpu_f32(grad_bias, 1, fn, "grad_bias");
    FASTNN_CHECK_VALUE(grad_bias.shape[0] == N, fn, ": grad_bias must have shape (", N, ",), got (",
                       grad_bias.shape[0], ",)");
    check_output(grad_bias, fn, "grad_bias");
  }
  const TensorView* outs[3] = {&grad_x, &grad_weight, &grad_bias};
  const char* out_names[3] = {"grad_x", "grad_weight", "grad_bias"};
  const TensorView* ins[4] = {&grad_out, &x, &weight, &bias};
  const char* in_names[4] = {"grad_out", "x", "weight", "bias"};
  for (int o = 0; o < 3; ++o) {
    for (int i = 0; i < 4; ++i) check_no_overlap(*outs[o], out_names[o], *ins[i], in_names[i], fn);
    for (int o2 = o + 1; o2 < 3; ++o2) check_no_overlap(*outs[o], out_names[o], *outs[o2], out_names[o2], fn);
  }

  // g = dy ⊙ act'(x·Wᵀ + b): without an activation g is dy itself, read in place.
  ConstMatrix g = as_const(grad_out);
  AlignedPtr<float> g_own;
  if (act != Activation::none && M > 0 && N > 0) {
    float* g_buf = grad_pre_buffer(size_t(checked_mul(M, N, fn)), g_own);
    GemmEpilogue ep;
    ep.bias = bias.data ? bias.ptr<const float>() : nullptr;
    ep.bias_stride = bias.data ? bias.strides[0] : 1;
    ep.act = act;
    ep.dy = grad_out.ptr<const float>();
    ep.dy_rs = grad_out.strides[0];
    ep.dy_cs = grad_out.strides[1];
    const ConstMatrix wt{weight.ptr<const float>(), weight.strides[1], weight.strides[0]};
    sgemm(M, N, K, 1.0f, as_const(x), wt, 0.0f, Matrix{g_buf, N, 1}, ep);
    g = ConstMatrix{g_buf, N, 1};
  }
  // grad_x (M, K) = g (M, N) · W (N, K)
  if (M > 0 && K > 0) sgemm(M, K, N, 1.0f, g, as_const(weight), 0.0f, as_mut(grad_x));
  // grad_w (N, K) = gᵀ (N, M) · x (M, K)
  if (N > 0 && K > 0) sgemm(N, K, M, 1.0f, ConstMatrix{g.data, g.cs, g.rs}, as_const(x), 0.0f, as_mut(grad_weight));
  // grad_b (1, N) = 1ᵀ (1, M) · g (M, N): the ones vector is one float with zero strides.
  if (grad_bias.data && N > 0) {
    static const float one = 1.0f;
    sgemm(1, N, M, 1.0f, ConstMatrix{&one, 0, 0}, g, 0.0f, Matrix{grad_bias.ptr<float>(), 0, grad_bias.strides[0]});
  }
}

}  // namespace fastnn
