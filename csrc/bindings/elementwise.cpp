// Broadcasting add / mul, the scale used by sum/mean backward, mul's fused backward (raw
// kernels; fastnn.ops.elementwise wraps them).
#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/elementwise/binary.h"

namespace fastnn {

void bind_elementwise(py::module_& m) {
  auto def_binary = [&](const char* name, BinaryOp op) {
    m.def(
        name,
        [op, name](const py::array& a, const py::array& b, const py::array& out) {
          TensorView va = view_of(a, name, "a"), vb = view_of(b, name, "b"), vo = view_of_output(out, name, "out");
          py::gil_scoped_release nogil;
          binary_cpu(op, va, vb, vo, name);
        },
        py::arg("a"), py::arg("b"), py::arg("out"), "out = a op b; a, b already broadcast to out's shape.");
  };
  def_binary("add", BinaryOp::add);
  def_binary("mul", BinaryOp::mul);
  m.def(
      "broadcast_scale",
      [](const py::array& a, double s, const py::array& out) {
        TensorView va = view_of(a, "broadcast_scale", "a"), vo = view_of_output(out, "broadcast_scale", "out");
        py::gil_scoped_release nogil;
        scale_cpu(va, s, vo);
      },
      py::arg("a"), py::arg("s"), py::arg("out"), "out = a * s; a already broadcast to out's shape.");
  m.def(
      "mul_backward",
      [](const py::array& g, const py::array& a, const py::array& b, const py::array& ga, const py::array& gb) {
        const char* fn = "mul_backward";
        TensorView vg = view_of(g, fn, "grad_out"), va = view_of(a, fn, "a"), vb = view_of(b, fn, "b");
        TensorView vga = view_of_output(ga, fn, "grad_a"), vgb = view_of_output(gb, fn, "grad_b");
        py::gil_scoped_release nogil;
        mul_backward_cpu(vg, va, vb, vga, vgb);
      },
      py::arg("grad_out"), py::arg("a"), py::arg("b"), py::arg("grad_a"), py::arg("grad_b"));
}

}  // namespace fastnn
