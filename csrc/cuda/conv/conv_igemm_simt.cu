// Convolution by implicit GEMM on CUDA cores (FP32 math, any dtype, any geometry, groups): the
// always-correct path for the three passes (conv_common.cuh gives their GEMM views), also used
// for float32 and for layouts the tensor-core kernel does not take.
// Tiles as the general GEMM: 64×64 outputs per block, K steps of 16, 256 threads with a 4×4
// register tile; the gathers are decoded once per thread (its 4 rows or its column) and once per
// K step (its reduction index), the next K tile is fetched into registers while the current one
// is consumed from shared memory. grid = (row tiles, column tiles, groups).
#include "cuda/check.cuh"
#include "cuda/conv/conv_common.cuh"

namespace fastnn {
namespace cuda {
namespace {

using conv::Geom;
constexpr int BM = 64, BN = 64, BK = 16, THREADS = 256;

struct Views {
  int64_t M, Ncol, Kred;
};

__host__ __device__ inline Views views_of(const Geom& g, int pass) {
  switch (pass) {
    case conv::kFwd: return Views{g.N * g.Ho * g.Wo, g.Kg, g.Cg * g.R * g.S};
    case conv::kDgrad: return Views{g.N * g.H * g.W, g.Cg, g.Kg * g.R * g.S};
    default: return Views{g.Kg, g.Cg * g.R * g.S, g.N * g.Ho * g.Wo};
  }
}

// A pixel (n, y, x) of an image of size hh × ww, from a flat index.
struct Pix {
  int64_t n, y, x;
};
__device__ __forceinline__ Pix pix_of(int64_t m, int64_t hh, int64_t ww) {
  const int64_t hw = hh * ww, n = m / hw, r = m - n * hw, y = r / ww;
  return Pix{n, y, r - y * ww};
}

template <class T>
__global__ void __launch_bounds__(THREADS) conv_igemm_simt_kernel(ConvLaunch L) {
  const Geom& g = L.g;
  const int pass = L.pass;
  const Views v = views_of(g, pass);
  const int64_t grp = blockIdx.z;
  const int64_t RS = g.R * g.S;
  const T* X = static_cast<const T*>(L.x);
  const T* DY = static_cast<const T*>(L.dy);
  const T* Wt = static_cast<const T*>(L.w);

  __shared__ float As[BK][BM + 4];
  __shared__ float Bs[BK][BN + 4];
  const int tid = threadIdx.x;
  const int64_t row0 = int64_t(blockIdx.x) * BM, col0 = int64_t(blockIdx.y) * BN;
  const int tr = tid / (BN / 4), tc = tid % (BN / 4);

  // A element l of this thread: row am + 16·l, reduction column ak; B element l: row bk + 4·l, column bn.
  const int ak = tid % BK, am = tid / BK;
  const int bn = tid % BN, bk = tid / BN;
  // Row-side decodes (fixed for the whole loop).
  Pix arow[4];
#pragma unroll
  for (int l = 0; l < 4; ++l) {
    const int64_t m = row0 + am + 16 * l;
    if (pass == conv::kFwd) arow[l] = pix_of(m, g.Ho, g.Wo);
    else if (pass == conv::kDgrad) arow[l] = pix_of(m, g.H, g.W);
    else arow[l] = Pix{0, m, 0};  // wgrad: the row is the output channel k
  }
  // Column-side decode of B (fixed): fwd k; dgrad c; wgrad (c, r, s).
  const int64_t bcol = col0 + bn;
  const int64_t wg_c = pass == conv::kWgrad ? bcol / RS : 0, wg_rs = pass == conv::kWgrad ? bcol % RS : 0;
  const int64_t wg_r = wg_rs / g.S, wg_s = wg_rs % g.S;

  float ra[4], rb[4];
  auto load_tiles = [&](int64_t k0) {
    // ---- A ----
    const int64_t kk = k0 + ak;
    const bool kin = kk < v.Kred;
    if (pass == conv::kFwd) {
      const int64_t c = kk / RS, rs = kk - c * RS, r = rs / g.S, s = rs - r * g.S;
#pragma unroll
      for (int l = 0; l < 4; ++l) {
        const int64_t m = row0 + am + 16 * l;
        const int64_t ih = arow[l].y * g.sh - g.ph + r * g.dh, iw = arow[l].x * g.sw - g.pw + s * g.dw;
        const bool ok = kin && m < v.M && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        ra[l] = ok ? to_float<T>(X[arow[l].n * L.xs.n + (grp * g.Cg + c) * L.xs.c + ih * L.xs.h + iw * L.xs.w]) : 0.0f;
      }
    } else if (pass == conv::kDgrad) {
      const int64_t k = kk / RS, rs = kk - k * RS, r = rs / g.S, s = rs - r * g.S;
#pragma unroll
      for (int l = 0; l < 4; ++l) {
        const int64_t m = row0 + am + 16 * l;
        const int64_t ty = arow[l].y + g.ph - r * g.dh, tx = arow[l].x + g.pw - s * g.dw;
        const int64_t oh = ty / g.sh, ow = tx / g.sw;
        const bool ok = kin && m < v.M && ty >= 0 && tx >= 0 && oh * g.sh == ty && ow * g.sw == tx && oh < g.Ho &&
                        ow < g.Wo;
        ra[l] = ok ? to_float<T>(DY[((arow[l].n * g.K + grp * g.Kg + k) * g.Ho + oh) * g.Wo + ow]) : 0.0f;
      }
    } else {
      const Pix q = pix_of(kin ? kk : 0, g.Ho, g.Wo);
#pragma unroll
      for (int l = 0; l < 4; ++l) {
        const int64_t k = row0 + am + 16 * l;
        const bool ok = kin && k < v.M;
        ra[l] = ok ? to_float<T>(DY[((q.n * g.K + grp * g.Kg + k) * g.Ho + q.y) * g.Wo + q.x]) : 0.0f;
      }
    }
    // ---- B ----
#pragma unroll
    for (int l = 0; l < 4; ++l) {
      const int64_t kb = k0 + bk + 4 * l;
      bool ok = kb < v.Kred && bcol < v.Ncol;
      float val = 0.0f;
      if (pass == conv::kFwd) {
        if (ok) val = to_float<T>(Wt[(grp * g.Kg + bcol) * v.Kred + kb]);
      } else if (pass == conv::kDgrad) {
        const int64_t k = kb / RS, rs = kb - k * RS;
        if (ok) val = to_float<T>(Wt[((grp * g.Kg + k) * g.Cg + bcol) * RS + rs]);
      } else {
        const Pix q = pix_of(ok ? kb : 0, g.Ho, g.Wo);
        const int64_t ih = q.y * g.sh - g.ph + wg_r * g.dh, iw = q.x * g.sw - g.pw + wg_s * g.dw;
        ok = ok && ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
        if (ok) val = to_float<T>(X[q.n * L.xs.n + (grp * g.Cg + wg_c) * L.xs.c + ih * L.xs.h + iw * L.xs.w]);
      }
      rb[l] = val;
    }
  };

  float acc[4][4] = {};
  load_tiles(0);
  for (int64_t k0 = 0; k0 < v.Kred; k0 += BK) {
#pragma unroll
    for (int l = 0; l < 4; ++l) As[ak][am + 16 * l] = ra[l], Bs[bk + 4 * l][bn] = rb[l];
    __syncthreads();
    if (k0 + BK < v.Kred) load_tiles(k0 + BK);
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[k][tr * 4 + i], b[i] = Bs[k][tc * 4 + i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }

  T* out = static_cast<T*>(L.out);
  const T* bias = static_cast<const T*>(L.bias);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int64_t m = row0 + tr * 4 + i;
    if (m >= v.M) continue;
    Pix q{};
    if (pass == conv::kFwd) q = pix_of(m, g.Ho, g.Wo);
    else if (pass == conv::kDgrad) q = pix_of(m, g.H, g.W);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t col = col0 + tc * 4 + j;
      if (col >= v.Ncol) continue;
      float val = acc[i][j];
      int64_t o;
      if (pass == conv::kFwd) {
        const int64_t k = grp * g.Kg + col;
        if (bias) val += to_float<T>(bias[k]);
        val = act_forward(L.act, val);
        o = ((q.n * g.K + k) * g.Ho + q.y) * g.Wo + q.x;
      } else if (pass == conv::kDgrad) {
        o = ((q.n * g.C + grp * g.Cg + col) * g.H + q.y) * g.W + q.x;
      } else {
        o = (grp * g.Kg + m) * v.Ncol + col;
      }
      out[o] = from_float<T>(val);
    }
  }
}

}  // namespace

void launch_conv_igemm_simt(const ConvLaunch& L, int dtype, cudaStream_t s) {
  const Views v = views_of(L.g, L.pass);
  if (v.M == 0 || v.Ncol == 0) return;
  const dim3 grid{unsigned((v.M + BM - 1) / BM), unsigned((v.Ncol + BN - 1) / BN), unsigned(L.g.groups)};
  switch (dtype) {
    case 0: conv_igemm_simt_kernel<float><<<grid, THREADS, 0, s>>>(L); break;
    case 1: conv_igemm_simt_kernel<__half><<<grid, THREADS, 0, s>>>(L); break;
    default: conv_igemm_simt_kernel<__nv_bfloat16><<<grid, THREADS, 0, s>>>(L);
  }
  FASTNN_CUDA_CHECK_LAUNCH("conv_igemm_simt");
}

}  // namespace cuda
}  // namespace fastnn
