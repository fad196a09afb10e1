#pragma once
// Array descriptors of the CUDA bindings: the Python layer (fastnn.backend.cuda_descriptor /
// fastnn.ops._cuda) passes (pointer, shape, strides in elements, dtype name) tuples built from
// __cuda_array_interface__; these turn them into TensorViews on Device::cuda.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/tensor.h"

namespace fastnn {
namespace bind_cuda {

namespace py = pybind11;
using Desc = std::tuple<uintptr_t, std::vector<int64_t>, std::vector<int64_t>, std::string>;
using OptDesc = std::optional<Desc>;

inline DType parse_dtype(const std::string& s, const char* fn, const char* arg) {
  if (s == "float32") return DType::f32;
  if (s == "float16") return DType::f16;
  if (s == "bfloat16") return DType::bf16;
  if (s == "float64") return DType::f64;
  if (s == "int32") return DType::i32;
  if (s == "int64") return DType::i64;
  if (s == "uint8") return DType::u8;
  if (s == "bool") return DType::b8;
  throw TypeError(str_cat(fn, ": ", arg, " has unsupported dtype ", s));
}

inline TensorView view_of(const Desc& d, const char* fn, const char* arg) {
  TensorView v;
  const auto& [ptr, shape, strides, dtype] = d;
  FASTNN_CHECK_VALUE(shape.size() == strides.size() && shape.size() <= size_t(kMaxDims), fn, ": ", arg,
                     " has a bad descriptor (rank ", shape.size(), ")");
  v.data = reinterpret_cast<void*>(ptr);
  v.dtype = parse_dtype(dtype, fn, arg);
  v.device = Device::cuda;
  v.ndim = int(shape.size());
  for (int i = 0; i < v.ndim; ++i) v.shape[i] = shape[i], v.strides[i] = strides[i];
  checked_numel(v, fn);
  check_offsets_fit(v, fn);
  return v;
}

// An optional descriptor: the view goes into `storage`; returns a pointer to it, or nullptr.
inline const TensorView* opt_view(const OptDesc& d, TensorView& storage, const char* fn, const char* arg) {
  if (!d) return nullptr;
  storage = view_of(*d, fn, arg);
  return &storage;
}

void bind_glue(py::module_& m);       // glue.cpp: activations, softmax, losses, norms, embedding, dropout, optim
void bind_attention(py::module_& m);  // attention.cpp
void bind_conv(py::module_& m);       // conv.cpp: conv2d (+ backward), pooling

}  // namespace bind_cuda
}  // namespace fastnn
