#pragma once
// CPU flash attention (FlashAttention-2 algorithm: online softmax over key blocks, the L×L
// score matrix never materialised; backward recomputes P from the saved log-sum-exp).
//
//   q (B, Hq, Lq, D)   k (B, Hkv, Lk, D)   v (B, Hkv, Lk, Dv)   Hq % Hkv == 0 (MHA / GQA / MQA)
//   out (B, Hq, Lq, Dv)   lse (B, Hq, Lq) = log Σ_j exp(scale·q·k_j + mask), -inf for a row with no key
//   mask: empty view (data == nullptr) or a 4-d bool (True = keep) / float32 (additive) array whose
//         dims are each 1 or full size (broadcast to (B, Hq, Lq, Lk)); any strides.
//   causal: bottom-right aligned, query i sees key j iff j <= i + Lk - Lq.
// Any strides on every operand (views of a fused QKV projection are read in place). Validates
// everything again (the Python layer already did). Releases nothing: call without the GIL.
#include "common/tensor.h"

namespace fastnn {

void attention_forward_cpu(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& mask,
                           bool causal, double scale, const TensorView& out, const TensorView& lse);

// dq (B, Hq, Lq, D), dk (B, Hkv, Lk, D), dv (B, Hkv, Lk, Dv); dk/dv sum over the query heads of a group.
void attention_backward_cpu(const TensorView& grad_out, const TensorView& q, const TensorView& k,
                            const TensorView& v, const TensorView& out, const TensorView& lse,
                            const TensorView& mask, bool causal, double scale, const TensorView& dq,
                            const TensorView& dk, const TensorView& dv);

}  // namespace fastnn
