// Bindings of CUDA attention (csrc/cuda/attention): descriptors in, GIL released around launches.
#include "bindings/cuda/desc.h"
#include "cuda/attention/attention.h"

namespace fastnn {
namespace bind_cuda {

void bind_attention(py::module_& m) {
  m.def("attention_forward", [](const Desc& q, const Desc& k, const Desc& v, const OptDesc& mask, bool causal,
                                double scale, const Desc& out, const OptDesc& lse, const std::string& kernel,
                                uintptr_t stream) {
    const char* fn = "attention";
    const TensorView vq = view_of(q, fn, "q"), vk = view_of(k, fn, "k"), vv = view_of(v, fn, "v"),
                     vo = view_of(out, fn, "out");
    TensorView a, b;
    const TensorView *pm = opt_view(mask, a, fn, "mask"), *pl = opt_view(lse, b, fn, "lse");
    py::gil_scoped_release nogil;
    cuda::attention_forward(vq, vk, vv, pm, causal, scale, vo, pl, kernel, stream);
  }, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("causal"), py::arg("scale"), py::arg("out"),
     py::arg("lse"), py::arg("kernel"), py::arg("stream"));
  m.def("attention_backward", [](const Desc& grad_out, const Desc& q, const Desc& k, const Desc& v, const Desc& out,
                                 const Desc& lse, const OptDesc& mask, bool causal, double scale, const Desc& dq,
                                 const Desc& dk, const Desc& dv, const std::string& kernel, uintptr_t stream) {
    const char* fn = "attention_backward";
    const TensorView vg = view_of(grad_out, fn, "grad_out"), vq = view_of(q, fn, "q"), vk = view_of(k, fn, "k"),
                     vv = view_of(v, fn, "v"), vo = view_of(out, fn, "out"), vl = view_of(lse, fn, "lse"),
                     dq_ = view_of(dq, fn, "dq"), dk_ = view_of(dk, fn, "dk"), dv_ = view_of(dv, fn, "dv");
    TensorView a;
    const TensorView* pm = opt_view(mask, a, fn, "mask");
    py::gil_scoped_release nogil;
    cuda::attention_backward(vg, vq, vk, vv, vo, vl, pm, causal, scale, dq_, dk_, dv_, kernel, stream);
  }, py::arg("grad_out"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("out"), py::arg("lse"), py::arg("mask"),
     py::arg("causal"), py::arg("scale"), py::arg("dq"), py::arg("dk"), py::arg("dv"), py::arg("kernel"),
     py::arg("stream"));
  m.def("last_attention_kernel", &cuda::last_attention_kernel,
        "'<family>:<dtype>:d<D>' of the attention kernel this thread launched last, e.g. 'mma_sync:bf16:d128'.");
}

}  // namespace bind_cuda
}  // namespace fastnn
