#pragma once
// Internal entry points of the attention drivers (validated problems only).
#include "cpu/attention/problem.h"

namespace fastnn {
namespace attn {

// Flash forward: threads over (batch, head, query block), online softmax over key blocks.
void forward_flash(const Leaves& lv, const Problem& p, const Operand& out, const Lse& lse);

// Decode forward (small Lq): the query rows of a kv group together, keys split across threads,
// partial results merged by log-sum-exp.
void forward_decode(const Leaves& lv, const Problem& p, const Operand& out, const Lse& lse);
// Whether forward_decode is the faster path for this problem.
bool prefer_decode(const Problem& p);

// FlashAttention-2 backward.
void backward_flash(const Leaves& lv, const Problem& p, const Operand& grad_out, const Operand& out, const Lse& lse,
                    const Operand& dq, const Operand& dk, const Operand& dv);

// Rows with no key at all: out = 0, lse = -inf (used when Lk == 0 or every block was skipped).
void write_empty_row(const Problem& p, const Operand& out, const Lse& lse, int64_t b, int64_t h, int64_t i);

}  // namespace attn
}  // namespace fastnn
