// Dropout from the counter-based Philox stream (see csrc/common/philox.h for its definition).
#include <pybind11/stl.h>

#include <array>

#include "bindings/array.h"
#include "bindings/families.h"
#include "common/philox.h"
#include "cpu/dropout/dropout.h"

namespace fastnn {

void bind_dropout(py::module_& m) {
  m.def(
      "dropout",
      [](const py::object& x, const py::object& out, const py::object& mask, double p, uint64_t seed,
         uint64_t offset) {
        const TensorView vx = view_of_optional(x, "dropout", "x");
        const TensorView vo = out.is_none() ? TensorView{} : view_of_output(out.cast<py::array>(), "dropout", "out");
        const TensorView vm = mask.is_none() ? TensorView{} : view_of_output(mask.cast<py::array>(), "dropout", "mask");
        py::gil_scoped_release nogil;
        dropout_cpu(vx, vo, vm, p, seed, offset);
      },
      py::arg("x"), py::arg("out"), py::arg("mask"), py::arg("p"), py::arg("seed"), py::arg("offset"),
      "out = x * keep / (1 - p) and/or mask = keep, keep from the Philox stream (seed, offset).");
  m.def(
      "philox4x32_10",
      [](std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
        const Philox4 r = philox4x32_10({{counter[0], counter[1], counter[2], counter[3]}}, key[0], key[1]);
        return std::array<uint32_t, 4>{r.v[0], r.v[1], r.v[2], r.v[3]};
      },
      py::arg("counter"), py::arg("key"), "One Philox4x32-10 block (for known-answer tests).");
  m.def(
      "dropout_words",
      [](uint64_t seed, uint64_t offset, uint64_t start, int64_t n) {
        FASTNN_CHECK_VALUE(n >= 0 && n <= (int64_t(1) << 24), "dropout_words: n must be in [0, 2^24]");
        py::array_t<uint32_t> out(n);
        auto* p = out.mutable_data();
        for (int64_t k = 0; k < n; ++k) p[k] = dropout_word(seed, offset, start + uint64_t(k));
        return out;
      },
      py::arg("seed"), py::arg("offset"), py::arg("start"), py::arg("n"),
      "The raw 32-bit words of the dropout stream for elements start .. start + n - 1 (scalar reference).");
}

}  // namespace fastnn
