// The one CUDA GEMM entry point: validates the views, collapses batch dims, classifies each
// operand's layout and picks a kernel family:
//
//   wgmma     sm_90a build on a 9.0 device; bf16/f16, or f32 with allow_tf32 (K-major only)
//   mma_sync  sm_80+; bf16/f16, or f32 with allow_tf32
//   simt      f32 (exact FP32)
//   simt_general  anything else: any strides, broadcast batch dims, any device
//
// The fast families need: every operand with one unit stride (transposes are layout flags,
// never copies), 16-byte aligned base pointers, leading dims and batch strides, and a batch
// that collapses to one dim. C may be row- or column-major (column-major C is computed as
// Cᵀ = Bᵀ·Aᵀ). Whatever is asked for with `kernel` must be eligible, else ValueError says why.
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/tensor.h"
#include "cuda/api.h"
#include "cuda/check.cuh"
#include "cuda/gemm/gemm_kernels.h"

namespace fastnn {
namespace cuda {

int arch_code_for_device(int device);  // runtime.cu: __CUDA_ARCH__ of the code that runs, +1 for sm_90a

namespace {

thread_local std::string g_last_kernel;

struct DeviceCaps {
  int major = 0, minor = 0, sm_count = 0, arch_code = 0;
};

DeviceCaps caps_of(int device) {
  static std::mutex mu;
  static std::vector<std::pair<int, DeviceCaps>> cache;
  std::lock_guard<std::mutex> lock(mu);
  for (auto& [d, c] : cache)
    if (d == device) return c;
  DeviceCaps c;
  FASTNN_CUDA_CHECK(cudaDeviceGetAttribute(&c.major, cudaDevAttrComputeCapabilityMajor, device));
  FASTNN_CUDA_CHECK(cudaDeviceGetAttribute(&c.minor, cudaDevAttrComputeCapabilityMinor, device));
  FASTNN_CUDA_CHECK(cudaDeviceGetAttribute(&c.sm_count, cudaDevAttrMultiProcessorCount, device));
  c.arch_code = arch_code_for_device(device);
  cache.emplace_back(device, c);
  return c;
}

bool has_wgmma(const DeviceCaps& c) { return c.major == 9 && c.minor == 0 && c.arch_code == 901; }
bool has_mma(const DeviceCaps& c) { return c.major >= 8 && c.arch_code >= 800; }

const char* dtype_tag(DType d, bool tf32) {
  return d == DType::f32 ? (tf32 ? "tf32" : "f32") : d == DType::f16 ? "f16" : "bf16";
}
GemmDType gemm_dtype(DType d) {
  return d == DType::f32 ? GemmDType::f32 : d == DType::f16 ? GemmDType::f16 : GemmDType::bf16;
}
const char* kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::automatic: return "auto";
    case GemmKernel::simt_general: return "simt_general";
    case GemmKernel::simt: return "simt";
    case GemmKernel::mma_sync: return "mma_sync";
    case GemmKernel::wgmma: return "wgmma";
  }
  return "?";
}

// Merges batch dims that are one affine dim for every operand and drops unit dims.
void collapse_batch(GemmParams& p) {
  int n = 0;
  for (int d = 0; d < p.batch_ndim; ++d) {
    if (p.batch_shape[d] == 1) continue;
    if (n > 0) {
      const int l = n - 1;
      auto merges = [&](const int64_t* s) { return s[l] == s[d] * p.batch_shape[d]; };
      if (merges(p.a_bs) && merges(p.b_bs) && merges(p.c_bs) && merges(p.x_bs)) {
        p.batch_shape[l] *= p.batch_shape[d];
        p.a_bs[l] = p.a_bs[d], p.b_bs[l] = p.b_bs[d], p.c_bs[l] = p.c_bs[d], p.x_bs[l] = p.x_bs[d];
        continue;
      }
    }
    p.batch_shape[n] = p.batch_shape[d];
    p.a_bs[n] = p.a_bs[d], p.b_bs[n] = p.b_bs[d], p.c_bs[n] = p.c_bs[d], p.x_bs[n] = p.x_bs[d];
    ++n;
  }
  p.batch_ndim = n;
}

struct Layout {
  bool ok = false;       // fast kernels can take it
  bool a_mn = false;     // A is M-contiguous (else K-contiguous)
  bool b_mn = false;     // B is N-contiguous (else K-contiguous)
  std::string why;       // when !ok
};

bool aligned16(const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; }

// Classifies (after an optional transpose so that C is row-major) and normalises strides of
// unit dims so that the leading dims the kernels use are meaningful.
Layout classify(GemmParams& p, int64_t esize) {
  Layout L;
  const int64_t vec = 16 / esize;  // elements per 16 bytes
  if (p.batch_ndim > 1) {
    L.why = "batch dims do not collapse to one strided dim";
    return L;
  }
  // A unit dim's stride is arbitrary: pick the one that makes the view contiguous-with-ld.
  auto round_up = [&](int64_t n) { return ((n + vec - 1) / vec) * vec; };
  if (p.M == 1) {
    p.a_rs = p.a_cs == 1 ? round_up(p.K) : 1;
    p.c_rs = p.c_cs == 1 ? round_up(p.N) : 1;
  }
  if (p.N == 1) {
    p.b_cs = p.b_rs == 1 ? round_up(p.K) : 1;
    p.c_cs = p.c_rs == 1 ? round_up(p.M) : 1;
  }
  if (p.K == 1) {
    p.a_cs = p.a_rs == 1 ? round_up(p.M) : 1;
    p.b_rs = p.b_cs == 1 ? round_up(p.N) : 1;
  }
  if (p.c_cs != 1 && p.c_rs == 1) transpose_gemm_problem(p);
  if (p.c_cs != 1) {
    L.why = "out has no unit stride in its last two dims";
    return L;
  }
  const int64_t a_ld = p.a_cs == 1 ? p.a_rs : p.a_rs == 1 ? p.a_cs : -1;
  const int64_t b_ld = p.b_cs == 1 ? p.b_rs : p.b_rs == 1 ? p.b_cs : -1;
  if (a_ld < 0 || b_ld < 0) {
    L.why = "an operand has no unit stride in its last two dims";
    return L;
  }
  L.a_mn = p.a_cs != 1;
  L.b_mn = p.b_cs == 1;
  // Rows (or columns) must not overlap: TMA and the 16-byte vector paths assume ld >= extent.
  if (a_ld < (L.a_mn ? p.M : p.K) || b_ld < (L.b_mn ? p.N : p.K)) {
    L.why = "an operand's leading dim is smaller than its contiguous extent (overlapping rows)";
    return L;
  }
  const bool batched = p.batch_ndim == 1;
  if (!aligned16(p.a) || !aligned16(p.b) || a_ld % vec || b_ld % vec ||
      (batched && (p.a_bs[0] % vec || p.b_bs[0] % vec))) {
    L.why = "operands are not 16-byte aligned (base pointer, leading dim or batch stride)";
    return L;
  }
  L.ok = true;
  return L;
}

void fill_batch(GemmParams& p, const TensorView& a, const TensorView& b, const TensorView& out,
                const TensorView* aux, const char* fn) {
  p.batch_ndim = out.ndim - 2;
  FASTNN_CHECK_VALUE(p.batch_ndim <= kMaxGemmBatchDims, fn, ": at most ", kMaxGemmBatchDims, " batch dims, got ",
                     p.batch_ndim);
  p.batch_count = 1;
  for (int d = 0; d < p.batch_ndim; ++d) {
    const int da = d - (out.ndim - a.ndim), db = d - (out.ndim - b.ndim);
    const int64_t sa = da >= 0 ? a.shape[da] : 1, sb = db >= 0 ? b.shape[db] : 1;
    FASTNN_CHECK_VALUE((sa == 1 || sa == out.shape[d]) && (sb == 1 || sb == out.shape[d]), fn, ": batch dimension ", d,
                       " is not broadcastable (a ", sa, ", b ", sb, ", out ", out.shape[d], ")");
    p.batch_shape[d] = out.shape[d];
    p.a_bs[d] = (da >= 0 && sa != 1) ? a.strides[da] : 0;
    p.b_bs[d] = (db >= 0 && sb != 1) ? b.strides[db] : 0;
    p.c_bs[d] = out.strides[d];
    p.x_bs[d] = aux ? aux->strides[d] : 0;
    p.batch_count *= out.shape[d];
  }
}

// tf32 wgmma with an N-contiguous B: B is copied K-major into a stream-ordered workspace
// (cudaMallocAsync, freed on the same stream after the GEMM), then the (K, K) kernel runs.
void launch_wgmma_tf32_repacked(GemmParams q, int sm_count, cudaStream_t s) {
  const int64_t ld = (int64_t(q.K) + 3) / 4 * 4;  // 16-byte rows for TMA
  const bool bcast = q.batch_ndim == 0 || q.b_bs[0] == 0;
  const int64_t copies = bcast ? 1 : q.batch_count;
  const int64_t per = ld * q.N;
  float* ws = nullptr;
  FASTNN_CUDA_CHECK(cudaMallocAsync(reinterpret_cast<void**>(&ws), size_t(per * copies) * sizeof(float), s));
  try {
    launch_repack_kmajor(static_cast<const float*>(q.b), q.b_rs, bcast ? 0 : q.b_bs[0], ws, ld, per, q.K, q.N, copies, s);
    q.b = ws, q.b_rs = 1, q.b_cs = ld;
    if (q.batch_ndim) q.b_bs[0] = bcast ? 0 : per;
    launch_gemm_wgmma_sm90(q, GemmDType::f32, false, false, sm_count, s);
  } catch (...) {
    cudaFreeAsync(ws, s);
    throw;
  }
  FASTNN_CUDA_CHECK(cudaFreeAsync(ws, s));
}

}  // namespace

std::string last_gemm_kernel() { return g_last_kernel; }

std::vector<std::string> gemm_kernels_for_device(int device) {
  const DeviceCaps c = caps_of(device);
  std::vector<std::string> k{"simt_general", "simt"};
  if (has_mma(c)) k.push_back("mma_sync");
  if (has_wgmma(c)) k.push_back("wgmma");
  return k;
}

void gemm(const TensorView& a, const TensorView& b, const TensorView& out, const TensorView* bias,
          const TensorView* aux, const GemmOptions& opt, uintptr_t stream) {
  const char* fn = "gemm (cuda)";
  const DType dt = a.dtype;
  FASTNN_CHECK_TYPE(dt == DType::f32 || dt == DType::f16 || dt == DType::bf16, fn,
                    ": a must be float32, float16 or bfloat16, got ", dtype_name(dt));
  check_dtype(b, dt, fn, "b");
  check_dtype(out, dt, fn, "out");
  if (bias) check_dtype(*bias, dt, fn, "bias");
  if (aux) check_dtype(*aux, dt, fn, "aux");
  FASTNN_CHECK_VALUE(a.device == Device::cuda && b.device == Device::cuda && out.device == Device::cuda, fn,
                     ": all arrays must be CUDA arrays");
  FASTNN_CHECK_VALUE(a.ndim >= 2 && b.ndim >= 2 && out.ndim >= a.ndim && out.ndim >= b.ndim, fn, ": bad ranks a=",
                     a.ndim, " b=", b.ndim, " out=", out.ndim);
  FASTNN_CHECK_VALUE(a.size(-1) == b.size(-2), fn, ": a has ", a.size(-1), " columns but b has ", b.size(-2), " rows");
  FASTNN_CHECK_VALUE(out.size(-2) == a.size(-2) && out.size(-1) == b.size(-1), fn, ": out has shape (..., ",
                     out.size(-2), ", ", out.size(-1), "), expected (..., ", a.size(-2), ", ", b.size(-1), ")");
  FASTNN_CHECK_VALUE(opt.activation >= kActNone && opt.activation <= kActSilu, fn, ": unknown activation code ",
                     opt.activation);
  FASTNN_CHECK_VALUE(!opt.act_backward || aux, fn, ": act_backward needs aux (grad_out)");
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  FASTNN_CHECK_VALUE(M < (int64_t(1) << 31) && N < (int64_t(1) << 31) && K < (int64_t(1) << 31), fn,
                     ": matrix dims must be < 2^31");
  if (bias) {
    FASTNN_CHECK_VALUE(bias->ndim == 1 && bias->shape[0] == (opt.bias_per_row ? M : N), fn, ": bias must have shape (",
                       opt.bias_per_row ? M : N, ",)");
  }
  if (aux) {
    FASTNN_CHECK_VALUE(aux->ndim == out.ndim, fn, ": aux must have out's shape");
    for (int d = 0; d < out.ndim; ++d) FASTNN_CHECK_VALUE(aux->shape[d] == out.shape[d], fn, ": aux must have out's shape");
  }
  checked_numel(a, fn), checked_numel(b, fn), checked_numel(out, fn);

  GemmParams p{};
  p.M = int(M), p.N = int(N), p.K = int(K);
  p.a = a.data, p.a_rs = a.stride(-2), p.a_cs = a.stride(-1);
  p.b = b.data, p.b_rs = b.stride(-2), p.b_cs = b.stride(-1);
  p.c = out.data, p.c_rs = out.stride(-2), p.c_cs = out.stride(-1);
  p.bias = bias ? bias->data : nullptr;
  p.bias_stride = bias ? bias->strides[0] : 0;
  p.bias_per_row = opt.bias_per_row;
  p.aux = opt.act_backward ? aux->data : nullptr;
  p.x_rs = aux ? aux->stride(-2) : 0, p.x_cs = aux ? aux->stride(-1) : 0;
  p.act = opt.activation;
  p.act_backward = opt.act_backward;
  fill_batch(p, a, b, out, aux, fn);
  if (p.batch_count == 0 || M == 0 || N == 0) return;
  // K == 0 (out = epilogue(0)) is handled by the Python layer; every kernel needs one K step.
  FASTNN_CHECK_VALUE(K > 0, fn, ": K == 0 must be handled by the caller");

  int device = 0;
  FASTNN_CUDA_CHECK(cudaGetDevice(&device));
  const DeviceCaps caps = caps_of(device);
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  const int64_t esize = dtype_size(dt);
  const bool tensor_core_dtype = dt != DType::f32 || opt.allow_tf32;

  // The general kernel works on the uncollapsed problem; the fast ones on a normalised copy.
  GemmParams q = p;
  collapse_batch(q);
  const Layout L = classify(q, esize);

  std::string no_wgmma, no_mma, no_simt;
  if (!has_wgmma(caps)) no_wgmma = "needs an sm_90a build on a compute capability 9.0 device";
  else if (!tensor_core_dtype) no_wgmma = "float32 needs allow_tf32=True";
  else if (!L.ok) no_wgmma = L.why;
  else if (dt == DType::f32 && L.a_mn && L.b_mn) no_wgmma = "tf32 wgmma needs a K-contiguous operand (both are M/N-contiguous)";
  else if (dt == DType::f32 && q.batch_count > 65535) no_wgmma = "tf32 K-major repack handles at most 65535 batches";
  // tf32 wgmma reads K-major operands only: one N-contiguous operand is repacked K-major into a
  // workspace first (8·K·N bytes of traffic), worth it only when M amortises it.
  const bool tf32_repack = dt == DType::f32 && no_wgmma.empty() && (L.a_mn || L.b_mn);
  if (tf32_repack && opt.kernel == GemmKernel::automatic && (L.b_mn ? q.M : q.N) < 2048)
    no_wgmma = "tf32 with an M/N-contiguous operand repacks it; not worth it below 2048 rows";
  if (!has_mma(caps)) no_mma = "needs compute capability 8.0+";
  else if (!tensor_core_dtype) no_mma = "float32 needs allow_tf32=True";
  else if (!L.ok) no_mma = L.why;
  if (dt != DType::f32) no_simt = "float32 only";
  else if (!L.ok) no_simt = L.why;

  GemmKernel k = opt.kernel;
  if (k == GemmKernel::automatic) {
    k = no_wgmma.empty() ? GemmKernel::wgmma
        : no_mma.empty() ? GemmKernel::mma_sync
        : no_simt.empty() ? GemmKernel::simt
                          : GemmKernel::simt_general;
  } else {
    const std::string& why = k == GemmKernel::wgmma ? no_wgmma : k == GemmKernel::mma_sync ? no_mma
                             : k == GemmKernel::simt ? no_simt : std::string();
    FASTNN_CHECK_VALUE(why.empty(), fn, ": kernel '", kernel_name(k), "' cannot run this problem: ", why);
  }
  const bool tf32 = dt == DType::f32 && (k == GemmKernel::wgmma || k == GemmKernel::mma_sync);

  auto check_grid = [&](int64_t bm, int64_t z) {
    FASTNN_CHECK_VALUE((q.M + bm - 1) / bm <= 65535 && z <= 65535, fn, ": problem too large for one launch of ",
                       kernel_name(k), " (", q.M, " rows, ", z, " batches)");
  };
  bool repacked = false;
  switch (k) {
    case GemmKernel::wgmma: {
      bool a_mn = L.a_mn, b_mn = L.b_mn;
      if (a_mn && !b_mn) {  // (M-major A, K-major B) → Cᵀ = Bᵀ·Aᵀ is (K-major, N-major)
        transpose_gemm_problem(q);
        a_mn = false, b_mn = true;
      }
      if (dt == DType::f32 && b_mn) {
        launch_wgmma_tf32_repacked(q, caps.sm_count, s);
        repacked = true;
      } else {
        launch_gemm_wgmma_sm90(q, gemm_dtype(dt), a_mn, b_mn, caps.sm_count, s);
      }
      break;
    }
    case GemmKernel::mma_sync:
      check_grid(128, q.batch_count);
      launch_gemm_mma_sm80(q, gemm_dtype(dt), L.a_mn, L.b_mn, s);
      break;
    case GemmKernel::simt:
      check_grid(128, q.batch_count);
      launch_gemm_simt_128x128(q, L.a_mn, L.b_mn, s);
      break;
    default:
      FASTNN_CHECK_VALUE((p.M + 63) / 64 <= 65535 && p.batch_count <= 65535, fn,
                         ": problem too large for one launch of simt_general");
      launch_gemm_simt_general(p, gemm_dtype(dt), s);
      k = GemmKernel::simt_general;
  }
  g_last_kernel = str_cat(kernel_name(k), ":", dtype_tag(dt, tf32), repacked ? "+repack" : "");
}

}  // namespace cuda
}  // namespace fastnn
