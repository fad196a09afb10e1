// The private CPU extension fastnn._C. Kernels are exposed raw: the Python layer
// (python/fastnn/ops) allocates outputs and validates; C++ validates again.
#include "bindings/array.h"
#include "bindings/families.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastnn CPU kernels (private; use the fastnn package)";
  fastnn::register_exceptions(m);
  fastnn::bind_runtime(m);
  fastnn::bind_gemm(m);
  fastnn::bind_attention(m);
}
