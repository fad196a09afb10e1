// FP32 SIMT GEMM for contiguous layouts: 128×128 block tile, 8-deep K step, 256 threads.
//
// Warp tiling: 8 warps as 4 (M) × 2 (N), warp tile 32×64; each lane owns an 8×8 register
// tile made of 2×2 blocks of 4×4 (rows lm*4 and 16 + lm*4, columns ln*4 and 32 + ln*4), so
// shared-memory reads are float4 and conflict-free (A: broadcast, B: 8 lanes × 16 B).
// Global → shared: one 16-byte load per operand per thread per K step, staged in registers
// during the FMAs of the current step (double-buffered shared memory, one barrier per step).
// A K-contiguous tile is transposed on its way into shared memory (As is [k][m]). The
// epilogue stages the tile in shared memory and stores it coalesced (gemm_common.cuh).
#include "cuda/check.cuh"
#include "cuda/gemm/gemm_kernels.h"

namespace fastnn {
namespace cuda {
namespace {

constexpr int BM = 128, BN = 128, BK = 8, THREADS = 256, PAD = 4;
constexpr int EPI_LD = BN + 4;
// Dynamic shared memory: the double-buffered A/B tiles, reused after the main loop to stage
// the 128×128 FP32 result for the epilogue (66 KB: opted in at launch).
constexpr int LOOP_FLOATS = 2 * 2 * BK * (BM + PAD);
constexpr int SMEM_BYTES = (LOOP_FLOATS > BM * EPI_LD ? LOOP_FLOATS : BM * EPI_LD) * 4;

// 4 consecutive floats of row `r` (< rows) starting at column `c` (multiple of 4) of a matrix
// with unit column stride; zeros outside [0, rows) × [0, cols). `base` is 16-byte aligned and
// ld % 4 == 0 (checked by the dispatcher), so the full-vector path is an aligned LDG.128.
__device__ __forceinline__ float4 load4(const float* base, int64_t ld, int64_t r, int64_t rows, int64_t c,
                                        int64_t cols) {
  float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
  if (r >= rows) return v;
  const float* src = base + r * ld + c;
  if (c + 3 < cols) return __ldg(reinterpret_cast<const float4*>(src));
  if (c < cols) v.x = src[0];
  if (c + 1 < cols) v.y = src[1];
  if (c + 2 < cols) v.z = src[2];
  return v;
}

// A_MN / B_MN: A is M-contiguous / B is N-contiguous (compile-time, so each layout carries only
// its own address registers: 2 CTAs per SM fit without spills).
template <bool A_MN, bool B_MN>
__global__ void __launch_bounds__(THREADS, 2) gemm_simt_128x128(GemmParams p) {
  const BatchOffsets off = batch_offsets(p, blockIdx.z);
  const float* A = static_cast<const float*>(p.a) + off.a;
  const float* B = static_cast<const float*>(p.b) + off.b;
  float* C = static_cast<float*>(p.c) + off.c;
  const float* X = p.aux ? static_cast<const float*>(p.aux) + off.x : nullptr;

  extern __shared__ __align__(16) float smem_f[];
  auto As = reinterpret_cast<float (*)[BK][BM + PAD]>(smem_f);                      // [2][BK][BM+PAD]
  auto Bs = reinterpret_cast<float (*)[BK][BN + PAD]>(smem_f + 2 * BK * (BM + PAD));  // [2][BK][BN+PAD]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;

  // Which 16 bytes this thread moves per K step, for each layout.
  //  K-contiguous operand: row t/2 of the tile, k = (t%2)*4..+3 → transposed store.
  //  MN-contiguous operand: k = t/32, mn = (t%32)*4..+3 → straight float4 store.
  const int kc_row = tid >> 1, kc_k = (tid & 1) * 4;
  const int mc_k = tid >> 5, mc_mn = (tid & 31) * 4;

  float4 ra, rb;
  auto load_global = [&](int64_t k0) {
    if constexpr (A_MN)  // A[m, k] at m + k*a_cs: rows of the K×M view are k
      ra = load4(A, p.a_cs, k0 + mc_k, p.K, m0 + mc_mn, p.M);
    else
      ra = load4(A, p.a_rs, m0 + kc_row, p.M, k0 + kc_k, p.K);
    if constexpr (B_MN)  // B[k, n] at k*b_rs + n
      rb = load4(B, p.b_rs, k0 + mc_k, p.K, n0 + mc_mn, p.N);
    else
      rb = load4(B, p.b_cs, n0 + kc_row, p.N, k0 + kc_k, p.K);
  };
  auto store_shared = [&](int buf) {
    if constexpr (A_MN) {
      *reinterpret_cast<float4*>(&As[buf][mc_k][mc_mn]) = ra;
    } else {
      As[buf][kc_k + 0][kc_row] = ra.x;
      As[buf][kc_k + 1][kc_row] = ra.y;
      As[buf][kc_k + 2][kc_row] = ra.z;
      As[buf][kc_k + 3][kc_row] = ra.w;
    }
    if constexpr (B_MN) {
      *reinterpret_cast<float4*>(&Bs[buf][mc_k][mc_mn]) = rb;
    } else {
      Bs[buf][kc_k + 0][kc_row] = rb.x;
      Bs[buf][kc_k + 1][kc_row] = rb.y;
      Bs[buf][kc_k + 2][kc_row] = rb.z;
      Bs[buf][kc_k + 3][kc_row] = rb.w;
    }
  };

  const int wm = (warp >> 1) * 32, wn = (warp & 1) * 64;
  const int lm = lane >> 3, ln = lane & 7;
  const int ar0 = wm + lm * 4, ar1 = ar0 + 16;  // this lane's two 4-row groups
  const int bc0 = wn + ln * 4, bc1 = bc0 + 32;  // and two 4-column groups

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

  const int ktiles = (p.K + BK - 1) / BK;
  load_global(0);
  store_shared(0);
  __syncthreads();
  for (int kt = 0; kt < ktiles; ++kt) {
    const int buf = kt & 1;
    if (kt + 1 < ktiles) load_global(int64_t(kt + 1) * BK);
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][k][ar0]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][k][ar1]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][k][bc0]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][k][bc1]);
      const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (kt + 1 < ktiles) store_shared(buf ^ 1);  // the other buffer: last read before the previous barrier
    __syncthreads();
  }

  // Epilogue: registers → shared tile (the loop's last barrier freed the buffers) → global.
  float* tile = smem_f;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int r = i < 4 ? ar0 + i : ar1 + i - 4;
    *reinterpret_cast<float4*>(&tile[r * EPI_LD + bc0]) = make_float4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
    *reinterpret_cast<float4*>(&tile[r * EPI_LD + bc1]) = make_float4(acc[i][4], acc[i][5], acc[i][6], acc[i][7]);
  }
  __syncthreads();
  epilogue_tile_from_smem<float, BM, BN, THREADS>(p, C, X, tile, EPI_LD, int(m0), int(n0));
}

}  // namespace

void launch_gemm_simt_128x128(const GemmParams& p, bool a_mn, bool b_mn, cudaStream_t s) {
  const dim3 grid{unsigned((p.N + BN - 1) / BN), unsigned((p.M + BM - 1) / BM), unsigned(p.batch_count)};
  auto kernel = a_mn ? (b_mn ? gemm_simt_128x128<true, true> : gemm_simt_128x128<true, false>)
                     : (b_mn ? gemm_simt_128x128<false, true> : gemm_simt_128x128<false, false>);
  // More than 48 KB of dynamic shared memory must be opted into per kernel.
  FASTNN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
  kernel<<<grid, THREADS, SMEM_BYTES, s>>>(p);
  FASTNN_CUDA_CHECK_LAUNCH("gemm_simt_128x128");
}

}  // namespace cuda
}  // namespace fastnn
