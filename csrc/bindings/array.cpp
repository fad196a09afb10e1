#include "bindings/array.h"

namespace fastnn {

namespace {

DType dtype_of(const py::dtype& dt, const char* fn, const char* arg) {
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  FASTNN_CHECK_TYPE(dt.byteorder() != '>', fn, ": ", arg, " must be in native byte order");
  if (kind == 'f' && size == 4) return DType::f32;
  if (kind == 'f' && size == 8) return DType::f64;
  if (kind == 'f' && size == 2) return DType::f16;
  if (kind == 'i' && size == 4) return DType::i32;
  if (kind == 'i' && size == 8) return DType::i64;
  if (kind == 'u' && size == 1) return DType::u8;
  if (kind == 'b' && size == 1) return DType::b8;
  throw TypeError(str_cat(fn, ": ", arg, " has unsupported dtype ", std::string(py::str(dt))));
}

}  // namespace

TensorView view_of(const py::array& arr, const char* fn, const char* arg) {
  TensorView v;
  v.dtype = dtype_of(arr.dtype(), fn, arg);
  v.device = Device::cpu;
  FASTNN_CHECK_VALUE(arr.ndim() <= kMaxDims, fn, ": ", arg, " has ", arr.ndim(), " dimensions, at most ", kMaxDims,
                     " are supported");
  v.ndim = int(arr.ndim());
  v.data = const_cast<void*>(arr.data());
  const int64_t item = dtype_size(v.dtype);
  FASTNN_CHECK_VALUE(reinterpret_cast<uintptr_t>(v.data) % uintptr_t(item) == 0, fn, ": ", arg,
                     " data is not aligned to its element size");
  for (int d = 0; d < v.ndim; ++d) {
    v.shape[d] = arr.shape(d);
    const int64_t s = arr.strides(d);
    FASTNN_CHECK_VALUE(s % item == 0 || v.shape[d] <= 1, fn, ": ", arg, " stride ", s,
                       " bytes is not a multiple of the element size");
    v.strides[d] = v.shape[d] <= 1 ? 0 : s / item;
  }
  checked_numel(v, fn);
  return v;
}

TensorView view_of_output(const py::array& arr, const char* fn, const char* arg) {
  FASTNN_CHECK_VALUE(arr.writeable(), fn, ": ", arg, " is read-only");
  return view_of(arr, fn, arg);
}

TensorView view_of_optional(const py::object& obj, const char* fn, const char* arg) {
  if (obj.is_none()) return TensorView{};
  FASTNN_CHECK_TYPE(py::isinstance<py::array>(obj), fn, ": ", arg, " must be a numpy array or None");
  return view_of(obj.cast<py::array>(), fn, arg);
}

void register_exceptions(py::module_& m) {
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });
}

}  // namespace fastnn
