// Convolution forward and data gradient by implicit GEMM on tensor cores (mma.sync, sm_80+,
// bf16 / f16, FP32 accumulation), the GEMM's 128×128 tile machinery (gemm_mma_sm80.cu) with
// gathered A rows:
//   rows m = output pixels (n, y, x), columns = output channels of the group,
//   reduction index = (r, s, c) with c fastest, so each 16-byte chunk of a 128-byte K step is 8
//   consecutive channels of one tap: one cp.async from the NHWC source, zero-filled where the tap
//   falls in the padding (fwd) or on a fractional / out-of-range output position (dgrad).
// B rows are the weight repacked (out, R, S, in) per group (conv_dispatch.cu does both repacks).
// 8 warps as 2 (M) × 4 (N), warp tile 64×32, 3-stage cp.async pipeline, 96 KB shared memory; the
// epilogue stages the tile in shared memory and writes NCHW coalesced along the pixels, with bias
// and activation for the forward pass. Needs (in channels per group) % 8 == 0.
#include "cuda/check.cuh"
#include "cuda/conv/conv_common.cuh"
#include "cuda/mma_sm80.cuh"

namespace fastnn {
namespace cuda {
namespace {

using namespace sm80;
using conv::Geom;

constexpr int BM = 128, BN = 128, KSTEP = 64, STAGES = 3, THREADS = 256, ROWB = 128;
constexpr int TILE_BYTES = 128 * ROWB, SMEM = STAGES * 2 * TILE_BYTES;
constexpr int EPI_LD = BN + 4;
static_assert(BM * EPI_LD * 4 + BM * 8 <= SMEM, "epilogue tile and row table must fit the pipeline buffers");

struct IgemmSm80 {
  ConvLaunch L;
  const void* src;  // NHWC
  const void* wt;   // (groups · nout, R, S, cin)
  int64_t Hs, Ws, Cs;      // source image and channels (fwd: H, W, C; dgrad: Ho, Wo, K)
  int64_t Hp, Wp;          // output pixel grid (fwd: Ho, Wo; dgrad: H, W)
  int64_t cin, nout, Kred, M, Cout;
};

template <class T>
__global__ void __launch_bounds__(THREADS) conv_igemm_sm80_kernel(IgemmSm80 a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const Geom& g = a.L.g;
  const bool fwd = a.L.pass == conv::kFwd;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sbase = smem_u32(smem);
  auto a_stage = [&](int st) { return sbase + st * 2 * TILE_BYTES; };
  auto b_stage = [&](int st) { return sbase + st * 2 * TILE_BYTES + TILE_BYTES; };
  const T* src = static_cast<const T*>(a.src);
  const T* wt = static_cast<const T*>(a.wt);
  const int64_t grp = blockIdx.z, m0 = int64_t(blockIdx.x) * BM, n0 = int64_t(blockIdx.y) * BN;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int ch = tid & 7;  // this thread's 16-byte chunk of every row it loads

  // The 4 A rows (pixels) and 4 B rows (output channels) this thread loads.
  int64_t pn[4], py[4], px[4];
  bool prow[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = m0 + (tid >> 3) + 32 * i;
    prow[i] = m < a.M;
    const int64_t hw = a.Hp * a.Wp, mm = prow[i] ? m : 0;
    pn[i] = mm / hw;
    const int64_t rem = mm - pn[i] * hw;
    py[i] = rem / a.Wp;
    px[i] = rem - py[i] * a.Wp;
  }
  const int ktiles = int((a.Kred + KSTEP - 1) / KSTEP);

  auto load_stage = [&](int st, int kt) {
    const int64_t kidx = int64_t(kt) * KSTEP + ch * 8;
    const bool kin = kidx < a.Kred;
    const int64_t rs = kin ? kidx / a.cin : 0, c0 = kidx - rs * a.cin, r = rs / g.S, s = rs - r * g.S;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int row = (tid >> 3) + 32 * i;
      bool ok = kin && prow[i];
      int64_t off = 0;
      if (fwd) {
        const int64_t ih = py[i] * g.sh - g.ph + r * g.dh, iw = px[i] * g.sw - g.pw + s * g.dw;
        ok = ok && ih >= 0 && ih < a.Hs && iw >= 0 && iw < a.Ws;
        off = ((pn[i] * a.Hs + ih) * a.Ws + iw) * a.Cs + grp * a.cin + c0;
      } else {
        const int64_t ty = py[i] + g.ph - r * g.dh, tx = px[i] + g.pw - s * g.dw;
        const int64_t oh = ty / g.sh, ow = tx / g.sw;
        ok = ok && ty >= 0 && tx >= 0 && oh * g.sh == ty && ow * g.sw == tx && oh < a.Hs && ow < a.Ws;
        off = ((pn[i] * a.Hs + oh) * a.Ws + ow) * a.Cs + grp * a.cin + c0;
      }
      cp_async_16(a_stage(st) + swz(row, ch, ROWB), ok ? src + off : src, ok ? 16 : 0);
      const int64_t j = n0 + row;
      const bool bok = kin && j < a.nout;
      cp_async_16(b_stage(st) + swz(row, ch, ROWB), bok ? wt + (grp * a.nout + j) * a.Kred + kidx : wt,
                  bok ? 16 : 0);
    }
  };

  float acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
#pragma unroll
  for (int st = 0; st < STAGES - 1; ++st) {
    if (st < ktiles) load_stage(st, st);
    cp_async_commit();
  }
  const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32, q = lane >> 3, l8 = lane & 7;
  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    if (kt + STAGES - 1 < ktiles) load_stage((kt + STAGES - 1) % STAGES, kt + STAGES - 1);
    cp_async_commit();
    const uint32_t as = a_stage(kt % STAGES), bs = b_stage(kt % STAGES);
#pragma unroll
    for (int ks = 0; ks < KSTEP / 16; ++ks) {
      uint32_t af[4][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
        ldmatrix_x4(as + swz(wm + mi * 16 + (lane & 15), ks * 2 + (lane >> 4), ROWB), af[mi]);
#pragma unroll
      for (int np = 0; np < 2; ++np) {
        uint32_t r4[4];
        ldmatrix_x4(bs + swz(wn + np * 16 + (q >> 1) * 8 + l8, ks * 2 + (q & 1), ROWB), r4);
        bf[np * 2][0] = r4[0], bf[np * 2][1] = r4[1], bf[np * 2 + 1][0] = r4[2], bf[np * 2 + 1][1] = r4[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma_16816<T>(acc[mi][ni], af[mi], bf[ni][0], bf[ni][1]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();

  // Epilogue: tile → shared memory; a table of the rows' NCHW base offsets; coalesced stores.
  float* tile = reinterpret_cast<float*>(smem);
  int64_t* base = reinterpret_cast<int64_t*>(smem + BM * EPI_LD * 4);
  const int g4 = lane >> 2, t4 = lane & 3;
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
      const int r = wm + mi * 16 + g4, c = wn + ni * 8 + 2 * t4;
      tile[r * EPI_LD + c] = acc[mi][ni][0], tile[r * EPI_LD + c + 1] = acc[mi][ni][1];
      tile[(r + 8) * EPI_LD + c] = acc[mi][ni][2], tile[(r + 8) * EPI_LD + c + 1] = acc[mi][ni][3];
    }
  const int64_t hwp = a.Hp * a.Wp;
  if (tid < BM) {
    const int64_t m = m0 + tid;
    if (m < a.M) {
      const int64_t n = m / hwp;
      base[tid] = n * a.Cout * hwp + (m - n * hwp);
    } else {
      base[tid] = -1;
    }
  }
  __syncthreads();
  T* out = static_cast<T*>(a.L.out);
  const T* bias = static_cast<const T*>(a.L.bias);
  for (int idx = tid; idx < BM * BN; idx += THREADS) {
    const int col = idx / BM, r = idx % BM;
    const int64_t j = n0 + col, b0 = base[r];
    if (b0 < 0 || j >= a.nout) continue;
    const int64_t oc = grp * a.nout + j;
    float v = tile[r * EPI_LD + col];
    if (fwd) {
      if (bias) v += to_float<T>(bias[oc]);
      v = act_forward(a.L.act, v);
    }
    out[b0 + oc * hwp] = from_float<T>(v);
  }
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

}  // namespace

void launch_conv_igemm_sm80(const ConvLaunch& L, const void* src_nhwc, const void* wt, bool bf16, cudaStream_t s) {
  const Geom& g = L.g;
  IgemmSm80 a;
  a.L = L, a.src = src_nhwc, a.wt = wt;
  if (L.pass == conv::kFwd) {
    a.Hs = g.H, a.Ws = g.W, a.Cs = g.C, a.Hp = g.Ho, a.Wp = g.Wo, a.cin = g.Cg, a.nout = g.Kg, a.Cout = g.K;
  } else {
    a.Hs = g.Ho, a.Ws = g.Wo, a.Cs = g.K, a.Hp = g.H, a.Wp = g.W, a.cin = g.Kg, a.nout = g.Cg, a.Cout = g.C;
  }
  a.Kred = g.R * g.S * a.cin;
  a.M = g.N * a.Hp * a.Wp;
  if (a.M == 0 || a.nout == 0) return;
  const dim3 grid{unsigned((a.M + BM - 1) / BM), unsigned((a.nout + BN - 1) / BN), unsigned(g.groups)};
  if (bf16) {
    FASTNN_CUDA_CHECK(cudaFuncSetAttribute(conv_igemm_sm80_kernel<__nv_bfloat16>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    conv_igemm_sm80_kernel<__nv_bfloat16><<<grid, THREADS, SMEM, s>>>(a);
  } else {
    FASTNN_CUDA_CHECK(cudaFuncSetAttribute(conv_igemm_sm80_kernel<__half>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           SMEM));
    conv_igemm_sm80_kernel<__half><<<grid, THREADS, SMEM, s>>>(a);
  }
  FASTNN_CUDA_CHECK_LAUNCH("conv_igemm_sm80");
}

}  // namespace cuda
}  // namespace fastnn
