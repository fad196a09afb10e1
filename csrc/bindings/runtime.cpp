// Build description, CPU features, ISA selection, threads and the peak probe.
#include <pybind11/stl.h>

#include "bindings/array.h"
#include "bindings/families.h"
#include "common/cpu_features.h"
#include "common/parallel.h"
#include "cpu/gemm/sgemm.h"
#include "cpu/peak/peak.h"
#include "fastnn/build_config.h"

namespace fastnn {

void bind_runtime(py::module_& m) {
  m.def("build_info", [] {
    py::dict d;
    d["version"] = FASTNN_VERSION_STRING;
    d["build_type"] = FASTNN_BUILD_TYPE;
    d["cxx_compiler"] = FASTNN_CXX_COMPILER;
    d["cxx_flags"] = FASTNN_CXX_FLAGS;
    d["avx2_flags"] = FASTNN_AVX2_FLAGS;
    d["avx512_flags"] = FASTNN_AVX512_FLAGS;
#if defined(FASTNN_AVX512_EMULATED_BUILD)
    d["avx512_emulated"] = true;  // test build: the avx512 path is SIMDe emulation (FASTNN_EMULATE_AVX512)
#else
    d["avx512_emulated"] = false;
#endif
    d["cuda_option"] = FASTNN_CUDA_OPTION;
    d["cuda_archs"] = FASTNN_CUDA_ARCHS;
    d["cuda_compiler"] = FASTNN_CUDA_COMPILER;
#if defined(FASTNN_X86)
    d["x86"] = true;
#else
    d["x86"] = false;
#endif
    return d;
  });
  m.def("cpu_info", [] {
    const CpuFeatures& f = cpu_features();
    py::dict d;
    d["vendor"] = f.vendor;
    d["brand"] = f.brand;
    d["avx2"] = f.avx2;
    d["fma"] = f.fma;
    d["avx512f"] = f.avx512f;
    d["avx512bw"] = f.avx512bw;
    d["avx512vl"] = f.avx512vl;
    d["avx512dq"] = f.avx512dq;
    d["os_avx"] = f.os_avx;
    d["os_avx512"] = f.os_avx512;
    d["l1d_bytes"] = f.l1d_bytes;
    d["l2_bytes"] = f.l2_bytes;
    d["l3_bytes"] = f.l3_bytes;
    return d;
  });
  m.def("available_isas", [] {
    py::list out;
    for (Isa isa : {Isa::avx512, Isa::avx2, Isa::generic})
      if (isa_supported(isa)) out.append(isa_name(isa));
    return out;
  }, "ISAs this CPU and build support, best first.");
  m.def("get_isa", [] { return std::string(isa_name(active_isa())); });
  m.def("set_isa", [](const std::string& name) { set_active_isa(parse_isa(name, "set_isa: isa")); }, py::arg("isa"));
  m.def("init_isa_from_env", &init_isa_from_env);
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("sgemm_kernel_name", [](const std::string& isa) {
    return std::string(sgemm_kernel_name(parse_isa(isa, "sgemm_kernel_name: isa")));
  });
  m.def(
      "measure_peak",
      [](const std::string& isa_str, double seconds, int64_t copy_bytes) {
        Isa isa = parse_isa(isa_str, "measure_peak: isa");
        FASTNN_CHECK_VALUE(isa_supported(isa), "measure_peak: isa ", isa_str, " is not supported here");
        FASTNN_CHECK_VALUE(seconds > 0 && seconds < 60, "measure_peak: seconds must be in (0, 60)");
        FASTNN_CHECK_VALUE(copy_bytes >= 0 && copy_bytes <= (int64_t(1) << 34), "measure_peak: copy_bytes out of range");
        PeakResult r;
        {
          py::gil_scoped_release nogil;
          r = measure_peak(isa, seconds, copy_bytes);
        }
        py::dict d;
        d["gflops_fp32"] = r.gflops_fp32;
        d["copy_gbps"] = r.copy_gbps;
        d["threads"] = r.threads;
        d["isa"] = r.isa;
        return d;
      },
      py::arg("isa"), py::arg("seconds") = 0.3, py::arg("copy_bytes") = int64_t(256) << 20);
}

}  // namespace fastnn
