#include "cpu/gemm/matmul.h"

#include <vector>

#include "common/parallel.h"
#include "cpu/gemm/sgemm.h"

namespace fastnn {
namespace {

void validate(const TensorView& a, const TensorView& b, const TensorView& out) {
  const char* fn = "matmul";
  check_dtype(a, DType::f32, fn, "a");
  check_dtype(b, DType::f32, fn, "b");
  check_dtype(out, DType::f32, fn, "out");
  FASTNN_CHECK_VALUE(a.device == Device::cpu && b.device == Device::cpu && out.device == Device::cpu, fn,
                     ": the CPU kernel needs CPU arrays");
  FASTNN_CHECK_VALUE(a.ndim >= 2 && b.ndim >= 2, fn, ": operands need rank >= 2 here, got ", a.ndim, " and ", b.ndim);
  FASTNN_CHECK_VALUE(out.ndim >= a.ndim && out.ndim >= b.ndim && out.ndim <= kMaxDims, fn,
                     ": out has rank ", out.ndim, ", expected max(rank(a), rank(b)) <= ", kMaxDims);
  FASTNN_CHECK_VALUE(a.size(-1) == b.size(-2), fn, ": a has ", a.size(-1), " columns but b has ", b.size(-2),
                     " rows (inner dimensions must match)");
  FASTNN_CHECK_VALUE(out.size(-2) == a.size(-2) && out.size(-1) == b.size(-1), fn, ": out must end in (",
                     a.size(-2), ", ", b.size(-1), "), got (", out.size(-2), ", ", out.size(-1), ")");
  for (int d = 0; d < out.ndim - 2; ++d) {
    const int da = d - (out.ndim - a.ndim), db = d - (out.ndim - b.ndim);
    const int64_t sa = da >= 0 ? a.shape[da] : 1, sb = db >= 0 ? b.shape[db] : 1;
    FASTNN_CHECK_VALUE((sa == out.shape[d] || sa == 1) && (sb == out.shape[d] || sb == 1), fn,
                       ": batch dimension ", d, " of out is ", out.shape[d], " but a has ", sa, " and b has ", sb,
                       " (not broadcastable)");
  }
  for (int d = 0; d < out.ndim; ++d)
    FASTNN_CHECK_VALUE(out.shape[d] <= 1 || out.strides[d] != 0, fn, ": out must not have zero strides");
  checked_numel(a, "matmul: a");
  checked_numel(b, "matmul: b");
  checked_numel(out, "matmul: out");
  check_offsets_fit(a, "matmul: a");
  check_offsets_fit(b, "matmul: b");
  check_offsets_fit(out, "matmul: out");
}

// Element offset of operand `t` (right-aligned against out's batch dims) for batch multi-index.
int64_t batch_offset(const TensorView& t, const int64_t* index, int out_batch_dims) {
  int64_t off = 0;
  const int t_batch = t.ndim - 2;
  for (int d = 0; d < t_batch; ++d) {
    const int64_t i = index[d + (out_batch_dims - t_batch)];
    if (t.shape[d] != 1) off += i * t.strides[d];
  }
  return off;
}

}  // namespace

void matmul_cpu(const TensorView& a, const TensorView& b, const TensorView& out) {
  validate(a, b, out);
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  const int nb = out.ndim - 2;
  int64_t batches = 1;
  for (int d = 0; d < nb; ++d) batches *= out.shape[d];
  if (batches == 0 || M == 0 || N == 0) return;

  std::vector<int64_t> offsets(size_t(batches) * 3);
  int64_t index[kMaxDims] = {};
  for (int64_t t = 0; t < batches; ++t) {
    offsets[3 * t + 0] = batch_offset(a, index, nb);
    offsets[3 * t + 1] = batch_offset(b, index, nb);
    int64_t oo = 0;
    for (int d = 0; d < nb; ++d) oo += index[d] * out.strides[d];
    offsets[3 * t + 2] = oo;
    for (int d = nb - 1; d >= 0; --d) {  // odometer increment
      if (++index[d] < out.shape[d]) break;
      index[d] = 0;
    }
  }
  const float* pa = a.ptr<float>();
  const float* pb = b.ptr<float>();
  float* po = out.ptr<float>();
  auto one = [&](int64_t t, bool threaded) {
    ConstMatrix A{pa + offsets[3 * t], a.stride(-2), a.stride(-1)};
    ConstMatrix B{pb + offsets[3 * t + 1], b.stride(-2), b.stride(-1)};
    Matrix C{po + offsets[3 * t + 2], out.stride(-2), out.stride(-1)};
    if (threaded)
      sgemm(M, N, K, 1.0f, A, B, 0.0f, C);
    else
      sgemm_serial(M, N, K, 1.0f, A, B, 0.0f, C);
  };
  const double flops_each = 2.0 * double(M) * double(N) * double(K);
  if (batches > 1 && flops_each < 3.2e7) {  // many small products: one thread per batch range
    const int64_t grain = std::max<int64_t>(1, int64_t(2.0e6 / std::max(flops_each, 1.0)));
    parallel_for(0, batches, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) one(t, false);
    });
  } else {
    for (int64_t t = 0; t < batches; ++t) one(t, true);
  }
}

}  // namespace fastnn
