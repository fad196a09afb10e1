// General-stride GEMM, the always-correct fallback: any strides (transposed, sliced, negative,
// broadcast), any batch layout, f32/f16/bf16 inputs with FP32 accumulation, fused epilogue.
// Tiles: 64×64 block, 16-deep K step, 256 threads each owning a 4×4 register tile; the next
// K tile is staged in registers while the current one is consumed from shared memory.
#include "cuda/check.cuh"
#include "cuda/gemm/gemm_kernels.h"

namespace fastnn {
namespace cuda {
namespace {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, THREADS = 256;

template <class T>
__global__ void __launch_bounds__(THREADS) gemm_simt_general_64x64(GemmParams p) {
  const BatchOffsets off = batch_offsets(p, blockIdx.z);
  const T* A = static_cast<const T*>(p.a) + off.a;
  const T* B = static_cast<const T*>(p.b) + off.b;
  T* C = static_cast<T*>(p.c) + off.c;
  const T* X = p.aux ? static_cast<const T*>(p.aux) + off.x : nullptr;

  __shared__ float As[BK][BM + 4];  // transposed: As[k][m]; +4 breaks bank conflicts
  __shared__ float Bs[BK][BN + 4];

  const int tid = threadIdx.x;
  const int64_t row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
  const int tr = tid / (BN / TN), tc = tid % (BN / TN);  // 16×16 thread grid

  float acc[TM][TN] = {};
  float ra[4], rb[4];  // staged loads: each thread moves 4 elements of A and of B per K tile

  auto load_tiles = [&](int64_t k0) {
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int e = tid + l * THREADS;  // 0..1023
      const int am = e / BK, ak = e % BK;  // A tile 64×16
      const int64_t gm = row0 + am, gk = k0 + ak;
      ra[l] = (gm < p.M && gk < p.K) ? to_float<T>(A[gm * p.a_rs + gk * p.a_cs]) : 0.0f;
      const int bk = e / BN, bn = e % BN;  // B tile 16×64
      const int64_t gk2 = k0 + bk, gn = col0 + bn;
      rb[l] = (gk2 < p.K && gn < p.N) ? to_float<T>(B[gk2 * p.b_rs + gn * p.b_cs]) : 0.0f;
    }
  };
  auto store_tiles = [&]() {
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int e = tid + l * THREADS;
      As[e % BK][e / BK] = ra[l];
      Bs[e / BN][e % BN] = rb[l];
    }
  };

  load_tiles(0);
  for (int64_t k0 = 0; k0 < p.K; k0 += BK) {
    store_tiles();
    __syncthreads();
    if (k0 + BK < p.K) load_tiles(k0 + BK);  // overlaps global latency with the FMAs below
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float av[TM], bv[TN];
#pragma unroll
      for (int i = 0; i < TM; ++i) av[i] = As[k][tr * TM + i];
#pragma unroll
      for (int j = 0; j < TN; ++j) bv[j] = Bs[k][tc * TN + j];
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
#pragma unroll
    for (int j = 0; j < TN; j += 2)
      epilogue_store2<T>(p, C, X, int(row0) + tr * TM + i, int(col0) + tc * TN + j, acc[i][j], acc[i][j + 1]);
  }
}

}  // namespace

void launch_gemm_simt_general(const GemmParams& p, GemmDType dt, cudaStream_t s) {
  const dim3 grid{unsigned((p.N + BN - 1) / BN), unsigned((p.M + BM - 1) / BM), unsigned(p.batch_count)};
  switch (dt) {
    case GemmDType::f32: gemm_simt_general_64x64<float><<<grid, THREADS, 0, s>>>(p); break;
    case GemmDType::f16: gemm_simt_general_64x64<__half><<<grid, THREADS, 0, s>>>(p); break;
    case GemmDType::bf16: gemm_simt_general_64x64<__nv_bfloat16><<<grid, THREADS, 0, s>>>(p); break;
  }
  FASTNN_CUDA_CHECK_LAUNCH("gemm_simt_general_64x64");
}

}  // namespace cuda
}  // namespace fastnn
