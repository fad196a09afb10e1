// Drivers of the pointwise losses (binary cross entropy, with logits, mean squared error): checks,
// then the strided pointwise driver with fixed reduction chunks (deterministic sums).
#include <cmath>
#include <vector>

#include "cpu/activation/activation.h"
#include "cpu/activation/pointwise.h"
#include "cpu/loss/loss.h"
#include "cpu/loss/loss_kernels.h"

namespace fastnn {
namespace {

constexpr int64_t kLossChunk = 16384;

struct Operands {
  PwOperand op[kMaxPointwiseOperands];
  int n = 0;
  int add(const TensorView& t, bool output = false) {
    op[n].data = t.data;
    op[n].strides = t.strides;
    op[n].output = output;
    return n++;
  }
};

const float* in(const PwBlock& b, int k) { return k < 0 ? nullptr : static_cast<const float*>(b.ptr[k]); }
float* out_ptr(const PwBlock& b, int k) { return k < 0 ? nullptr : static_cast<float*>(b.ptr[k]); }

// Shared checks: every given operand is float32 on the CPU with the input's shape.
void check_inputs(const char* fn, const char* xname, const TensorView& x, const TensorView& t, const TensorView* w,
                  const char* wname, const TensorView* pw) {
  check_pointwise_operand(x, x, fn, xname, false);
  check_pointwise_operand(t, x, fn, "target", false);
  if (w && w->data) check_pointwise_operand(*w, x, fn, wname, false);
  if (pw && pw->data) check_pointwise_operand(*pw, x, fn, "pos_weight", false);
}

double finish(double total, Reduction r, int64_t n) {
  if (r == Reduction::mean) return total / double(n);  // n = 0: NaN, as PyTorch
  return r == Reduction::sum ? total : 0.0;
}

// grad_out scale for the backward: per element (none) → 1, else the scalar (÷ n for mean).
double grad_scale(Reduction r, double gs, int64_t n) {
  return r == Reduction::mean ? gs / double(n) : r == Reduction::sum ? gs : 1.0;
}

}  // namespace

// ---- binary cross entropy ---------------------------------------------------------------------

double binary_cross_entropy_cpu(const TensorView& p, const TensorView& t, const TensorView& w, Reduction r,
                                const TensorView& out) {
  const char* fn = "binary_cross_entropy";
  check_inputs(fn, "input", p, t, &w, "weight", nullptr);
  if (r == Reduction::none) check_pointwise_operand(out, p, fn, "out", true);
  const BceFn kernel = loss_kernels(active_isa()).bce;
  Operands o;
  const int ip = o.add(p), it = o.add(t), iw = w.data ? o.add(w) : -1;
  const int io = r == Reduction::none ? o.add(out, true) : -1;
  std::vector<int64_t> bad_per_chunk((size_t(checked_numel(p, fn)) + kLossChunk - 1) / kLossChunk + 1, 0);
  const double total = pointwise_run(
      p.ndim, p.shape, o.n, o.op,
      [&](const PwBlock& b) {
        int64_t bad = 0;
        const double s = kernel(in(b, ip), in(b, it), in(b, iw), out_ptr(b, io), b.n, &bad);
        bad_per_chunk[size_t(b.start / kLossChunk)] += bad;  // one thread owns a chunk
        return s;
      },
      kLossChunk);
  int64_t bad = 0;
  for (int64_t v : bad_per_chunk) bad += v;
  FASTNN_CHECK_VALUE(bad == 0, fn, ": input must hold probabilities in [0, 1], but ", bad,
                     " element(s) are outside (apply sigmoid, or use binary_cross_entropy_with_logits)");
  return finish(total, r, checked_numel(p, fn));
}

void binary_cross_entropy_backward_cpu(const TensorView& g, double gs, const TensorView& p, const TensorView& t,
                                       const TensorView& w, Reduction r, const TensorView& dx) {
  const char* fn = "binary_cross_entropy_backward";
  check_inputs(fn, "input", p, t, &w, "weight", nullptr);
  if (r == Reduction::none) check_pointwise_operand(g, p, fn, "grad_out", false);
  check_pointwise_operand(dx, p, fn, "out", true);
  const int64_t n = checked_numel(p, fn);
  const float scale = float(grad_scale(r, gs, n));
  const BceBackwardFn kernel = loss_kernels(active_isa()).bce_backward;
  const bool stream = pointwise_stream_stores(16 * n);
  Operands o;
  const int ig = r == Reduction::none ? o.add(g) : -1;
  const int ip = o.add(p), it = o.add(t), iw = w.data ? o.add(w) : -1, id = o.add(dx, true);
  pointwise_run(p.ndim, p.shape, o.n, o.op, [&](const PwBlock& b) {
    kernel(in(b, ig), scale, in(b, ip), in(b, it), in(b, iw), out_ptr(b, id), b.n, stream && b.direct);
    return 0.0;
  });
}

// ---- binary cross entropy with logits ----------------------------------------------------------

double bce_with_logits_cpu(const TensorView& x, const TensorView& t, const TensorView& w, const TensorView& pw,
                           Reduction r, const TensorView& out) {
  const char* fn = "binary_cross_entropy_with_logits";
  check_inputs(fn, "input", x, t, &w, "weight", &pw);
  if (r == Reduction::none) check_pointwise_operand(out, x, fn, "out", true);
  const BceLogitsFn kernel = loss_kernels(active_isa()).bce_logits;
  Operands o;
  const int ix = o.add(x), it = o.add(t), iw = w.data ? o.add(w) : -1, ipw = pw.data ? o.add(pw) : -1;
  const int io = r == Reduction::none ? o.add(out, true) : -1;
  const double total = pointwise_run(
      x.ndim, x.shape, o.n, o.op,
      [&](const PwBlock& b) { return kernel(in(b, ix), in(b, it), in(b, iw), in(b, ipw), out_ptr(b, io), b.n); },
      kLossChunk);
  return finish(total, r, checked_numel(x, fn));
}

void bce_with_logits_backward_cpu(const TensorView& g, double gs, const TensorView& x, const TensorView& t,
                                  const TensorView& w, const TensorView& pw, Reduction r, const TensorView& dx) {
  const char* fn = "binary_cross_entropy_with_logits_backward";
  check_inputs(fn, "input", x, t, &w, "weight", &pw);
  if (r == Reduction::none) check_pointwise_operand(g, x, fn, "grad_out", false);
  check_pointwise_operand(dx, x, fn, "out", true);
  const int64_t n = checked_numel(x, fn);
  const float scale = float(grad_scale(r, gs, n));
  const BceLogitsBackwardFn kernel = loss_kernels(active_isa()).bce_logits_backward;
  const bool stream = pointwise_stream_stores(16 * n);
  Operands o;
  const int ig = r == Reduction::none ? o.add(g) : -1;
  const int ix = o.add(x), it = o.add(t), iw = w.data ? o.add(w) : -1, ipw = pw.data ? o.add(pw) : -1;
  const int id = o.add(dx, true);
  pointwise_run(x.ndim, x.shape, o.n, o.op, [&](const PwBlock& b) {
    kernel(in(b, ig), scale, in(b, ix), in(b, it), in(b, iw), in(b, ipw), out_ptr(b, id), b.n, stream && b.direct);
    return 0.0;
  });
}

// ---- mean squared error -------------------------------------------------------------------------

double mse_loss_cpu(const TensorView& x, const TensorView& t, Reduction r, const TensorView& out) {
  const char* fn = "mse_loss";
  check_inputs(fn, "input", x, t, nullptr, nullptr, nullptr);
  if (r == Reduction::none) check_pointwise_operand(out, x, fn, "out", true);
  const MseFn kernel = loss_kernels(active_isa()).mse;
  Operands o;
  const int ix = o.add(x), it = o.add(t), io = r == Reduction::none ? o.add(out, true) : -1;
  const double total = pointwise_run(
      x.ndim, x.shape, o.n, o.op, [&](const PwBlock& b) { return kernel(in(b, ix), in(b, it), out_ptr(b, io), b.n); },
      kLossChunk);
  return finish(total, r, checked_numel(x, fn));
}

void mse_loss_backward_cpu(const TensorView& g, double gs, const TensorView& x, const TensorView& t, Reduction r,
                           const TensorView& dx) {
  const char* fn = "mse_loss_backward";
  check_inputs(fn, "input", x, t, nullptr, nullptr, nullptr);
  if (r == Reduction::none) check_pointwise_operand(g, x, fn, "grad_out", false);
  check_pointwise_operand(dx, x, fn, "out", true);
  const int64_t n = checked_numel(x, fn);
  const float scale = float(grad_scale(r, gs, n));
  const MseBackwardFn kernel = loss_kernels(active_isa()).mse_backward;
  const bool stream = pointwise_stream_stores(12 * n);
  Operands o;
  const int ig = r == Reduction::none ? o.add(g) : -1;
  const int ix = o.add(x), it = o.add(t), id = o.add(dx, true);
  pointwise_run(x.ndim, x.shape, o.n, o.op, [&](const PwBlock& b) {
    kernel(in(b, ig), scale, in(b, ix), in(b, it), out_ptr(b, id), b.n, stream && b.direct);
    return 0.0;
  });
}

}  // namespace fastnn
