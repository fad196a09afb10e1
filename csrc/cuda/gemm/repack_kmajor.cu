// K-major repack of an N-contiguous FP32 operand, for Hopper tf32 wgmma (which reads only
// K-major shared-memory operands): B (K×N, row stride ld_in) → Bt (N×K, row stride ld_out),
// per batch. 32×32 tiles through shared memory (+1 column of padding: conflict-free), reads
// and writes coalesced. Costs 8·K·N bytes of traffic against 2·M·N·K FLOPs of GEMM, so the
// dispatcher uses it only for large M (or when wgmma is forced).
#include "cuda/check.cuh"
#include "cuda/gemm/gemm_kernels.h"

namespace fastnn {
namespace cuda {
namespace {

__global__ void __launch_bounds__(256) repack_kmajor_32x32(const float* in, int64_t ld_in, int64_t bs_in, float* out,
                                                           int64_t ld_out, int64_t bs_out, int K, int N) {
  __shared__ float tile[32][33];
  const float* src = in + int64_t(blockIdx.z) * bs_in;
  float* dst = out + int64_t(blockIdx.z) * bs_out;
  const int k0 = blockIdx.y * 32, n0 = blockIdx.x * 32;
  const int tx = threadIdx.x % 32, ty = threadIdx.x / 32;  // 32 × 8 threads
#pragma unroll
  for (int i = 0; i < 32; i += 8) {
    const int k = k0 + ty + i, n = n0 + tx;
    if (k < K && n < N) tile[ty + i][tx] = src[int64_t(k) * ld_in + n];
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < 32; i += 8) {
    const int n = n0 + ty + i, k = k0 + tx;
    if (n < N && k < K) dst[int64_t(n) * ld_out + k] = tile[tx][ty + i];
  }
}

}  // namespace

void launch_repack_kmajor(const float* in, int64_t ld_in, int64_t bs_in, float* out, int64_t ld_out, int64_t bs_out,
                          int K, int N, int64_t batch, cudaStream_t s) {
  const dim3 grid{unsigned((N + 31) / 32), unsigned((K + 31) / 32), unsigned(batch)};
  repack_kmajor_32x32<<<grid, 256, 0, s>>>(in, ld_in, bs_in, out, ld_out, bs_out, K, N);
  FASTNN_CUDA_CHECK_LAUNCH("repack_kmajor_32x32");
}

}  // namespace cuda
}  // namespace fastnn
