// Fused in-place optimizer steps (raw kernels; fastnn.ops.optim wraps them).
#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/optim/optim.h"

namespace fastnn {

void bind_optim(py::module_& m) {
  m.def(
      "sgd_step_",
      [](const py::array& param, const py::array& grad, const py::object& buf, double lr, double momentum,
         double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step) {
        const char* fn = "sgd_step_";
        TensorView vp = view_of_output(param, fn, "param"), vg = view_of(grad, fn, "grad");
        TensorView vb;
        if (!buf.is_none()) {
          FASTNN_CHECK_TYPE(py::isinstance<py::array>(buf), fn, ": momentum_buf must be a numpy array or None");
          vb = view_of_output(buf.cast<py::array>(), fn, "momentum_buf");
        }
        SgdOptions o;
        o.lr = lr, o.momentum = momentum, o.dampening = dampening, o.weight_decay = weight_decay;
        o.nesterov = nesterov, o.maximize = maximize, o.first_step = first_step;
        py::gil_scoped_release nogil;
        sgd_step_cpu(vp, vg, vb, o);
      },
      py::arg("param"), py::arg("grad"), py::arg("momentum_buf"), py::arg("lr"), py::arg("momentum"),
      py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"), py::arg("first_step"));
  m.def(
      "adam_step_",
      [](const py::array& param, const py::array& grad, const py::array& exp_avg, const py::array& exp_avg_sq,
         const py::object& max_exp_avg_sq, int64_t step, double lr, double beta1, double beta2, double eps,
         double weight_decay, bool amsgrad, bool maximize, bool decoupled) {
        const char* fn = decoupled ? "adamw_step_" : "adam_step_";
        TensorView vp = view_of_output(param, fn, "param"), vg = view_of(grad, fn, "grad");
        TensorView vm = view_of_output(exp_avg, fn, "exp_avg"), vv = view_of_output(exp_avg_sq, fn, "exp_avg_sq");
        TensorView vx;
        if (!max_exp_avg_sq.is_none()) {
          FASTNN_CHECK_TYPE(py::isinstance<py::array>(max_exp_avg_sq), fn,
                            ": max_exp_avg_sq must be a numpy array or None");
          vx = view_of_output(max_exp_avg_sq.cast<py::array>(), fn, "max_exp_avg_sq");
        }
        AdamOptions o;
        o.step = step, o.lr = lr, o.beta1 = beta1, o.beta2 = beta2, o.eps = eps, o.weight_decay = weight_decay;
        o.amsgrad = amsgrad, o.maximize = maximize, o.decoupled = decoupled;
        py::gil_scoped_release nogil;
        adam_step_cpu(vp, vg, vm, vv, vx, o);
      },
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
      py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
      py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"));
}

}  // namespace fastnn
