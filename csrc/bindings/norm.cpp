// layer_norm, rms_norm, batch_norm: forward and backward (raw kernels; fastnn.ops.norm wraps them).
#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/norm/norm.h"

namespace fastnn {
namespace {

TensorView opt_in(const py::object& o, const char* fn, const char* arg) { return view_of_optional(o, fn, arg); }

TensorView opt_out(const py::object& o, const char* fn, const char* arg) {
  if (o.is_none()) return TensorView{};
  FASTNN_CHECK_TYPE(py::isinstance<py::array>(o), fn, ": ", arg, " must be a numpy array or None");
  return view_of_output(o.cast<py::array>(), fn, arg);
}

}  // namespace

void bind_norm(py::module_& m) {
  m.def(
      "layer_norm",
      [](const py::array& x, const py::object& w, const py::object& b, double eps, const py::array& y,
         const py::object& mean, const py::object& rstd) {
        const char* fn = "layer_norm";
        TensorView vx = view_of(x, fn, "x"), vw = opt_in(w, fn, "weight"), vb = opt_in(b, fn, "bias");
        TensorView vy = view_of_output(y, fn, "y"), vm = opt_out(mean, fn, "mean"), vr = opt_out(rstd, fn, "rstd");
        py::gil_scoped_release nogil;
        layer_norm_fwd_cpu(vx, vw, vb, eps, vy, vm, vr);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"), py::arg("y"), py::arg("mean"),
      py::arg("rstd"), "y = (x - mean) * rstd * weight + bias over rows of x (rows, n); saves mean/rstd (rows).");
  m.def(
      "layer_norm_backward",
      [](const py::array& g, const py::array& x, const py::object& w, const py::object& mean,
         const py::object& rstd, double eps, const py::array& dx, const py::object& dw, const py::object& db) {
        const char* fn = "layer_norm_backward";
        TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vw = opt_in(w, fn, "weight");
        TensorView vm = opt_in(mean, fn, "mean"), vr = opt_in(rstd, fn, "rstd");
        TensorView vdx = view_of_output(dx, fn, "grad_x"), vdw = opt_out(dw, fn, "grad_weight"),
                   vdb = opt_out(db, fn, "grad_bias");
        py::gil_scoped_release nogil;
        layer_norm_bwd_cpu(vg, vx, vw, vm, vr, eps, vdx, vdw, vdb);
      },
      py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("mean"), py::arg("rstd"), py::arg("eps"),
      py::arg("grad_x"), py::arg("grad_weight"), py::arg("grad_bias"));
  m.def(
      "rms_norm",
      [](const py::array& x, const py::object& w, double eps, const py::array& y, const py::object& rstd) {
        const char* fn = "rms_norm";
        TensorView vx = view_of(x, fn, "x"), vw = opt_in(w, fn, "weight");
        TensorView vy = view_of_output(y, fn, "y"), vr = opt_out(rstd, fn, "rstd");
        py::gil_scoped_release nogil;
        rms_norm_fwd_cpu(vx, vw, eps, vy, vr);
      },
      py::arg("x"), py::arg("weight"), py::arg("eps"), py::arg("y"), py::arg("rstd"));
  m.def(
      "rms_norm_backward",
      [](const py::array& g, const py::array& x, const py::object& w, const py::object& rstd, double eps,
         const py::array& dx, const py::object& dw) {
        const char* fn = "rms_norm_backward";
        TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vw = opt_in(w, fn, "weight");
        TensorView vr = opt_in(rstd, fn, "rstd");
        TensorView vdx = view_of_output(dx, fn, "grad_x"), vdw = opt_out(dw, fn, "grad_weight");
        py::gil_scoped_release nogil;
        rms_norm_bwd_cpu(vg, vx, vw, vr, eps, vdx, vdw);
      },
      py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("rstd"), py::arg("eps"), py::arg("grad_x"),
      py::arg("grad_weight"));
  m.def(
      "batch_norm",
      [](const py::array& x, const py::object& rm, const py::object& rv, const py::object& w, const py::object& b,
         bool training, double momentum, double eps, const py::array& y, const py::object& save_mean,
         const py::object& save_rstd) {
        const char* fn = "batch_norm";
        TensorView vx = view_of(x, fn, "x");
        TensorView vrm = training ? opt_out(rm, fn, "running_mean") : opt_in(rm, fn, "running_mean");
        TensorView vrv = training ? opt_out(rv, fn, "running_var") : opt_in(rv, fn, "running_var");
        TensorView vw = opt_in(w, fn, "weight"), vb = opt_in(b, fn, "bias");
        TensorView vy = view_of_output(y, fn, "y"), vsm = opt_out(save_mean, fn, "save_mean"),
                   vsr = opt_out(save_rstd, fn, "save_rstd");
        py::gil_scoped_release nogil;
        batch_norm_fwd_cpu(vx, vrm, vrv, vw, vb, training, momentum, eps, vy, vsm, vsr);
      },
      py::arg("x"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight"), py::arg("bias"),
      py::arg("training"), py::arg("momentum"), py::arg("eps"), py::arg("y"), py::arg("save_mean"),
      py::arg("save_rstd"), "x, y: (N, C, S) contiguous; running stats updated in place when training.");
  m.def(
      "batch_norm_backward",
      [](const py::array& g, const py::array& x, const py::object& w, const py::object& rm, const py::object& rv,
         bool training, double eps, const py::object& mean, const py::object& rstd, const py::array& dx,
         const py::object& dw, const py::object& db) {
        const char* fn = "batch_norm_backward";
        TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vw = opt_in(w, fn, "weight");
        TensorView vrm = opt_in(rm, fn, "running_mean"), vrv = opt_in(rv, fn, "running_var");
        TensorView vm = opt_in(mean, fn, "mean"), vr = opt_in(rstd, fn, "rstd");
        TensorView vdx = view_of_output(dx, fn, "grad_x"), vdw = opt_out(dw, fn, "grad_weight"),
                   vdb = opt_out(db, fn, "grad_bias");
        py::gil_scoped_release nogil;
        batch_norm_bwd_cpu(vg, vx, vw, vrm, vrv, training, eps, vm, vr, vdx, vdw, vdb);
      },
      py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("running_mean"), py::arg("running_var"),
      py::arg("training"), py::arg("eps"), py::arg("mean"), py::arg("rstd"), py::arg("grad_x"),
      py::arg("grad_weight"), py::arg("grad_bias"));
}

}  // namespace fastnn
