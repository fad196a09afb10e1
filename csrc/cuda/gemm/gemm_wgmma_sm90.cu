// Host side of the Hopper wgmma GEMM: TMA tensor-map encoding (the driver's
// cuTensorMapEncodeTiled, looked up through cudart so nothing links against libcuda) and the
// per-dtype launch. The kernel itself is in gemm_wgmma_sm90.cuh.
#include <cudaTypedefs.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "cuda/gemm/gemm_wgmma_sm90.cuh"

namespace fastnn {
namespace cuda {
namespace wgmma_sm90 {

extern template void launch<__nv_bfloat16>(const GemmParams&, bool, bool, int, cudaStream_t);
extern template void launch<__half>(const GemmParams&, bool, bool, int, cudaStream_t);
extern template void launch<float>(const GemmParams&, bool, bool, int, cudaStream_t);

namespace {

PFN_cuTensorMapEncodeTiled_v12000 encode_fn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = nullptr;
  static std::once_flag once;
  static cudaError_t err = cudaSuccess;
  static cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSuccess;
  std::call_once(once, [] {
    void* p = nullptr;
    err = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q);
    fn = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  });
  FASTNN_CUDA_CHECK(err);
  if (q != cudaDriverEntryPointSuccess || fn == nullptr)
    throw std::runtime_error("CUDA driver does not provide cuTensorMapEncodeTiled (needs a CUDA 12+ driver)");
  return fn;
}

}  // namespace

void encode_tile_map(CUtensorMap* map, GemmDType dt, const void* ptr, int64_t contig, int64_t other,
                     int64_t other_stride, int64_t batch, int64_t batch_stride, int box_contig, int box_other) {
  const int64_t esize = dt == GemmDType::f32 ? 4 : 2;
  const CUtensorMapDataType type = dt == GemmDType::f32    ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32
                                   : dt == GemmDType::bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                                           : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  cuuint64_t dims[3] = {cuuint64_t(contig), cuuint64_t(other), cuuint64_t(batch)};
  // A batch of one (or a broadcast operand) still needs a legal stride for its unit dim.
  const int64_t bstride = batch > 1 ? batch_stride * esize : other_stride * esize * (other > 0 ? other : 1);
  cuuint64_t strides[2] = {cuuint64_t(other_stride * esize), cuuint64_t(bstride)};
  cuuint32_t box[3] = {cuuint32_t(box_contig), cuuint32_t(box_other), 1};
  cuuint32_t estrides[3] = {1, 1, 1};
  const CUresult r = encode_fn()(map, type, 3, const_cast<void*>(ptr), dims, strides, box, estrides,
                                 CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                 CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error(str_cat("cuTensorMapEncodeTiled failed (CUresult ", int(r), ") for dims (", contig, ", ",
                                     other, ", ", batch, "), strides (", other_stride, ", ", batch_stride,
                                     ") elements"));
}

void mn_major_desc_offsets(uint32_t* lbo, uint32_t* sbo) {
  const char* env = std::getenv("FASTNN_WGMMA_MN_DESC");
  unsigned l = 0, s = 0;
  if (env && std::sscanf(env, "%u,%u", &l, &s) == 2) {
    FASTNN_CHECK_VALUE(l % 16 == 0 && s % 16 == 0 && l < (1u << 18) && s < (1u << 18),
                       "FASTNN_WGMMA_MN_DESC must be 'lbo,sbo' in bytes, multiples of 16, got '", env, "'");
    *lbo = l, *sbo = s;
  }
}

}  // namespace wgmma_sm90

void launch_gemm_wgmma_sm90(const GemmParams& p, GemmDType dt, bool a_mn, bool b_mn, int sm_count, cudaStream_t s) {
  switch (dt) {
    case GemmDType::f32: wgmma_sm90::launch<float>(p, a_mn, b_mn, sm_count, s); break;
    case GemmDType::f16: wgmma_sm90::launch<__half>(p, a_mn, b_mn, sm_count, s); break;
    case GemmDType::bf16: wgmma_sm90::launch<__nv_bfloat16>(p, a_mn, b_mn, sm_count, s); break;
  }
}

}  // namespace cuda
}  // namespace fastnn
