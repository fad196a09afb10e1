#pragma once
// Normalization drivers: validation, threading and dispatch for layer_norm, rms_norm and
// batch_norm, forward and backward. Optional arguments are views with data == nullptr.
#include "common/tensor.h"

namespace fastnn {

// x, y: (rows, n) with contiguous rows; w, b: (n); mean, rstd: (rows) outputs (optional).
void layer_norm_fwd_cpu(const TensorView& x, const TensorView& w, const TensorView& b, double eps,
                        const TensorView& y, const TensorView& mean, const TensorView& rstd);
// mean and rstd: both given (saved by the forward) or both absent (recomputed from x with eps).
// dw, db: (n) outputs, absent when not wanted.
void layer_norm_bwd_cpu(const TensorView& g, const TensorView& x, const TensorView& w, const TensorView& mean,
                        const TensorView& rstd, double eps, const TensorView& dx, const TensorView& dw,
                        const TensorView& db);

// As layer_norm without centring or bias: y = x / sqrt(mean(x^2) + eps) * w.
void rms_norm_fwd_cpu(const TensorView& x, const TensorView& w, double eps, const TensorView& y,
                      const TensorView& rstd);
void rms_norm_bwd_cpu(const TensorView& g, const TensorView& x, const TensorView& w, const TensorView& rstd,
                      double eps, const TensorView& dx, const TensorView& dw);

// x, y: (N, C, S) contiguous. running_mean / running_var: (C) or absent; in training mode they
// are updated in place (momentum, unbiased variance), in eval mode they are the statistics.
// save_mean / save_rstd: (C) outputs (optional): the statistics used to normalise.
void batch_norm_fwd_cpu(const TensorView& x, const TensorView& running_mean, const TensorView& running_var,
                        const TensorView& w, const TensorView& b, bool training, double momentum, double eps,
                        const TensorView& y, const TensorView& save_mean, const TensorView& save_rstd);
// mean / rstd: the saved statistics (both or neither; training mode recomputes them from x when
// absent, eval mode uses the running statistics).
void batch_norm_bwd_cpu(const TensorView& g, const TensorView& x, const TensorView& w,
                        const TensorView& running_mean, const TensorView& running_var, bool training,
                        double eps, const TensorView& mean, const TensorView& rstd, const TensorView& dx,
                        const TensorView& dw, const TensorView& db);

}  // namespace fastnn
