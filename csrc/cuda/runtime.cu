// Device discovery. cudart is linked statically; it loads the driver lazily, so a machine
// without a GPU or driver imports fastnn fine and gets a reason here instead.
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

int current_device() {
  int d = 0;
  FASTNN_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

}  // namespace cuda
}  // namespace fastnn
