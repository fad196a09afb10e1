// softmax / log_softmax along one dimension, and their backwards from the forward output.
#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/softmax/softmax.h"

namespace fastnn {

void bind_softmax(py::module_& m) {
  m.def(
      "softmax",
      [](const py::array& x, const py::array& out, int dim, bool log) {
        const char* fn = log ? "log_softmax" : "softmax";
        TensorView vx = view_of(x, fn, "x"), vo = view_of_output(out, fn, "out");
        py::gil_scoped_release nogil;
        softmax_cpu(vx, vo, dim, log);
      },
      py::arg("x"), py::arg("out"), py::arg("dim"), py::arg("log") = false,
      "out = softmax(x) (log: log_softmax) along dim; float32, any strides; out may be x.");
  m.def(
      "softmax_backward",
      [](const py::array& g, const py::array& y, const py::array& out, int dim, bool log) {
        const char* fn = log ? "log_softmax_backward" : "softmax_backward";
        TensorView vg = view_of(g, fn, "grad_out"), vy = view_of(y, fn, "y");
        TensorView vo = view_of_output(out, fn, "out");
        py::gil_scoped_release nogil;
        softmax_backward_cpu(vg, vy, vo, dim, log);
      },
      py::arg("grad_out"), py::arg("y"), py::arg("out"), py::arg("dim"), py::arg("log") = false,
      "Gradient w.r.t. x from grad_out and the forward output y (softmax: y·(g - Σg·y); log_softmax: "
      "g - exp(y)·Σg).");
}

}  // namespace fastnn
