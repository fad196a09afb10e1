#pragma once
// One binding function per kernel family (one file each); module.cpp calls them all.
#include <pybind11/pybind11.h>

namespace fastnn {
namespace py = pybind11;

void bind_runtime(py::module_& m);
void bind_gemm(py::module_& m);
void bind_norm(py::module_& m);
void bind_reduce(py::module_& m);
void bind_elementwise(py::module_& m);
void bind_optim(py::module_& m);
void bind_activation(py::module_& m);
void bind_softmax(py::module_& m);
void bind_loss(py::module_& m);
void bind_dropout(py::module_& m);
void bind_embedding(py::module_& m);
void bind_conv(py::module_& m);
void bind_pool(py::module_& m);
void bind_attention(py::module_& m);

}  // namespace fastnn
