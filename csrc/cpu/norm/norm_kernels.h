#pragma once
// Leaf kernels of the normalization family (layer_norm, rms_norm, batch_norm), one table per
// ISA. Bodies are written once (norm_body.h) and instantiated in norm_ref.cpp (generic, row 0),
// norm_avx2.cpp and norm_avx512.cpp. Drivers (validation, threading, merging of per-thread
// partial results) live in layer_norm.cpp, rms_norm.cpp and batch_norm.cpp.
//
// Conventions: a "row" is contiguous (unit stride); ld* are row strides in elements. Leaves
// take a row range [r0, r1) so a driver can split rows across threads. Outputs flagged
// `stream` are written with non-temporal stores (the leaf fences before returning).
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

// Rows per block of plain accumulation before a compensated fold (see kahan_fold).
constexpr int64_t kNormFoldRows = 32;

// ---- layer_norm / rms_norm over rows x (rows, n) ----------------------------------------------
struct RowNormFwdArgs {
  int64_t n = 0;                    // row length (the normalized elements)
  const float* x = nullptr;         // (rows, n), row stride ldx
  int64_t ldx = 0;
  const float* w = nullptr;         // (n) or null
  const float* b = nullptr;         // (n) or null (layer_norm only)
  float eps = 0.0f;
  float* y = nullptr;               // (rows, n), row stride ldy
  int64_t ldy = 0;
  float* mean = nullptr;            // (rows) or null: saved mean (layer_norm only)
  float* rstd = nullptr;            // (rows) or null: saved 1/sqrt(var + eps) (or 1/rms)
  bool stream = false;
};

struct RowNormBwdArgs {
  int64_t n = 0;
  const float* g = nullptr;         // grad_out (rows, n), row stride ldg
  int64_t ldg = 0;
  const float* x = nullptr;         // (rows, n), row stride ldx
  int64_t ldx = 0;
  const float* w = nullptr;         // (n) or null
  const float* mean = nullptr;      // (rows) saved stats, or null to recompute from x
  const float* rstd = nullptr;      // (rows), null exactly when mean is (layer_norm) / to recompute (rms)
  float eps = 0.0f;                 // used when recomputing
  float* dx = nullptr;              // (rows, n), row stride lddx
  int64_t lddx = 0;
  bool want_dw = false, want_db = false;
  bool stream = false;
};

// Per-thread column accumulators for d(weight), d(bias): `acc` holds 6 arrays of n floats
// (block w, block b, sum w, comp w, sum b, comp b), zeroed by the caller; on return the
// thread's totals are sum - comp.
using RowNormFwdFn = void (*)(const RowNormFwdArgs& a, int64_t r0, int64_t r1);
using RowNormBwdFn = void (*)(const RowNormBwdArgs& a, int64_t r0, int64_t r1, float* acc);

// ---- batch_norm over x viewed as (N, C, S) -------------------------------------------------------
// "Plane" kernels work on one contiguous run of a (n, c) plane (S >= kBnPlaneMin, chunks of at
// most kBnChunk elements, so a second pass hits L1/L2); "column" kernels on x viewed as rows
// (N, L = C*S) when S is small, vectorised across the L columns.
constexpr int64_t kBnPlaneMin = 32;
constexpr int64_t kBnChunk = 8192;
constexpr int64_t kBnWelfordBlock = 64;  // column mode: rows per Welford block before a Chan merge

// Two-pass mean and M2 = sum((x - mean)^2) of x[0, len).
using BnChunkStatsFn = void (*)(const float* x, int64_t len, float* mean, float* m2);
// y = (x - mean) * scale + shift over [0, len).
using BnChunkApplyFn = void (*)(const float* x, float* y, int64_t len, float mean, float scale, float shift,
                                bool stream);
// sums[0] = sum(g), sums[1] = sum(g * (x - mean)) over [0, len).
using BnChunkSumsFn = void (*)(const float* g, const float* x, int64_t len, float mean, float* sums);
// dx = a * g + c2 * (x - mean) + c3 over [0, len).
using BnChunkDxFn = void (*)(const float* g, const float* x, float* dx, int64_t len, float a, float c2, float mean,
                             float c3, bool stream);

// Welford within blocks of rows, Chan-merged into the running per-column (mean, m2) over
// `*count` rows so far (updated). Rows [r0, r1) of x (rows, L), row stride ldx. scratch: 2 L floats.
using BnColStatsFn = void (*)(const float* x, int64_t ldx, int64_t r0, int64_t r1, int64_t L, float* mean, float* m2,
                              int64_t* count, float* scratch);
// y[r, j] = (x[r, j] - mean[j]) * scale[j] + shift[j] for rows [r0, r1).
using BnColApplyFn = void (*)(const float* x, int64_t ldx, float* y, int64_t ldy, int64_t r0, int64_t r1, int64_t L,
                              const float* mean, const float* scale, const float* shift, bool stream);
// Per column sum(g) and sum(g * (x - mean[j])) over rows [r0, r1) into `acc` (6 L floats, as
// RowNormBwdFn's). If dx is not null, also writes dx[r, j] = a[j] * g[r, j] (eval mode).
using BnColSumsFn = void (*)(const float* g, int64_t ldg, const float* x, int64_t ldx, int64_t r0, int64_t r1,
                             int64_t L, const float* mean, float* acc, float* dx, int64_t lddx, const float* a,
                             bool stream);
// dx[r, j] = a[j] * g + c2[j] * (x - mean[j]) + c3[j] for rows [r0, r1).
using BnColDxFn = void (*)(const float* g, int64_t ldg, const float* x, int64_t ldx, float* dx, int64_t lddx,
                           int64_t r0, int64_t r1, int64_t L, const float* a, const float* c2, const float* mean,
                           const float* c3, bool stream);

struct NormKernels {
  RowNormFwdFn layer_norm_fwd;
  RowNormBwdFn layer_norm_bwd;
  RowNormFwdFn rms_norm_fwd;
  RowNormBwdFn rms_norm_bwd;
  BnChunkStatsFn bn_chunk_stats;
  BnChunkApplyFn bn_chunk_apply;
  BnChunkSumsFn bn_chunk_sums;
  BnChunkDxFn bn_chunk_dx;
  BnColStatsFn bn_col_stats;
  BnColApplyFn bn_col_apply;
  BnColSumsFn bn_col_sums;
  BnColDxFn bn_col_dx;
};

NormKernels norm_kernels_ref();
#if defined(FASTNN_X86)
NormKernels norm_kernels_avx2();
NormKernels norm_kernels_avx512();
#endif
// The table row for an ISA (generic for unsupported builds).
const NormKernels& norm_kernels_for(Isa isa);

}  // namespace fastnn
