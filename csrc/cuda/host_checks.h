#pragma once
// Host-side argument checks shared by the CUDA entry points (plain C++: included by .cu files and
// by the bindings alike). Every message names the function and the argument, expected vs got.
#include <cstdint>
#include <string>

#include "common/tensor.h"

namespace fastnn {
namespace cuda {

inline bool is_float_dtype(DType d) { return d == DType::f32 || d == DType::f16 || d == DType::bf16; }

inline std::string shape_str(const TensorView& t) {
  std::string s = "(";
  for (int d = 0; d < t.ndim; ++d) s += str_cat(d ? ", " : "", t.shape[d]);
  return s + (t.ndim == 1 ? ",)" : ")");
}

inline void check_on_cuda(const TensorView& t, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(t.device == Device::cuda, fn, ": ", arg, " must be a CUDA array");
  checked_numel(t, fn);
  check_offsets_fit(t, fn);
}

// A CUDA float32 / float16 / bfloat16 array.
inline void check_float(const TensorView& t, const char* fn, const char* arg) {
  check_on_cuda(t, fn, arg);
  FASTNN_CHECK_TYPE(is_float_dtype(t.dtype), fn, ": ", arg, " must be float32, float16 or bfloat16, got ",
                    dtype_name(t.dtype));
}

// A CUDA array of exactly dtype `dt` (the dtype of the op's first input).
inline void check_float_as(const TensorView& t, DType dt, const char* fn, const char* arg) {
  check_on_cuda(t, fn, arg);
  check_dtype(t, dt, fn, arg);
}

inline bool same_shape(const TensorView& a, const TensorView& b) {
  if (a.ndim != b.ndim) return false;
  for (int d = 0; d < a.ndim; ++d)
    if (a.shape[d] != b.shape[d]) return false;
  return true;
}

inline void check_shape_as(const TensorView& t, const TensorView& ref, const char* fn, const char* arg,
                           const char* ref_name) {
  FASTNN_CHECK_VALUE(same_shape(t, ref), fn, ": ", arg, " must have the shape of ", ref_name, " ", shape_str(ref),
                     ", got ", shape_str(t));
}

inline void check_shape_is(const TensorView& t, int ndim, const int64_t* shape, const char* fn, const char* arg) {
  bool ok = t.ndim == ndim;
  for (int d = 0; ok && d < ndim; ++d) ok = t.shape[d] == shape[d];
  if (!ok) {
    TensorView want;
    want.ndim = ndim;
    for (int d = 0; d < ndim; ++d) want.shape[d] = shape[d];
    throw ValueError(str_cat(fn, ": ", arg, " must have shape ", shape_str(want), ", got ", shape_str(t)));
  }
}

inline bool is_contiguous(const TensorView& t) {
  int64_t step = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    if (t.shape[d] != 1 && t.strides[d] != step) return false;
    step *= t.shape[d];
  }
  return true;
}

inline void check_contiguous(const TensorView& t, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(is_contiguous(t), fn, ": ", arg, " must be C-contiguous");
}

// An output may not repeat elements: no zero stride on a dim of size > 1.
inline void check_output_layout(const TensorView& t, const char* fn, const char* arg) {
  if (checked_numel(t, fn) == 0) return;
  for (int d = 0; d < t.ndim; ++d)
    FASTNN_CHECK_VALUE(t.shape[d] <= 1 || t.strides[d] != 0, fn, ": ", arg, " must not have zero strides");
}

inline int64_t numel(const TensorView& t) {
  int64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) n *= t.shape[d];
  return n;
}

}  // namespace cuda
}  // namespace fastnn
