#pragma once
// TensorView: a borrowed, strided view of memory owned by Python (NumPy or CuPy).
// Strides are in elements (not bytes) and may be zero (broadcast) or negative.
#include <cstdint>
#include <string>

#include "common/errors.h"

namespace fastnn {

constexpr int kMaxDims = 8;

enum class DType : int { f32, f64, f16, bf16, i32, i64, u8, b8 };
enum class Device : int { cpu, cuda };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::b8: return "bool";
  }
  return "?";
}

inline int64_t dtype_size(DType d) {
  switch (d) {
    case DType::f64: case DType::i64: return 8;
    case DType::f32: case DType::i32: return 4;
    case DType::f16: case DType::bf16: return 2;
    case DType::u8: case DType::b8: return 1;
  }
  return 0;
}

struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  Device device = Device::cpu;
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // elements

  int64_t size(int d) const { return shape[d < 0 ? d + ndim : d]; }
  int64_t stride(int d) const { return strides[d < 0 ? d + ndim : d]; }
  template <class T> T* ptr() const { return static_cast<T*>(data); }
};

// ---- overflow-checked size arithmetic -----------------------------------------------------

// a * b, or a ValueError naming `what` when the product leaves int64.
inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r;
  FASTNN_CHECK_VALUE(!__builtin_mul_overflow(a, b, &r), what, ": size overflows int64 (", a, " * ", b, ")");
  return r;
}

inline int64_t checked_numel(const TensorView& t, const char* what) {
  int64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) {
    FASTNN_CHECK_VALUE(t.shape[d] >= 0, what, ": negative dimension ", t.shape[d]);
    n = checked_mul(n, t.shape[d], what);
  }
  return n;
}

// Largest |element offset| reachable through the view; must fit int64 for pointer arithmetic.
inline void check_offsets_fit(const TensorView& t, const char* what) {
  int64_t span = 0;
  for (int d = 0; d < t.ndim; ++d) {
    if (t.shape[d] == 0) return;  // empty view touches nothing
    int64_t s = t.strides[d] < 0 ? -t.strides[d] : t.strides[d];
    int64_t reach = checked_mul(t.shape[d] - 1, s, what);
    FASTNN_CHECK_VALUE(!__builtin_add_overflow(span, reach, &span), what, ": strides overflow int64");
  }
  checked_mul(span + 1, dtype_size(t.dtype), what);
}

inline void check_dtype(const TensorView& t, DType want, const char* fn, const char* arg) {
  FASTNN_CHECK_TYPE(t.dtype == want, fn, ": ", arg, " must be ", dtype_name(want), ", got ", dtype_name(t.dtype));
}

inline void check_ndim(const TensorView& t, int want, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(t.ndim == want, fn, ": ", arg, " must have ", want, " dimensions, got ", t.ndim);
}

}  // namespace fastnn
