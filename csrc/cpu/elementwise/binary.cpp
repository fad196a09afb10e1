// Broadcasting binary driver: axes in out's memory order (by decreasing |out stride|), size-1
// axes dropped, neighbours merged when all three strides allow; the innermost axis then has a
// contiguous output and operands that are contiguous (stride 1) or one value (stride 0) in the
// common cases, which the vector leaves handle; anything else runs a strided scalar loop.
// Threads split (outer index, inner chunk) tiles.
#include "cpu/elementwise/binary.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/parallel_blocks.h"
#include "cpu/stream_policy.h"
#include "cpu/view_checks.h"

namespace fastnn {
namespace {

constexpr int64_t kTile = 32768;  // elements per parallel tile along the inner axis

struct BDim {
  int64_t size, as, bs, os;
};

float apply_scalar(BinaryOp op, float a, float b) { return op == BinaryOp::add ? a + b : a * b; }

// b_scalar: when b is null, b is the constant *b_scalar (scale).
void run(BinaryOp op, const TensorView& a, const TensorView& b, const float* b_scalar, const TensorView& out) {
  std::vector<BDim> dims;
  int64_t numel = 1;
  for (int d = 0; d < out.ndim; ++d) {
    numel *= out.shape[d];
    if (out.shape[d] != 1) dims.push_back({out.shape[d], a.strides[d], b_scalar ? 0 : b.strides[d], out.strides[d]});
  }
  if (numel == 0) return;
  std::stable_sort(dims.begin(), dims.end(),
                   [](const BDim& x, const BDim& y) { return std::llabs(x.os) > std::llabs(y.os); });
  std::vector<BDim> merged;
  for (const BDim& d : dims) {
    if (!merged.empty()) {
      BDim& p = merged.back();
      if (p.as == d.as * d.size && p.bs == d.bs * d.size && p.os == d.os * d.size) {
        p = {p.size * d.size, d.as, d.bs, d.os};
        continue;
      }
    }
    merged.push_back(d);
  }
  if (merged.empty()) merged.push_back({1, 0, 0, 1});
  const BDim in = merged.back();
  merged.pop_back();
  int64_t outer = 1;
  for (const BDim& d : merged) outer *= d.size;
  const int64_t pieces = (in.size + kTile - 1) / kTile, tiles = outer * pieces;
  const BinaryKernels& k = binary_kernels_for(active_isa());
  const bool stream = use_streaming_stores(numel * 8);
  const float* pa = a.ptr<float>();
  const float* pb = b_scalar ? b_scalar : b.ptr<float>();
  float* po = out.ptr<float>();
  const int64_t tile_len = (in.size + pieces - 1) / pieces;
  parallel_blocks(0, tiles, std::max<int64_t>(1, 2 * kTile / tile_len), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      int64_t flat = t / pieces, ao = 0, bo = 0, oo = 0;
      for (size_t d = merged.size(); d-- > 0;) {
        const int64_t q = flat % merged[d].size;
        flat /= merged[d].size;
        ao += q * merged[d].as, bo += q * merged[d].bs, oo += q * merged[d].os;
      }
      const int64_t p = t % pieces, j0 = in.size * p / pieces, n = in.size * (p + 1) / pieces - j0;
      const float* x = pa + ao + j0 * in.as;
      const float* y = pb + bo + j0 * in.bs;
      float* z = po + oo + j0 * in.os;
      if (in.os == 1 && in.as == 1 && in.bs == 1) k.vv(op, x, y, z, n, stream);
      else if (in.os == 1 && in.as == 1 && in.bs == 0) k.vs(op, x, *y, z, n, stream);
      else if (in.os == 1 && in.as == 0 && in.bs == 1) k.vs(op, y, *x, z, n, stream);
      else if (in.os == 1 && in.as == 0 && in.bs == 0) k.fill(z, n, apply_scalar(op, *x, *y), stream);
      else
        for (int64_t j = 0; j < n; ++j) z[j * in.os] = apply_scalar(op, x[j * in.as], y[j * in.bs]);
    }
  });
}

void check_broadcast_view(const TensorView& t, const TensorView& out, const char* fn, const char* arg) {
  check_f32_cpu(t, fn, arg);
  FASTNN_CHECK_VALUE(t.ndim == out.ndim, fn, ": ", arg, " must be broadcast to out's shape ", shape_str(out),
                     ", got ", shape_str(t));
  for (int d = 0; d < t.ndim; ++d)
    FASTNN_CHECK_VALUE(t.shape[d] == out.shape[d], fn, ": ", arg, " must be broadcast to out's shape ",
                       shape_str(out), ", got ", shape_str(t));
}

void check_out(const TensorView& out, const char* fn) {
  check_f32_cpu(out, fn, "out");
  for (int d = 0; d < out.ndim; ++d)
    FASTNN_CHECK_VALUE(out.shape[d] <= 1 || out.strides[d] != 0, fn, ": out must not have zero strides");
}

}  // namespace

void binary_cpu(BinaryOp op, const TensorView& a, const TensorView& b, const TensorView& out, const char* fn) {
  check_out(out, fn);
  check_broadcast_view(a, out, fn, "a");
  check_broadcast_view(b, out, fn, "b");
  run(op, a, b, nullptr, out);
}

void scale_cpu(const TensorView& a, double s, const TensorView& out) {
  const char* fn = "broadcast_scale";
  check_out(out, fn);
  check_broadcast_view(a, out, fn, "a");
  const float sf = float(s);
  run(BinaryOp::mul, a, TensorView{}, &sf, out);
}

void mul_backward_cpu(const TensorView& g, const TensorView& a, const TensorView& b, const TensorView& ga,
                      const TensorView& gb) {
  const char* fn = "mul_backward";
  const TensorView* all[] = {&g, &a, &b, &ga, &gb};
  const char* names[] = {"grad_out", "a", "b", "grad_a", "grad_b"};
  for (int i = 0; i < 5; ++i) {
    check_f32_cpu(*all[i], fn, names[i]);
    check_contiguous(*all[i], fn, names[i]);
    FASTNN_CHECK_VALUE(all[i]->ndim == g.ndim, fn, ": ", names[i], " must have grad_out's shape ", shape_str(g));
    for (int d = 0; d < g.ndim; ++d)
      FASTNN_CHECK_VALUE(all[i]->shape[d] == g.shape[d], fn, ": ", names[i], " must have grad_out's shape ",
                         shape_str(g), ", got ", shape_str(*all[i]));
  }
  const int64_t n = checked_numel(g, fn);
  const BinaryKernels& k = binary_kernels_for(active_isa());
  const bool stream = use_streaming_stores(n * 20);
  parallel_blocks(0, n, 2 * kTile, [&](int64_t lo, int64_t hi) {
    k.mul_backward(g.ptr<float>() + lo, a.ptr<float>() + lo, b.ptr<float>() + lo, ga.ptr<float>() + lo,
                   gb.ptr<float>() + lo, hi - lo, stream);
  });
}

}  // namespace fastnn
