// GEMM driver: dispatch table, cache blocking, macro-kernel, epilogue and threading.
#include "cpu/gemm/sgemm.h"

#include <algorithm>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/activation_math.h"
#include "cpu/gemm/pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {
namespace {

}  // namespace

// ---- dispatch table: starts with the reference kernel, each ISA overrides its row ----------
const SgemmUkernelInfo& sgemm_ukernel_for(Isa isa) {
  static const SgemmUkernelInfo table[kNumIsas] = {
      sgemm_ukernel_ref(),
#if defined(FASTNN_X86)
      sgemm_ukernel_avx2(),
      sgemm_ukernel_avx512(),
#else
      sgemm_ukernel_ref(),
      sgemm_ukernel_ref(),
#endif
  };
  return table[int(isa)];
}

namespace {

struct Blocking {
  int64_t mc, kc, nc;
};

int64_t round_down(int64_t x, int64_t m) { return std::max(m, x / m * m); }

// KC: one B micro-panel (kc × nr) fills half of L1; MC: the packed A block fills half of L2;
// NC: the packed B block takes a quarter of L3.
Blocking blocking_for(const SgemmUkernelInfo& uk) {
  const CpuFeatures& f = cpu_features();
  Blocking b;
  b.kc = std::clamp<int64_t>(round_down(f.l1d_bytes / 2 / (uk.nr * 4), 8), 128, 512);
  b.mc = std::clamp<int64_t>(round_down(f.l2_bytes / 2 / (b.kc * 4), uk.mr), uk.mr, 1024);
  b.nc = std::clamp<int64_t>(round_down(f.l3_bytes / 4 / (b.kc * 4), uk.nr), uk.nr, 4096);
  return b;
}

// Bias + activation on an m×n region of C whose top-left is (row0, col0) in the full matrix.
void apply_epilogue(const GemmEpilogue& ep, float* c, int64_t rs, int64_t cs, int64_t m, int64_t n, int64_t row0,
                    int64_t col0) {
  if (!ep.bias && ep.act == Activation::none) return;
  for (int64_t i = 0; i < m; ++i) {
    float* ci = c + i * rs;
    float row_bias = (ep.bias && ep.bias_per_row) ? ep.bias[(row0 + i) * ep.bias_stride] : 0.0f;
    for (int64_t j = 0; j < n; ++j) {
      float v = ci[j * cs] + row_bias;
      if (ep.bias && !ep.bias_per_row) v += ep.bias[(col0 + j) * ep.bias_stride];
      ci[j * cs] = apply_activation(ep.act, v);
    }
  }
}

// One packed A block (mc × kc) times one packed B block (kc × nc) into C.
void macro_kernel(const SgemmUkernelInfo& uk, int64_t mc, int64_t nc, int64_t kc, float alpha, const float* ap,
                  const float* bp, float beta, Matrix C, const GemmEpilogue* ep, int64_t row0, int64_t col0) {
  const int mr = uk.mr, nr = uk.nr;
  alignas(64) float edge[kMaxMR * kMaxNR];
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int64_t n = std::min<int64_t>(nr, nc - jr);
    for (int64_t ir = 0; ir < mc; ir += mr) {
      const int64_t m = std::min<int64_t>(mr, mc - ir);
      float* c = C.data + ir * C.rs + jr * C.cs;
      const float* a = ap + ir * kc;
      const float* b = bp + jr * kc;
      if (m == mr && n == nr) {
        uk.fn(kc, alpha, a, b, beta, c, C.rs, C.cs);
      } else {  // edge tile: compute the full tile locally, write back only the valid part
        uk.fn(kc, alpha, a, b, 0.0f, edge, nr, 1);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            float* cij = c + i * C.rs + j * C.cs;
            *cij = beta == 0.0f ? edge[i * nr + j] : edge[i * nr + j] + beta * *cij;
          }
      }
      if (ep) apply_epilogue(*ep, c, C.rs, C.cs, m, n, row0 + ir, col0 + jr);
    }
  }
}

// C = beta*C + epilogue, for K == 0 (no products to add).
void scale_only(int64_t M, int64_t N, float beta, Matrix C, const GemmEpilogue& ep) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float* cij = C.data + i * C.rs + j * C.cs;
      *cij = beta == 0.0f ? 0.0f : beta * *cij;
    }
  apply_epilogue(ep, C.data, C.rs, C.cs, M, N, 0, 0);
}

void sgemm_block(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
                 const GemmEpilogue& ep, int64_t row0, int64_t col0) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    GemmEpilogue shifted = ep;
    if (shifted.bias) shifted.bias += (shifted.bias_per_row ? row0 : col0) * shifted.bias_stride;
    scale_only(M, N, beta, C, shifted);
    return;
  }
  const SgemmUkernelInfo& uk = sgemm_ukernel_for(active_isa());
  const Blocking blk = blocking_for(uk);
  const int64_t mc_max = std::min(blk.mc, (M + uk.mr - 1) / uk.mr * uk.mr);
  const int64_t nc_max = std::min(blk.nc, (N + uk.nr - 1) / uk.nr * uk.nr);
  const int64_t kc_max = std::min(blk.kc, K);
  float* ap = thread_workspace(0, size_t(mc_max * kc_max));
  float* bp = thread_workspace(1, size_t(nc_max * kc_max));
  const bool has_epilogue = ep.bias || ep.act != Activation::none;

  for (int64_t jc = 0; jc < N; jc += blk.nc) {
    const int64_t nc = std::min(blk.nc, N - jc);
    for (int64_t pc = 0; pc < K; pc += blk.kc) {
      const int64_t kc = std::min(blk.kc, K - pc);
      const bool last_k = pc + kc >= K;
      pack_b(kc, nc, B.data + pc * B.rs + jc * B.cs, B.rs, B.cs, uk.nr, bp);
      for (int64_t ic = 0; ic < M; ic += blk.mc) {
        const int64_t mc = std::min(blk.mc, M - ic);
        pack_a(mc, kc, A.data + ic * A.rs + pc * A.cs, A.rs, A.cs, uk.mr, ap);
        Matrix c{C.data + ic * C.rs + jc * C.cs, C.rs, C.cs};
        macro_kernel(uk, mc, nc, kc, alpha, ap, bp, pc == 0 ? beta : 1.0f, c,
                     (last_k && has_epilogue) ? &ep : nullptr, row0 + ic, col0 + jc);
      }
    }
  }
}

}  // namespace

void sgemm_serial(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
                  const GemmEpilogue& ep) {
  sgemm_block(M, N, K, alpha, A, B, beta, C, ep, 0, 0);
}

// Threads split C into a tm × tn grid of blocks, each computed by a serial GEMM on its own
// packed panels. The grid minimises the largest block (in whole micro-tiles) plus the
// duplicated packing (A is packed tn times, B tm times).
void sgemm(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
           const GemmEpilogue& ep) {
  if (M <= 0 || N <= 0) return;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int threads = get_num_threads();
  if (threads <= 1 || flops < 2.0e6 || K == 0) {
    sgemm_serial(M, N, K, alpha, A, B, beta, C, ep);
    return;
  }
  const SgemmUkernelInfo& uk = sgemm_ukernel_for(active_isa());
  const int64_t mtiles = (M + uk.mr - 1) / uk.mr, ntiles = (N + uk.nr - 1) / uk.nr;
  int best_tm = 1, best_tn = 1;
  double best_cost = -1;
  for (int tm = 1; tm <= threads; ++tm) {
    const int tn = threads / tm;
    if (tm > mtiles || tn > ntiles) continue;
    const double block = double((mtiles + tm - 1) / tm * uk.mr) * double((ntiles + tn - 1) / tn * uk.nr);
    const double pack = double(K) * (double(M) / tm + double(N) / tn);
    const double cost = block * double(K) + pack * 4.0;
    if (best_cost < 0 || cost < best_cost) best_cost = cost, best_tm = tm, best_tn = tn;
  }
  const int tm = best_tm, tn = best_tn;
  parallel_run(tm * tn, [&](int tid, int nthr) {
    // With fewer threads than asked (pool busy), each thread walks several grid cells.
    for (int cell = tid; cell < tm * tn; cell += nthr) {
      const int bi = cell / tn, bj = cell % tn;
      const int64_t i0 = mtiles * bi / tm * uk.mr, i1 = std::min(M, mtiles * (bi + 1) / tm * uk.mr);
      const int64_t j0 = ntiles * bj / tn * uk.nr, j1 = std::min(N, ntiles * (bj + 1) / tn * uk.nr);
      if (i0 >= i1 || j0 >= j1) continue;
      ConstMatrix a{A.data + i0 * A.rs, A.rs, A.cs};
      ConstMatrix b{B.data + j0 * B.cs, B.rs, B.cs};
      Matrix c{C.data + i0 * C.rs + j0 * C.cs, C.rs, C.cs};
      sgemm_block(i1 - i0, j1 - j0, K, alpha, a, b, beta, c, ep, i0, j0);
    }
  });
}

const char* sgemm_kernel_name(Isa isa) { return sgemm_ukernel_for(isa).name; }

}  // namespace fastnn
