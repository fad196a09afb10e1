#include "cpu/dropout/dropout.h"

#include <cmath>

#include "cpu/activation/activation.h"
#include "cpu/activation/pointwise.h"
#include "cpu/dropout/dropout_kernels.h"

namespace fastnn {

DropoutFn dropout_kernel(Isa isa) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return &dropout_avx512;
    case Isa::avx2: return &dropout_avx2;
#endif
    default: return &dropout_generic;
  }
}

void dropout_cpu(const TensorView& x, const TensorView& y, const TensorView& mask, double p, uint64_t seed,
                 uint64_t offset) {
  const char* fn = "dropout";
  FASTNN_CHECK_VALUE(std::isfinite(p) && p >= 0.0 && p <= 1.0, fn, ": p must be in [0, 1], got ", p);
  FASTNN_CHECK_VALUE(y.data || mask.data, fn, ": nothing to write (neither out nor mask given)");
  FASTNN_CHECK_VALUE(x.data || !y.data, fn, ": out needs x");
  const TensorView& shape = x.data ? x : mask;
  if (x.data) check_pointwise_operand(x, x, fn, "x", false);
  if (y.data) check_pointwise_operand(y, shape, fn, "out", true);
  if (mask.data) {
    FASTNN_CHECK_TYPE(mask.dtype == DType::u8 || mask.dtype == DType::b8, fn, ": mask must be bool or uint8, got ",
                      dtype_name(mask.dtype));
    FASTNN_CHECK_VALUE(mask.device == Device::cpu, fn, ": mask must be a CPU array");
    bool same = mask.ndim == shape.ndim;
    for (int d = 0; same && d < shape.ndim; ++d) same = mask.shape[d] == shape.shape[d];
    FASTNN_CHECK_VALUE(same, fn, ": mask must have the shape of x");
    const int64_t numel = checked_numel(mask, fn);
    for (int d = 0; d < mask.ndim && numel > 0; ++d)
      FASTNN_CHECK_VALUE(mask.shape[d] <= 1 || mask.strides[d] != 0, fn, ": mask must not have zero strides");
    check_offsets_fit(mask, fn);
  }

  DropoutParams prm;
  prm.seed = seed;
  prm.offset = offset;
  if (p >= 1.0) {
    prm.threshold = kDropoutKeepNone;
    prm.scale = 0.0f;
  } else {
    const double t = std::ceil(p * 4294967296.0);  // exact: p · 2^32 only shifts the exponent
    prm.threshold = t >= 4294967296.0 ? kDropoutKeepNone : uint64_t(t);
    prm.scale = float(1.0 / (1.0 - p));
  }
  const DropoutFn kernel = dropout_kernel(active_isa());
  const int64_t n = checked_numel(shape, fn);
  const bool stream = y.data && pointwise_stream_stores(8 * n);
  PwOperand ops[3];
  int nops = 0, ix = -1, iy = -1, im = -1;
  if (x.data) ix = nops, ops[nops].data = x.data, ops[nops].strides = x.strides, ++nops;
  if (y.data) iy = nops, ops[nops].data = y.data, ops[nops].strides = y.strides, ops[nops].output = true, ++nops;
  if (mask.data) {
    im = nops, ops[nops].data = mask.data, ops[nops].strides = mask.strides, ops[nops].esize = 1;
    ops[nops].output = true, ++nops;
  }
  pointwise_run(shape.ndim, shape.shape, nops, ops, [&](const PwBlock& b) {
    kernel(ix >= 0 ? static_cast<const float*>(b.ptr[ix]) : nullptr, iy >= 0 ? static_cast<float*>(b.ptr[iy]) : nullptr,
           im >= 0 ? static_cast<uint8_t*>(b.ptr[im]) : nullptr, b.n, b.start, prm, stream && b.direct);
    return 0.0;
  });
}

}  // namespace fastnn
