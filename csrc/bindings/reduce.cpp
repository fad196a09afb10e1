// sum / mean / max over axes and max's backward (raw kernels; fastnn.ops.reduce wraps them).
#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/reduce/reduce.h"

namespace fastnn {

void bind_reduce(py::module_& m) {
  auto def_reduce = [&](const char* name, ReduceOp op) {
    m.def(
        name,
        [op, name](const py::array& x, uint32_t axes_mask, const py::array& out) {
          TensorView vx = view_of(x, name, "x"), vo = view_of_output(out, name, "out");
          py::gil_scoped_release nogil;
          reduce_cpu(vx, axes_mask, op, vo, TensorView{});
        },
        py::arg("x"), py::arg("axes_mask"), py::arg("out"),
        "out (x's kept axes) = reduction of x over the axes whose bits are set in axes_mask.");
  };
  def_reduce("sum", ReduceOp::sum);
  def_reduce("mean", ReduceOp::mean);
  m.def(
      "max",
      [](const py::array& x, uint32_t axes_mask, const py::array& out, const py::array& indices) {
        TensorView vx = view_of(x, "max", "x"), vo = view_of_output(out, "max", "out");
        TensorView vi = view_of_output(indices, "max", "indices");
        py::gil_scoped_release nogil;
        reduce_cpu(vx, axes_mask, ReduceOp::max, vo, vi);
      },
      py::arg("x"), py::arg("axes_mask"), py::arg("out"), py::arg("indices"),
      "Max over the masked axes and the flat (row-major over those axes) index of its first occurrence.");
  m.def(
      "max_backward",
      [](const py::array& grad, const py::array& indices, uint32_t axes_mask, const py::array& grad_x) {
        TensorView vg = view_of(grad, "max_backward", "grad_out"), vi = view_of(indices, "max_backward", "indices");
        TensorView vx = view_of_output(grad_x, "max_backward", "grad_x");
        py::gil_scoped_release nogil;
        max_backward_cpu(vg, vi, axes_mask, vx);
      },
      py::arg("grad_out"), py::arg("indices"), py::arg("axes_mask"), py::arg("grad_x"));
}

}  // namespace fastnn
