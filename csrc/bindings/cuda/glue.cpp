// Bindings of the CUDA glue kernels (csrc/cuda/glue): descriptors in, kernels launched on the
// given stream with the GIL released. C++ validates every argument again (cuda/glue/*.cu).
#include "bindings/cuda/desc.h"
#include "cuda/glue/glue.h"

namespace fastnn {
namespace bind_cuda {

void bind_glue(py::module_& m) {
  m.def("activation", [](int kind, const Desc& x, const Desc& y, float slope, float beta, float threshold,
                         uintptr_t stream) {
    const char* fn = "activation";
    const TensorView vx = view_of(x, fn, "x"), vy = view_of(y, fn, "out");
    py::gil_scoped_release nogil;
    cuda::activation_forward(kind, vx, vy, cuda::ActScalars{slope, beta, threshold}, stream);
  }, py::arg("kind"), py::arg("x"), py::arg("out"), py::arg("slope"), py::arg("beta"), py::arg("threshold"),
     py::arg("stream"));
  m.def("activation_backward", [](int kind, const Desc& g, const Desc& x, const Desc& dx, float slope, float beta,
                                  float threshold, uintptr_t stream) {
    const char* fn = "activation_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vd = view_of(dx, fn, "out");
    py::gil_scoped_release nogil;
    cuda::activation_backward(kind, vg, vx, vd, cuda::ActScalars{slope, beta, threshold}, stream);
  }, py::arg("kind"), py::arg("grad_out"), py::arg("x"), py::arg("out"), py::arg("slope"), py::arg("beta"),
     py::arg("threshold"), py::arg("stream"));

  m.def("softmax", [](const Desc& x, const Desc& y, int dim, bool log, uintptr_t stream) {
    const TensorView vx = view_of(x, "softmax", "x"), vy = view_of(y, "softmax", "out");
    py::gil_scoped_release nogil;
    cuda::softmax_forward(vx, vy, dim, log, stream);
  }, py::arg("x"), py::arg("out"), py::arg("dim"), py::arg("log"), py::arg("stream"));
  m.def("softmax_backward", [](const Desc& g, const Desc& y, const Desc& dx, int dim, bool log, uintptr_t stream) {
    const char* fn = "softmax_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vy = view_of(y, fn, "y"), vd = view_of(dx, fn, "out");
    py::gil_scoped_release nogil;
    cuda::softmax_backward(vg, vy, vd, dim, log, stream);
  }, py::arg("grad_out"), py::arg("y"), py::arg("out"), py::arg("dim"), py::arg("log"), py::arg("stream"));

  m.def("cross_entropy", [](const Desc& logits, const Desc& target, const OptDesc& weight, int64_t ignore_index,
                            double label_smoothing, int reduction, const Desc& out, uintptr_t stream) {
    const char* fn = "cross_entropy";
    const TensorView vl = view_of(logits, fn, "logits"), vt = view_of(target, fn, "target"),
                     vo = view_of(out, fn, "out");
    TensorView w;
    const TensorView* pw = opt_view(weight, w, fn, "weight");
    py::gil_scoped_release nogil;
    cuda::cross_entropy_forward(vl, vt, pw, ignore_index, label_smoothing, reduction, vo, stream);
  }, py::arg("logits"), py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("label_smoothing"),
     py::arg("reduction"), py::arg("out"), py::arg("stream"));
  m.def("cross_entropy_backward", [](const OptDesc& grad_out, double grad_scalar, const Desc& logits,
                                     const Desc& target, const OptDesc& weight, int64_t ignore_index,
                                     double label_smoothing, int reduction, const Desc& dx, uintptr_t stream) {
    const char* fn = "cross_entropy_backward";
    const TensorView vl = view_of(logits, fn, "logits"), vt = view_of(target, fn, "target"),
                     vd = view_of(dx, fn, "out");
    TensorView g, w;
    const TensorView* pg = opt_view(grad_out, g, fn, "grad_out");
    const TensorView* pw = opt_view(weight, w, fn, "weight");
    py::gil_scoped_release nogil;
    cuda::cross_entropy_backward(pg, grad_scalar, vl, vt, pw, ignore_index, label_smoothing, reduction, vd, stream);
  }, py::arg("grad_out"), py::arg("grad_scalar"), py::arg("logits"), py::arg("target"), py::arg("weight"),
     py::arg("ignore_index"), py::arg("label_smoothing"), py::arg("reduction"), py::arg("out"), py::arg("stream"));

  m.def("row_norm", [](bool rms, const Desc& x, const OptDesc& weight, const OptDesc& bias, double eps,
                       const Desc& y, const OptDesc& mean, const OptDesc& rstd, uintptr_t stream) {
    const char* fn = rms ? "rms_norm" : "layer_norm";
    const TensorView vx = view_of(x, fn, "x"), vy = view_of(y, fn, "out");
    TensorView w, b, mu, rs;
    const TensorView *pw = opt_view(weight, w, fn, "weight"), *pb = opt_view(bias, b, fn, "bias"),
                     *pm = opt_view(mean, mu, fn, "mean"), *pr = opt_view(rstd, rs, fn, "rstd");
    py::gil_scoped_release nogil;
    cuda::row_norm_forward(rms, vx, pw, pb, eps, vy, pm, pr, stream);
  }, py::arg("rms"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("eps"), py::arg("out"),
     py::arg("mean"), py::arg("rstd"), py::arg("stream"));
  m.def("row_norm_backward", [](bool rms, const Desc& g, const Desc& x, const OptDesc& weight, const OptDesc& mean,
                                const OptDesc& rstd, double eps, const Desc& dx, const OptDesc& dweight,
                                const OptDesc& dbias, uintptr_t stream) {
    const char* fn = rms ? "rms_norm_backward" : "layer_norm_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vd = view_of(dx, fn, "grad_x");
    TensorView w, mu, rs, dw, db;
    const TensorView *pw = opt_view(weight, w, fn, "weight"), *pm = opt_view(mean, mu, fn, "mean"),
                     *pr = opt_view(rstd, rs, fn, "rstd"), *pdw = opt_view(dweight, dw, fn, "grad_weight"),
                     *pdb = opt_view(dbias, db, fn, "grad_bias");
    py::gil_scoped_release nogil;
    cuda::row_norm_backward(rms, vg, vx, pw, pm, pr, eps, vd, pdw, pdb, stream);
  }, py::arg("rms"), py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("mean"), py::arg("rstd"),
     py::arg("eps"), py::arg("grad_x"), py::arg("grad_weight"), py::arg("grad_bias"), py::arg("stream"));

  m.def("batch_norm", [](const Desc& x, const OptDesc& rm, const OptDesc& rv, const OptDesc& weight,
                         const OptDesc& bias, bool training, double momentum, double eps, const Desc& y,
                         const OptDesc& mean, const OptDesc& rstd, uintptr_t stream) {
    const char* fn = "batch_norm";
    const TensorView vx = view_of(x, fn, "x"), vy = view_of(y, fn, "out");
    TensorView a, b, c, d, e, f;
    const TensorView *prm = opt_view(rm, a, fn, "running_mean"), *prv = opt_view(rv, b, fn, "running_var"),
                     *pw = opt_view(weight, c, fn, "weight"), *pb = opt_view(bias, d, fn, "bias"),
                     *pm = opt_view(mean, e, fn, "mean"), *pr = opt_view(rstd, f, fn, "rstd");
    py::gil_scoped_release nogil;
    cuda::batch_norm_forward(vx, prm, prv, pw, pb, training, momentum, eps, vy, pm, pr, stream);
  }, py::arg("x"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight"), py::arg("bias"),
     py::arg("training"), py::arg("momentum"), py::arg("eps"), py::arg("out"), py::arg("mean"), py::arg("rstd"),
     py::arg("stream"));
  m.def("batch_norm_backward", [](const Desc& g, const Desc& x, const OptDesc& weight, const OptDesc& rm,
                                  const OptDesc& rv, bool training, double eps, const OptDesc& mean,
                                  const OptDesc& rstd, const Desc& dx, const OptDesc& dweight, const OptDesc& dbias,
                                  uintptr_t stream) {
    const char* fn = "batch_norm_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vd = view_of(dx, fn, "grad_x");
    TensorView a, b, c, d, e, f, h;
    const TensorView *pw = opt_view(weight, a, fn, "weight"), *prm = opt_view(rm, b, fn, "running_mean"),
                     *prv = opt_view(rv, c, fn, "running_var"), *pm = opt_view(mean, d, fn, "mean"),
                     *pr = opt_view(rstd, e, fn, "rstd"), *pdw = opt_view(dweight, f, fn, "grad_weight"),
                     *pdb = opt_view(dbias, h, fn, "grad_bias");
    py::gil_scoped_release nogil;
    cuda::batch_norm_backward(vg, vx, pw, prm, prv, training, eps, pm, pr, vd, pdw, pdb, stream);
  }, py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("running_mean"), py::arg("running_var"),
     py::arg("training"), py::arg("eps"), py::arg("mean"), py::arg("rstd"), py::arg("grad_x"), py::arg("grad_weight"),
     py::arg("grad_bias"), py::arg("stream"));

  m.def("embedding", [](const Desc& indices, const Desc& weight, const Desc& out, uintptr_t stream) {
    const char* fn = "embedding";
    const TensorView vi = view_of(indices, fn, "indices"), vw = view_of(weight, fn, "weight"),
                     vo = view_of(out, fn, "out");
    py::gil_scoped_release nogil;
    cuda::embedding_forward(vi, vw, vo, stream);
  }, py::arg("indices"), py::arg("weight"), py::arg("out"), py::arg("stream"));
  m.def("embedding_backward", [](const Desc& grad_out, const Desc& indices, int64_t padding_idx,
                                 const Desc& grad_weight, uintptr_t stream) {
    const char* fn = "embedding_backward";
    const TensorView vg = view_of(grad_out, fn, "grad_out"), vi = view_of(indices, fn, "indices"),
                     vw = view_of(grad_weight, fn, "grad_weight");
    py::gil_scoped_release nogil;
    cuda::embedding_backward(vg, vi, padding_idx, vw, stream);
  }, py::arg("grad_out"), py::arg("indices"), py::arg("padding_idx"), py::arg("grad_weight"), py::arg("stream"));

  m.def("dropout", [](const OptDesc& x, const OptDesc& y, const OptDesc& mask, double p, uint64_t seed,
                      uint64_t offset, uintptr_t stream) {
    const char* fn = "dropout";
    TensorView a, b, c;
    const TensorView *px = opt_view(x, a, fn, "x"), *py_ = opt_view(y, b, fn, "out"),
                     *pm = opt_view(mask, c, fn, "mask");
    py::gil_scoped_release nogil;
    cuda::dropout(px, py_, pm, p, seed, offset, stream);
  }, py::arg("x"), py::arg("out"), py::arg("mask"), py::arg("p"), py::arg("seed"), py::arg("offset"),
     py::arg("stream"));

  m.def("binary", [](int op, const Desc& a, const OptDesc& b, double scale, const Desc& out, uintptr_t stream) {
    const char* fn = "binary";
    const TensorView va = view_of(a, fn, "a"), vo = view_of(out, fn, "out");
    TensorView vb;
    const TensorView* pb = opt_view(b, vb, fn, "b");
    py::gil_scoped_release nogil;
    cuda::binary(op, va, pb, scale, vo, stream);
  }, py::arg("op"), py::arg("a"), py::arg("b"), py::arg("scale"), py::arg("out"), py::arg("stream"),
     "op 0: a + b, 1: a * b, 2: a * scale; a, b broadcast views of out's shape.");
  m.def("reduce_sum", [](const Desc& x, uint32_t axes_mask, double scale, const Desc& out, uintptr_t stream) {
    const TensorView vx = view_of(x, "sum", "x"), vo = view_of(out, "sum", "out");
    py::gil_scoped_release nogil;
    cuda::reduce_sum(vx, axes_mask, scale, vo, stream);
  }, py::arg("x"), py::arg("axes_mask"), py::arg("scale"), py::arg("out"), py::arg("stream"));

  m.def("sgd_step", [](const Desc& param, const Desc& grad, const OptDesc& buf, double lr, double momentum,
                       double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step,
                       uintptr_t stream) {
    const char* fn = "sgd_step_";
    const TensorView vp = view_of(param, fn, "param"), vg = view_of(grad, fn, "grad");
    TensorView b;
    const TensorView* pb = opt_view(buf, b, fn, "momentum_buf");
    py::gil_scoped_release nogil;
    cuda::sgd_step(vp, vg, pb, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step, stream);
  }, py::arg("param"), py::arg("grad"), py::arg("momentum_buf"), py::arg("lr"), py::arg("momentum"),
     py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"), py::arg("first_step"),
     py::arg("stream"));
  m.def("adam_step", [](const Desc& param, const Desc& grad, const Desc& m1, const Desc& m2, const OptDesc& vmax,
                        int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay,
                        bool amsgrad, bool maximize, bool decoupled, uintptr_t stream) {
    const char* fn = decoupled ? "adamw_step_" : "adam_step_";
    const TensorView vp = view_of(param, fn, "param"), vg = view_of(grad, fn, "grad"),
                     va = view_of(m1, fn, "exp_avg"), vb = view_of(m2, fn, "exp_avg_sq");
    TensorView c;
    const TensorView* pc = opt_view(vmax, c, fn, "max_exp_avg_sq");
    py::gil_scoped_release nogil;
    cuda::adam_step(vp, vg, va, vb, pc, step, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled,
                    stream);
  }, py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
     py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
     py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled"), py::arg("stream"));
}

}  // namespace bind_cuda
}  // namespace fastnn
