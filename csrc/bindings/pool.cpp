// Pooling bindings: the Python layer (fastnn/ops/pool.py) parses arguments and allocates outputs;
// the geometry (output size, ceil_mode rule, padding limits) is recomputed and checked here.
#include <pybind11/stl.h>

#include <array>

#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/pool/pool.h"

namespace fastnn {
namespace {

using Pair = std::array<int64_t, 2>;

TensorView contiguous4(const py::array& a, const char* fn, const char* arg, DType dt, bool output) {
  TensorView v = output ? view_of_output(a, fn, arg) : view_of(a, fn, arg);
  check_dtype(v, dt, fn, arg);
  check_ndim(v, 4, fn, arg);
  if (checked_numel(v, fn) == 0) return v;
  int64_t expect = 1;
  for (int d = 3; d >= 0; --d) {
    FASTNN_CHECK_VALUE(v.shape[d] <= 1 || v.strides[d] == expect, fn, ": ", arg, " must be C-contiguous");
    expect *= v.shape[d];
  }
  return v;
}

void check_shape(const TensorView& v, std::array<int64_t, 4> want, const char* fn, const char* arg) {
  for (int d = 0; d < 4; ++d)
    FASTNN_CHECK_VALUE(v.shape[d] == want[size_t(d)], fn, ": ", arg, " must have shape (", want[0], ", ", want[1],
                       ", ", want[2], ", ", want[3], "), got (", v.shape[0], ", ", v.shape[1], ", ", v.shape[2],
                       ", ", v.shape[3], ")");
}

Pool2dGeometry geometry(const TensorView& x, Pair k, Pair s, Pair p, Pair d, bool ceil_mode, const char* fn) {
  Pool2dGeometry g;
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.kh = k[0], g.kw = k[1], g.sh = s[0], g.sw = s[1], g.ph = p[0], g.pw = p[1], g.dh = d[0], g.dw = d[1];
  finish_pool2d_geometry(g, ceil_mode, fn);
  return g;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def(
      "max_pool2d",
      [](const py::array& x, Pair k, Pair s, Pair p, Pair d, bool ceil_mode, const py::array& y,
         const py::object& indices) {
        const char* fn = "max_pool2d";
        TensorView vx = contiguous4(x, fn, "x", DType::f32, false);
        const Pool2dGeometry g = geometry(vx, k, s, p, d, ceil_mode, fn);
        TensorView vy = contiguous4(y, fn, "out", DType::f32, true);
        check_shape(vy, {g.N, g.C, g.Ho, g.Wo}, fn, "out");
        int64_t* ind = nullptr;
        if (!indices.is_none()) {
          FASTNN_CHECK_TYPE(py::isinstance<py::array>(indices), fn, ": indices must be a numpy array or None");
          TensorView vi = contiguous4(indices.cast<py::array>(), fn, "indices", DType::i64, true);
          check_shape(vi, {g.N, g.C, g.Ho, g.Wo}, fn, "indices");
          ind = vi.ptr<int64_t>();
        }
        py::gil_scoped_release nogil;
        max_pool2d_cpu(g, vx.ptr<float>(), vy.ptr<float>(), ind);
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
      py::arg("ceil_mode"), py::arg("out"), py::arg("indices"));

  m.def(
      "max_pool2d_backward",
      [](const py::array& gy, const py::array& indices, Pair k, Pair s, Pair p, Pair d, bool ceil_mode,
         const py::array& gx) {
        const char* fn = "max_pool2d_backward";
        TensorView vgx = contiguous4(gx, fn, "grad_x", DType::f32, true);
        const Pool2dGeometry g = geometry(vgx, k, s, p, d, ceil_mode, fn);
        TensorView vg = contiguous4(gy, fn, "grad_out", DType::f32, false);
        check_shape(vg, {g.N, g.C, g.Ho, g.Wo}, fn, "grad_out");
        TensorView vi = contiguous4(indices, fn, "indices", DType::i64, false);
        check_shape(vi, {g.N, g.C, g.Ho, g.Wo}, fn, "indices");
        py::gil_scoped_release nogil;
        max_pool2d_backward_cpu(g, vg.ptr<float>(), vi.ptr<int64_t>(), vgx.ptr<float>());
      },
      py::arg("grad_out"), py::arg("indices"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"),
      py::arg("dilation"), py::arg("ceil_mode"), py::arg("grad_x"));

  m.def(
      "avg_pool2d",
      [](const py::array& x, Pair k, Pair s, Pair p, bool ceil_mode, bool count_include_pad, int64_t divisor,
         const py::array& y) {
        const char* fn = "avg_pool2d";
        FASTNN_CHECK_VALUE(divisor >= 0, fn, ": divisor_override must be positive, got ", divisor);
        TensorView vx = contiguous4(x, fn, "x", DType::f32, false);
        const Pool2dGeometry g = geometry(vx, k, s, p, {1, 1}, ceil_mode, fn);
        TensorView vy = contiguous4(y, fn, "out", DType::f32, true);
        check_shape(vy, {g.N, g.C, g.Ho, g.Wo}, fn, "out");
        py::gil_scoped_release nogil;
        avg_pool2d_cpu(g, count_include_pad, divisor, vx.ptr<float>(), vy.ptr<float>());
      },
      py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
      py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("out"));

  m.def(
      "avg_pool2d_backward",
      [](const py::array& gy, Pair k, Pair s, Pair p, bool ceil_mode, bool count_include_pad, int64_t divisor,
         const py::array& gx) {
        const char* fn = "avg_pool2d_backward";
        FASTNN_CHECK_VALUE(divisor >= 0, fn, ": divisor_override must be positive, got ", divisor);
        TensorView vgx = contiguous4(gx, fn, "grad_x", DType::f32, true);
        const Pool2dGeometry g = geometry(vgx, k, s, p, {1, 1}, ceil_mode, fn);
        TensorView vg = contiguous4(gy, fn, "grad_out", DType::f32, false);
        check_shape(vg, {g.N, g.C, g.Ho, g.Wo}, fn, "grad_out");
        py::gil_scoped_release nogil;
        avg_pool2d_backward_cpu(g, count_include_pad, divisor, vg.ptr<float>(), vgx.ptr<float>());
      },
      py::arg("grad_out"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
      py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("grad_x"));

  m.def(
      "adaptive_avg_pool2d",
      [](const py::array& x, const py::array& y) {
        const char* fn = "adaptive_avg_pool2d";
        TensorView vx = contiguous4(x, fn, "x", DType::f32, false);
        TensorView vy = contiguous4(y, fn, "out", DType::f32, true);
        FASTNN_CHECK_VALUE(vy.shape[0] == vx.shape[0] && vy.shape[1] == vx.shape[1], fn,
                           ": out must have x's batch and channel sizes");
        FASTNN_CHECK_VALUE(vx.shape[2] > 0 && vx.shape[3] > 0 || vy.shape[2] * vy.shape[3] == 0, fn,
                           ": x has an empty spatial dimension");
        py::gil_scoped_release nogil;
        adaptive_avg_pool2d_cpu(vx.shape[0] * vx.shape[1], vx.shape[2], vx.shape[3], vy.shape[2], vy.shape[3],
                                vx.ptr<float>(), vy.ptr<float>());
      },
      py::arg("x"), py::arg("out"));

  m.def(
      "adaptive_avg_pool2d_backward",
      [](const py::array& gy, const py::array& gx) {
        const char* fn = "adaptive_avg_pool2d_backward";
        TensorView vg = contiguous4(gy, fn, "grad_out", DType::f32, false);
        TensorView vgx = contiguous4(gx, fn, "grad_x", DType::f32, true);
        FASTNN_CHECK_VALUE(vg.shape[0] == vgx.shape[0] && vg.shape[1] == vgx.shape[1], fn,
                           ": grad_out must have x's batch and channel sizes");
        FASTNN_CHECK_VALUE(vgx.shape[2] > 0 && vgx.shape[3] > 0 || vg.shape[2] * vg.shape[3] == 0, fn,
                           ": x has an empty spatial dimension");
        py::gil_scoped_release nogil;
        adaptive_avg_pool2d_backward_cpu(vgx.shape[0] * vgx.shape[1], vgx.shape[2], vgx.shape[3], vg.shape[2],
                                         vg.shape[3], vg.ptr<float>(), vgx.ptr<float>());
      },
      py::arg("grad_out"), py::arg("grad_x"));
}

}  // namespace fastnn
