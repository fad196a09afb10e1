#pragma once
// Validation helpers for kernels that take TensorViews from the bindings: every message names
// the function and the argument, with what was expected and what was got.
#include <cstdint>
#include <initializer_list>
#include <string>

#include "common/tensor.h"

namespace fastnn {

inline std::string shape_str(const TensorView& t) {
  std::string s = "(";
  for (int d = 0; d < t.ndim; ++d) s += (d ? ", " : "") + std::to_string(t.shape[d]);
  return s + (t.ndim == 1 ? ",)" : ")");
}

// A float32 CPU array with in-range offsets.
inline void check_f32_cpu(const TensorView& t, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(t.device == Device::cpu, fn, ": ", arg, " must be a CPU array");
  check_dtype(t, DType::f32, fn, arg);
  checked_numel(t, fn);
  check_offsets_fit(t, fn);
}

inline void check_shape(const TensorView& t, std::initializer_list<int64_t> shape, const char* fn, const char* arg) {
  bool ok = t.ndim == int(shape.size());
  int d = 0;
  std::string want = "(";
  for (int64_t s : shape) {
    if (ok && t.shape[d] != s) ok = false;
    want += (d ? ", " : "") + std::to_string(s);
    ++d;
  }
  want += shape.size() == 1 ? ",)" : ")";
  FASTNN_CHECK_VALUE(ok, fn, ": ", arg, " must have shape ", want, ", got ", shape_str(t));
}

// Row-major contiguous (size-1 dimensions may have any stride).
inline bool is_contiguous(const TensorView& t) {
  int64_t expect = 1;
  for (int d = t.ndim - 1; d >= 0; --d) {
    if (t.shape[d] != 1 && t.strides[d] != expect) return false;
    expect *= t.shape[d];
  }
  return true;
}

inline void check_contiguous(const TensorView& t, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(is_contiguous(t), fn, ": ", arg, " must be contiguous");
}

// A 2-D (rows, n) view whose rows are contiguous, with rows not overlapping.
inline void check_rows(const TensorView& t, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(t.ndim == 2, fn, ": ", arg, " must be 2-D (rows, n), got shape ", shape_str(t));
  FASTNN_CHECK_VALUE(t.shape[1] <= 1 || t.strides[1] == 1, fn, ": ", arg, " rows must be contiguous (unit stride)");
  FASTNN_CHECK_VALUE(t.shape[0] <= 1 || t.strides[0] >= t.shape[1], fn, ": ", arg,
                     " rows must not overlap (row stride >= row length)");
}

}  // namespace fastnn
