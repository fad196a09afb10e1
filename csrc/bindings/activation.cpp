// Activations: forward, backward (from the forward input) and the raw vector math.
#include <string>

#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/activation/activation.h"
#include "cpu/activation/pointwise.h"

namespace fastnn {
namespace {

ActKind parse_kind(const std::string& name) {
  for (int k = 0; k < kNumActKinds; ++k)
    if (name == act_kind_name(ActKind(k))) return ActKind(k);
  throw ValueError(str_cat("activation: unknown activation '", name,
                           "' (relu, leaky_relu, gelu, gelu_tanh, silu, sigmoid, tanh, softplus)"));
}

VecMathFn parse_vecmath(const std::string& name) {
  static const char* const names[kNumVecMathFns] = {"exp",  "log",  "log1p",       "tanh",       "sigmoid",
                                                    "erf",  "erfc", "normal_tail", "normal_pdf", "log1p_exp_neg"};
  for (int k = 0; k < kNumVecMathFns; ++k)
    if (name == names[k]) return VecMathFn(k);
  throw ValueError(str_cat("vector_math: unknown function '", name, "'"));
}

ActParams params(double slope, double beta, double threshold) {
  ActParams p;
  p.slope = float(slope);
  p.beta = float(beta);
  p.threshold = float(threshold);
  return p;
}

}  // namespace

void bind_activation(py::module_& m) {
  m.def(
      "activation",
      [](const std::string& kind, const py::array& x, const py::array& out, double slope, double beta,
         double threshold) {
        const ActKind k = parse_kind(kind);
        const char* fn = act_kind_name(k);
        TensorView vx = view_of(x, fn, "x"), vo = view_of_output(out, fn, "out");
        const ActParams p = params(slope, beta, threshold);
        py::gil_scoped_release nogil;
        activation_forward_cpu(k, vx, vo, p);
      },
      py::arg("kind"), py::arg("x"), py::arg("out"), py::arg("negative_slope") = 0.01, py::arg("beta") = 1.0,
      py::arg("threshold") = 20.0, "out = f(x) elementwise (float32, any strides; out may be x).");
  m.def(
      "activation_backward",
      [](const std::string& kind, const py::array& g, const py::array& x, const py::array& out, double slope,
         double beta, double threshold) {
        const ActKind k = parse_kind(kind);
        const std::string fn = str_cat(act_kind_name(k), "_backward");
        TensorView vg = view_of(g, fn.c_str(), "grad_out"), vx = view_of(x, fn.c_str(), "x");
        TensorView vo = view_of_output(out, fn.c_str(), "out");
        const ActParams p = params(slope, beta, threshold);
        py::gil_scoped_release nogil;
        activation_backward_cpu(k, vg, vx, vo, p);
      },
      py::arg("kind"), py::arg("grad_out"), py::arg("x"), py::arg("out"), py::arg("negative_slope") = 0.01,
      py::arg("beta") = 1.0, py::arg("threshold") = 20.0, "out = grad_out * f'(x) (from the forward input x).");
  m.def(
      "activation_backward_from_output",
      [](const std::string& kind, const py::array& g, const py::array& y, const py::array& out) {
        ActOutKind k;
        if (kind == "sigmoid")
          k = ActOutKind::sigmoid;
        else if (kind == "tanh")
          k = ActOutKind::tanh;
        else
          throw ValueError(str_cat("activation_backward_from_output: unknown activation '", kind,
                                   "' (sigmoid, tanh)"));
        const std::string fn = kind + "_backward";
        TensorView vg = view_of(g, fn.c_str(), "grad_out"), vy = view_of(y, fn.c_str(), "y");
        TensorView vo = view_of_output(out, fn.c_str(), "out");
        py::gil_scoped_release nogil;
        activation_backward_from_output_cpu(k, vg, vy, vo);
      },
      py::arg("kind"), py::arg("grad_out"), py::arg("y"), py::arg("out"),
      "out = grad_out * f'(y) from the forward output y: sigmoid y(1 - y), tanh 1 - y^2.");
  m.def(
      "vector_math",
      [](const std::string& name, const py::array& x, const py::array& out) {
        const VecMathFn f = parse_vecmath(name);
        TensorView vx = view_of(x, "vector_math", "x"), vo = view_of_output(out, "vector_math", "out");
        py::gil_scoped_release nogil;
        vector_math_cpu(f, vx, vo);
      },
      py::arg("fn"), py::arg("x"), py::arg("out"),
      "The active ISA's vector math on a contiguous 1-D float32 array (exp, log, log1p, tanh, sigmoid, erf, "
      "erfc, normal_tail, normal_pdf, log1p_exp_neg); for accuracy tests.");
  m.def("set_stream_threshold", &set_pointwise_stream_threshold, py::arg("bytes"),
        "Elementwise kernels write with non-temporal stores from this many bytes touched on (-1: default, "
        "the last-level cache size). For tests of the streaming paths.");
}

}  // namespace fastnn
