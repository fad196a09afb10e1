// Pooling leaf kernels, AVX-512F (16 lanes). Compiled and dispatched;
// unverified on hardware where the build machine lacks AVX-512 (the SIMDe emulation check in
// tools/avx512_emulation runs the same body).
#include <immintrin.h>

#include <cstdint>

#include "cpu/pool/pool_kernels.h"
#include "cpu/pool/pool_vec_avx512.h"

namespace fastnn {
namespace {

using V = PoolVecAvx512;

#include "cpu/pool/pool_body.inc"

}  // namespace

PoolKernels pool_kernels_avx512() { return {mp_plane_any<V>, mp_scratch<V>, mean_rows<V>}; }

}  // namespace fastnn
