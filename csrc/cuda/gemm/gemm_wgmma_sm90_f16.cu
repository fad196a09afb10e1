// Hopper wgmma GEMM instantiations for f16 (one file per element type so they build in parallel).
#include "cuda/gemm/gemm_wgmma_sm90.cuh"

namespace fastnn {
namespace cuda {
namespace wgmma_sm90 {
template void launch<__half>(const GemmParams&, bool, bool, int, cudaStream_t);
}  // namespace wgmma_sm90
}  // namespace cuda
}  // namespace fastnn
