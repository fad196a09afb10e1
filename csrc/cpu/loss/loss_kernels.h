#pragma once
// Leaf kernels of the loss family, one table per ISA (row 0: the generic twin).
//
// Cross entropy works on slices of the logits along the class axis: a row kernel for one
// contiguous slice, a column kernel for L ≤ kCeColumns adjacent slices (element (c, l) at
// p + c·stride + l), as softmax. Stats give m = max_c x_c, s = Σ_c exp(x_c - m) and, when wx is
// not null, wx = Σ_c w_c·(x_c - m) (w null: Σ_c (x_c - m)) for label smoothing. The backward writes
//   dx_c = a·exp(x_c - m - ls) - b·w_c        (w null: - b)
// with ls = log(s) (the row kernel computes m and s itself and returns them, with one exp per
// element: dx_c = (a/s)·exp(x_c - m) - b·w_c); the driver then fixes the target class.
//
// Pointwise losses take n contiguous elements; an optional operand is null when absent. The
// forward writes the per-element loss to `out` when it is not null and returns Σ loss in double
// (accumulated in float over 1024-element blocks, then in double). Backwards get grad_out either
// per element (g not null) or as the scalar gs (g null); with g, the result is also scaled by gs.
// stream: write dx with non-temporal stores.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

constexpr int kCeColumns = 64;

// x: (C) → *m, *s, *wx (wx may be null; w: (C) or null). next: the row done next (or null),
// prefetched into L2 meanwhile.
using CeRowStatsFn = void (*)(const float* x, int64_t C, const float* w, float* m, float* s, float* wx,
                              const float* next);
// x, dx: (C) → dx, *m, *s. stream: non-temporal stores for dx, the exps kept in scratch (C floats,
// required when streaming); next as above.
using CeRowGradFn = void (*)(const float* x, float* dx, int64_t C, float a, float b, const float* w, bool stream,
                             float* scratch, const float* next, float* m, float* s);
// x: (C, L) row stride xs → m[L], s[L], wx[L] (wx may be null)
using CeColStatsFn = void (*)(const float* x, int64_t xs, int64_t C, int L, const float* w, float* m, float* s,
                              float* wx);
// x: (C, L) row stride xs, dx: (C, L) row stride ds; m, ls, a, b: (L)
using CeColBackwardFn = void (*)(const float* x, int64_t xs, float* dx, int64_t ds, int64_t C, int L, const float* m,
                                 const float* ls, const float* a, const float* b, const float* w);

// p, t, w, out: (n). Counts p outside [0, 1] into *bad.
using BceFn = double (*)(const float* p, const float* t, const float* w, float* out, int64_t n, int64_t* bad);
using BceBackwardFn = void (*)(const float* g, float gs, const float* p, const float* t, const float* w, float* dx,
                               int64_t n, bool stream);
// x: logits; pw: pos_weight (broadcast to (n) by the driver) or null
using BceLogitsFn = double (*)(const float* x, const float* t, const float* w, const float* pw, float* out,
                               int64_t n);
using BceLogitsBackwardFn = void (*)(const float* g, float gs, const float* x, const float* t, const float* w,
                                     const float* pw, float* dx, int64_t n, bool stream);
using MseFn = double (*)(const float* x, const float* t, float* out, int64_t n);
using MseBackwardFn = void (*)(const float* g, float gs, const float* x, const float* t, float* dx, int64_t n,
                               bool stream);

struct LossKernels {
  CeRowStatsFn ce_row_stats;
  CeRowGradFn ce_row_grad;
  CeColStatsFn ce_col_stats;
  CeColBackwardFn ce_col_backward;
  BceFn bce;
  BceBackwardFn bce_backward;
  BceLogitsFn bce_logits;
  BceLogitsBackwardFn bce_logits_backward;
  MseFn mse;
  MseBackwardFn mse_backward;
};

const LossKernels& loss_kernels_generic();
#if defined(FASTNN_X86)
const LossKernels& loss_kernels_avx2();
const LossKernels& loss_kernels_avx512();
#endif
const LossKernels& loss_kernels(Isa isa);

}  // namespace fastnn
