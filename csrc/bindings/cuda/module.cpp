// The private CUDA extension fastnn._C_cuda. Arrays arrive as descriptors built by the
// Python layer from __cuda_array_interface__: (pointer, shape, strides in elements, dtype).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/tensor.h"
#include "bindings/cuda/desc.h"
#include "cuda/api.h"
#include "fastnn/build_config.h"

namespace py = pybind11;
namespace fastnn {
using bind_cuda::Desc;
using bind_cuda::view_of;
}  // namespace fastnn

PYBIND11_MODULE(_C_cuda, m) {
  using namespace fastnn;
  m.doc() = "fastnn CUDA kernels (private; use the fastnn package)";
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    }
  });
  m.attr("cuda_archs") = FASTNN_CUDA_ARCHS;
  m.def("device_count", [] {
    std::string reason;
    int n = cuda::device_count(&reason);
    return py::make_tuple(n, reason);
  }, "(count, reason): count is -1 when CUDA is unusable, with the driver's reason.");
  m.def("current_device", &cuda::current_device);
  m.def("device_info", [](int i) {
    cuda::DeviceInfo d = cuda::device_info(i);
    py::dict r;
    r["index"] = d.index;
    r["name"] = d.name;
    r["compute_capability"] = py::make_tuple(d.major, d.minor);
    r["sm_count"] = d.sm_count;
    r["total_memory"] = d.total_memory;
    r["max_shared_per_block_optin"] = d.max_shared_per_block_optin;
    return r;
  });
  m.def("kernels_for_device", &cuda::gemm_kernels_for_device, py::arg("device"),
        "GEMM kernel families this build can run on the device (e.g. ['simt_general', 'simt', 'mma_sync', 'wgmma']).");
  m.def("matmul", [](const Desc& a, const Desc& b, const Desc& out, uintptr_t stream) {
    TensorView va = view_of(a, "matmul", "a"), vb = view_of(b, "matmul", "b"), vo = view_of(out, "matmul", "out");
    py::gil_scoped_release nogil;
    cuda::gemm(va, vb, vo, nullptr, nullptr, cuda::GemmOptions(), stream);
  }, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("stream"));
  m.def("gemm", [](const Desc& a, const Desc& b, const Desc& out, const std::optional<Desc>& bias,
                   const std::optional<Desc>& aux, int activation, bool act_backward, bool bias_per_row,
                   bool allow_tf32, const std::string& kernel, uintptr_t stream) {
    const char* fn = "gemm";
    TensorView va = view_of(a, fn, "a"), vb = view_of(b, fn, "b"), vo = view_of(out, fn, "out");
    TensorView vbias, vaux;
    if (bias) vbias = view_of(*bias, fn, "bias");
    if (aux) vaux = view_of(*aux, fn, "aux");
    cuda::GemmOptions opt;
    opt.activation = activation;
    opt.act_backward = act_backward;
    opt.bias_per_row = bias_per_row;
    opt.allow_tf32 = allow_tf32;
    if (kernel == "auto") opt.kernel = cuda::GemmKernel::automatic;
    else if (kernel == "simt_general") opt.kernel = cuda::GemmKernel::simt_general;
    else if (kernel == "simt") opt.kernel = cuda::GemmKernel::simt;
    else if (kernel == "mma_sync") opt.kernel = cuda::GemmKernel::mma_sync;
    else if (kernel == "wgmma") opt.kernel = cuda::GemmKernel::wgmma;
    else throw ValueError(str_cat(fn, ": kernel must be 'auto', 'simt_general', 'simt', 'mma_sync' or 'wgmma', got '",
                                  kernel, "'"));
    py::gil_scoped_release nogil;
    cuda::gemm(va, vb, vo, bias ? &vbias : nullptr, aux ? &vaux : nullptr, opt, stream);
  }, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("bias"), py::arg("aux"), py::arg("activation"),
     py::arg("act_backward"), py::arg("bias_per_row"), py::arg("allow_tf32"), py::arg("kernel"), py::arg("stream"),
     "out = act(a @ b + bias) (or aux * act'(a @ b + bias)); descriptors as built by fastnn.backend.");
  m.def("last_kernel", &cuda::last_gemm_kernel,
        "'<family>:<dtype>' of the GEMM kernel this thread launched last, e.g. 'wgmma:bf16'.");
  m.def("column_sum", [](const Desc& x, const Desc& out, uintptr_t stream) {
    TensorView vx = view_of(x, "column_sum", "x"), vo = view_of(out, "column_sum", "out");
    py::gil_scoped_release nogil;
    cuda::column_sum(vx, vo, stream);
  }, py::arg("x"), py::arg("out"), py::arg("stream"));
  bind_cuda::bind_glue(m);
  bind_cuda::bind_attention(m);
  bind_cuda::bind_conv(m);
}
