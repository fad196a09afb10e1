#pragma once
// Host entry points of the CUDA glue kernels (plain C++ types: the bindings include this).
// Arrays are TensorViews of CUDA memory (element strides); floats are float32, float16 or
// bfloat16 (one dtype per call, FP32 math inside); everything launches on `stream` and raises
// ValueError / TypeError for bad arguments (checked before any CUDA call), RuntimeError for
// CUDA failures.
#include <cstdint>

#include "common/tensor.h"

namespace fastnn {
namespace cuda {

// ---- activations ----------------------------------------------------------------------------
// kind: 0 relu, 1 leaky_relu, 2 gelu, 3 gelu_tanh, 4 silu, 5 sigmoid, 6 tanh, 7 softplus
// (the CPU's ActKind order). Any strides; y / dx same shape, may be x itself.
struct ActScalars {
  float slope = 0.01f, beta = 1.0f, threshold = 20.0f;
};
void activation_forward(int kind, const TensorView& x, const TensorView& y, const ActScalars& p, uintptr_t stream);
void activation_backward(int kind, const TensorView& g, const TensorView& x, const TensorView& dx,
                         const ActScalars& p, uintptr_t stream);

// ---- softmax / log_softmax along `dim` ----------------------------------------------------------
// x, y contiguous, same shape. Backward from the forward output y.
void softmax_forward(const TensorView& x, const TensorView& y, int dim, bool log, uintptr_t stream);
void softmax_backward(const TensorView& g, const TensorView& y, const TensorView& dx, int dim, bool log,
                      uintptr_t stream);

// ---- cross entropy (fused log-softmax) ----------------------------------------------------------
// logits (N, C, S) contiguous (S: the flattened d1... dims, 1 for (N, C)), target (N, S) int32 /
// int64 contiguous, weight (C,) or null. reduction 0 none, 1 mean, 2 sum.
// none: out (N, S); mean / sum: out 0-d (dtype of logits). A target outside [0, C) that is not
// ignore_index raises ValueError naming the first one (one host synchronisation).
void cross_entropy_forward(const TensorView& logits, const TensorView& target, const TensorView* weight,
                           int64_t ignore_index, double label_smoothing, int reduction, const TensorView& out,
                           uintptr_t stream);
// grad_out: (N, S) for none, 0-d (any float dtype on the device) for mean / sum, or null with
// grad_scalar for a host scalar. dx (N, C, S) contiguous.
void cross_entropy_backward(const TensorView* grad_out, double grad_scalar, const TensorView& logits,
                            const TensorView& target, const TensorView* weight, int64_t ignore_index,
                            double label_smoothing, int reduction, const TensorView& dx, uintptr_t stream);

// ---- layer_norm / rms_norm over the last dim of (rows, n) --------------------------------------
// x, y (rows, n) contiguous; weight, bias (n,) or null; mean, rstd (rows,) float32 or null (outputs).
void row_norm_forward(bool rms, const TensorView& x, const TensorView* weight, const TensorView* bias, double eps,
                      const TensorView& y, const TensorView* mean, const TensorView* rstd, uintptr_t stream);
// mean / rstd: saved statistics (float32) or null (recomputed). dweight / dbias (n,) or null.
void row_norm_backward(bool rms, const TensorView& g, const TensorView& x, const TensorView* weight,
                       const TensorView* mean, const TensorView* rstd, double eps, const TensorView& dx,
                       const TensorView* dweight, const TensorView* dbias, uintptr_t stream);

// ---- batch_norm over (N, C, S) per channel C ------------------------------------------------
// running_mean / running_var (C,) float32 (updated in place when training) or null; weight, bias
// (C,) dtype of x or null; mean / rstd (C,) float32 outputs or null.
void batch_norm_forward(const TensorView& x, const TensorView* running_mean, const TensorView* running_var,
                        const TensorView* weight, const TensorView* bias, bool training, double momentum,
                        double eps, const TensorView& y, const TensorView* mean, const TensorView* rstd,
                        uintptr_t stream);
// saved mean / rstd (C,) float32 or null (training: recomputed from x; eval: from the running stats).
void batch_norm_backward(const TensorView& g, const TensorView& x, const TensorView* weight,
                         const TensorView* running_mean, const TensorView* running_var, bool training, double eps,
                         const TensorView* mean, const TensorView* rstd, const TensorView& dx,
                         const TensorView* dweight, const TensorView* dbias, uintptr_t stream);

// ---- embedding ------------------------------------------------------------------------------------
// indices (M,) int32 / int64 any stride, weight (V, D) contiguous, out (M, D) contiguous. An index
// outside [0, V) raises ValueError naming its position and value (one host synchronisation).
void embedding_forward(const TensorView& indices, const TensorView& weight, const TensorView& out, uintptr_t stream);
// grad_out (M, D) contiguous → grad_weight (V, D) contiguous (overwritten); padding_idx < 0: none.
// Scatter-add with atomics (FP32 accumulation; not bitwise reproducible run to run).
void embedding_backward(const TensorView& grad_out, const TensorView& indices, int64_t padding_idx,
                        const TensorView& grad_weight, uintptr_t stream);

// ---- dropout (fastnn dropout stream v1, common/philox.h: the CPU's bits) --------------------------
// x, y: same shape, any strides (either may be absent: mask only); mask: bool / uint8 or absent.
void dropout(const TensorView* x, const TensorView* y, const TensorView* mask, double p, uint64_t seed,
             uint64_t offset, uintptr_t stream);

// ---- fused optimizer steps (float32, contiguous, in place) ----------------------------------------
void sgd_step(const TensorView& param, const TensorView& grad, const TensorView* momentum_buf, double lr,
              double momentum, double dampening, double weight_decay, bool nesterov, bool maximize, bool first_step,
              uintptr_t stream);
void adam_step(const TensorView& param, const TensorView& grad, const TensorView& exp_avg,
               const TensorView& exp_avg_sq, const TensorView* max_exp_avg_sq, int64_t step, double lr, double beta1,
               double beta2, double eps, double weight_decay, bool amsgrad, bool maximize, bool decoupled,
               uintptr_t stream);

// ---- broadcasting elementwise and reductions -------------------------------------------------------
// op 0: out = a + b, 1: out = a · b, 2: out = a · scale (b null). a, b: broadcast views of out's
// shape (zero strides), any strides.
void binary(int op, const TensorView& a, const TensorView* b, double scale, const TensorView& out, uintptr_t stream);
// out (the kept dims, contiguous) = scale · Σ x over the axes in axes_mask (bit d: axis d).
void reduce_sum(const TensorView& x, uint32_t axes_mask, double scale, const TensorView& out, uintptr_t stream);

}  // namespace cuda
}  // namespace fastnn
