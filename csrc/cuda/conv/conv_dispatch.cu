// CUDA convolution entry points: validation (before any CUDA call), kernel choice, the layout
// repacks the tensor-core path reads (NCHW → NHWC activations, (K, C, R, S) → (out, R, S, in)
// weights), the activation gradient, bias gradients, and the transposed convolution expressed
// through the same passes (its forward is the data gradient of a convolution, its data gradient a
// forward convolution, its weight gradient a weight gradient with the roles of x and grad swapped).
//
//   depthwise  groups == C with one input channel per group (direct kernels)
//   mma_sync   bf16 / f16, fwd and dgrad, (input channels per group) % 8 == 0, sm_80+ code
//   simt       everything else (and every weight gradient but depthwise): implicit GEMM, FP32 math
#include <cmath>
#include <string>

#include "cuda/conv/conv.h"
#include "cuda/conv/conv_common.cuh"
#include "cuda/glue/glue_device.cuh"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {

int arch_code_for_device(int device);  // runtime.cu

namespace {

thread_local std::string g_last_conv;
using conv::Geom;

int dcode(DType d) { return d == DType::f32 ? 0 : d == DType::f16 ? 1 : 2; }
const char* dtag(DType d) { return d == DType::f32 ? "f32" : d == DType::f16 ? "f16" : "bf16"; }

// ---- layout kernels ----------------------------------------------------------------------------

// dst (N, H·W, C) contiguous ← src (N, C, H, W) with strides, 32×32 tiles through shared memory.
template <class T>
__global__ void __launch_bounds__(256) nchw_to_nhwc(const T* src, conv::Strides4 s, int64_t C, int64_t H, int64_t W,
                                                    T* dst) {
  __shared__ T tile[32][33];
  const int64_t HW = H * W, n = blockIdx.z;
  const int64_t c0 = int64_t(blockIdx.y) * 32, p0 = int64_t(blockIdx.x) * 32;
  for (int i = threadIdx.y; i < 32; i += 8) {  // read: c rows, pixel columns (coalesced along w)
    const int64_t c = c0 + i, p = p0 + threadIdx.x;
    if (c < C && p < HW) {
      const int64_t h = p / W, w = p - h * W;
      tile[i][threadIdx.x] = src[n * s.n + c * s.c + h * s.h + w * s.w];
    }
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += 8) {  // write: pixel rows, c columns (coalesced along c)
    const int64_t p = p0 + i, c = c0 + threadIdx.x;
    if (c < C && p < HW) dst[(n * HW + p) * C + c] = tile[threadIdx.x][i];
  }
}

// Weight repack for the tensor-core kernel: out rows (groups · nout, R, S, cin) contiguous.
//   fwd:   wt[g·Kg + k][r][s][c] = w[g·Kg + k][c][r][s]
//   dgrad: wt[g·Cg + c][r][s][k] = w[g·Kg + k][c][r][s]
template <class T>
__global__ void __launch_bounds__(256) repack_weight(const T* w, Geom g, bool dgrad, T* wt) {
  const int64_t total = g.K * g.Cg * g.R * g.S, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t s = e % g.S, r = (e / g.S) % g.R, c = (e / (g.S * g.R)) % g.Cg, k = e / (g.S * g.R * g.Cg);
    const int64_t grp = k / g.Kg, kl = k - grp * g.Kg;
    int64_t o;
    if (!dgrad) o = ((k * g.R + r) * g.S + s) * g.Cg + c;
    else o = (((grp * g.Cg + c) * g.R + r) * g.S + s) * g.Kg + kl;
    wt[o] = w[e];
  }
}

// dz = g · act'(z), elementwise.
template <class T>
__global__ void __launch_bounds__(256) act_grad(const T* g, const T* z, T* dz, int64_t n, int act) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dz[i] = from_float<T>(to_float<T>(g[i]) * act_derivative(act, to_float<T>(z[i])));
}

// db[k] = Σ_{n, p} dz[n, k, p]: a block per channel, FP32.
template <class T>
__global__ void __launch_bounds__(256) channel_sum(const T* dz, int64_t N, int64_t K, int64_t HW, T* db) {
  __shared__ float red[32];
  const int64_t k = blockIdx.x;
  float s = 0.0f;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = threadIdx.x; p < HW; p += blockDim.x) s += to_float<T>(dz[(n * K + k) * HW + p]);
  s = block_sum(s, red);
  if (threadIdx.x == 0) db[k] = from_float<T>(s);
}

// y[n, k, p] += bias[k]
template <class T>
__global__ void __launch_bounds__(256) add_channel_bias(T* y, const T* bias, int64_t K, int64_t HW, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    y[i] = from_float<T>(to_float<T>(y[i]) + to_float<T>(bias[(i / HW) % K]));
}

template <class F>
void by_dtype(DType dt, const F& f) {
  switch (dt) {
    case DType::f32: f(float()); break;
    case DType::f16: f(__half()); break;
    default: f(__nv_bfloat16());
  }
}

// ---- validation ----------------------------------------------------------------------------------

conv::Strides4 strides_of(const TensorView& t) {
  return conv::Strides4{t.strides[0], t.strides[1], t.strides[2], t.strides[3]};
}

void check_params(const char* fn, const ConvParams& cp) {
  FASTNN_CHECK_VALUE(cp.stride[0] >= 1 && cp.stride[1] >= 1, fn, ": stride must be >= 1");
  FASTNN_CHECK_VALUE(cp.dilation[0] >= 1 && cp.dilation[1] >= 1, fn, ": dilation must be >= 1");
  FASTNN_CHECK_VALUE(cp.pad[0] >= 0 && cp.pad[1] >= 0, fn, ": padding must be >= 0");
  FASTNN_CHECK_VALUE(cp.groups >= 1 && cp.groups < 65536, fn, ": groups must be in [1, 65535], got ", cp.groups);
}

// Geometry of the convolution x (N, C, H, W) * w (K, C/g, R, S) → (N, K, Ho, Wo).
Geom geom_of(const char* fn, const TensorView& x, const TensorView& w, int64_t Ho, int64_t Wo, const ConvParams& cp) {
  Geom g{};
  g.N = x.shape[0], g.C = x.shape[1], g.H = x.shape[2], g.W = x.shape[3];
  g.K = w.shape[0], g.R = w.shape[2], g.S = w.shape[3];
  g.Ho = Ho, g.Wo = Wo;
  g.sh = cp.stride[0], g.sw = cp.stride[1], g.ph = cp.pad[0], g.pw = cp.pad[1];
  g.dh = cp.dilation[0], g.dw = cp.dilation[1];
  g.groups = cp.groups;
  FASTNN_CHECK_VALUE(g.C % g.groups == 0 && g.K % g.groups == 0, fn, ": groups=", g.groups,
                     " must divide the input (", g.C, ") and output (", g.K, ") channels");
  g.Cg = g.C / g.groups, g.Kg = g.K / g.groups;
  FASTNN_CHECK_VALUE(w.shape[1] == g.Cg && g.R >= 1 && g.S >= 1, fn, ": weight must have shape (K, ", g.Cg,
                     ", R, S), got ", shape_str(w));
  // The last output position's window must start inside the (padded) input.
  FASTNN_CHECK_VALUE(Ho >= 0 && Wo >= 0 && (Ho == 0 || (Ho - 1) * g.sh - g.ph <= g.H - 1 + g.ph + g.R * g.dh) &&
                         (Wo == 0 || (Wo - 1) * g.sw - g.pw <= g.W - 1 + g.pw + g.S * g.dw),
                     fn, ": output size (", Ho, ", ", Wo, ") does not fit the input and padding");
  return g;
}

void check_weight(const char* fn, const char* arg, const TensorView& w, DType dt) {
  check_float_as(w, dt, fn, arg);
  FASTNN_CHECK_VALUE(w.ndim == 4, fn, ": ", arg, " must have 4 dimensions, got ", shape_str(w));
  check_contiguous(w, fn, arg);
}

void check_bias(const char* fn, const TensorView* b, DType dt, int64_t n) {
  if (!b) return;
  check_float_as(*b, dt, fn, "bias");
  check_shape_is(*b, 1, &n, fn, "bias");
  check_contiguous(*b, fn, "bias");
}

void check_act(const char* fn, int act) {
  FASTNN_CHECK_VALUE(act >= kActNone && act <= kActSilu, fn, ": unknown activation code ", act);
}

bool channels_last(const TensorView& t) {  // NCHW shape, NHWC memory order, contiguous
  const int64_t C = t.shape[1], H = t.shape[2], W = t.shape[3];
  return (C <= 1 || t.strides[1] == 1) && (W <= 1 || t.strides[3] == C) && (H <= 1 || t.strides[2] == W * C) &&
         (t.shape[0] <= 1 || t.strides[0] == H * W * C);
}

// ---- kernel choice ----------------------------------------------------------------------------------

enum class Family { simt, mma, depthwise };

std::string mma_refusal(const Geom& g, DType dt, int pass) {
  if (dt == DType::f32) return "float32 runs on the SIMT path (mma_sync takes bfloat16 / float16)";
  if (pass == conv::kWgrad) return "weight gradients run on the SIMT path";
  const int64_t cin = pass == conv::kFwd ? g.Cg : g.Kg;
  if (cin % 8) return str_cat("input channels per group must be a multiple of 8, got ", cin);
  int dev = 0;
  FASTNN_CUDA_CHECK(cudaGetDevice(&dev));
  if (arch_code_for_device(dev) < 800) return "needs sm_80+ code for this device (compute capability 8.0+)";
  if (launch_device().max_smem_optin < 96 * 1024) return "needs 96 KB of shared memory per block";
  return "";
}

bool depthwise_shape(const Geom& g) { return g.groups == g.C && g.Cg == 1; }

Family choose(const char* fn, const std::string& kernel, const Geom& g, DType dt, int pass) {
  FASTNN_CHECK_VALUE(kernel == "auto" || kernel == "simt" || kernel == "mma_sync" || kernel == "depthwise", fn,
                     ": kernel must be 'auto', 'mma_sync', 'simt' or 'depthwise', got '", kernel, "'");
  if (kernel == "depthwise" || (kernel == "auto" && depthwise_shape(g))) {
    FASTNN_CHECK_VALUE(depthwise_shape(g), fn, ": kernel 'depthwise' needs groups == C with one input channel per "
                       "group, got groups=", g.groups, ", C=", g.C);
    return Family::depthwise;
  }
  if (kernel == "simt") return Family::simt;
  const std::string why = mma_refusal(g, dt, pass);
  if (kernel == "mma_sync") {
    FASTNN_CHECK_VALUE(why.empty(), fn, ": kernel 'mma_sync' cannot run this pass: ", why);
    return Family::mma;
  }
  return why.empty() ? Family::mma : Family::simt;
}

const char* family_name(Family f) { return f == Family::mma ? "mma_sync" : f == Family::depthwise ? "depthwise" : "simt"; }

// ---- passes ----------------------------------------------------------------------------------------

// Runs one pass of the convolution described by L with the family chosen for it.
// src_view: the NCHW view the pass gathers from (fwd: x; dgrad: dy) for the NHWC repack.
void run_pass(const char* fn, const std::string& kernel, ConvLaunch L, DType dt, const TensorView* src_view,
              cudaStream_t s) {
  const Family f = choose(fn, kernel, L.g, dt, L.pass);
  const char* pass_name = L.pass == conv::kFwd ? "fwd" : L.pass == conv::kDgrad ? "dgrad" : "wgrad";
  if (f == Family::depthwise) {
    launch_conv_depthwise(L, dcode(dt), s);
  } else if (f == Family::simt) {
    launch_conv_igemm_simt(L, dcode(dt), s);
  } else {
    const Geom& g = L.g;
    const TensorView& sv = *src_view;
    const int64_t Cs = sv.shape[1], Hs = sv.shape[2], Ws = sv.shape[3], Nn = sv.shape[0];
    const size_t esz = size_t(dtype_size(dt));
    const bool in_place = channels_last(sv) && reinterpret_cast<uintptr_t>(sv.data) % 16 == 0;
    StreamScratch nhwc(in_place ? 0 : size_t(Nn * Hs * Ws * Cs) * esz, s);
    StreamScratch wt(size_t(g.K * g.Cg * g.R * g.S) * esz, s);
    const void* src = in_place ? sv.data : nhwc.as<void>();
    by_dtype(dt, [&](auto tag) {
      using T = decltype(tag);
      if (!in_place && Nn * Hs * Ws * Cs > 0) {
        const dim3 grid{unsigned((Hs * Ws + 31) / 32), unsigned((Cs + 31) / 32), unsigned(Nn)};
        nchw_to_nhwc<T><<<grid, dim3(32, 8), 0, s>>>(sv.ptr<T>(), strides_of(sv), Cs, Hs, Ws, nhwc.as<T>());
        FASTNN_CUDA_CHECK_LAUNCH("nchw_to_nhwc");
      }
      repack_weight<T><<<grid_for(g.K * g.Cg * g.R * g.S, 256), 256, 0, s>>>(static_cast<const T*>(L.w), g,
                                                                              L.pass == conv::kDgrad, wt.as<T>());
      FASTNN_CUDA_CHECK_LAUNCH("repack_weight");
    });
    launch_conv_igemm_sm80(L, src, wt.as<void>(), dt == DType::bf16, s);
  }
  g_last_conv = str_cat(family_name(f), ":", dtag(dt), ":", pass_name);
}

void channel_sums(const TensorView& dz_view, const void* dz, DType dt, const TensorView& db, cudaStream_t s) {
  const int64_t N = dz_view.shape[0], K = dz_view.shape[1], HW = dz_view.shape[2] * dz_view.shape[3];
  if (K == 0) return;
  by_dtype(dt, [&](auto tag) {
    using T = decltype(tag);
    channel_sum<T><<<unsigned(K), 256, 0, s>>>(static_cast<const T*>(dz), N, K, HW, db.ptr<T>());
  });
  FASTNN_CUDA_CHECK_LAUNCH("channel_sum");
}

}  // namespace

std::string last_conv_kernel() { return g_last_conv; }

void conv2d_forward(const TensorView& x, const TensorView& w, const TensorView* bias, const ConvParams& cp,
                    int activation, const TensorView& y, const std::string& kernel, uintptr_t stream) {
  const char* fn = "conv2d (cuda)";
  check_float(x, fn, "x");
  FASTNN_CHECK_VALUE(x.ndim == 4, fn, ": x must have shape (N, C, H, W), got ", shape_str(x));
  check_weight(fn, "weight", w, x.dtype);
  check_params(fn, cp);
  check_act(fn, activation);
  check_float_as(y, x.dtype, fn, "out");
  FASTNN_CHECK_VALUE(y.ndim == 4 && y.shape[0] == x.shape[0] && y.shape[1] == w.shape[0], fn,
                     ": out must have shape (N, K, Ho, Wo) = (", x.shape[0], ", ", w.shape[0], ", Ho, Wo), got ",
                     shape_str(y));
  check_contiguous(y, fn, "out");
  const Geom g = geom_of(fn, x, w, y.shape[2], y.shape[3], cp);
  check_bias(fn, bias, x.dtype, g.K);
  if (numel(y) == 0) return;
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  ConvLaunch L{};
  L.g = g, L.pass = conv::kFwd, L.x = x.data, L.xs = strides_of(x), L.w = w.data, L.out = y.data;
  L.bias = bias ? bias->data : nullptr, L.act = activation;
  FASTNN_CHECK_VALUE(g.Cg > 0 && g.H > 0 && g.W > 0, fn,
                     ": an empty input (nothing to sum: out = act(bias)) must be handled by the caller");
  run_pass(fn, kernel, L, x.dtype, &x, s);
}

void conv2d_backward(const TensorView& grad_out, const TensorView& x, const TensorView& w, const TensorView* bias,
                     const ConvParams& cp, int activation, const TensorView* dx, const TensorView* dw,
                     const TensorView* db, const std::string& kernel, uintptr_t stream) {
  const char* fn = "conv2d_backward (cuda)";
  check_float(x, fn, "x");
  FASTNN_CHECK_VALUE(x.ndim == 4, fn, ": x must have shape (N, C, H, W), got ", shape_str(x));
  check_weight(fn, "weight", w, x.dtype);
  check_params(fn, cp);
  check_act(fn, activation);
  check_float_as(grad_out, x.dtype, fn, "grad_out");
  FASTNN_CHECK_VALUE(grad_out.ndim == 4 && grad_out.shape[0] == x.shape[0] && grad_out.shape[1] == w.shape[0], fn,
                     ": grad_out must have shape (N, K, Ho, Wo), got ", shape_str(grad_out));
  check_contiguous(grad_out, fn, "grad_out");
  const Geom g = geom_of(fn, x, w, grad_out.shape[2], grad_out.shape[3], cp);
  check_bias(fn, bias, x.dtype, g.K);
  if (dx) {
    check_float_as(*dx, x.dtype, fn, "grad_x");
    check_shape_as(*dx, x, fn, "grad_x", "x");
    check_contiguous(*dx, fn, "grad_x");
  }
  if (dw) {
    check_float_as(*dw, x.dtype, fn, "grad_weight");
    check_shape_as(*dw, w, fn, "grad_weight", "weight");
    check_contiguous(*dw, fn, "grad_weight");
  }
  if (db) {
    check_float_as(*db, x.dtype, fn, "grad_bias");
    check_shape_is(*db, 1, &g.K, fn, "grad_bias");
  }
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  const int64_t ny = numel(grad_out);
  const size_t esz = size_t(dtype_size(x.dtype));
  // dZ: grad_out itself, or grad_out · act'(pre) with the pre-activation recomputed.
  StreamScratch zbuf(activation ? size_t(ny) * esz * 2 : 0, s);
  const void* dz = grad_out.data;
  if (activation && ny) {
    char* z = zbuf.as<char>();
    ConvLaunch F{};
    F.g = g, F.pass = conv::kFwd, F.x = x.data, F.xs = strides_of(x), F.w = w.data, F.out = z;
    F.bias = bias ? bias->data : nullptr, F.act = kActNone;
    run_pass(fn, kernel, F, x.dtype, &x, s);
    by_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      act_grad<T><<<grid_for(ny, 256), 256, 0, s>>>(grad_out.ptr<T>(), reinterpret_cast<const T*>(z),
                                                    reinterpret_cast<T*>(z + size_t(ny) * esz), ny, activation);
    });
    FASTNN_CUDA_CHECK_LAUNCH("act_grad");
    dz = z + size_t(ny) * esz;
  }
  TensorView dz_view = grad_out;
  dz_view.data = const_cast<void*>(dz);
  if (db) {
    if (ny) channel_sums(dz_view, dz, x.dtype, *db, s);
    else FASTNN_CUDA_CHECK(cudaMemsetAsync(db->data, 0, size_t(g.K) * esz, s));
  }
  if (dx && numel(*dx)) {
    if (ny == 0 || g.Kg == 0) {
      FASTNN_CUDA_CHECK(cudaMemsetAsync(dx->data, 0, size_t(numel(*dx)) * esz, s));
    } else {
      ConvLaunch L{};
      L.g = g, L.pass = conv::kDgrad, L.dy = dz, L.w = w.data, L.out = dx->data;
      run_pass(fn, kernel, L, x.dtype, &dz_view, s);
    }
  }
  if (dw && numel(*dw)) {
    if (ny == 0 || g.N == 0) {
      FASTNN_CUDA_CHECK(cudaMemsetAsync(dw->data, 0, size_t(numel(*dw)) * esz, s));
    } else {
      ConvLaunch L{};
      L.g = g, L.pass = conv::kWgrad, L.x = x.data, L.xs = strides_of(x), L.dy = dz, L.out = dw->data;
      run_pass(fn, kernel == "mma_sync" ? "auto" : kernel, L, x.dtype, nullptr, s);
    }
  }
}

// The transposed convolution y = convT(x, w) is the data gradient of the convolution whose input
// has y's shape and whose output has x's: Geom with (C, H, W) = y's, (K, Ho, Wo) = x's.
namespace {
Geom transposed_geom(const char* fn, const TensorView& x, const TensorView& w, const TensorView& y,
                     const ConvParams& cp) {
  Geom g{};
  g.N = x.shape[0];
  g.K = x.shape[1], g.Ho = x.shape[2], g.Wo = x.shape[3];
  g.C = y.shape[1], g.H = y.shape[2], g.W = y.shape[3];
  g.R = w.shape[2], g.S = w.shape[3];
  g.sh = cp.stride[0], g.sw = cp.stride[1], g.ph = cp.pad[0], g.pw = cp.pad[1];
  g.dh = cp.dilation[0], g.dw = cp.dilation[1];
  g.groups = cp.groups;
  FASTNN_CHECK_VALUE(w.shape[0] == g.K && g.K % g.groups == 0, fn, ": weight must have shape (C_in = ", g.K,
                     ", C_out/groups, R, S) with groups dividing C_in, got ", shape_str(w));
  g.Kg = g.K / g.groups, g.Cg = w.shape[1];
  FASTNN_CHECK_VALUE(g.Cg * g.groups == g.C, fn, ": out has ", g.C, " channels, expected C_out = ", g.Cg * g.groups);
  FASTNN_CHECK_VALUE(g.R >= 1 && g.S >= 1, fn, ": weight must have R, S >= 1");
  return g;
}
}  // namespace

void conv_transpose2d_forward(const TensorView& x, const TensorView& w, const TensorView* bias, const ConvParams& cp,
                              const TensorView& y, const std::string& kernel, uintptr_t stream) {
  const char* fn = "conv_transpose2d (cuda)";
  check_float(x, fn, "x");
  FASTNN_CHECK_VALUE(x.ndim == 4, fn, ": x must have shape (N, C_in, H, W), got ", shape_str(x));
  check_contiguous(x, fn, "x");
  check_weight(fn, "weight", w, x.dtype);
  check_params(fn, cp);
  check_float_as(y, x.dtype, fn, "out");
  FASTNN_CHECK_VALUE(y.ndim == 4 && y.shape[0] == x.shape[0], fn, ": out must have shape (N, C_out, Ho, Wo), got ",
                     shape_str(y));
  check_contiguous(y, fn, "out");
  const Geom g = transposed_geom(fn, x, w, y, cp);
  check_bias(fn, bias, x.dtype, g.C);
  const int64_t ny = numel(y);
  if (ny == 0) return;
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  ConvLaunch L{};
  L.g = g, L.pass = conv::kDgrad, L.dy = x.data, L.w = w.data, L.out = y.data;
  run_pass(fn, kernel, L, x.dtype, &x, s);
  if (bias) {
    by_dtype(x.dtype, [&](auto tag) {
      using T = decltype(tag);
      add_channel_bias<T><<<grid_for(ny, 256), 256, 0, s>>>(y.ptr<T>(), bias->ptr<T>(), g.C, g.H * g.W, ny);
    });
    FASTNN_CUDA_CHECK_LAUNCH("add_channel_bias");
  }
}

void conv_transpose2d_backward(const TensorView& grad_out, const TensorView& x, const TensorView& w,
                               const ConvParams& cp, const TensorView* dx, const TensorView* dw, const TensorView* db,
                               const std::string& kernel, uintptr_t stream) {
  const char* fn = "conv_transpose2d_backward (cuda)";
  check_float(x, fn, "x");
  FASTNN_CHECK_VALUE(x.ndim == 4, fn, ": x must have shape (N, C_in, H, W), got ", shape_str(x));
  check_contiguous(x, fn, "x");
  check_weight(fn, "weight", w, x.dtype);
  check_params(fn, cp);
  check_float_as(grad_out, x.dtype, fn, "grad_out");
  FASTNN_CHECK_VALUE(grad_out.ndim == 4 && grad_out.shape[0] == x.shape[0], fn,
                     ": grad_out must have shape (N, C_out, Ho, Wo), got ", shape_str(grad_out));
  check_contiguous(grad_out, fn, "grad_out");
  const Geom g = transposed_geom(fn, x, w, grad_out, cp);
  if (dx) {
    check_float_as(*dx, x.dtype, fn, "grad_x");
    check_shape_as(*dx, x, fn, "grad_x", "x");
    check_contiguous(*dx, fn, "grad_x");
  }
  if (dw) {
    check_float_as(*dw, x.dtype, fn, "grad_weight");
    check_shape_as(*dw, w, fn, "grad_weight", "weight");
    check_contiguous(*dw, fn, "grad_weight");
  }
  if (db) {
    check_float_as(*db, x.dtype, fn, "grad_bias");
    check_shape_is(*db, 1, &g.C, fn, "grad_bias");
  }
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  const size_t esz = size_t(dtype_size(x.dtype));
  const int64_t ng = numel(grad_out);
  if (db) {
    if (ng) channel_sums(grad_out, grad_out.data, x.dtype, *db, s);
    else FASTNN_CUDA_CHECK(cudaMemsetAsync(db->data, 0, size_t(g.C) * esz, s));
  }
  if (dx && numel(*dx)) {  // the forward convolution of grad_out with w
    if (ng == 0) {
      FASTNN_CUDA_CHECK(cudaMemsetAsync(dx->data, 0, size_t(numel(*dx)) * esz, s));
    } else {
      ConvLaunch L{};
      L.g = g, L.pass = conv::kFwd, L.x = grad_out.data, L.xs = strides_of(grad_out), L.w = w.data;
      L.out = dx->data, L.act = kActNone;
      run_pass(fn, kernel, L, x.dtype, &grad_out, s);
    }
  }
  if (dw && numel(*dw)) {  // the weight gradient with dy := x, x := grad_out
    if (ng == 0 || numel(x) == 0) {
      FASTNN_CUDA_CHECK(cudaMemsetAsync(dw->data, 0, size_t(numel(*dw)) * esz, s));
    } else {
      ConvLaunch L{};
      L.g = g, L.pass = conv::kWgrad, L.x = grad_out.data, L.xs = strides_of(grad_out), L.dy = x.data;
      L.out = dw->data;
      run_pass(fn, kernel == "mma_sync" ? "auto" : kernel, L, x.dtype, nullptr, s);
    }
  }
}

}  // namespace cuda
}  // namespace fastnn
