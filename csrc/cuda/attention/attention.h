#pragma once
// Host entry points of CUDA attention (plain C++: the bindings include this).
//   q (B, Hq, Lq, D)   k (B, Hkv, Lk, D)   v (B, Hkv, Lk, Dv)   →  out (B, Hq, Lq, Dv), lse (B, Hq, Lq)
// Hq % Hkv == 0 (query head h reads kv head h / (Hq / Hkv)); causal is bottom-right aligned (query i
// sees key j iff j ≤ i + Lk - Lq); mask: bool (True = keep) or additive float32, any strides
// (0 = broadcast) over (B, Hq, Lq, Lk). A row with every key masked gives 0 and lse = -inf.
// q, k, v, out, grads: one dtype (float32, float16, bfloat16); lse float32.
#include <cstdint>
#include <string>

#include "common/tensor.h"

namespace fastnn {
namespace cuda {

// kernel: "auto", "mma_sync" (bf16 / f16, D = Dv ∈ {64, 128}, unit stride along D, 16-byte
// aligned rows) or "simt" (any dtype, D, Dv ≤ 256, any strides). A forced kernel that cannot run
// the problem raises ValueError saying why.
void attention_forward(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView* mask,
                       bool causal, double scale, const TensorView& out, const TensorView* lse,
                       const std::string& kernel, uintptr_t stream);

// grad_out, out: (B, Hq, Lq, Dv); lse from the forward. dq, dk, dv: q's, k's and v's shapes.
void attention_backward(const TensorView& grad_out, const TensorView& q, const TensorView& k, const TensorView& v,
                        const TensorView& out, const TensorView& lse, const TensorView* mask, bool causal,
                        double scale, const TensorView& dq, const TensorView& dk, const TensorView& dv,
                        const std::string& kernel, uintptr_t stream);

// "<family>:<dtype>:d<D>" of the attention kernel this thread launched last ("" before any).
std::string last_attention_kernel();

}  // namespace cuda
}  // namespace fastnn
