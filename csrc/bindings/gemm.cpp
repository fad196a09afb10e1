#include "bindings/array.h"
#include "bindings/families.h"
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
}

}  // namespace fastnn
