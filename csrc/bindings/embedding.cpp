// Embedding lookup and its scatter-add backward.
#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/embedding/embedding.h"

namespace fastnn {

void bind_embedding(py::module_& m) {
  m.def(
      "embedding",
      [](const py::array& indices, const py::array& weight, const py::array& out) {
        const TensorView vi = view_of(indices, "embedding", "indices"), vw = view_of(weight, "embedding", "weight");
        const TensorView vo = view_of_output(out, "embedding", "out");
        py::gil_scoped_release nogil;
        embedding_cpu(vi, vw, vo);
      },
      py::arg("indices"), py::arg("weight"), py::arg("out"),
      "out[..., :] = weight[indices[...], :]; out-of-range indices raise ValueError.");
  m.def(
      "embedding_backward",
      [](const py::array& grad_out, const py::array& indices, int64_t padding_idx, const py::array& out) {
        const char* fn = "embedding_backward";
        const TensorView vg = view_of(grad_out, fn, "grad_out"), vi = view_of(indices, fn, "indices");
        const TensorView vo = view_of_output(out, fn, "out");
        py::gil_scoped_release nogil;
        embedding_backward_cpu(vg, vi, padding_idx, vo);
      },
      py::arg("grad_out"), py::arg("indices"), py::arg("padding_idx"), py::arg("out"),
      "out (num_embeddings, D) = scatter-add of grad_out rows by index (duplicates accumulate); the "
      "padding_idx row (or -1 for none) stays 0.");
}

}  // namespace fastnn
