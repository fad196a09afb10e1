#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/gemm/linear.h"
#include "cpu/gemm/matmul.h"

namespace fastnn {

void bind_gemm(py::module_& m) {
  m.def(
      "matmul",
      [](const py::array& a, const py::array& b, const py::array& out) {
        TensorView va = view_of(a, "matmul", "a"), vb = view_of(b, "matmul", "b");
        TensorView vo = view_of_output(out, "matmul", "out");
        py::gil_scoped_release nogil;
        matmul_cpu(va, vb, vo);
      },
      py::arg("a"), py::arg("b"), py::arg("out"),
      "out[..., M, N] = a[..., M, K] @ b[..., K, N] (float32, rank >= 2, batch dims broadcast).");
  m.def(
      "linear",
      [](const py::array& x, const py::array& weight, const py::object& bias, const std::string& activation,
         const py::array& out) {
        const char* fn = "linear";
        TensorView vx = view_of(x, fn, "x"), vw = view_of(weight, fn, "weight");
        TensorView vb = view_of_optional(bias, fn, "bias"), vo = view_of_output(out, fn, "out");
        const Activation act = parse_activation(activation, fn);
        py::gil_scoped_release nogil;
        linear_cpu(vx, vw, vb, act, vo);
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("activation"), py::arg("out"),
      "out (M, N) = act(x (M, K) @ weight (N, K).T + bias (N)), bias and activation fused in the GEMM.");
  m.def(
      "linear_backward",
      [](const py::array& grad_out, const py::array& x, const py::array& weight, const py::object& bias,
         const std::string& activation, const py::array& grad_x, const py::array& grad_weight,
         const py::object& grad_bias) {
        const char* fn = "linear_backward";
        TensorView vg = view_of(grad_out, fn, "grad_out"), vx = view_of(x, fn, "x");
        TensorView vw = view_of(weight, fn, "weight"), vb = view_of_optional(bias, fn, "bias");
        TensorView vgx = view_of_output(grad_x, fn, "grad_x"), vgw = view_of_output(grad_weight, fn, "grad_weight");
        TensorView vgb;
        if (!grad_bias.is_none()) {
          FASTNN_CHECK_TYPE(py::isinstance<py::array>(grad_bias), fn, ": grad_bias must be a numpy array or None");
          vgb = view_of_output(grad_bias.cast<py::array>(), fn, "grad_bias");
        }
        const Activation act = parse_activation(activation, fn);
        py::gil_scoped_release nogil;
        linear_backward_cpu(vg, vx, vw, vb, act, vgx, vgw, vgb);
      },
      py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("activation"),
      py::arg("grad_x"), py::arg("grad_weight"), py::arg("grad_bias"),
      "Gradients of linear: grad_x (M, K), grad_weight (N, K), grad_bias (N) written in place; the "
      "pre-activation is recomputed inside the GEMM epilogue.");
}

}  // namespace fastnn
