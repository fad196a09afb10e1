// Column sums out[n] = Σ_m x[m, n] (the bias gradient of a linear layer), FP32 accumulation.
// Block: 32 columns × 8 row-slices; each thread walks every 8th row of its column (coalesced
// along n for row-major x), then the 8 partial sums meet in shared memory.
#include "common/tensor.h"
#include "cuda/api.h"
#include "cuda/check.cuh"
#include "cuda/gemm/gemm_common.cuh"

namespace fastnn {
namespace cuda {
namespace {

template <class T>
__global__ void __launch_bounds__(256) column_sum_32x8(const T* x, int64_t rs, int64_t cs, int64_t M, int64_t N,
                                                       T* out, int64_t out_stride) {
  __shared__ float part[8][33];
  const int64_t n = int64_t(blockIdx.x) * 32 + threadIdx.x;
  float s = 0.0f;
  if (n < N)
    for (int64_t m = threadIdx.y; m < M; m += 8) s += to_float<T>(x[m * rs + n * cs]);
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && n < N) {
    float t = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) t += part[i][threadIdx.x];
    out[n * out_stride] = from_float<T>(t);
  }
}

}  // namespace

void column_sum(const TensorView& x, const TensorView& out, uintptr_t stream) {
  const char* fn = "column_sum (cuda)";
  FASTNN_CHECK_TYPE(x.dtype == DType::f32 || x.dtype == DType::f16 || x.dtype == DType::bf16, fn,
                    ": x must be float32, float16 or bfloat16, got ", dtype_name(x.dtype));
  check_dtype(out, x.dtype, fn, "out");
  check_ndim(x, 2, fn, "x");
  check_ndim(out, 1, fn, "out");
  FASTNN_CHECK_VALUE(out.shape[0] == x.shape[1], fn, ": out must have shape (", x.shape[1], ",), got (", out.shape[0], ",)");
  const int64_t M = x.shape[0], N = x.shape[1];
  if (N == 0) return;
  FASTNN_CHECK_VALUE((N + 31) / 32 < (int64_t(1) << 31), fn, ": too many columns");
  const dim3 grid{unsigned((N + 31) / 32)}, block{32, 8};
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  switch (x.dtype) {
    case DType::f32:
      column_sum_32x8<float><<<grid, block, 0, s>>>(x.ptr<float>(), x.strides[0], x.strides[1], M, N, out.ptr<float>(), out.strides[0]);
      break;
    case DType::f16:
      column_sum_32x8<__half><<<grid, block, 0, s>>>(x.ptr<__half>(), x.strides[0], x.strides[1], M, N, out.ptr<__half>(), out.strides[0]);
      break;
    default:
      column_sum_32x8<__nv_bfloat16><<<grid, block, 0, s>>>(x.ptr<__nv_bfloat16>(), x.strides[0], x.strides[1], M, N,
                                                            out.ptr<__nv_bfloat16>(), out.strides[0]);
  }
  FASTNN_CUDA_CHECK_LAUNCH("column_sum_32x8");
}

}  // namespace cuda
}  // namespace fastnn
