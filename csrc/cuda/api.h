#pragma once
// Host-side entry points of the CUDA kernels, in plain C++ types so the bindings
// (compiled by the host compiler) never include CUDA headers.
#include <cstdint>
#include <string>
#include <vector>

#include "common/tensor.h"

namespace fastnn {
namespace cuda {

struct DeviceInfo {
  int index;
  std::string name;
  int major, minor;
  int sm_count;
  int64_t total_memory;
  int max_shared_per_block_optin;
};

// Number of usable devices, or -1 with `reason` filled when CUDA cannot be used at all
// (no driver, driver too old, no device).
int device_count(std::string* reason);
DeviceInfo device_info(int index);
int current_device();

// Kernels this build can run on `device` (reads its compute capability and, once, which
// machine code the build has for it), e.g. {"simt_general", "simt", "mma_sync", "wgmma"}.
std::vector<std::string> gemm_kernels_for_device(int device);

// ---- GEMM ---------------------------------------------------------------------------------

// Kernel families; `automatic` picks the fastest one the device, dtype and layout allow.
enum class GemmKernel : int { automatic = 0, simt_general, simt, mma_sync, wgmma };

struct GemmOptions {
  bool allow_tf32 = false;   // float32 inputs may run on tensor cores as tf32
  GemmKernel kernel = GemmKernel::automatic;  // anything else: that family or ValueError
  int activation = 0;        // fastnn::Activation value: none, relu, gelu, gelu_tanh, sigmoid, tanh, silu
  bool act_backward = false; // out = aux * act'(a·b + bias) instead of act(a·b + bias)
  bool bias_per_row = false; // bias has length M (added along rows) instead of N
};

// out = epilogue(a @ b) with NumPy matmul semantics: a (..., M, K), b (..., K, N),
// out (..., M, N) whose batch dims the operands' broadcast against. Any strides. dtypes:
// a, b, out, bias, aux all float32, float16 or bfloat16 (one of them), FP32 accumulation.
// bias: 1-D (N, or M with bias_per_row) or null; aux: out's shape, used with act_backward.
// Launches on `stream`; errors raise std::runtime_error naming the kernel.
void gemm(const TensorView& a, const TensorView& b, const TensorView& out, const TensorView* bias,
          const TensorView* aux, const GemmOptions& opt, uintptr_t stream);

// "<family>:<dtype>" of the GEMM kernel the calling thread launched last (e.g. "wgmma:bf16",
// "mma_sync:tf32", "simt:f32"), "" before the first launch.
std::string last_gemm_kernel();

// out[n] = sum over m of x[m, n], FP32 accumulation; x (M, N) any strides, out (N,), same dtype.
void column_sum(const TensorView& x, const TensorView& out, uintptr_t stream);

}  // namespace cuda
}  // namespace fastnn
