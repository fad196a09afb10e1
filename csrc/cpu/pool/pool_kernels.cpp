#include "cpu/pool/pool_kernels.h"

namespace fastnn {

const PoolKernels& pool_kernels_for(Isa isa) {
  static const PoolKernels table[kNumIsas] = {
      {max_pool_plane_ref},
#if defined(FASTNN_X86)
      {max_pool_plane_ref},
      {max_pool_plane_ref},
#else
      {max_pool_plane_ref},
      {max_pool_plane_ref},
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
