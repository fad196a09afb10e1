#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/attention/attention.h"

namespace fastnn {

void bind_attention(py::module_& m) {
  m.def(
      "attention_forward",
      [](const py::array& q, const py::array& k, const py::array& v, const py::object& mask, bool causal,
         double scale, const py::array& out, const py::object& lse) {
        const char* fn = "attention";
        TensorView vq = view_of(q, fn, "q"), vk = view_of(k, fn, "k"), vv = view_of(v, fn, "v");
        TensorView vm = view_of_optional(mask, fn, "mask");
        TensorView vo = view_of_output(out, fn, "out");
        TensorView vl;
        if (!lse.is_none()) {
          FASTNN_CHECK_TYPE(py::isinstance<py::array>(lse), fn, ": lse must be a numpy array or None");
          vl = view_of_output(lse.cast<py::array>(), fn, "lse");
        }
        py::gil_scoped_release nogil;
        attention_forward_cpu(vq, vk, vv, vm, causal, scale, vo, vl);
      },
      py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("causal"), py::arg("scale"), py::arg("out"),
      py::arg("lse"),
      "out (B,Hq,Lq,Dv) [, lse (B,Hq,Lq)] = softmax(scale·q·kᵀ + mask)·v, flash algorithm (float32).");
  m.def(
      "attention_backward",
      [](const py::array& grad_out, const py::array& q, const py::array& k, const py::array& v, const py::array& out,
         const py::array& lse, const py::object& mask, bool causal, double scale, const py::array& dq,
         const py::array& dk, const py::array& dv) {
        const char* fn = "attention_backward";
        TensorView vg = view_of(grad_out, fn, "grad_out"), vq = view_of(q, fn, "q"), vk = view_of(k, fn, "k"),
                   vv = view_of(v, fn, "v"), vo = view_of(out, fn, "out"), vl = view_of(lse, fn, "lse");
        TensorView vm = view_of_optional(mask, fn, "mask");
        TensorView vdq = view_of_output(dq, fn, "dq"), vdk = view_of_output(dk, fn, "dk"),
                   vdv = view_of_output(dv, fn, "dv");
        py::gil_scoped_release nogil;
        attention_backward_cpu(vg, vq, vk, vv, vo, vl, vm, causal, scale, vdq, vdk, vdv);
      },
      py::arg("grad_out"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("mask"),
      py::arg("causal"), py::arg("scale"), py::arg("dq"), py::arg("dk"), py::arg("dv"),
      "(dq, dk, dv) of attention, recomputed from the saved log-sum-exp (FlashAttention-2), written in place.");
}

}  // namespace fastnn
