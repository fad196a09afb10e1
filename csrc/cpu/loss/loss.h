#pragma once
// Loss functions, float32 inputs, reductions accumulated in double (deterministic: fixed chunks,
// summed in order, whatever the thread count). Formulas and PyTorch's quirks follow the float64
// oracles in fastnn.reference.loss; see the Python docstrings (python/fastnn/ops/loss.py).
#include <string>

#include "common/tensor.h"

namespace fastnn {

enum class Reduction : int { none, mean, sum };
Reduction parse_reduction(const std::string& s, const char* fn);

// ---- cross entropy from logits (fused log-softmax) -----------------------------------------------
struct CrossEntropyArgs {
  TensorView logits;  // (N, C) or (N, C, d1, ...), float32, any strides
  TensorView target;  // (N) or (N, d1, ...), int32 / int64 class indices
  TensorView weight;  // (C) float32, or data == nullptr
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::mean;
};

// The reduced loss (mean / sum); for Reduction::none writes the per-element loss to out
// (the target's shape) and returns 0. Out-of-range targets → ValueError naming the first one.
double cross_entropy_cpu(const CrossEntropyArgs& a, const TensorView& out);
// dx: the logits' shape. grad_out: per element (none) — else the scalar gs.
void cross_entropy_backward_cpu(const CrossEntropyArgs& a, const TensorView& grad_out, double gs,
                                const TensorView& dx);

// ---- pointwise losses: every array operand has the input's shape (weight / pos_weight may be
// broadcast views with zero strides); optional ones have data == nullptr ------------------------
double binary_cross_entropy_cpu(const TensorView& p, const TensorView& t, const TensorView& w, Reduction r,
                                const TensorView& out);
void binary_cross_entropy_backward_cpu(const TensorView& grad_out, double gs, const TensorView& p,
                                       const TensorView& t, const TensorView& w, Reduction r, const TensorView& dx);
double bce_with_logits_cpu(const TensorView& x, const TensorView& t, const TensorView& w, const TensorView& pw,
                           Reduction r, const TensorView& out);
void bce_with_logits_backward_cpu(const TensorView& grad_out, double gs, const TensorView& x, const TensorView& t,
                                  const TensorView& w, const TensorView& pw, Reduction r, const TensorView& dx);
double mse_loss_cpu(const TensorView& x, const TensorView& t, Reduction r, const TensorView& out);
void mse_loss_backward_cpu(const TensorView& grad_out, double gs, const TensorView& x, const TensorView& t,
                           Reduction r, const TensorView& dx);

}  // namespace fastnn
