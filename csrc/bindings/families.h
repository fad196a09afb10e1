#pragma once
// One binding function per kernel family (one file each); module.cpp calls them all.
#include <pybind11/pybind11.h>

namespace fastnn {
namespace py = pybind11;

void bind_runtime(py::module_& m);
void bind_gemm(py::module_& m);
void bind_attention(py::module_& m);

}  // namespace fastnn
