// Optimizer step drivers: validation (torch.optim's argument rules), scalar set-up in double,
// and threads over contiguous chunks of the buffers.
#include "cpu/optim/optim.h"

#include <cmath>

#include "cpu/parallel_blocks.h"
#include "cpu/optim/optim_kernels.h"
#include "cpu/view_checks.h"

namespace fastnn {
namespace {

constexpr int64_t kBlock = 65536;  // elements per scheduling block

void check_buffer(const TensorView& t, const TensorView& param, const char* fn, const char* arg) {
  check_f32_cpu(t, fn, arg);
  FASTNN_CHECK_VALUE(t.ndim == param.ndim, fn, ": ", arg, " must have param's shape ", shape_str(param), ", got ",
                     shape_str(t));
  for (int d = 0; d < t.ndim; ++d)
    FASTNN_CHECK_VALUE(t.shape[d] == param.shape[d], fn, ": ", arg, " must have param's shape ", shape_str(param),
                       ", got ", shape_str(t));
  check_contiguous(t, fn, arg);
}

// Written buffers must not overlap each other or grad (contiguous: byte ranges suffice).
void check_disjoint(const TensorView* const* views, const char* const* names, int count, int64_t n,
                    const char* fn) {
  for (int i = 0; i < count; ++i)
    for (int j = i + 1; j < count; ++j) {
      if (!views[i]->data || !views[j]->data || n == 0) continue;
      const char* a = static_cast<const char*>(views[i]->data);
      const char* b = static_cast<const char*>(views[j]->data);
      const int64_t bytes = n * int64_t(sizeof(float));
      FASTNN_CHECK_VALUE(a + bytes <= b || b + bytes <= a, fn, ": ", names[i], " and ", names[j],
                         " share memory; every buffer must be distinct");
    }
}

void check_scalar(double v, bool ok, const char* fn, const char* arg, const char* rule) {
  FASTNN_CHECK_VALUE(std::isfinite(v), fn, ": ", arg, " must be finite, got ", v);
  FASTNN_CHECK_VALUE(ok, fn, ": ", arg, " must be ", rule, ", got ", v);
}

}  // namespace

void sgd_step_cpu(const TensorView& param, const TensorView& grad, const TensorView& buf, const SgdOptions& o) {
  const char* fn = "sgd_step_";
  check_buffer(param, param, fn, "param");
  check_buffer(grad, param, fn, "grad");
  check_scalar(o.lr, o.lr >= 0, fn, "lr", ">= 0");
  check_scalar(o.momentum, o.momentum >= 0, fn, "momentum", ">= 0");
  check_scalar(o.dampening, true, fn, "dampening", "finite");
  check_scalar(o.weight_decay, o.weight_decay >= 0, fn, "weight_decay", ">= 0");
  FASTNN_CHECK_VALUE(!o.nesterov || (o.momentum > 0 && o.dampening == 0), fn,
                     ": nesterov momentum requires a momentum > 0 and zero dampening");
  const bool use_momentum = o.momentum != 0;
  FASTNN_CHECK_VALUE(!use_momentum || buf.data, fn, ": momentum != 0 needs a momentum_buf (param's shape)");
  if (use_momentum) check_buffer(buf, param, fn, "momentum_buf");
  const int64_t n = checked_numel(param, fn);
  const TensorView* views[] = {&param, &grad, &buf};
  const char* names[] = {"param", "grad", "momentum_buf"};
  check_disjoint(views, names, use_momentum ? 3 : 2, n, fn);

  SgdArgs a;
  a.lr = float(o.lr), a.momentum = float(o.momentum), a.one_minus_dampening = float(1.0 - o.dampening);
  a.weight_decay = float(o.weight_decay);
  a.use_momentum = use_momentum, a.nesterov = o.nesterov, a.first_step = o.first_step, a.maximize = o.maximize;
  const OptimKernels& k = optim_kernels_for(active_isa());
  float* p = param.ptr<float>();
  const float* g = grad.ptr<float>();
  float* b = buf.ptr<float>();
  parallel_blocks(0, n, kBlock, [&](int64_t lo, int64_t hi) { k.sgd(p + lo, g + lo, b ? b + lo : nullptr, hi - lo, a); });
}

void adam_step_cpu(const TensorView& param, const TensorView& grad, const TensorView& exp_avg,
                   const TensorView& exp_avg_sq, const TensorView& max_exp_avg_sq, const AdamOptions& o) {
  const char* fn = o.decoupled ? "adamw_step_" : "adam_step_";
  check_buffer(param, param, fn, "param");
  check_buffer(grad, param, fn, "grad");
  check_buffer(exp_avg, param, fn, "exp_avg");
  check_buffer(exp_avg_sq, param, fn, "exp_avg_sq");
  FASTNN_CHECK_VALUE(!o.amsgrad || max_exp_avg_sq.data, fn, ": amsgrad=True needs max_exp_avg_sq (param's shape)");
  if (o.amsgrad) check_buffer(max_exp_avg_sq, param, fn, "max_exp_avg_sq");
  check_scalar(o.lr, o.lr >= 0, fn, "lr", ">= 0");
  check_scalar(o.beta1, o.beta1 >= 0 && o.beta1 < 1, fn, "beta1", "in [0, 1)");
  check_scalar(o.beta2, o.beta2 >= 0 && o.beta2 < 1, fn, "beta2", "in [0, 1)");
  check_scalar(o.eps, o.eps >= 0, fn, "eps", ">= 0");
  check_scalar(o.weight_decay, o.weight_decay >= 0, fn, "weight_decay", ">= 0");
  FASTNN_CHECK_VALUE(o.step >= 1, fn, ": step counts from 1 (the step number after this update), got ", o.step);
  const int64_t n = checked_numel(param, fn);
  const TensorView* views[] = {&param, &grad, &exp_avg, &exp_avg_sq, &max_exp_avg_sq};
  const char* names[] = {"param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  check_disjoint(views, names, o.amsgrad ? 5 : 4, n, fn);

  AdamArgs a;
  const double bc1 = 1.0 - std::pow(o.beta1, double(o.step)), bc2 = 1.0 - std::pow(o.beta2, double(o.step));
  a.lr_decay = o.decoupled ? float(1.0 - o.lr * o.weight_decay) : 1.0f;
  a.weight_decay = o.decoupled ? 0.0f : float(o.weight_decay);
  a.lerp_w = float(1.0 - o.beta1);
  a.beta2 = float(o.beta2), a.one_minus_beta2 = float(1.0 - o.beta2);
  a.step_size = float(o.lr / bc1);
  a.inv_bc2_sqrt = float(1.0 / std::sqrt(bc2));
  a.eps = float(o.eps);
  a.amsgrad = o.amsgrad, a.maximize = o.maximize;
  const OptimKernels& k = optim_kernels_for(active_isa());
  float *p = param.ptr<float>(), *m = exp_avg.ptr<float>(), *v = exp_avg_sq.ptr<float>();
  float* vm = o.amsgrad ? max_exp_avg_sq.ptr<float>() : nullptr;
  const float* g = grad.ptr<float>();
  parallel_blocks(0, n, kBlock, [&](int64_t lo, int64_t hi) {
    k.adam(p + lo, g + lo, m + lo, v + lo, vm ? vm + lo : nullptr, hi - lo, a);
  });
}

}  // namespace fastnn
