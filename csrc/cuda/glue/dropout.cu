// Dropout on CUDA from the CPU's counter-based stream ("fastnn dropout stream v1",
// common/philox.h): the same (seed, offset) gives the same mask on both devices, bit for bit.
// One thread per Philox counter q: its four words are elements g·64 + j·16 + l (g = q / 16,
// l = q % 16, j = 0..3), so a warp writes four coalesced runs of 16 consecutive elements.
//   y = x · (keep ? scale : 0)   (scale = float(1 / (1 - p)); a dropped NaN stays NaN, as x·0)
#include <cmath>

#include "common/philox.h"
#include "cuda/glue/glue.h"
#include "cuda/glue/pointwise_host.h"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {
namespace {

constexpr uint64_t kKeepNone = uint64_t(1) << 32;

struct DropP {
  uint64_t seed, offset, threshold;  // keep iff word ≥ threshold; 0: all kept; 2^32: none
  float scale;
};

// Operands: 0 x, 1 y, 2 mask (each may be null; the shape comes from whichever is present).
template <class T>
__global__ void __launch_bounds__(256) dropout_kernel(DropP p, const T* x, T* y, uint8_t* mask, PwShape s,
                                                      bool flat) {
  const int64_t counters = (s.n + 63) / 64 * 16;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const bool uniform = p.threshold == 0 || p.threshold >= kKeepNone;
  for (int64_t q = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; q < counters; q += stride) {
    uint32_t w[4] = {0, 0, 0, 0};
    if (!uniform) {
      const Philox4 c = {{uint32_t(q), uint32_t(uint64_t(q) >> 32), uint32_t(p.offset), uint32_t(p.offset >> 32)}};
      const Philox4 r = philox4x32_10(c, uint32_t(p.seed), uint32_t(p.seed >> 32));
#pragma unroll
      for (int j = 0; j < 4; ++j) w[j] = r.v[j];
    }
    const int64_t base = (q >> 4) * 64 + (q & 15);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t i = base + j * 16;
      if (i >= s.n) break;
      const bool keep = p.threshold == 0 || (p.threshold < kKeepNone && w[j] >= p.threshold);
      int64_t off[3] = {i, i, i};
      if (!flat) pw_offsets<3>(s, i, off);
      if (y) y[off[1]] = from_float<T>(to_float<T>(x[off[0]]) * (keep ? p.scale : 0.0f));
      if (mask) mask[off[2]] = keep ? 1 : 0;
    }
  }
}

}  // namespace

void dropout(const TensorView* x, const TensorView* y, const TensorView* mask, double p, uint64_t seed,
             uint64_t offset, uintptr_t stream) {
  const char* fn = "dropout (cuda)";
  FASTNN_CHECK_VALUE(std::isfinite(p) && p >= 0.0 && p <= 1.0, fn, ": p must be in [0, 1], got ", p);
  FASTNN_CHECK_VALUE(y || mask, fn, ": nothing to write (neither out nor mask given)");
  FASTNN_CHECK_VALUE(x || !y, fn, ": out needs x");
  const TensorView& ref = x ? *x : *mask;
  if (x) check_float(*x, fn, "x");
  if (y) {
    check_float_as(*y, x->dtype, fn, "out");
    check_shape_as(*y, *x, fn, "out", "x");
    check_output_layout(*y, fn, "out");
  }
  if (mask) {
    check_on_cuda(*mask, fn, "mask");
    FASTNN_CHECK_TYPE(mask->dtype == DType::u8 || mask->dtype == DType::b8, fn, ": mask must be bool or uint8, got ",
                      dtype_name(mask->dtype));
    check_shape_as(*mask, ref, fn, "mask", "x");
    check_output_layout(*mask, fn, "mask");
  }
  DropP prm{seed, offset, 0, 1.0f};
  if (p >= 1.0) {
    prm.threshold = kKeepNone, prm.scale = 0.0f;
  } else {
    const double t = std::ceil(p * 4294967296.0);  // exact, as on the CPU
    prm.threshold = t >= 4294967296.0 ? kKeepNone : uint64_t(t);
    prm.scale = float(1.0 / (1.0 - p));
  }
  const int64_t n = numel(ref);
  if (n == 0) return;
  const TensorView* ops[3] = {x ? x : &ref, y ? y : &ref, mask ? mask : &ref};
  const PwShape s = collapse_pointwise(ops, 3);
  const bool flat = pw_flat(s, 3);
  const int64_t counters = (n + 63) / 64 * 16;
  const unsigned grid = grid_for(counters, 256);
  const cudaStream_t st = reinterpret_cast<cudaStream_t>(stream);
  uint8_t* mp = mask ? static_cast<uint8_t*>(mask->data) : nullptr;
  const DType dt = x ? x->dtype : DType::f32;
  switch (dt) {
    case DType::f32:
      dropout_kernel<float><<<grid, 256, 0, st>>>(prm, x ? x->ptr<float>() : nullptr, y ? y->ptr<float>() : nullptr,
                                                  mp, s, flat);
      break;
    case DType::f16:
      dropout_kernel<__half><<<grid, 256, 0, st>>>(prm, x->ptr<__half>(), y ? y->ptr<__half>() : nullptr, mp, s, flat);
      break;
    default:
      dropout_kernel<__nv_bfloat16><<<grid, 256, 0, st>>>(prm, x->ptr<__nv_bfloat16>(),
                                                          y ? y->ptr<__nv_bfloat16>() : nullptr, mp, s, flat);
  }
  FASTNN_CUDA_CHECK_LAUNCH("dropout_kernel");
}

}  // namespace cuda
}  // namespace fastnn
