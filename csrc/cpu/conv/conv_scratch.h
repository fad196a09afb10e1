#pragma once
// Call-scoped scratch of the convolution drivers, kept per calling thread and reused across
// calls (grow-only). Allocating these buffers per call would page-fault and zero fresh pages
// every time (multi-MiB blocks come from mmap). One id per buffer that can be live at once.
#include <cstddef>

namespace fastnn {

enum class ConvScratch : int {
  igemm_a,      // packed weights of the implicit GEMM
  phase_split,  // strided forward: the input split into stride phases
  wgrad_acc,    // per-thread weight-gradient accumulators
  act_grad,     // backward with activation: the pre-activation, then grad_out · act'
  dgrad_phases, // strided data gradient: grad_x as dense phase blocks, before the interleave
  dgrad_w,      // data gradient: the weights as (groups, K/groups, taps, C/groups)
  wino_u,       // Winograd: transformed kernel (A panels)
  wino_x,       // Winograd: phase-split input
  wino_s,       // Winograd: transformed input (B panels)
  wino_m,       // Winograd: reduction results
  count
};

// 64-byte aligned, at least `floats` floats; valid until this thread asks for the same id again.
float* conv_scratch(ConvScratch id, size_t floats);

}  // namespace fastnn
