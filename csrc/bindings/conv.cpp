// conv2d / conv_transpose2d bindings: the Python layer (fastnn/ops/conv.py) parses arguments and
// allocates outputs; here every shape is checked again against the geometry.
#include <array>
#include <string>

#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/conv/conv2d.h"

namespace fastnn {
namespace {

using Pair = std::array<int64_t, 2>;
using Quad = std::array<int64_t, 4>;

Activation parse_activation(const std::string& name, const char* fn) {
  if (name.empty() || name == "none" || name == "identity") return Activation::none;
  if (name == "relu") return Activation::relu;
  if (name == "gelu") return Activation::gelu;
  if (name == "gelu_tanh") return Activation::gelu_tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  if (name == "tanh") return Activation::tanh;
  if (name == "silu") return Activation::silu;
  throw ValueError(str_cat(fn, ": unknown activation '", name,
                           "' (expected none, relu, gelu, gelu_tanh, sigmoid, tanh or silu)"));
}

// A float32, C-contiguous, 4-D (N, C, H, W)-style array.
TensorView tensor4(const py::array& a, const char* fn, const char* arg, bool output) {
  TensorView v = output ? view_of_output(a, fn, arg) : view_of(a, fn, arg);
  check_dtype(v, DType::f32, fn, arg);
  check_ndim(v, 4, fn, arg);
  if (checked_numel(v, fn) == 0) return v;  // nothing is read or written through an empty array
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

// An optional float32 contiguous 1-D array of length n (None → nullptr).
float* vector_or_null(const py::object& obj, int64_t n, const char* fn, const char* arg, bool output) {
  if (obj.is_none()) return nullptr;
  TensorView v = view_of_optional(obj, fn, arg);
  if (output) FASTNN_CHECK_VALUE(obj.cast<py::array>().writeable(), fn, ": ", arg, " is read-only");
  check_dtype(v, DType::f32, fn, arg);
  check_ndim(v, 1, fn, arg);
  FASTNN_CHECK_VALUE(v.shape[0] == n, fn, ": ", arg, " must have shape (", n, ",), got (", v.shape[0], ",)");
  FASTNN_CHECK_VALUE(v.shape[0] <= 1 || v.strides[0] == 1, fn, ": ", arg, " must be contiguous");
  return v.ptr<float>();
}

float* tensor4_or_null(const py::object& obj, std::array<int64_t, 4> want, const char* fn, const char* arg) {
  if (obj.is_none()) return nullptr;
  FASTNN_CHECK_TYPE(py::isinstance<py::array>(obj), fn, ": ", arg, " must be a numpy array or None");
  TensorView v = tensor4(obj.cast<py::array>(), fn, arg, true);
  check_shape(v, want, fn, arg);
  return v.ptr<float>();
}

// conv2d geometry from x (N, C, H, W) and w (K, C/groups, R, S).
Conv2dGeometry conv_geometry(const TensorView& x, const TensorView& w, Pair stride, Quad pads, Pair dilation,
                             int64_t groups, const char* fn) {
  Conv2dGeometry g;
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.K = w.shape[0], g.R = w.shape[2], g.S = w.shape[3];
  g.groups = groups;
  g.sh = stride[0], g.sw = stride[1], g.dh = dilation[0], g.dw = dilation[1];
  g.pt = pads[0], g.pb = pads[1], g.pl = pads[2], g.pr = pads[3];
  FASTNN_CHECK_VALUE(groups >= 1, fn, ": groups must be >= 1, got ", groups);
  FASTNN_CHECK_VALUE(g.C % groups == 0 && w.shape[1] == g.C / groups, fn, ": weight must have shape (K, ",
                     g.C / groups, ", R, S) for ", g.C, " input channels and groups=", groups, ", got (",
                     w.shape[0], ", ", w.shape[1], ", ", w.shape[2], ", ", w.shape[3], ")");
  finish_conv2d_geometry(g, fn);
  return g;
}

// The conv that conv_transpose2d is the adjoint of: its input is the transposed conv's output.
Conv2dGeometry transpose_geometry(const TensorView& x, const TensorView& w, Pair stride, Pair padding,
                                  Pair output_padding, Pair dilation, int64_t groups, const char* fn) {
  FASTNN_CHECK_VALUE(groups >= 1, fn, ": groups must be >= 1, got ", groups);
  FASTNN_CHECK_VALUE(w.shape[0] == x.shape[1] && x.shape[1] % groups == 0, fn, ": weight must have shape (",
                     x.shape[1], ", C_out/groups, R, S) for ", x.shape[1], " input channels and groups=", groups,
                     ", got (", w.shape[0], ", ", w.shape[1], ", ", w.shape[2], ", ", w.shape[3], ")");
  Conv2dGeometry g;
  g.N = x.shape[0];
  g.K = x.shape[1];
  g.C = w.shape[1] * groups;
  g.R = w.shape[2], g.S = w.shape[3];
  g.groups = groups;
  g.sh = stride[0], g.sw = stride[1], g.dh = dilation[0], g.dw = dilation[1];
  g.pt = g.pb = padding[0];
  g.pl = g.pr = padding[1];
  for (int i = 0; i < 2; ++i) {
    FASTNN_CHECK_VALUE(stride[size_t(i)] >= 1 && dilation[size_t(i)] >= 1 && padding[size_t(i)] >= 0, fn,
                       ": stride and dilation must be >= 1 and padding >= 0");
    FASTNN_CHECK_VALUE(output_padding[size_t(i)] >= 0 && (output_padding[size_t(i)] < stride[size_t(i)] ||
                                                          output_padding[size_t(i)] < dilation[size_t(i)]),
                       fn, ": output_padding must be smaller than either stride or dilation, got output_padding=(",
                       output_padding[0], ", ", output_padding[1], ")");
  }
  g.H = (x.shape[2] - 1) * g.sh - 2 * g.pt + g.dh * (g.R - 1) + output_padding[0] + 1;
  g.W = (x.shape[3] - 1) * g.sw - 2 * g.pl + g.dw * (g.S - 1) + output_padding[1] + 1;
  FASTNN_CHECK_VALUE(g.H >= 1 && g.W >= 1, fn, ": output size (", g.H, ", ", g.W, ") is not positive");
  finish_conv2d_geometry(g, fn);
  g.Ho = x.shape[2];
  g.Wo = x.shape[3];
  return g;
}

}  // namespace

void bind_conv(py::module_& m) {
  m.def(
      "conv2d",
      [](const py::array& x, const py::array& w, const py::object& bias, Pair stride, Quad pads, Pair dilation,
         int64_t groups, const std::string& activation, const py::array& y) {
        const char* fn = "conv2d";
        TensorView vx = tensor4(x, fn, "x", false), vw = tensor4(w, fn, "weight", false);
        const Conv2dGeometry g = conv_geometry(vx, vw, stride, pads, dilation, groups, fn);
        const float* b = vector_or_null(bias, g.K, fn, "bias", false);
        TensorView vy = tensor4(y, fn, "out", true);
        check_shape(vy, {g.N, g.K, g.Ho, g.Wo}, fn, "out");
        const Activation act = parse_activation(activation, fn);
        py::gil_scoped_release nogil;
        conv2d_forward_cpu(g, vx.ptr<float>(), vw.ptr<float>(), b, act, vy.ptr<float>());
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("pads"), py::arg("dilation"),
      py::arg("groups"), py::arg("activation"), py::arg("out"),
      "out = act(conv2d(x, weight) + bias); NCHW float32, pads = (top, bottom, left, right).");

  m.def(
      "conv2d_backward",
      [](const py::array& gy, const py::array& x, const py::array& w, const py::object& bias, Pair stride,
         Quad pads, Pair dilation, int64_t groups, const std::string& activation, const py::object& gx,
         const py::object& gw, const py::object& gb) {
        const char* fn = "conv2d_backward";
        TensorView vx = tensor4(x, fn, "x", false), vw = tensor4(w, fn, "weight", false);
        const Conv2dGeometry g = conv_geometry(vx, vw, stride, pads, dilation, groups, fn);
        TensorView vg = tensor4(gy, fn, "grad_out", false);
        check_shape(vg, {g.N, g.K, g.Ho, g.Wo}, fn, "grad_out");
        const float* b = vector_or_null(bias, g.K, fn, "bias", false);
        float* pgx = tensor4_or_null(gx, {g.N, g.C, g.H, g.W}, fn, "grad_x");
        float* pgw = tensor4_or_null(gw, {g.K, g.Cg(), g.R, g.S}, fn, "grad_weight");
        float* pgb = vector_or_null(gb, g.K, fn, "grad_bias", true);
        const Activation act = parse_activation(activation, fn);
        py::gil_scoped_release nogil;
        conv2d_backward_cpu(g, vg.ptr<float>(), vx.ptr<float>(), vw.ptr<float>(), b, act, pgx, pgw, pgb);
      },
      py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("pads"),
      py::arg("dilation"), py::arg("groups"), py::arg("activation"), py::arg("grad_x"), py::arg("grad_weight"),
      py::arg("grad_bias"), "Writes the requested gradients (None: not computed).");

  m.def(
      "conv_transpose2d",
      [](const py::array& x, const py::array& w, const py::object& bias, Pair stride, Pair padding,
         Pair output_padding, Pair dilation, int64_t groups, const py::array& y) {
        const char* fn = "conv_transpose2d";
        TensorView vx = tensor4(x, fn, "x", false), vw = tensor4(w, fn, "weight", false);
        const Conv2dGeometry g = transpose_geometry(vx, vw, stride, padding, output_padding, dilation, groups, fn);
        const float* b = vector_or_null(bias, g.C, fn, "bias", false);
        TensorView vy = tensor4(y, fn, "out", true);
        check_shape(vy, {g.N, g.C, g.H, g.W}, fn, "out");
        py::gil_scoped_release nogil;
        conv2d_backward_data_cpu(g, vx.ptr<float>(), vw.ptr<float>(), b, vy.ptr<float>());
      },
      py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"),
      py::arg("output_padding"), py::arg("dilation"), py::arg("groups"), py::arg("out"),
      "out = conv_transpose2d(x, weight) + bias; weight (C_in, C_out/groups, R, S).");

  m.def(
      "conv_transpose2d_backward",
      [](const py::array& gy, const py::array& x, const py::array& w, Pair stride, Pair padding,
         Pair output_padding, Pair dilation, int64_t groups, const py::object& gx, const py::object& gw,
         const py::object& gb) {
        const char* fn = "conv_transpose2d_backward";
        TensorView vx = tensor4(x, fn, "x", false), vw = tensor4(w, fn, "weight", false);
        const Conv2dGeometry g = transpose_geometry(vx, vw, stride, padding, output_padding, dilation, groups, fn);
        TensorView vg = tensor4(gy, fn, "grad_out", false);
        check_shape(vg, {g.N, g.C, g.H, g.W}, fn, "grad_out");
        float* pgx = tensor4_or_null(gx, {g.N, g.K, g.Ho, g.Wo}, fn, "grad_x");
        float* pgw = tensor4_or_null(gw, {g.K, g.Cg(), g.R, g.S}, fn, "grad_weight");
        float* pgb = vector_or_null(gb, g.C, fn, "grad_bias", true);
        py::gil_scoped_release nogil;
        // grad_x: the forward conv of grad_out (rows past x's size are never computed);
        // grad_weight: x plays the conv's grad_out and grad_out the conv's input.
        if (pgx) conv2d_forward_cpu(g, vg.ptr<float>(), vw.ptr<float>(), nullptr, Activation::none, pgx);
        if (pgw) conv2d_backward_weight_cpu(g, vx.ptr<float>(), vg.ptr<float>(), pgw);
        if (pgb) conv_bias_grad_cpu(g.N, g.C, g.H * g.W, vg.ptr<float>(), pgb);
      },
      py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("stride"), py::arg("padding"),
      py::arg("output_padding"), py::arg("dilation"), py::arg("groups"), py::arg("grad_x"),
      py::arg("grad_weight"), py::arg("grad_bias"), "Writes the requested gradients (None: not computed).");
}

}  // namespace fastnn
