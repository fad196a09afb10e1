// Tensor-core GEMM with mma.sync (sm_80+): bf16 / f16 inputs (m16n8k16) or f32 inputs as
// tf32 (m16n8k8, the hardware reads the top 19 bits), FP32 accumulation, fused epilogue.
//
// Block tile 128×128, K step of 128 bytes per row (64 16-bit or 32 tf32 elements), 3-stage
// cp.async pipeline (96 KB shared memory, opted in at launch). 8 warps as 2 (M) × 4 (N), warp
// tile 64×32. Every operand is staged in shared memory in its global orientation:
//   K-contiguous:  [128 rows (m or n)][128 B of k]
//   MN-contiguous: [k rows][128 elements of m or n]
// with 16-byte chunks XOR-swizzled by (row % 8), so cp.async stores and ldmatrix reads are
// bank-conflict free. K-contiguous fragments load with ldmatrix, MN-contiguous ones with
// ldmatrix.trans (16-bit) or scalar LDS (tf32; ldmatrix.trans has no 32-bit form). Layouts
// are template flags: 3 per dtype ((M-major A, K-major B) runs transposed).
#include "cuda/check.cuh"
#include "cuda/gemm/gemm_kernels.h"

namespace fastnn {
namespace cuda {
namespace {

constexpr int BM = 128, BN = 128, ROW_BYTES = 128, STAGES = 3, THREADS = 256;
constexpr int TILE_BYTES = 128 * ROW_BYTES;                 // 16 KB per operand per stage
constexpr int SMEM_BYTES = STAGES * 2 * TILE_BYTES;         // 96 KB

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ uint32_t lds_u32(uint32_t addr) {
  uint32_t v;
  asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(addr));
  return v;
}

template <class T>
__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b);

template <>
__device__ __forceinline__ void mma<__nv_bfloat16>(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma<__half>(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma<float>(float (&d)[4], const uint32_t (&a)[4], const uint32_t* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Copies one operand tile (128 m-or-n × one K step) of stage `st` with cp.async; zero-fills
// everything outside the matrix. `mn_major`: the operand's contiguous dim is m (or n).
// ld: element stride of the non-contiguous dim. mn0/k0: tile origin; MN/K: extents.
template <class T>
__device__ __forceinline__ void load_tile(uint32_t smem, const T* g, int64_t ld, bool mn_major, int64_t mn0,
                                          int64_t k0, int64_t MN, int64_t K, int tid) {
  constexpr int E = 16 / sizeof(T);                    // elements per 16-byte chunk
  constexpr int KSTEP = ROW_BYTES / sizeof(T);          // K elements per stage
  constexpr int MN_CHUNKS = 128 / E;                    // chunks per MN-major row
#pragma unroll
  for (int i = 0; i < TILE_BYTES / 16 / THREADS; ++i) {
    const int c = tid + i * THREADS;
    int row, ch;
    int64_t r_g, c_g, r_ext, c_ext;  // global (row, contiguous column) and extents
    uint32_t dst;
    if (!mn_major) {
      row = c >> 3, ch = c & 7;  // row = m (or n), chunk along k
      r_g = mn0 + row, c_g = k0 + ch * E, r_ext = MN, c_ext = K;
      dst = smem + row * ROW_BYTES + ((ch ^ (row & 7)) << 4);
    } else {
      row = c / MN_CHUNKS, ch = c % MN_CHUNKS;  // row = k, chunk along m (or n)
      r_g = k0 + row, c_g = mn0 + ch * E, r_ext = K, c_ext = MN;
      dst = smem + row * (MN_CHUNKS * 16) + ((ch ^ (row & 7)) << 4);
    }
    (void)KSTEP;
    int bytes = 0;
    const T* src = g;
    if (r_g < r_ext && c_g < c_ext) {
      const int64_t left = (c_ext - c_g) * int64_t(sizeof(T));
      bytes = left >= 16 ? 16 : int(left);
      src = g + r_g * ld + c_g;
    }
    cp_async_16(dst, src, bytes);
  }
}

// A_MN / B_MN: A is M-contiguous / B is N-contiguous. Compile-time so that each layout keeps
// only its own fragment addressing in registers. (Capping at 128 registers for 2 CTAs per SM
// spilled in 4 of the 9 instantiations with nvcc 13.0, so one 8-warp CTA per SM it is.)
template <class T, bool A_MN, bool B_MN>
__global__ void __launch_bounds__(THREADS) gemm_mma_sm80_128x128(GemmParams p) {
  constexpr bool a_mn = A_MN, b_mn = B_MN;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  constexpr bool kTf32 = sizeof(T) == 4;
  constexpr int KSTEP = ROW_BYTES / sizeof(T);  // 64 (16-bit) or 32 (tf32) per stage
  constexpr int MMA_K = kTf32 ? 8 : 16;
  constexpr int MN_ROW_BYTES = 128 * sizeof(T);  // MN-major smem row: 128 elements
  extern __shared__ __align__(128) unsigned char smem_raw[];
  const uint32_t smem = smem_u32(smem_raw);
  auto a_stage = [&](int s) { return smem + s * 2 * TILE_BYTES; };
  auto b_stage = [&](int s) { return smem + s * 2 * TILE_BYTES + TILE_BYTES; };

  const BatchOffsets off = batch_offsets(p, blockIdx.z);
  const T* A = static_cast<const T*>(p.a) + off.a;
  const T* B = static_cast<const T*>(p.b) + off.b;
  T* C = reinterpret_cast<T*>(static_cast<char*>(p.c)) + off.c;
  const T* X = p.aux ? static_cast<const T*>(p.aux) + off.x : nullptr;
  const int64_t lda = a_mn ? p.a_cs : p.a_rs, ldb = b_mn ? p.b_rs : p.b_cs;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int64_t m0 = int64_t(blockIdx.y) * BM, n0 = int64_t(blockIdx.x) * BN;
  const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
  const int ktiles = (p.K + KSTEP - 1) / KSTEP;

  auto load_stage = [&](int s, int kt) {
    const int64_t k0 = int64_t(kt) * KSTEP;
    load_tile<T>(a_stage(s), A, lda, a_mn, m0, k0, p.M, p.K, tid);
    load_tile<T>(b_stage(s), B, ldb, b_mn, n0, k0, p.N, p.K, tid);
  };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.0f;

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ktiles) load_stage(s, s);
    cp_async_commit();
  }

  const int g = lane >> 2, t = lane & 3, q = lane >> 3, l8 = lane & 7;
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();  // stage kt is visible to all; stage kt-1 is no longer read by anyone
    if (kt + STAGES - 1 < ktiles) load_stage((kt + STAGES - 1) % STAGES, kt + STAGES - 1);
    cp_async_commit();

    const uint32_t as = a_stage(kt % STAGES), bs = b_stage(kt % STAGES);
#pragma unroll
    for (int ks = 0; ks < KSTEP / MMA_K; ++ks) {
      uint32_t af[4][4], bf[4][2];
      if constexpr (!kTf32) {
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
          if constexpr (!A_MN) {  // rows m, chunks along k: matrices (m0-7|m8-15) × (k0-7|k8-15)
            const int row = wm + mi * 16 + (lane & 15), ch = ks * 2 + (lane >> 4);
            ldmatrix_x4(as + row * ROW_BYTES + ((ch ^ (row & 7)) << 4), af[mi]);
          } else {  // rows k, chunks along m
            const int row = ks * 16 + (q >> 1) * 8 + l8, ch = (wm + mi * 16 + (q & 1) * 8) >> 3;
            ldmatrix_x4_trans(as + row * MN_ROW_BYTES + ((ch ^ (row & 7)) << 4), af[mi]);
          }
        }
#pragma unroll
        for (int np = 0; np < 2; ++np) {  // two n8 tiles per ldmatrix.x4
          uint32_t r[4];
          if constexpr (!B_MN) {  // rows n, chunks along k
            const int row = wn + np * 16 + (q >> 1) * 8 + l8, ch = ks * 2 + (q & 1);
            ldmatrix_x4(bs + row * ROW_BYTES + ((ch ^ (row & 7)) << 4), r);
          } else {  // rows k, chunks along n
            const int row = ks * 16 + (q & 1) * 8 + l8, ch = (wn + np * 16 + (q >> 1) * 8) >> 3;
            ldmatrix_x4_trans(bs + row * MN_ROW_BYTES + ((ch ^ (row & 7)) << 4), r);
          }
          bf[np * 2][0] = r[0], bf[np * 2][1] = r[1], bf[np * 2 + 1][0] = r[2], bf[np * 2 + 1][1] = r[3];
        }
      } else {
        // tf32: element (mn, k) of a K-contiguous tile sits at mn*128 + ((k/4 ^ mn%8) << 4) + (k%4)*4,
        // of an MN-contiguous tile at k*512 + ((mn/4 ^ k%8) << 4) + (mn%4)*4.
        auto kmaj = [](uint32_t base, int mn, int k) {
          return base + mn * ROW_BYTES + ((((k >> 2) ^ (mn & 7))) << 4) + (k & 3) * 4;
        };
        auto mnmaj = [](uint32_t base, int mn, int k) {
          return base + k * (128 * 4) + ((((mn >> 2) ^ (k & 7))) << 4) + (mn & 3) * 4;
        };
        const int k = ks * 8 + t;
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) {
          const int m = wm + mi * 16 + g;
          if constexpr (!A_MN) {
            af[mi][0] = lds_u32(kmaj(as, m, k)), af[mi][1] = lds_u32(kmaj(as, m + 8, k));
            af[mi][2] = lds_u32(kmaj(as, m, k + 4)), af[mi][3] = lds_u32(kmaj(as, m + 8, k + 4));
          } else {
            af[mi][0] = lds_u32(mnmaj(as, m, k)), af[mi][1] = lds_u32(mnmaj(as, m + 8, k));
            af[mi][2] = lds_u32(mnmaj(as, m, k + 4)), af[mi][3] = lds_u32(mnmaj(as, m + 8, k + 4));
          }
        }
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
          const int n = wn + ni * 8 + g;
          if constexpr (!B_MN) {
            bf[ni][0] = lds_u32(kmaj(bs, n, k)), bf[ni][1] = lds_u32(kmaj(bs, n, k + 4));
          } else {
            bf[ni][0] = lds_u32(mnmaj(bs, n, k)), bf[ni][1] = lds_u32(mnmaj(bs, n, k + 4));
          }
        }
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma<T>(acc[mi][ni], af[mi], bf[ni]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();  // every warp is done with the pipeline buffers: reuse them for the result

  // Epilogue: accumulators → 128×(128+4) FP32 tile in shared memory → global (gemm_common.cuh).
  constexpr int EPI_LD = BN + 4;
  static_assert(BM * EPI_LD * 4 <= SMEM_BYTES, "epilogue tile must fit the pipeline buffers");
  float* tile = reinterpret_cast<float*>(smem_raw);
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
      const int r = wm + mi * 16 + g, c = wn + ni * 8 + 2 * t;
      *reinterpret_cast<float2*>(&tile[r * EPI_LD + c]) = make_float2(acc[mi][ni][0], acc[mi][ni][1]);
      *reinterpret_cast<float2*>(&tile[(r + 8) * EPI_LD + c]) = make_float2(acc[mi][ni][2], acc[mi][ni][3]);
    }
  __syncthreads();
  epilogue_tile_from_smem<T, BM, BN, THREADS>(p, C, X, tile, EPI_LD, int(m0), int(n0));
#elif defined(__CUDA_ARCH__)
  __trap();  // no tensor-core code for this arch: the dispatcher never launches this
#endif
}

template <class T, bool A_MN, bool B_MN>
void launch_layout(const GemmParams& p, cudaStream_t s) {
  auto kernel = gemm_mma_sm80_128x128<T, A_MN, B_MN>;
  // More than the default 48 KB of dynamic shared memory must be opted into per kernel.
  FASTNN_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
  const dim3 grid{unsigned((p.N + BN - 1) / BN), unsigned((p.M + BM - 1) / BM), unsigned(p.batch_count)};
  kernel<<<grid, THREADS, SMEM_BYTES, s>>>(p);
}

// Three layouts per dtype: (M-major A, K-major B) is run as Cᵀ = Bᵀ·Aᵀ, which is
// (K-major, N-major).
template <class T>
void launch(GemmParams p, bool a_mn, bool b_mn, cudaStream_t s) {
  if (a_mn && !b_mn) {
    transpose_gemm_problem(p);
    a_mn = false, b_mn = true;
  }
  if (!a_mn && !b_mn) launch_layout<T, false, false>(p, s);
  else if (!a_mn) launch_layout<T, false, true>(p, s);
  else launch_layout<T, true, true>(p, s);
}

}  // namespace

int gemm_mma_sm80_smem_bytes() { return SMEM_BYTES; }

void launch_gemm_mma_sm80(const GemmParams& p, GemmDType dt, bool a_mn, bool b_mn, cudaStream_t s) {
  switch (dt) {
    case GemmDType::f32: launch<float>(p, a_mn, b_mn, s); break;
    case GemmDType::f16: launch<__half>(p, a_mn, b_mn, s); break;
    case GemmDType::bf16: launch<__nv_bfloat16>(p, a_mn, b_mn, s); break;
  }
  FASTNN_CUDA_CHECK_LAUNCH("gemm_mma_sm80_128x128");
}

}  // namespace cuda
}  // namespace fastnn
