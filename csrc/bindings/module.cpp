// The private CPU extension fastnn._C. Kernels are exposed raw: the Python layer
// (python/fastnn/ops) allocates outputs and validates; C++ validates again.
#include "bindings/array.h"
#include "bindings/families.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastnn CPU kernels (private; use the fastnn package)";
  fastnn::register_exceptions(m);
  fastnn::bind_runtime(m);
  fastnn::bind_gemm(m);
  fastnn::bind_norm(m);
  fastnn::bind_reduce(m);
  fastnn::bind_elementwise(m);
  fastnn::bind_optim(m);
  fastnn::bind_activation(m);
  fastnn::bind_softmax(m);
  fastnn::bind_loss(m);
  fastnn::bind_dropout(m);
  fastnn::bind_embedding(m);
  fastnn::bind_conv(m);
  fastnn::bind_pool(m);
  fastnn::bind_attention(m);
}
