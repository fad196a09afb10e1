// Depthwise convolution (groups == C, one input channel per group, Kg = K / C output channels
// per group) on CUDA cores, FP32 math, direct (no im2col): the implicit GEMM would compute tiles
// of width Kg (usually 1) and waste most of them.
//   fwd:   thread per output element, R·S taps
//   dgrad: thread per input element, gathering the taps whose output position is integral
//   wgrad: a block per (output channel, tap), reducing over N·Ho·Wo
#include <algorithm>

#include "cuda/check.cuh"
#include "cuda/conv/conv_common.cuh"
#include "cuda/glue/glue_device.cuh"

namespace fastnn {
namespace cuda {
namespace {

using conv::Geom;

template <class T>
__global__ void __launch_bounds__(256) depthwise_fwd(ConvLaunch L) {
  const Geom& g = L.g;
  const T* X = static_cast<const T*>(L.x);
  const T* W = static_cast<const T*>(L.w);
  const T* bias = static_cast<const T*>(L.bias);
  T* Y = static_cast<T*>(L.out);
  const int64_t total = g.N * g.K * g.Ho * g.Wo, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t ox = e % g.Wo, oy = (e / g.Wo) % g.Ho, k = (e / (g.Wo * g.Ho)) % g.K, n = e / (g.Wo * g.Ho * g.K);
    const int64_t c = k / g.Kg;
    const T* xp = X + n * L.xs.n + c * L.xs.c;
    const T* wp = W + k * g.R * g.S;
    float acc = 0.0f;
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t ih = oy * g.sh - g.ph + r * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t iw = ox * g.sw - g.pw + s * g.dw;
        if (iw < 0 || iw >= g.W) continue;
        acc = fmaf(to_float<T>(xp[ih * L.xs.h + iw * L.xs.w]), to_float<T>(wp[r * g.S + s]), acc);
      }
    }
    if (bias) acc += to_float<T>(bias[k]);
    Y[e] = from_float<T>(act_forward(L.act, acc));
  }
}

template <class T>
__global__ void __launch_bounds__(256) depthwise_dgrad(ConvLaunch L) {
  const Geom& g = L.g;
  const T* DY = static_cast<const T*>(L.dy);
  const T* W = static_cast<const T*>(L.w);
  T* DX = static_cast<T*>(L.out);
  const int64_t total = g.N * g.C * g.H * g.W, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t ix = e % g.W, iy = (e / g.W) % g.H, c = (e / (g.W * g.H)) % g.C, n = e / (g.W * g.H * g.C);
    float acc = 0.0f;
    for (int64_t j = 0; j < g.Kg; ++j) {
      const int64_t k = c * g.Kg + j;
      const T* dyp = DY + (n * g.K + k) * g.Ho * g.Wo;
      const T* wp = W + k * g.R * g.S;
      for (int64_t r = 0; r < g.R; ++r) {
        const int64_t ty = iy + g.ph - r * g.dh;
        if (ty < 0 || ty % g.sh) continue;
        const int64_t oy = ty / g.sh;
        if (oy >= g.Ho) continue;
        for (int64_t s = 0; s < g.S; ++s) {
          const int64_t tx = ix + g.pw - s * g.dw;
          if (tx < 0 || tx % g.sw) continue;
          const int64_t ox = tx / g.sw;
          if (ox >= g.Wo) continue;
          acc = fmaf(to_float<T>(dyp[oy * g.Wo + ox]), to_float<T>(wp[r * g.S + s]), acc);
        }
      }
    }
    DX[e] = from_float<T>(acc);
  }
}

template <class T>
__global__ void __launch_bounds__(256) depthwise_wgrad(ConvLaunch L) {
  const Geom& g = L.g;
  const T* X = static_cast<const T*>(L.x);
  const T* DY = static_cast<const T*>(L.dy);
  T* DW = static_cast<T*>(L.out);
  __shared__ float red[32];
  const int64_t k = blockIdx.x / (g.R * g.S), rs = blockIdx.x % (g.R * g.S), r = rs / g.S, s = rs % g.S;
  const int64_t c = k / g.Kg, total = g.N * g.Ho * g.Wo;
  float acc = 0.0f;
  for (int64_t e = threadIdx.x; e < total; e += blockDim.x) {
    const int64_t ox = e % g.Wo, oy = (e / g.Wo) % g.Ho, n = e / (g.Wo * g.Ho);
    const int64_t ih = oy * g.sh - g.ph + r * g.dh, iw = ox * g.sw - g.pw + s * g.dw;
    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
    acc = fmaf(to_float<T>(DY[((n * g.K + k) * g.Ho + oy) * g.Wo + ox]),
               to_float<T>(X[n * L.xs.n + c * L.xs.c + ih * L.xs.h + iw * L.xs.w]), acc);
  }
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) DW[k * g.R * g.S + rs] = from_float<T>(acc);
}

template <class T>
void launch(const ConvLaunch& L, cudaStream_t s) {
  const Geom& g = L.g;
  const int64_t blocks_cap = 65535LL * 16;
  if (L.pass == conv::kFwd) {
    const int64_t n = g.N * g.K * g.Ho * g.Wo;
    depthwise_fwd<T><<<unsigned(std::min<int64_t>((n + 255) / 256, blocks_cap)), 256, 0, s>>>(L);
  } else if (L.pass == conv::kDgrad) {
    const int64_t n = g.N * g.C * g.H * g.W;
    depthwise_dgrad<T><<<unsigned(std::min<int64_t>((n + 255) / 256, blocks_cap)), 256, 0, s>>>(L);
  } else {
    depthwise_wgrad<T><<<unsigned(g.K * g.R * g.S), 256, 0, s>>>(L);
  }
  FASTNN_CUDA_CHECK_LAUNCH("conv_depthwise");
}

}  // namespace

void launch_conv_depthwise(const ConvLaunch& L, int dtype, cudaStream_t s) {
  switch (dtype) {
    case 0: launch<float>(L, s); break;
    case 1: launch<__half>(L, s); break;
    default: launch<__nv_bfloat16>(L, s);
  }
}

}  // namespace cuda
}  // namespace fastnn
