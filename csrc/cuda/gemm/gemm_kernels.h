#pragma once
// Launchers of the CUDA GEMM kernel families (internal to csrc/cuda/gemm; the dispatcher in
// gemm_dispatch.cu validates, classifies layouts and picks one). Each throws on launch errors.
#include <cuda_runtime.h>

#include "cuda/gemm/gemm_common.cuh"

namespace fastnn {
namespace cuda {

enum class GemmDType : int { f32, f16, bf16 };

// C = A·B  ⇔  Cᵀ = Bᵀ·Aᵀ: swaps the operands' roles and transposes every stride pair (and the
// bias direction), so one kernel layout serves its mirror image.
inline void transpose_gemm_problem(GemmParams& p) {
  const int m = p.M;
  p.M = p.N, p.N = m;
  const void* a = p.a;
  p.a = p.b, p.b = a;
  const int64_t ars = p.a_rs, acs = p.a_cs;
  p.a_rs = p.b_cs, p.a_cs = p.b_rs;
  p.b_rs = acs, p.b_cs = ars;
  int64_t t = p.c_rs;
  p.c_rs = p.c_cs, p.c_cs = t;
  t = p.x_rs;
  p.x_rs = p.x_cs, p.x_cs = t;
  for (int d = 0; d < p.batch_ndim; ++d) t = p.a_bs[d], p.a_bs[d] = p.b_bs[d], p.b_bs[d] = t;
  p.bias_per_row = !p.bias_per_row;
}

// Any strides, any batch broadcast; FP32 accumulate. Always correct, never fast.
void launch_gemm_simt_general(const GemmParams& p, GemmDType dt, cudaStream_t s);

// FP32, 128×128×8 tiles. Needs one unit stride per operand, 16-byte aligned rows/columns and
// a single (collapsed) batch dim; C row-major. a_mn: A is M-contiguous (else K-contiguous);
// b_mn: B is N-contiguous (else K-contiguous).
void launch_gemm_simt_128x128(const GemmParams& p, bool a_mn, bool b_mn, cudaStream_t s);

// Tensor cores via mma.sync (sm_80+): bf16/f16, or tf32 for f32. Same layout rules.
void launch_gemm_mma_sm80(const GemmParams& p, GemmDType dt, bool a_mn, bool b_mn, cudaStream_t s);

// Hopper wgmma + TMA, warp-specialized, persistent (sm_90a). a_mn / b_mn: operand is
// M- / N-contiguous (tf32 needs both K-contiguous). C row-major.
void launch_gemm_wgmma_sm90(const GemmParams& p, GemmDType dt, bool a_mn, bool b_mn, int sm_count,
                            cudaStream_t s);

// FP32 B (K×N, N-contiguous, row stride ld_in) → Bt (N×K, K-contiguous, row stride ld_out),
// for `batch` batches (element batch strides bs_in / bs_out).
void launch_repack_kmajor(const float* in, int64_t ld_in, int64_t bs_in, float* out, int64_t ld_out, int64_t bs_out,
                          int K, int N, int64_t batch, cudaStream_t s);

}  // namespace cuda
}  // namespace fastnn
