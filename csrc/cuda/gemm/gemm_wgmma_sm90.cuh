#pragma once
// Hopper GEMM (sm_90a): wgmma fed by TMA, warp-specialized, persistent.
//
//   block tile 128 (M) × 256 (N) × 128 bytes of K (64 bf16/f16 or 32 tf32), 4 smem stages
//   (48 KB each, 192 KB total), 384 threads = 3 warpgroups:
//     warpgroup 0: producer. One thread waits for a free stage (empty mbarrier), arms the full
//                  mbarrier with the stage's byte count and issues the TMA loads; registers
//                  are handed back (setmaxnreg.dec 40).
//     warpgroups 1, 2: consumers, rows 0-63 / 64-127 of the tile, m64n256 wgmma with 128 FP32
//                  accumulators per thread (setmaxnreg.inc 232). One wgmma group stays in
//                  flight; a stage is released once the group that read it has retired.
//   Persistent grid (one CTA per SM, SM count read at run time) walking the tiles in groups of
//   8 M-tiles so that concurrently running CTAs share A and B panels in L2. The producer runs
//   ahead into the next tile while the consumers run the epilogue.
//
// Shared-memory tiles use TMA's 128-byte swizzle, which is the canonical wgmma SW128 layout:
//   K-major operand:  rows of 128 B (one row per m or n), 8-row atoms of 1024 B; descriptor
//                     SBO = 1024 B, LBO unused; K step k16 (k8 for tf32) = +32 B start address.
//   MN-major operand: loaded as boxes of 64 m-or-n elements (128 B) × 64 k rows = 8 KB each,
//                     placed side by side along m/n; descriptor LBO = 8 KB (next 64 m/n),
//                     SBO = 1024 B (next 8 k rows); K step k16 = +2048 B. 16-bit types only.
//                     (Derived from CUTLASS's canonical layouts, not yet run on hardware:
//                     FASTNN_WGMMA_MN_DESC overrides the two offsets for the first GPU run.)
// Out-of-range rows/columns/K are zero-filled by TMA; the epilogue stores only in-range
// elements, applying bias / activation (or aux · act') in FP32.
#include <cuda.h>

#include <type_traits>

#include "cuda/check.cuh"
#include "cuda/gemm/gemm_kernels.h"
#include "cuda/gemm/wgmma_ops.cuh"

namespace fastnn {
namespace cuda {
namespace wgmma_sm90 {

constexpr int BM = 128, BN = 256, ROW_BYTES = 128, STAGES = 4, THREADS = 384, GROUP_M = 8;
constexpr int A_BYTES = BM * ROW_BYTES, B_BYTES = BN * ROW_BYTES, STAGE_BYTES = A_BYTES + B_BYTES;
constexpr int EPI_LD = 40;  // epilogue buffer row stride (floats): conflict-free float2 writes
constexpr int EPI_BYTES = 8 * 16 * EPI_LD * 4;  // 8 consumer warps × 16 rows
constexpr int SMEM_BYTES = STAGES * STAGE_BYTES + 1024 /* alignment slack */ + 256 /* barriers */ + EPI_BYTES;

struct TileMap {
  int tiles_m, tiles_n;
  int64_t tiles_per_batch, total;
};

__device__ __forceinline__ void tile_coords(const TileMap& t, int64_t id, int64_t& batch, int& mt, int& nt) {
  batch = id / t.tiles_per_batch;
  const int64_t r = id % t.tiles_per_batch;
  const int64_t per_group = int64_t(GROUP_M) * t.tiles_n;
  const int first_m = int(r / per_group) * GROUP_M;
  const int gsize = min(t.tiles_m - first_m, GROUP_M);
  const int64_t rr = r % per_group;
  mt = first_m + int(rr % gsize);
  nt = int(rr / gsize);
}

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, int bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, int parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}
// 3-D TMA tile load (c0 innermost) completing on `bar`.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap* map, uint32_t bar, int c0, int c1,
                                            int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::
          "r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}
// SW128 shared-memory matrix descriptor: start, leading / stride byte offsets (>> 4), mode 1.
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return uint64_t((addr & 0x3FFFF) >> 4) | (uint64_t((lbo >> 4) & 0x3FFF) << 16) |
         (uint64_t((sbo >> 4) & 0x3FFF) << 32) | (uint64_t(1) << 62);
}

template <class T, int A_MN, int B_MN>
__device__ __forceinline__ void wgmma_step(float (&d)[128], uint64_t da, uint64_t db, int scale_d) {
  if constexpr (sizeof(T) == 4) {
    static_assert(A_MN == 0 && B_MN == 0, "tf32 wgmma needs K-major operands");
    wgmma_m64n256k8_tf32(d, da, db, scale_d);
  } else if constexpr (std::is_same<T, __nv_bfloat16>::value) {
    wgmma_m64n256k16_bf16<A_MN, B_MN>(d, da, db, scale_d);
  } else {
    wgmma_m64n256k16_f16<A_MN, B_MN>(d, da, db, scale_d);
  }
}

#endif  // sm_90a

// A, B tensor maps are 3-D: (contiguous dim, other dim, batch). For a K-major operand the
// contiguous dim is K, for an MN-major one it is M (or N).
template <class T, int A_MN, int B_MN>
__global__ void __launch_bounds__(THREADS, 1)
    gemm_wgmma_sm90_128x256(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b,
                            GemmParams p, TileMap tm, int a_bcast, int b_bcast, uint32_t mn_lbo, uint32_t mn_sbo) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int KSTEP = ROW_BYTES / sizeof(T);        // K elements per stage (64 or 32)
  constexpr int MMA_K = sizeof(T) == 4 ? 8 : 16;
  constexpr int KSUB = KSTEP / MMA_K;                 // wgmmas per stage (4)
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;  // SW128 atoms need 1024-B alignment
  const uint32_t bars = base + STAGES * STAGE_BYTES;
  const uint32_t epi_smem = bars + 256;
  auto full_bar = [&](int s) { return bars + 8 * s; };
  auto empty_bar = [&](int s) { return bars + 8 * (STAGES + s); };
  auto a_tile = [&](int s) { return base + s * STAGE_BYTES; };
  auto b_tile = [&](int s) { return base + s * STAGE_BYTES + A_BYTES; };

  const int wg = threadIdx.x / 128;
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(full_bar(s), 1);
      mbar_init(empty_bar(s), 256);  // every consumer thread arrives once per use
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  }
  __syncthreads();

  const int ktiles = (p.K + KSTEP - 1) / KSTEP;

  if (wg == 0) {
    // ---- producer ----
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&map_a)) : "memory");
      asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&map_b)) : "memory");
      int it = 0;
      for (int64_t id = blockIdx.x; id < tm.total; id += gridDim.x) {
        int64_t batch;
        int mt, nt;
        tile_coords(tm, id, batch, mt, nt);
        const int ba = a_bcast ? 0 : int(batch), bb = b_bcast ? 0 : int(batch);
        const int m0 = mt * BM, n0 = nt * BN;
        for (int kt = 0; kt < ktiles; ++kt, ++it) {
          const int s = it % STAGES, ph = (it / STAGES) & 1;
          mbar_wait(empty_bar(s), ph ^ 1);
          mbar_expect_tx(full_bar(s), STAGE_BYTES);
          const int k0 = kt * KSTEP;
          if (!A_MN) {
            tma_load_3d(a_tile(s), &map_a, full_bar(s), k0, m0, ba);
          } else {
#pragma unroll
            for (int j = 0; j < BM / 64; ++j) tma_load_3d(a_tile(s) + j * 8192, &map_a, full_bar(s), m0 + 64 * j, k0, ba);
          }
          if (!B_MN) {
            tma_load_3d(b_tile(s), &map_b, full_bar(s), k0, n0, bb);
          } else {
#pragma unroll
            for (int j = 0; j < BN / 64; ++j) tma_load_3d(b_tile(s) + j * 8192, &map_b, full_bar(s), n0 + 64 * j, k0, bb);
          }
        }
      }
    }
  } else {
    // ---- consumers ----
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int cw = wg - 1;                 // rows 64*cw .. 64*cw + 63 of the tile
    const int t = threadIdx.x % 128, warp = t / 32, lane = t % 32;
    const bool plain = p.bias == nullptr && p.act == kActNone && !p.act_backward;
    float* epi_buf = reinterpret_cast<float*>(smem_raw + (epi_smem - smem_u32(smem_raw)));
    float d[128];
    int it = 0;
    for (int64_t id = blockIdx.x; id < tm.total; id += gridDim.x) {
      int64_t batch;
      int mt, nt;
      tile_coords(tm, id, batch, mt, nt);
      int prev_s = 0;
      for (int kt = 0; kt < ktiles; ++kt, ++it) {
        const int s = it % STAGES, ph = (it / STAGES) & 1;
        mbar_wait(full_bar(s), ph);
        // A: this warpgroup's 64 rows. K-major: rows 64*cw.. (8 KB in); MN-major: box cw.
        const uint32_t a0 = a_tile(s) + cw * 8192, b0 = b_tile(s);
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
        for (int ks = 0; ks < KSUB; ++ks) {
          const uint64_t da = A_MN ? make_desc(a0 + ks * 2048, mn_lbo, mn_sbo) : make_desc(a0 + ks * 32, 16, 1024);
          const uint64_t db = B_MN ? make_desc(b0 + ks * 2048, mn_lbo, mn_sbo) : make_desc(b0 + ks * 32, 16, 1024);
          wgmma_step<T, A_MN, B_MN>(d, da, db, (kt > 0 || ks > 0) ? 1 : 0);
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        if (kt > 0) {
          asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
          mbar_arrive(empty_bar(prev_s));  // the group that read prev_s has retired
        }
        prev_s = s;
      }
      asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
      if (ktiles > 0) mbar_arrive(empty_bar(prev_s));

      // ---- epilogue: registers → per-warp smem buffer (16 rows × 32 columns at a time) →
      // global, one row segment of 32 consecutive columns per warp store; bias / activation in
      // FP32. The loop over the buffer is not unrolled, so the activation code exists 8 times,
      // not 128.
      const BatchOffsets off = batch_offsets(p, batch);
      T* C = static_cast<T*>(p.c) + off.c;
      const T* X = p.aux ? static_cast<const T*>(p.aux) + off.x : nullptr;
      float* buf = epi_buf + (cw * 4 + warp) * (16 * EPI_LD);
      const int g = lane / 4, q = lane % 4;
      const int row0 = mt * BM + cw * 64 + warp * 16, col0 = nt * BN;
#pragma unroll
      for (int c = 0; c < 8; ++c) {
#pragma unroll
        for (int j4 = 0; j4 < 4; ++j4) {
          const int j = c * 4 + j4;
          *reinterpret_cast<float2*>(&buf[g * EPI_LD + 8 * j4 + 2 * q]) = make_float2(d[4 * j], d[4 * j + 1]);
          *reinterpret_cast<float2*>(&buf[(g + 8) * EPI_LD + 8 * j4 + 2 * q]) = make_float2(d[4 * j + 2], d[4 * j + 3]);
        }
        __syncwarp();
        const int n = col0 + c * 32 + lane;
        if (n < p.N) {
#pragma unroll 1
          for (int r = 0; r < 16; ++r) {
            const int m = row0 + r;
            if (m >= p.M) break;
            float v = buf[r * EPI_LD + lane];
            if (!plain) v = epilogue_value<T>(p, X, m, n, v);
            C[int64_t(m) * p.c_rs + int64_t(n) * p.c_cs] = from_float<T>(v);
          }
        }
        __syncwarp();
      }
    }
  }
#else
  __trap();  // built without sm_90a code: the dispatcher never launches this
#endif
}

// ---- host side ------------------------------------------------------------------------------

// Encodes the 3-D TMA map of one operand: dims (contig, other, batch), byte strides of the
// last two, box (box_contig, box_other, 1), 128-byte swizzle, zero fill out of range.
// Defined in gemm_wgmma_sm90.cu (driver entry point looked up through cudart).
void encode_tile_map(CUtensorMap* map, GemmDType dt, const void* ptr, int64_t contig, int64_t other,
                     int64_t other_stride, int64_t batch, int64_t batch_stride, int box_contig, int box_other);

// MN-major descriptor offsets (LBO: next 64 m/n = 8 KB, SBO: next 8 k rows = 1 KB, as CUTLASS's
// canonical MN-major SW128 layout). FASTNN_WGMMA_MN_DESC="lbo,sbo" overrides them: a debugging
// knob for the first hardware run, which checks the MN-major paths against the oracle.
void mn_major_desc_offsets(uint32_t* lbo, uint32_t* sbo);

template <class T, int A_MN, int B_MN>
void launch_layout(const GemmParams& p, int sm_count, cudaStream_t s) {
  constexpr GemmDType dt = sizeof(T) == 4 ? GemmDType::f32
                           : std::is_same<T, __nv_bfloat16>::value ? GemmDType::bf16 : GemmDType::f16;
  constexpr int KSTEP = ROW_BYTES / sizeof(T);
  // The dispatcher collapsed the batch to at most one dim; stride 0 means broadcast.
  const int64_t batch = p.batch_count;
  const int64_t a_bs = p.batch_ndim ? p.a_bs[0] : 0, b_bs = p.batch_ndim ? p.b_bs[0] : 0;
  const bool a_bcast = a_bs == 0, b_bcast = b_bs == 0;
  CUtensorMap map_a, map_b;
  if (!A_MN)  // A[m, k] at m*a_rs + k
    encode_tile_map(&map_a, dt, p.a, p.K, p.M, p.a_rs, a_bcast ? 1 : batch, a_bs, KSTEP, BM);
  else        // A[m, k] at m + k*a_cs
    encode_tile_map(&map_a, dt, p.a, p.M, p.K, p.a_cs, a_bcast ? 1 : batch, a_bs, 64, KSTEP);
  if (!B_MN)  // B[k, n] at k + n*b_cs
    encode_tile_map(&map_b, dt, p.b, p.K, p.N, p.b_cs, b_bcast ? 1 : batch, b_bs, KSTEP, BN);
  else        // B[k, n] at k*b_rs + n
    encode_tile_map(&map_b, dt, p.b, p.N, p.K, p.b_rs, b_bcast ? 1 : batch, b_bs, 64, KSTEP);

  TileMap tm;
  tm.tiles_m = int((p.M + BM - 1) / BM);
  tm.tiles_n = int((p.N + BN - 1) / BN);
  tm.tiles_per_batch = int64_t(tm.tiles_m) * tm.tiles_n;
  tm.total = tm.tiles_per_batch * batch;
  const int64_t grid = tm.total < sm_count ? tm.total : sm_count;

  auto kernel = gemm_wgmma_sm90_128x256<T, A_MN, B_MN>;
  FASTNN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
  uint32_t mn_lbo = 8192, mn_sbo = 1024;
  mn_major_desc_offsets(&mn_lbo, &mn_sbo);
  kernel<<<unsigned(grid), THREADS, SMEM_BYTES, s>>>(map_a, map_b, p, tm, a_bcast, b_bcast, mn_lbo, mn_sbo);
  FASTNN_CUDA_CHECK_LAUNCH("gemm_wgmma_sm90_128x256");
}

// One per element type (gemm_wgmma_sm90_<type>.cu). 16-bit types: (a_mn, b_mn) in
// {(0,0), (0,1), (1,1)} (the dispatcher turns (1,0) into (0,1) by computing Cᵀ = Bᵀ·Aᵀ);
// tf32: (0,0) only.
template <class T>
void launch(const GemmParams& p, bool a_mn, bool b_mn, int sm_count, cudaStream_t s) {
  if constexpr (sizeof(T) == 4) {
    FASTNN_ASSERT(!a_mn && !b_mn, "wgmma tf32 needs K-major operands");
    launch_layout<T, 0, 0>(p, sm_count, s);
  } else {
    FASTNN_ASSERT(!(a_mn && !b_mn), "wgmma: (M-major A, K-major B) must be transposed by the dispatcher");
    if (!a_mn && !b_mn) launch_layout<T, 0, 0>(p, sm_count, s);
    else if (!a_mn) launch_layout<T, 0, 1>(p, sm_count, s);
    else launch_layout<T, 1, 1>(p, sm_count, s);
  }
}

}  // namespace wgmma_sm90
}  // namespace cuda
}  // namespace fastnn
