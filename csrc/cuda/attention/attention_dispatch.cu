// CUDA attention entry points: validation (every argument, before any CUDA call), the parameter
// block, kernel choice, and the two small kernels around the backward (row preprocessing of
// Δ = Σ dO·O and lse in log2 units; the FP32 dQ accumulator converted to the output dtype).
//
//   mma_sync  bf16 / f16, D = Dv ∈ {64, 128}, unit stride along D, 16-byte aligned rows / heads /
//             batches, sm_80+ code for this device (flash_fwd_sm80.cu, flash_bwd_sm80.cu)
//   simt      anything else with D, Dv ≤ 256: float32 exact FP32 math, any strides (flash_simt.cu)
#include <cmath>
#include <string>

#include "cuda/attention/attention.h"
#include "cuda/attention/attention_common.cuh"
#include "cuda/glue/glue_device.cuh"
#include "cuda/host_checks.h"
#include "cuda/launch.cuh"

namespace fastnn {
namespace cuda {

int arch_code_for_device(int device);                     // runtime.cu
size_t flash_simt_smem_bytes(int D, int Dv, bool backward);  // flash_simt.cu

namespace {

thread_local std::string g_last_attention;

using attn::AttnParams;

attn::Op op_of(const TensorView& t) {
  return attn::Op{t.data, t.strides[0], t.strides[1], t.strides[2], t.strides[3]};
}

const char* dtag(DType d) { return d == DType::f32 ? "f32" : d == DType::f16 ? "f16" : "bf16"; }
int dcode(DType d) { return d == DType::f32 ? 0 : d == DType::f16 ? 1 : 2; }

struct Problem {
  AttnParams p{};
  DType dt;
};

Problem make_problem(const char* fn, const TensorView& q, const TensorView& k, const TensorView& v,
                     const TensorView* mask, bool causal, double scale) {
  check_float(q, fn, "q");
  check_float_as(k, q.dtype, fn, "k");
  check_float_as(v, q.dtype, fn, "v");
  for (auto [t, name] : {std::pair<const TensorView*, const char*>{&q, "q"}, {&k, "k"}, {&v, "v"}})
    FASTNN_CHECK_VALUE(t->ndim == 4, fn, ": ", name, " must have 4 dimensions (B, H, L, D), got ", shape_str(*t));
  const int64_t B = q.shape[0], Hq = q.shape[1], Lq = q.shape[2], D = q.shape[3];
  const int64_t Hkv = k.shape[1], Lk = k.shape[2], Dv = v.shape[3];
  FASTNN_CHECK_VALUE(k.shape[0] == B && v.shape[0] == B, fn, ": batch sizes differ: q ", shape_str(q), ", k ",
                     shape_str(k), ", v ", shape_str(v));
  FASTNN_CHECK_VALUE(v.shape[1] == Hkv && v.shape[2] == Lk, fn, ": k and v must agree in (B, H, L), got k ",
                     shape_str(k), " and v ", shape_str(v));
  FASTNN_CHECK_VALUE(k.shape[3] == D, fn, ": q and k must have the same head dim, got q ", shape_str(q), " and k ",
                     shape_str(k));
  FASTNN_CHECK_VALUE(D >= 1 && Dv >= 1, fn, ": head dims must be >= 1, got q ", shape_str(q), ", v ", shape_str(v));
  FASTNN_CHECK_VALUE(Hkv >= 1 && Hq % Hkv == 0, fn, ": q heads (", Hq, ") must be a multiple of k/v heads (", Hkv, ")");
  FASTNN_CHECK_VALUE(D <= 256 && Dv <= 256, fn, ": head dims must be <= 256 on CUDA, got D = ", D, ", Dv = ", Dv);
  FASTNN_CHECK_VALUE(B < 65536 && Hq < 65536 && Lq < (int64_t(1) << 31) && Lk < (int64_t(1) << 31), fn,
                     ": sizes too large for one launch (B and H < 65536)");
  FASTNN_CHECK_VALUE(std::isfinite(scale), fn, ": scale must be finite, got ", scale);
  Problem pr;
  pr.dt = q.dtype;
  AttnParams& p = pr.p;
  p.q = op_of(q), p.k = op_of(k), p.v = op_of(v);
  p.B = int(B), p.Hq = int(Hq), p.Hkv = int(Hkv), p.rep = int(Hq / Hkv), p.Lq = int(Lq), p.Lk = int(Lk);
  p.D = int(D), p.Dv = int(Dv);
  p.off = Lk - Lq;
  p.causal = causal;
  p.scale = float(scale);
  p.scale_log2 = float(scale * 1.4426950408889634);
  if (mask) {
    check_on_cuda(*mask, fn, "mask");
    FASTNN_CHECK_TYPE(mask->dtype == DType::b8 || mask->dtype == DType::u8 || mask->dtype == DType::f32, fn,
                      ": mask must be bool (True = keep) or float32 (additive), got ", dtype_name(mask->dtype));
    const int64_t full[4] = {B, Hq, Lq, Lk};
    check_shape_is(*mask, 4, full, fn, "mask (broadcast to (B, Hq, Lq, Lk))");
    p.mask = mask->data;
    p.mask_bool = mask->dtype != DType::f32;
    p.m_sb = mask->strides[0], p.m_sh = mask->strides[1], p.m_si = mask->strides[2], p.m_sj = mask->strides[3];
  }
  return pr;
}

void check_out4(const char* fn, const char* arg, const TensorView& t, DType dt, int64_t a, int64_t b, int64_t c,
                int64_t d) {
  check_float_as(t, dt, fn, arg);
  const int64_t want[4] = {a, b, c, d};
  check_shape_is(t, 4, want, fn, arg);
  check_output_layout(t, fn, arg);
}

void check_lse(const char* fn, const TensorView& t, const AttnParams& p, bool output) {
  check_float_as(t, DType::f32, fn, "lse");
  const int64_t want[3] = {p.B, p.Hq, p.Lq};
  check_shape_is(t, 3, want, fn, "lse");
  if (output) check_output_layout(t, fn, "lse");
}

bool aligned_rows(const TensorView& t) {  // unit stride along D; 16-byte base and strides
  const int64_t e = 16 / dtype_size(t.dtype);
  if (t.shape[3] > 1 && t.strides[3] != 1) return false;
  if (reinterpret_cast<uintptr_t>(t.data) % 16) return false;
  for (int d = 0; d < 3; ++d)
    if (t.shape[d] > 1 && t.strides[d] % e) return false;
  return true;
}

// Why the mma_sync kernels cannot take the problem ("" when they can).
std::string mma_refusal(const AttnParams& p, DType dt, std::initializer_list<const TensorView*> views, bool backward) {
  if (dt == DType::f32) return "float32 runs on the SIMT path (mma_sync takes bfloat16 / float16)";
  if (p.D != p.Dv || (p.D != 64 && p.D != 128)) return str_cat("head dims D = Dv = 64 or 128 only, got ", p.D, ", ", p.Dv);
  for (const TensorView* t : views)
    if (!aligned_rows(*t)) return "every array needs unit stride along D and 16-byte aligned rows, heads and batches";
  int dev = 0;
  FASTNN_CUDA_CHECK(cudaGetDevice(&dev));
  if (arch_code_for_device(dev) < 800) return "needs sm_80+ code for this device (compute capability 8.0+)";
  const int need = backward ? (p.D == 128 ? 113 * 1024 : 65 * 1024) : (p.D == 128 ? 96 * 1024 : 48 * 1024);
  if (launch_device().max_smem_optin < need) return str_cat("needs ", need, " bytes of shared memory per block");
  return "";
}

std::string simt_refusal(const AttnParams& p, bool backward) {
  const size_t need = flash_simt_smem_bytes(p.D, p.Dv, backward);
  if (size_t(launch_device().max_smem_optin) < need)
    return str_cat("needs ", need, " bytes of shared memory per block, the device has ", launch_device().max_smem_optin);
  return "";
}

// Picks "mma_sync" or "simt" for `requested` ("auto" or a family), or raises ValueError.
bool use_mma(const char* fn, const std::string& requested, const std::string& no_mma, const std::string& no_simt) {
  FASTNN_CHECK_VALUE(requested == "auto" || requested == "mma_sync" || requested == "simt", fn,
                     ": kernel must be 'auto', 'mma_sync' or 'simt', got '", requested, "'");
  if (requested == "mma_sync") {
    FASTNN_CHECK_VALUE(no_mma.empty(), fn, ": kernel 'mma_sync' cannot run this problem: ", no_mma);
    return true;
  }
  if (requested == "auto" && no_mma.empty()) return true;
  FASTNN_CHECK_VALUE(no_simt.empty(), fn, ": kernel 'simt' cannot run this problem: ", no_simt);
  return false;
}

// Δ_i = Σ_d dO_id·O_id; lse₂ = lse·log2(e) (+inf for rows without keys, so their P is 0). A warp per row.
template <class T>
__global__ void __launch_bounds__(256) attn_bwd_preprocess(AttnParams p, float* lse2, float* delta) {
  const int lane = threadIdx.x & 31;
  const int64_t rows = int64_t(p.B) * p.Hq * p.Lq, warps = int64_t(gridDim.x) * 8;
  for (int64_t r = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5); r < rows; r += warps) {
    const int64_t i = r % p.Lq, bh = r / p.Lq, h = bh % p.Hq, b = bh / p.Hq;
    const T* go = static_cast<const T*>(p.dout.p) + b * p.dout.sb + h * p.dout.sh + i * p.dout.sl;
    const T* o = static_cast<const T*>(p.o.p) + b * p.o.sb + h * p.o.sh + i * p.o.sl;
    float s = 0.0f;
    for (int d = lane; d < p.Dv; d += 32) s = fmaf(to_float<T>(go[d * p.dout.sd]), to_float<T>(o[d * p.o.sd]), s);
    s = warp_sum(s);
    if (lane == 0) {
      delta[r] = s;
      const float l = p.lse[b * p.lse_sb + h * p.lse_sh + i * p.lse_sl];
      lse2[r] = l == -__int_as_float(0x7f800000) ? __int_as_float(0x7f800000) : l * attn::kLog2e;
    }
  }
}

template <class T>
__global__ void __launch_bounds__(256) attn_dq_convert(AttnParams p) {
  const int64_t n = int64_t(p.B) * p.Hq * p.Lq * p.D, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += stride) {
    const int64_t d = e % p.D, r = e / p.D, i = r % p.Lq, bh = r / p.Lq, h = bh % p.Hq, b = bh / p.Hq;
    static_cast<T*>(p.dq.p)[b * p.dq.sb + h * p.dq.sh + i * p.dq.sl + d * p.dq.sd] = from_float<T>(p.dq_acc[e]);
  }
}

template <class T>
void launch_bwd_helpers(const AttnParams& p, float* lse2, float* delta, bool convert, cudaStream_t s) {
  if (!convert) {
    const int64_t rows = int64_t(p.B) * p.Hq * p.Lq;
    attn_bwd_preprocess<T><<<grid_for(rows, 8), 256, 0, s>>>(p, lse2, delta);
    FASTNN_CUDA_CHECK_LAUNCH("attn_bwd_preprocess");
  } else {
    attn_dq_convert<T><<<grid_for(int64_t(p.B) * p.Hq * p.Lq * p.D, 256), 256, 0, s>>>(p);
    FASTNN_CUDA_CHECK_LAUNCH("attn_dq_convert");
  }
}

void bwd_helpers(const AttnParams& p, DType dt, float* lse2, float* delta, bool convert, cudaStream_t s) {
  switch (dt) {
    case DType::f32: launch_bwd_helpers<float>(p, lse2, delta, convert, s); break;
    case DType::f16: launch_bwd_helpers<__half>(p, lse2, delta, convert, s); break;
    default: launch_bwd_helpers<__nv_bfloat16>(p, lse2, delta, convert, s);
  }
}

}  // namespace

std::string last_attention_kernel() { return g_last_attention; }

void attention_forward(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView* mask,
                       bool causal, double scale, const TensorView& out, const TensorView* lse,
                       const std::string& kernel, uintptr_t stream) {
  const char* fn = "attention (cuda)";
  Problem pr = make_problem(fn, q, k, v, mask, causal, scale);
  AttnParams& p = pr.p;
  check_out4(fn, "out", out, pr.dt, p.B, p.Hq, p.Lq, p.Dv);
  p.o = op_of(out);
  if (lse) {
    check_lse(fn, *lse, p, true);
    p.lse = lse->ptr<float>();
    p.lse_sb = lse->strides[0], p.lse_sh = lse->strides[1], p.lse_sl = lse->strides[2];
  }
  FASTNN_CHECK_VALUE(kernel == "auto" || kernel == "mma_sync" || kernel == "simt", fn,
                     ": kernel must be 'auto', 'mma_sync' or 'simt', got '", kernel, "'");
  if (int64_t(p.B) * p.Hq * p.Lq == 0) return;
  const std::string no_mma = mma_refusal(p, pr.dt, {&q, &k, &v, &out}, false);
  const bool mma = use_mma(fn, kernel, no_mma, simt_refusal(p, false));
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  if (mma) launch_flash_fwd_sm80(p, pr.dt == DType::bf16, s);
  else launch_flash_fwd_simt(p, dcode(pr.dt), s);
  g_last_attention = str_cat(mma ? "mma_sync:" : "simt:", dtag(pr.dt), ":d", p.D);
}

void attention_backward(const TensorView& grad_out, const TensorView& q, const TensorView& k, const TensorView& v,
                        const TensorView& out, const TensorView& lse, const TensorView* mask, bool causal,
                        double scale, const TensorView& dq, const TensorView& dk, const TensorView& dv,
                        const std::string& kernel, uintptr_t stream) {
  const char* fn = "attention_backward (cuda)";
  Problem pr = make_problem(fn, q, k, v, mask, causal, scale);
  AttnParams& p = pr.p;
  check_float_as(grad_out, pr.dt, fn, "grad_out");
  check_float_as(out, pr.dt, fn, "out");
  const int64_t o_shape[4] = {p.B, p.Hq, p.Lq, p.Dv};
  check_shape_is(grad_out, 4, o_shape, fn, "grad_out");
  check_shape_is(out, 4, o_shape, fn, "out");
  check_lse(fn, lse, p, false);
  check_out4(fn, "dq", dq, pr.dt, p.B, p.Hq, p.Lq, p.D);
  check_out4(fn, "dk", dk, pr.dt, p.B, p.Hkv, p.Lk, p.D);
  check_out4(fn, "dv", dv, pr.dt, p.B, p.Hkv, p.Lk, p.Dv);
  FASTNN_CHECK_VALUE(kernel == "auto" || kernel == "mma_sync" || kernel == "simt", fn,
                     ": kernel must be 'auto', 'mma_sync' or 'simt', got '", kernel, "'");
  p.o = op_of(out);
  p.dout = op_of(grad_out);
  p.dq = op_of(dq), p.dk = op_of(dk), p.dv = op_of(dv);
  p.lse = lse.ptr<float>();
  p.lse_sb = lse.strides[0], p.lse_sh = lse.strides[1], p.lse_sl = lse.strides[2];
  const int64_t qrows = int64_t(p.B) * p.Hq * p.Lq, krows = int64_t(p.B) * p.Hkv * p.Lk;
  if (qrows == 0 && krows == 0) return;
  const std::string no_mma = mma_refusal(p, pr.dt, {&q, &k, &v, &out, &grad_out, &dk, &dv}, true);
  const bool mma = use_mma(fn, kernel, no_mma, simt_refusal(p, true));
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  StreamScratch acc(size_t(qrows) * p.D * sizeof(float), s), rows(size_t(qrows) * 2 * sizeof(float), s);
  p.dq_acc = acc.as<float>();
  float* lse2 = rows.as<float>();
  float* delta = lse2 ? lse2 + qrows : nullptr;
  p.lse2 = lse2, p.delta = delta;
  if (qrows) {
    FASTNN_CUDA_CHECK(cudaMemsetAsync(p.dq_acc, 0, size_t(qrows) * p.D * sizeof(float), s));
    bwd_helpers(p, pr.dt, lse2, delta, false, s);
  }
  if (krows) {
    if (qrows == 0) {  // no queries: dK = dV = 0
      FASTNN_CHECK_VALUE(is_contiguous(dk) && is_contiguous(dv), fn, ": dk, dv must be contiguous when Lq == 0");
      FASTNN_CUDA_CHECK(cudaMemsetAsync(dk.data, 0, size_t(krows) * p.D * dtype_size(pr.dt), s));
      FASTNN_CUDA_CHECK(cudaMemsetAsync(dv.data, 0, size_t(krows) * p.Dv * dtype_size(pr.dt), s));
    } else if (mma) {
      launch_flash_bwd_sm80(p, pr.dt == DType::bf16, s);
    } else {
      launch_flash_bwd_simt(p, dcode(pr.dt), s);
    }
  }
  if (qrows) bwd_helpers(p, pr.dt, lse2, delta, true, s);
  g_last_attention = str_cat(mma ? "mma_sync:" : "simt:", dtag(pr.dt), ":d", p.D);
}

}  // namespace cuda
}  // namespace fastnn
