// Losses: cross_entropy (fused log-softmax), binary_cross_entropy (+ with logits), mse_loss.
// Reduced forwards return a Python float (accumulated in double); 'none' writes `out`.
// Backwards take grad_out as an array (reduction 'none') or the scalar gs (mean / sum).
#include <string>

#include "bindings/array.h"
#include "bindings/families.h"
#include "cpu/loss/loss.h"

namespace fastnn {
namespace {

CrossEntropyArgs ce_args(const py::array& logits, const py::array& target, const py::object& weight,
                         int64_t ignore_index, double smoothing, const std::string& reduction, const char* fn) {
  CrossEntropyArgs a;
  a.logits = view_of(logits, fn, "logits");
  a.target = view_of(target, fn, "target");
  a.weight = view_of_optional(weight, fn, "weight");
  a.ignore_index = ignore_index;
  a.label_smoothing = smoothing;
  a.reduction = parse_reduction(reduction, fn);
  return a;
}

}  // namespace

void bind_loss(py::module_& m) {
  m.def(
      "cross_entropy",
      [](const py::array& logits, const py::array& target, const py::object& weight, int64_t ignore_index,
         double smoothing, const std::string& reduction, const py::object& out) {
        const char* fn = "cross_entropy";
        const CrossEntropyArgs a = ce_args(logits, target, weight, ignore_index, smoothing, reduction, fn);
        const TensorView vo = a.reduction == Reduction::none ? view_of_output(out.cast<py::array>(), fn, "out")
                                                             : TensorView{};
        py::gil_scoped_release nogil;
        return cross_entropy_cpu(a, vo);
      },
      py::arg("logits"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("label_smoothing"),
      py::arg("reduction"), py::arg("out"),
      "Cross entropy of logits (N, C[, d...]) against int class targets (N[, d...]); returns the mean/sum, or "
      "writes out (N[, d...]) for reduction='none'.");
  m.def(
      "cross_entropy_backward",
      [](const py::object& grad_out, double gs, const py::array& logits, const py::array& target,
         const py::object& weight, int64_t ignore_index, double smoothing, const std::string& reduction,
         const py::array& out) {
        const char* fn = "cross_entropy_backward";
        const CrossEntropyArgs a = ce_args(logits, target, weight, ignore_index, smoothing, reduction, fn);
        const TensorView vg = view_of_optional(grad_out, fn, "grad_out");
        FASTNN_CHECK_VALUE(a.reduction != Reduction::none || vg.data, fn,
                           ": reduction='none' needs grad_out as an array of the target's shape");
        const TensorView vo = view_of_output(out, fn, "out");
        py::gil_scoped_release nogil;
        cross_entropy_backward_cpu(a, vg, gs, vo);
      },
      py::arg("grad_out"), py::arg("gs"), py::arg("logits"), py::arg("target"), py::arg("weight"),
      py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("reduction"), py::arg("out"));

  m.def(
      "binary_cross_entropy",
      [](const py::array& p, const py::array& t, const py::object& w, const std::string& reduction,
         const py::object& out) {
        const char* fn = "binary_cross_entropy";
        const Reduction r = parse_reduction(reduction, fn);
        const TensorView vp = view_of(p, fn, "input"), vt = view_of(t, fn, "target");
        const TensorView vw = view_of_optional(w, fn, "weight");
        const TensorView vo = r == Reduction::none ? view_of_output(out.cast<py::array>(), fn, "out") : TensorView{};
        py::gil_scoped_release nogil;
        return binary_cross_entropy_cpu(vp, vt, vw, r, vo);
      },
      py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("reduction"), py::arg("out"));
  m.def(
      "binary_cross_entropy_backward",
      [](const py::object& g, double gs, const py::array& p, const py::array& t, const py::object& w,
         const std::string& reduction, const py::array& out) {
        const char* fn = "binary_cross_entropy_backward";
        const Reduction r = parse_reduction(reduction, fn);
        const TensorView vg = view_of_optional(g, fn, "grad_out");
        FASTNN_CHECK_VALUE(r != Reduction::none || vg.data, fn, ": reduction='none' needs grad_out as an array");
        const TensorView vp = view_of(p, fn, "input"), vt = view_of(t, fn, "target");
        const TensorView vw = view_of_optional(w, fn, "weight"), vo = view_of_output(out, fn, "out");
        py::gil_scoped_release nogil;
        binary_cross_entropy_backward_cpu(vg, gs, vp, vt, vw, r, vo);
      },
      py::arg("grad_out"), py::arg("gs"), py::arg("input"), py::arg("target"), py::arg("weight"),
      py::arg("reduction"), py::arg("out"));

  m.def(
      "binary_cross_entropy_with_logits",
      [](const py::array& x, const py::array& t, const py::object& w, const py::object& pw,
         const std::string& reduction, const py::object& out) {
        const char* fn = "binary_cross_entropy_with_logits";
        const Reduction r = parse_reduction(reduction, fn);
        const TensorView vx = view_of(x, fn, "input"), vt = view_of(t, fn, "target");
        const TensorView vw = view_of_optional(w, fn, "weight"), vpw = view_of_optional(pw, fn, "pos_weight");
        const TensorView vo = r == Reduction::none ? view_of_output(out.cast<py::array>(), fn, "out") : TensorView{};
        py::gil_scoped_release nogil;
        return bce_with_logits_cpu(vx, vt, vw, vpw, r, vo);
      },
      py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("pos_weight"), py::arg("reduction"),
      py::arg("out"));
  m.def(
      "binary_cross_entropy_with_logits_backward",
      [](const py::object& g, double gs, const py::array& x, const py::array& t, const py::object& w,
         const py::object& pw, const std::string& reduction, const py::array& out) {
        const char* fn = "binary_cross_entropy_with_logits_backward";
        const Reduction r = parse_reduction(reduction, fn);
        const TensorView vg = view_of_optional(g, fn, "grad_out");
        FASTNN_CHECK_VALUE(r != Reduction::none || vg.data, fn, ": reduction='none' needs grad_out as an array");
        const TensorView vx = view_of(x, fn, "input"), vt = view_of(t, fn, "target");
        const TensorView vw = view_of_optional(w, fn, "weight"), vpw = view_of_optional(pw, fn, "pos_weight");
        const TensorView vo = view_of_output(out, fn, "out");
        py::gil_scoped_release nogil;
        bce_with_logits_backward_cpu(vg, gs, vx, vt, vw, vpw, r, vo);
      },
      py::arg("grad_out"), py::arg("gs"), py::arg("input"), py::arg("target"), py::arg("weight"),
      py::arg("pos_weight"), py::arg("reduction"), py::arg("out"));

  m.def(
      "mse_loss",
      [](const py::array& x, const py::array& t, const std::string& reduction, const py::object& out) {
        const char* fn = "mse_loss";
        const Reduction r = parse_reduction(reduction, fn);
        const TensorView vx = view_of(x, fn, "input"), vt = view_of(t, fn, "target");
        const TensorView vo = r == Reduction::none ? view_of_output(out.cast<py::array>(), fn, "out") : TensorView{};
        py::gil_scoped_release nogil;
        return mse_loss_cpu(vx, vt, r, vo);
      },
      py::arg("input"), py::arg("target"), py::arg("reduction"), py::arg("out"));
  m.def(
      "mse_loss_backward",
      [](const py::object& g, double gs, const py::array& x, const py::array& t, const std::string& reduction,
         const py::array& out) {
        const char* fn = "mse_loss_backward";
        const Reduction r = parse_reduction(reduction, fn);
        const TensorView vg = view_of_optional(g, fn, "grad_out");
        FASTNN_CHECK_VALUE(r != Reduction::none || vg.data, fn, ": reduction='none' needs grad_out as an array");
        const TensorView vx = view_of(x, fn, "input"), vt = view_of(t, fn, "target");
        const TensorView vo = view_of_output(out, fn, "out");
        py::gil_scoped_release nogil;
        mse_loss_backward_cpu(vg, gs, vx, vt, r, vo);
      },
      py::arg("grad_out"), py::arg("gs"), py::arg("input"), py::arg("target"), py::arg("reduction"), py::arg("out"));
}

}  // namespace fastnn
