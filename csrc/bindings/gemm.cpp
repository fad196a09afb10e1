#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/gemm/linear.h"
#include "cpu/gemm/matmul.h"
#include "cpu/gemm/ukernel.h"

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
  // ---- internal entry points, for tests: the full sgemm contract and the basic micro-kernel ----
  m.def(
      "_sgemm",
      [](const py::array& a, const py::array& b, const py::array& c, float alpha, float beta, const py::object& bias,
         bool bias_per_row, const std::string& activation, const py::object& dy, bool serial) {
        const char* fn = "_sgemm";
        TensorView va = view_of(a, fn, "a"), vb = view_of(b, fn, "b"), vc = view_of_output(c, fn, "c");
        TensorView vbias = view_of_optional(bias, fn, "bias"), vdy = view_of_optional(dy, fn, "dy");
        for (const TensorView* t : {&va, &vb, &vc}) {
          check_dtype(*t, DType::f32, fn, "a, b and c");
          check_ndim(*t, 2, fn, "a, b and c");
        }
        const int64_t M = va.shape[0], K = va.shape[1], N = vb.shape[1];
        FASTNN_CHECK_VALUE(vb.shape[0] == K && vc.shape[0] == M && vc.shape[1] == N, fn, ": shapes do not match");
        GemmEpilogue ep;
        if (vbias.data) {
          check_dtype(vbias, DType::f32, fn, "bias");
          check_ndim(vbias, 1, fn, "bias");
          FASTNN_CHECK_VALUE(vbias.shape[0] == (bias_per_row ? M : N), fn, ": bias length");
          ep.bias = vbias.ptr<const float>();
          ep.bias_stride = vbias.strides[0];
          ep.bias_per_row = bias_per_row;
        }
        ep.act = parse_activation(activation, fn);
        if (vdy.data) {
          check_dtype(vdy, DType::f32, fn, "dy");
          check_ndim(vdy, 2, fn, "dy");
          FASTNN_CHECK_VALUE(vdy.shape[0] == M && vdy.shape[1] == N, fn, ": dy shape");
          ep.dy = vdy.ptr<const float>();
          ep.dy_rs = vdy.strides[0];
          ep.dy_cs = vdy.strides[1];
        }
        ConstMatrix A{va.ptr<const float>(), va.strides[0], va.strides[1]};
        ConstMatrix B{vb.ptr<const float>(), vb.strides[0], vb.strides[1]};
        Matrix C{vc.ptr<float>(), vc.strides[0], vc.strides[1]};
        py::gil_scoped_release nogil;
        if (serial) sgemm_serial(M, N, K, alpha, A, B, beta, C, ep);
        else sgemm(M, N, K, alpha, A, B, beta, C, ep);
      },
      py::arg("a"), py::arg("b"), py::arg("c"), py::arg("alpha"), py::arg("beta"), py::arg("bias"),
      py::arg("bias_per_row"), py::arg("activation"), py::arg("dy"), py::arg("serial"),
      "Internal (tests): c = epilogue(alpha * a @ b + beta * c) through sgemm / sgemm_serial.");
  m.def(
      "_sgemm_ukernel_basic",
      [](const py::array& a_packed, const py::array& b_packed, const py::array& c, float alpha, float beta) {
        const char* fn = "_sgemm_ukernel_basic";
        const SgemmUkernelInfo& uk = sgemm_ukernel_for(active_isa());
        TensorView va = view_of(a_packed, fn, "a_packed"), vb = view_of(b_packed, fn, "b_packed");
        TensorView vc = view_of_output(c, fn, "c");
        for (const TensorView* t : {&va, &vb, &vc}) {
          check_dtype(*t, DType::f32, fn, "arrays");
          check_ndim(*t, 2, fn, "arrays");
        }
        const int64_t kc = va.shape[0];
        FASTNN_CHECK_VALUE(va.shape[1] == uk.mr && vb.shape[0] == kc && vb.shape[1] == uk.nr && vc.shape[0] == uk.mr &&
                               vc.shape[1] == uk.nr && va.strides[1] == 1 && (kc <= 1 || va.strides[0] == uk.mr) &&
                               vb.strides[1] == 1 && (kc <= 1 || vb.strides[0] == uk.nr),
                           fn, ": need contiguous a_packed (kc, ", uk.mr, "), b_packed (kc, ", uk.nr, "), c (", uk.mr,
                           ", ", uk.nr, ")");
        FASTNN_CHECK_VALUE(reinterpret_cast<uintptr_t>(va.data) % 64 == 0 && reinterpret_cast<uintptr_t>(vb.data) % 64 == 0,
                           fn, ": packed panels must be 64-byte aligned");
        uk.fn(kc, alpha, va.ptr<const float>(), vb.ptr<const float>(), beta, vc.ptr<float>(), vc.strides[0],
              vc.strides[1]);
      },
      py::arg("a_packed"), py::arg("b_packed"), py::arg("c"), py::arg("alpha"), py::arg("beta"),
      "Internal (tests): the active ISA's basic micro-kernel on one full tile.");
  m.def("_sgemm_tile", [] {
    const SgemmUkernelInfo& uk = sgemm_ukernel_for(active_isa());
    return py::make_tuple(uk.mr, uk.nr);
  });
}

}  // namespace fastnn
