#pragma once
// Launch plumbing shared by the CUDA kernel families other than GEMM: device properties read at
// run time (cached per device), grid sizing, stream-ordered scratch memory, and the one
// device→host read that turns an index error found by a kernel into a ValueError.
#include <cuda_runtime.h>

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "cuda/check.cuh"

namespace fastnn {
namespace cuda {

struct LaunchDevice {
  int index = 0, sm_count = 1, max_smem_optin = 48 * 1024, major = 0;
};

// The current device's properties (cached per device; the first call per device also lets
// the default memory pool keep freed scratch, so cudaMallocAsync is cheap after warm-up).
inline LaunchDevice launch_device() {
  static std::mutex mu;
  static std::vector<LaunchDevice> cache;
  int dev = 0;
  FASTNN_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& d : cache)
    if (d.index == dev) return d;
  LaunchDevice d;
  d.index = dev;
  FASTNN_CUDA_CHECK(cudaDeviceGetAttribute(&d.sm_count, cudaDevAttrMultiProcessorCount, dev));
  FASTNN_CUDA_CHECK(cudaDeviceGetAttribute(&d.max_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  FASTNN_CUDA_CHECK(cudaDeviceGetAttribute(&d.major, cudaDevAttrComputeCapabilityMajor, dev));
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, dev) == cudaSuccess) {
    uint64_t keep = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  cudaGetLastError();
  cache.push_back(d);
  return d;
}

// Blocks for a grid-stride loop over n items, `per_block` items per block per sweep: enough to
// fill the device a few times over, never more than the work.
inline unsigned grid_for(int64_t n, int64_t per_block, int blocks_per_sm = 8) {
  const int64_t need = (n + per_block - 1) / per_block;
  const int64_t cap = int64_t(launch_device().sm_count) * blocks_per_sm;
  const int64_t g = need < cap ? need : cap;
  return unsigned(g < 1 ? 1 : g);
}

// Stream-ordered scratch (cudaMallocAsync / cudaFreeAsync on the launch stream): freed after the
// kernels that use it, without synchronising.
class StreamScratch {
 public:
  StreamScratch(size_t bytes, cudaStream_t s) : s_(s) {
    if (bytes) FASTNN_CUDA_CHECK(cudaMallocAsync(&p_, bytes, s));
  }
  ~StreamScratch() {
    if (p_) cudaFreeAsync(p_, s_);
  }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  template <class T> T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_ = nullptr;
  cudaStream_t s_;
};

// Index checks: kernels atomicMin the flat position of the first bad index into a status word
// preset to "none" (all ones); the host reads it after the launch (one synchronisation).
constexpr unsigned long long kNoBadIndex = ~0ull;

inline void reset_status(unsigned long long* status, cudaStream_t s) {
  FASTNN_CUDA_CHECK(cudaMemsetAsync(status, 0xFF, sizeof(unsigned long long), s));
}

inline unsigned long long read_status(const unsigned long long* status, cudaStream_t s) {
  unsigned long long v = kNoBadIndex;
  FASTNN_CUDA_CHECK(cudaMemcpyAsync(&v, status, sizeof(v), cudaMemcpyDeviceToHost, s));
  FASTNN_CUDA_CHECK(cudaStreamSynchronize(s));
  return v;
}

// Reads one integer index (int32 or int64) from device memory (for error messages).
inline int64_t read_index(const void* base, bool is64, int64_t offset) {
  int64_t v = 0;
  if (is64) {
    FASTNN_CUDA_CHECK(cudaMemcpy(&v, static_cast<const int64_t*>(base) + offset, 8, cudaMemcpyDeviceToHost));
  } else {
    int32_t w = 0;
    FASTNN_CUDA_CHECK(cudaMemcpy(&w, static_cast<const int32_t*>(base) + offset, 4, cudaMemcpyDeviceToHost));
    v = w;
  }
  return v;
}

}  // namespace cuda
}  // namespace fastnn
