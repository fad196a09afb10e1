// Device discovery. cudart is linked statically; it loads the driver lazily, so a machine
// without a GPU or driver imports fastnn fine and gets a reason here instead.
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/api.h"
#include "cuda/check.cuh"

namespace fastnn {
namespace cuda {

int device_count(std::string* reason) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    if (reason) *reason = str_cat(cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    return -1;
  }
  if (n == 0 && reason) *reason = "no CUDA device found";
  return n;
}

DeviceInfo device_info(int index) {
  cudaDeviceProp p;
  FASTNN_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  DeviceInfo d;
  d.index = index;
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.sm_count = p.multiProcessorCount;
  d.total_memory = int64_t(p.totalGlobalMem);
  d.max_shared_per_block_optin = int(p.sharedMemPerBlockOptin);
  return d;
}

namespace {

// Writes __CUDA_ARCH__ of the machine code the driver picked for this device, +1 when that
// code was built for the arch-specific sm_90a target (wgmma, setmaxnreg).
__global__ void arch_probe(int* out) {
#if defined(__CUDA_ARCH__)
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  *out = __CUDA_ARCH__ + 1;
#else
  *out = __CUDA_ARCH__;
#endif
#endif
}

}  // namespace

// Runs arch_probe once per device (cached): which of this build's machine code the device runs.
int arch_code_for_device(int device) {
  static std::mutex mu;
  static std::vector<std::pair<int, int>> cache;
  std::lock_guard<std::mutex> lock(mu);
  for (auto& [d, code] : cache)
    if (d == device) return code;
  int previous = 0;
  FASTNN_CUDA_CHECK(cudaGetDevice(&previous));
  FASTNN_CUDA_CHECK(cudaSetDevice(device));
  int* buf = nullptr;
  int code = 0;
  FASTNN_CUDA_CHECK(cudaMalloc(&buf, sizeof(int)));
  arch_probe<<<1, 1>>>(buf);
  cudaError_t err = cudaGetLastError();
  if (err == cudaSuccess) err = cudaMemcpy(&code, buf, sizeof(int), cudaMemcpyDeviceToHost);
  cudaFree(buf);
  cudaSetDevice(previous);
  if (err == cudaErrorNoKernelImageForDevice) {
    cudaGetLastError();
    code = 0;  // this build has no code the device can run
  } else {
    FASTNN_CUDA_CHECK(err);
  }
  cache.emplace_back(device, code);
  return code;
}

int current_device() {
  int d = 0;
  FASTNN_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

}  // namespace cuda
}  // namespace fastnn
