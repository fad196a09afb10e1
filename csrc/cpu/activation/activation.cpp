#include "cpu/activation/activation.h"

#include <cmath>

#include "cpu/activation/pointwise.h"

namespace fastnn {

const char* act_kind_name(ActKind k) {
  static const char* const names[kNumActKinds] = {"relu", "leaky_relu", "gelu", "gelu_tanh",
                                                  "silu", "sigmoid",    "tanh", "softplus"};
  return names[int(k)];
}

const ActivationKernels& activation_kernels(Isa isa) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return activation_kernels_avx512();
    case Isa::avx2: return activation_kernels_avx2();
#endif
    default: return activation_kernels_generic();
  }
}

void check_pointwise_operand(const TensorView& t, const TensorView& ref, const char* fn, const char* arg,
                             bool output) {
  check_dtype(t, DType::f32, fn, arg);
  FASTNN_CHECK_VALUE(t.device == Device::cpu, fn, ": ", arg, " must be a CPU array");
  bool same = t.ndim == ref.ndim;
  for (int d = 0; same && d < t.ndim; ++d) same = t.shape[d] == ref.shape[d];
  if (!same) {
    std::string got, want;
    for (int d = 0; d < t.ndim; ++d) got += str_cat(d ? ", " : "", t.shape[d]);
    for (int d = 0; d < ref.ndim; ++d) want += str_cat(d ? ", " : "", ref.shape[d]);
    throw ValueError(str_cat(fn, ": ", arg, " must have shape (", want, "), got (", got, ")"));
  }
  if (output && checked_numel(t, fn) > 0)  // (NumPy gives empty arrays zero strides)
    for (int d = 0; d < t.ndim; ++d)
      FASTNN_CHECK_VALUE(t.shape[d] <= 1 || t.strides[d] != 0, fn, ": ", arg, " must not have zero strides");
  checked_numel(t, fn);
  check_offsets_fit(t, fn);
}

namespace {

void check_params(ActKind kind, const ActParams& p, const char* fn) {
  if (kind == ActKind::leaky_relu)
    FASTNN_CHECK_VALUE(std::isfinite(p.slope), fn, ": negative_slope must be finite, got ", p.slope);
  if (kind == ActKind::softplus) {
    FASTNN_CHECK_VALUE(std::isfinite(p.beta) && p.beta != 0.0f, fn, ": beta must be finite and nonzero, got ", p.beta);
    FASTNN_CHECK_VALUE(!std::isnan(p.threshold), fn, ": threshold must not be NaN");
  }
}

// Runs call(grad_out, a, grad_in, n, stream) over the blocks of three same-shape operands, where a is
// the backward's saved tensor (the input x or the output y).
template <class Call>
void run_backward_blocks(const TensorView& g, const TensorView& a, const TensorView& dx, Call call) {
  const bool stream = pointwise_stream_stores(12 * checked_numel(a, "activation backward"));
  PwOperand ops[3];
  ops[0].data = g.data, ops[0].strides = g.strides;
  ops[1].data = a.data, ops[1].strides = a.strides;
  ops[2].data = dx.data, ops[2].strides = dx.strides, ops[2].output = true;
  pointwise_run(a.ndim, a.shape, 3, ops, [&](const PwBlock& b) {
    call(static_cast<const float*>(b.ptr[0]), static_cast<const float*>(b.ptr[1]), static_cast<float*>(b.ptr[2]),
         b.n, stream && b.direct);
    return 0.0;
  });
}

}  // namespace

void activation_forward_cpu(ActKind kind, const TensorView& x, const TensorView& y, const ActParams& p) {
  const std::string fn = act_kind_name(kind);
  check_pointwise_operand(x, x, fn.c_str(), "x", false);
  check_pointwise_operand(y, x, fn.c_str(), "out", true);
  check_params(kind, p, fn.c_str());
  const ActForwardFn kernel = activation_kernels(active_isa()).forward[int(kind)];
  const int64_t n = checked_numel(x, fn.c_str());
  const bool stream = pointwise_stream_stores(8 * n);
  PwOperand ops[2];
  ops[0].data = x.data, ops[0].strides = x.strides;
  ops[1].data = y.data, ops[1].strides = y.strides, ops[1].output = true;
  pointwise_run(x.ndim, x.shape, 2, ops, [&](const PwBlock& b) {
    kernel(static_cast<const float*>(b.ptr[0]), static_cast<float*>(b.ptr[1]), b.n, p, stream && b.direct);
    return 0.0;
  });
}

void activation_backward_cpu(ActKind kind, const TensorView& g, const TensorView& x, const TensorView& dx,
                             const ActParams& p) {
  const std::string fn = str_cat(act_kind_name(kind), "_backward");
  check_pointwise_operand(x, x, fn.c_str(), "x", false);
  check_pointwise_operand(g, x, fn.c_str(), "grad_out", false);
  check_pointwise_operand(dx, x, fn.c_str(), "out", true);
  check_params(kind, p, fn.c_str());
  const ActBackwardFn kernel = activation_kernels(active_isa()).backward[int(kind)];
  run_backward_blocks(g, x, dx, [&](const float* gp, const float* xp, float* dxp, int64_t n, bool stream) {
    kernel(gp, xp, dxp, n, p, stream);
  });
}

void activation_backward_from_output_cpu(ActOutKind kind, const TensorView& g, const TensorView& y,
                                         const TensorView& dx) {
  const char* fn = kind == ActOutKind::sigmoid ? "sigmoid_backward" : "tanh_backward";
  FASTNN_CHECK_VALUE(int(kind) >= 0 && int(kind) < kNumActOutKinds, "activation_backward_from_output: bad kind ",
                     int(kind));
  check_pointwise_operand(y, y, fn, "y", false);
  check_pointwise_operand(g, y, fn, "grad_out", false);
  check_pointwise_operand(dx, y, fn, "out", true);
  const ActBackwardOutFn kernel = activation_kernels(active_isa()).backward_from_output[int(kind)];
  run_backward_blocks(g, y, dx, [&](const float* gp, const float* yp, float* dxp, int64_t n, bool stream) {
    kernel(gp, yp, dxp, n, stream);
  });
}

void vector_math_cpu(VecMathFn fn, const TensorView& x, const TensorView& y) {
  const char* name = "vector_math";
  check_pointwise_operand(x, x, name, "x", false);
  check_pointwise_operand(y, x, name, "out", true);
  FASTNN_CHECK_VALUE(x.ndim == 1 && (x.shape[0] <= 1 || (x.strides[0] == 1 && y.strides[0] == 1)), name,
                     ": x and out must be contiguous 1-D arrays");
  activation_kernels(active_isa()).vecmath(fn, x.ptr<float>(), y.ptr<float>(), x.shape[0]);
}

}  // namespace fastnn
