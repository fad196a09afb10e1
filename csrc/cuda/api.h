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

// NumPy matmul semantics on CUDA float32 views (rank >= 2, batch dims broadcast against out).
// Launches on `stream`; errors raise std::runtime_error naming the kernel.
void matmul(const TensorView& a, const TensorView& b, const TensorView& out, uintptr_t stream);

}  // namespace cuda
}  // namespace fastnn
