#pragma once
// NumPy array → TensorView at the binding boundary: dtype, byte order, alignment and stride
// checks, each error naming the function and argument.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "common/tensor.h"

namespace fastnn {
namespace py = pybind11;

TensorView view_of(const py::array& arr, const char* fn, const char* arg);
// Same, and the array must be writeable (an output).
TensorView view_of_output(const py::array& arr, const char* fn, const char* arg);
// Optional input: None → a view with data == nullptr.
TensorView view_of_optional(const py::object& obj, const char* fn, const char* arg);

// Registers fastnn's C++ exceptions as Python ValueError / TypeError for this module.
void register_exceptions(py::module_& m);

}  // namespace fastnn
