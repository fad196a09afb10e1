#pragma once
// FP32 GEMM, BLIS structure: pack A and B panels, cache blocking MC/KC/NC, a macro-kernel
// over MR×NR tiles, one micro-kernel per ISA chosen at run time.
//
//   C[M,N] = act(alpha * A[M,K] · B[K,N] + beta * C + bias)
//
// Every operand is (pointer, row stride, column stride) in elements, any sign, so transposed,
// non-contiguous and negative-stride views are absorbed by packing. beta == 0 never reads C
// (so NaN in an uninitialised output cannot leak in).
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

enum class Activation : int { none, relu, gelu, gelu_tanh, sigmoid, tanh, silu };

struct ConstMatrix {
  const float* data;
  int64_t rs, cs;  // element strides between rows / columns
};
struct Matrix {
  float* data;
  int64_t rs, cs;
};

// With z = alpha·A·B + beta·C + bias, C receives act(z); or, when dy is set (backward of a fused
// linear layer), dy ⊙ act'(z) — the gradient of the pre-activation, computed in the epilogue of
// the GEMM that recomputes z, so z is never stored. dy(i, j) = dy[i*dy_rs + j*dy_cs], M×N.
struct GemmEpilogue {
  const float* bias = nullptr;  // length N (added to every row) or M when bias_per_row
  int64_t bias_stride = 1;
  bool bias_per_row = false;
  Activation act = Activation::none;
  const float* dy = nullptr;
  int64_t dy_rs = 0, dy_cs = 0;
};

// Uses the active ISA and up to get_num_threads() threads. Scratch memory is GEMM's own
// (per-thread, reused): callers' thread_workspace() slots are never touched.
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
           const GemmEpilogue& ep = GemmEpilogue());

// Single-threaded variant, for callers that already parallelise over an outer loop.
void sgemm_serial(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
                  const GemmEpilogue& ep = GemmEpilogue());

// Name of the micro-kernel the given ISA uses, e.g. "sgemm_avx2_6x16".
const char* sgemm_kernel_name(Isa isa);

}  // namespace fastnn
