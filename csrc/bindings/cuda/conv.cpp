// Bindings of the CUDA convolution and pooling kernels (csrc/cuda/conv).
#include <array>

#include "bindings/cuda/desc.h"
#include "cuda/conv/conv.h"

namespace fastnn {
namespace bind_cuda {

namespace {
using Pair = std::array<int64_t, 2>;

cuda::ConvParams conv_params(const Pair& stride, const Pair& pad, const Pair& dilation, int64_t groups) {
  cuda::ConvParams p;
  for (int i = 0; i < 2; ++i) p.stride[i] = stride[i], p.pad[i] = pad[i], p.dilation[i] = dilation[i];
  p.groups = groups;
  return p;
}

cuda::PoolParams pool_params(const Pair& k, const Pair& s, const Pair& p, const Pair& d, bool ceil_mode,
                             bool count_include_pad, int64_t divisor_override) {
  cuda::PoolParams pp;
  for (int i = 0; i < 2; ++i) pp.kernel[i] = k[i], pp.stride[i] = s[i], pp.pad[i] = p[i], pp.dilation[i] = d[i];
  pp.ceil_mode = ceil_mode, pp.count_include_pad = count_include_pad, pp.divisor_override = divisor_override;
  return pp;
}
}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d", [](const Desc& x, const Desc& w, const OptDesc& bias, const Pair& stride, const Pair& pad,
                     const Pair& dilation, int64_t groups, int activation, const Desc& out, const std::string& kernel,
                     uintptr_t stream) {
    const char* fn = "conv2d";
    const TensorView vx = view_of(x, fn, "x"), vw = view_of(w, fn, "weight"), vo = view_of(out, fn, "out");
    TensorView b;
    const TensorView* pb = opt_view(bias, b, fn, "bias");
    const cuda::ConvParams cp = conv_params(stride, pad, dilation, groups);
    py::gil_scoped_release nogil;
    cuda::conv2d_forward(vx, vw, pb, cp, activation, vo, kernel, stream);
  }, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"), py::arg("activation"), py::arg("out"), py::arg("kernel"), py::arg("stream"),
     "padding: (top, left); the output shape fixes the bottom / right padding.");
  m.def("conv2d_backward", [](const Desc& g, const Desc& x, const Desc& w, const OptDesc& bias, const Pair& stride,
                              const Pair& pad, const Pair& dilation, int64_t groups, int activation, const OptDesc& dx,
                              const OptDesc& dw, const OptDesc& db, const std::string& kernel, uintptr_t stream) {
    const char* fn = "conv2d_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vw = view_of(w, fn, "weight");
    TensorView b, a1, a2, a3;
    const TensorView *pb = opt_view(bias, b, fn, "bias"), *pdx = opt_view(dx, a1, fn, "grad_x"),
                     *pdw = opt_view(dw, a2, fn, "grad_weight"), *pdb = opt_view(db, a3, fn, "grad_bias");
    const cuda::ConvParams cp = conv_params(stride, pad, dilation, groups);
    py::gil_scoped_release nogil;
    cuda::conv2d_backward(vg, vx, vw, pb, cp, activation, pdx, pdw, pdb, kernel, stream);
  }, py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"),
     py::arg("dilation"), py::arg("groups"), py::arg("activation"), py::arg("grad_x"), py::arg("grad_weight"),
     py::arg("grad_bias"), py::arg("kernel"), py::arg("stream"));
  m.def("conv_transpose2d", [](const Desc& x, const Desc& w, const OptDesc& bias, const Pair& stride, const Pair& pad,
                               const Pair& dilation, int64_t groups, const Desc& out, const std::string& kernel,
                               uintptr_t stream) {
    const char* fn = "conv_transpose2d";
    const TensorView vx = view_of(x, fn, "x"), vw = view_of(w, fn, "weight"), vo = view_of(out, fn, "out");
    TensorView b;
    const TensorView* pb = opt_view(bias, b, fn, "bias");
    const cuda::ConvParams cp = conv_params(stride, pad, dilation, groups);
    py::gil_scoped_release nogil;
    cuda::conv_transpose2d_forward(vx, vw, pb, cp, vo, kernel, stream);
  }, py::arg("x"), py::arg("weight"), py::arg("bias"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"), py::arg("out"), py::arg("kernel"), py::arg("stream"));
  m.def("conv_transpose2d_backward", [](const Desc& g, const Desc& x, const Desc& w, const Pair& stride,
                                        const Pair& pad, const Pair& dilation, int64_t groups, const OptDesc& dx,
                                        const OptDesc& dw, const OptDesc& db, const std::string& kernel,
                                        uintptr_t stream) {
    const char* fn = "conv_transpose2d_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vx = view_of(x, fn, "x"), vw = view_of(w, fn, "weight");
    TensorView a1, a2, a3;
    const TensorView *pdx = opt_view(dx, a1, fn, "grad_x"), *pdw = opt_view(dw, a2, fn, "grad_weight"),
                     *pdb = opt_view(db, a3, fn, "grad_bias");
    const cuda::ConvParams cp = conv_params(stride, pad, dilation, groups);
    py::gil_scoped_release nogil;
    cuda::conv_transpose2d_backward(vg, vx, vw, cp, pdx, pdw, pdb, kernel, stream);
  }, py::arg("grad_out"), py::arg("x"), py::arg("weight"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("groups"), py::arg("grad_x"), py::arg("grad_weight"), py::arg("grad_bias"), py::arg("kernel"),
     py::arg("stream"));
  m.def("last_conv_kernel", &cuda::last_conv_kernel,
        "'<family>:<dtype>:<pass>' of the convolution kernel this thread launched last.");

  m.def("max_pool2d", [](const Desc& x, const Pair& k, const Pair& s, const Pair& p, const Pair& d, bool ceil_mode,
                         const Desc& out, const OptDesc& indices, uintptr_t stream) {
    const char* fn = "max_pool2d";
    const TensorView vx = view_of(x, fn, "x"), vo = view_of(out, fn, "out");
    TensorView a;
    const TensorView* pi = opt_view(indices, a, fn, "indices");
    const cuda::PoolParams pp = pool_params(k, s, p, d, ceil_mode, true, 0);
    py::gil_scoped_release nogil;
    cuda::max_pool2d_forward(vx, pp, vo, pi, stream);
  }, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
     py::arg("ceil_mode"), py::arg("out"), py::arg("indices"), py::arg("stream"));
  m.def("max_pool2d_backward", [](const Desc& g, const Desc& indices, const Desc& dx, uintptr_t stream) {
    const char* fn = "max_pool2d_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vi = view_of(indices, fn, "indices"),
                     vd = view_of(dx, fn, "grad_x");
    py::gil_scoped_release nogil;
    cuda::max_pool2d_backward(vg, vi, vd, stream);
  }, py::arg("grad_out"), py::arg("indices"), py::arg("grad_x"), py::arg("stream"));
  m.def("avg_pool2d", [](const Desc& x, const Pair& k, const Pair& s, const Pair& p, bool ceil_mode,
                         bool count_include_pad, int64_t divisor_override, const Desc& out, uintptr_t stream) {
    const char* fn = "avg_pool2d";
    const TensorView vx = view_of(x, fn, "x"), vo = view_of(out, fn, "out");
    const cuda::PoolParams pp = pool_params(k, s, p, {1, 1}, ceil_mode, count_include_pad, divisor_override);
    py::gil_scoped_release nogil;
    cuda::avg_pool2d_forward(vx, pp, vo, stream);
  }, py::arg("x"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
     py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("out"), py::arg("stream"));
  m.def("avg_pool2d_backward", [](const Desc& g, const Pair& k, const Pair& s, const Pair& p, bool ceil_mode,
                                  bool count_include_pad, int64_t divisor_override, const Desc& dx, uintptr_t stream) {
    const char* fn = "avg_pool2d_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vd = view_of(dx, fn, "grad_x");
    const cuda::PoolParams pp = pool_params(k, s, p, {1, 1}, ceil_mode, count_include_pad, divisor_override);
    py::gil_scoped_release nogil;
    cuda::avg_pool2d_backward(vg, pp, vd, stream);
  }, py::arg("grad_out"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
     py::arg("count_include_pad"), py::arg("divisor_override"), py::arg("grad_x"), py::arg("stream"));
  m.def("adaptive_avg_pool2d", [](const Desc& x, const Desc& out, uintptr_t stream) {
    const TensorView vx = view_of(x, "adaptive_avg_pool2d", "x"), vo = view_of(out, "adaptive_avg_pool2d", "out");
    py::gil_scoped_release nogil;
    cuda::adaptive_avg_pool2d_forward(vx, vo, stream);
  }, py::arg("x"), py::arg("out"), py::arg("stream"));
  m.def("adaptive_avg_pool2d_backward", [](const Desc& g, const Desc& dx, uintptr_t stream) {
    const char* fn = "adaptive_avg_pool2d_backward";
    const TensorView vg = view_of(g, fn, "grad_out"), vd = view_of(dx, fn, "grad_x");
    py::gil_scoped_release nogil;
    cuda::adaptive_avg_pool2d_backward(vg, vd, stream);
  }, py::arg("grad_out"), py::arg("grad_x"), py::arg("stream"));
}

}  // namespace bind_cuda
}  // namespace fastnn
