// FP32 SIMT GEMM for NumPy matmul semantics: general strides (any layout, broadcast batch
// dims) so every view works without a copy. Tiles: 64×64 block, 16-deep K step, 256 threads
// each owning a 4×4 register tile; the next K tile is prefetched into registers while the
// current one is consumed from shared memory.
//
// This is the always-correct baseline; the tensor-core and Hopper kernels (CUDA GEMM issue)
// dispatch in front of it for contiguous layouts.
#include "common/tensor.h"
#include "cuda/api.h"
#include "cuda/check.cuh"

namespace fastnn {
namespace cuda {
namespace {

constexpr int BM = 64, BN = 64, BK = 16, TM = 4, TN = 4, THREADS = 256;
constexpr int kMaxBatchDims = kMaxDims - 2;

struct BatchLayout {
  int ndim;                        // batch dims of out
  int64_t shape[kMaxBatchDims];    // out batch shape
  int64_t a_stride[kMaxBatchDims];  // 0 where a broadcasts
  int64_t b_stride[kMaxBatchDims];
  int64_t c_stride[kMaxBatchDims];
};

struct GemmArgs {
  int64_t M, N, K;
  const float* a;
  int64_t a_rs, a_cs;
  const float* b;
  int64_t b_rs, b_cs;
  float* c;
  int64_t c_rs, c_cs;
  BatchLayout batch;
};

__global__ void __launch_bounds__(THREADS) sgemm_simt_64x64(GemmArgs p) {
  // Batch offsets from blockIdx.z (odometer decode, innermost dim last).
  int64_t z = blockIdx.z, oa = 0, ob = 0, oc = 0;
  for (int d = p.batch.ndim - 1; d >= 0; --d) {
    const int64_t i = z % p.batch.shape[d];
    z /= p.batch.shape[d];
    oa += i * p.batch.a_stride[d];
    ob += i * p.batch.b_stride[d];
    oc += i * p.batch.c_stride[d];
  }
  const float* A = p.a + oa;
  const float* B = p.b + ob;
  float* C = p.c + oc;

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
      ra[l] = (gm < p.M && gk < p.K) ? A[gm * p.a_rs + gk * p.a_cs] : 0.0f;
      const int bk = e / BN, bn = e % BN;  // B tile 16×64
      const int64_t gk2 = k0 + bk, gn = col0 + bn;
      rb[l] = (gk2 < p.K && gn < p.N) ? B[gk2 * p.b_rs + gn * p.b_cs] : 0.0f;
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
    const int64_t gm = row0 + tr * TM + i;
    if (gm >= p.M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int64_t gn = col0 + tc * TN + j;
      if (gn < p.N) C[gm * p.c_rs + gn * p.c_cs] = acc[i][j];
    }
  }
}

}  // namespace

void matmul(const TensorView& a, const TensorView& b, const TensorView& out, uintptr_t stream) {
  const char* fn = "matmul (cuda)";
  check_dtype(a, DType::f32, fn, "a");
  check_dtype(b, DType::f32, fn, "b");
  check_dtype(out, DType::f32, fn, "out");
  FASTNN_CHECK_VALUE(a.device == Device::cuda && b.device == Device::cuda && out.device == Device::cuda, fn,
                     ": all arrays must be CUDA arrays");
  FASTNN_CHECK_VALUE(a.ndim >= 2 && b.ndim >= 2 && out.ndim >= a.ndim && out.ndim >= b.ndim, fn,
                     ": bad ranks a=", a.ndim, " b=", b.ndim, " out=", out.ndim);
  FASTNN_CHECK_VALUE(a.size(-1) == b.size(-2), fn, ": a has ", a.size(-1), " columns but b has ", b.size(-2), " rows");
  FASTNN_CHECK_VALUE(out.size(-2) == a.size(-2) && out.size(-1) == b.size(-1), fn, ": out has the wrong shape");
  checked_numel(a, fn);
  checked_numel(b, fn);
  checked_numel(out, fn);

  GemmArgs p;
  p.M = a.size(-2);
  p.K = a.size(-1);
  p.N = b.size(-1);
  p.a = a.ptr<float>(), p.a_rs = a.stride(-2), p.a_cs = a.stride(-1);
  p.b = b.ptr<float>(), p.b_rs = b.stride(-2), p.b_cs = b.stride(-1);
  p.c = out.ptr<float>(), p.c_rs = out.stride(-2), p.c_cs = out.stride(-1);
  p.batch.ndim = out.ndim - 2;
  int64_t batches = 1;
  for (int d = 0; d < p.batch.ndim; ++d) {
    const int da = d - (out.ndim - a.ndim), db = d - (out.ndim - b.ndim);
    const int64_t sa = da >= 0 ? a.shape[da] : 1, sb = db >= 0 ? b.shape[db] : 1;
    FASTNN_CHECK_VALUE((sa == 1 || sa == out.shape[d]) && (sb == 1 || sb == out.shape[d]), fn,
                       ": batch dimension ", d, " is not broadcastable");
    p.batch.shape[d] = out.shape[d];
    p.batch.a_stride[d] = (da >= 0 && sa != 1) ? a.strides[da] : 0;
    p.batch.b_stride[d] = (db >= 0 && sb != 1) ? b.strides[db] : 0;
    p.batch.c_stride[d] = out.strides[d];
    batches *= out.shape[d];
  }
  if (batches == 0 || p.M == 0 || p.N == 0) return;
  // K == 0 (out = 0) is filled by the Python layer; the kernel needs at least one K step.
  FASTNN_ASSERT(p.K > 0, fn, " called with K == 0");
  FASTNN_CHECK_VALUE(batches <= 65535, fn, ": at most 65535 batches per launch, got ", batches);
  const int64_t gy = (p.M + BM - 1) / BM, gx = (p.N + BN - 1) / BN;
  FASTNN_CHECK_VALUE(gy <= 65535 && gx <= (int64_t(1) << 31) - 1, fn, ": matrix too large for the launch grid");
  const dim3 grid{unsigned(gx), unsigned(gy), unsigned(batches)};
  sgemm_simt_64x64<<<grid, THREADS, 0, reinterpret_cast<cudaStream_t>(stream)>>>(p);
  FASTNN_CUDA_CHECK_LAUNCH("sgemm_simt_64x64");
}

}  // namespace cuda
}  // namespace fastnn
