// GEMM driver: dispatch table, cache blocking, macro-kernel, threading.
//
// Two schedules (both also run single-threaded, for sgemm_serial):
//  - row schedule (BLIS ic loop), for M large: per (jc, pc) block the threads pack the KC×NC block
//    of B together into a shared, double-buffered buffer, meet at one barrier, then take MC-sized
//    row chunks of A from an atomic counter, each packing its chunk privately (into its own L2)
//    and running the macro-kernel over the whole B block.
//  - column schedule (BLIS jr loop), for small M (inference, M ≤ 64): the threads pack all of A
//    together once (it is small), meet at one barrier, then take column chunks of C from an
//    atomic counter. B micro-panels are packed one at a time right before use, or, when B is
//    row-major, streamed straight from memory by the kernel (no B packing at all): B is read once.
// Dynamic chunks keep both cores busy on a shared, noisy machine where static splits stall on
// the slower core.
#include "cpu/gemm/sgemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include <sched.h>

#include "common/parallel.h"
#include "common/workspace.h"
#include "cpu/activation_math.h"
#include "cpu/gemm/epilogue_math.h"
#include "cpu/gemm/pack.h"
#include "cpu/gemm/ukernel.h"

namespace fastnn {

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

const char* sgemm_kernel_name(Isa isa) { return sgemm_ukernel_for(isa).name; }

namespace {

// Below this many flops a GEMM runs on the calling thread: waking the pool costs more.
constexpr double kMinParallelFlops = 1.0e6;
// Column schedule for M up to this (and A small enough to pack whole).
constexpr int64_t kColumnScheduleMaxM = 64;
constexpr int64_t kColumnScheduleMaxPackedA = int64_t(8) << 20;  // bytes
constexpr int64_t kColumnChunkBytes = 256 << 10;  // packed B per column chunk: half of a 512 KiB L2

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
int64_t round_down_min(int64_t x, int64_t m) { return std::max(m, x / m * m); }

struct Blocking {
  int64_t mc, kc, nc;
};

// KC: one B micro-panel (kc × nr) fills half of L1; MC: the packed A block fills half of L2;
// NC: the packed B block takes a quarter of L3, at most 4096 columns.
Blocking blocking_for(const SgemmUkernelInfo& uk) {
  const CpuFeatures& f = cpu_features();
  Blocking b;
  b.kc = std::clamp<int64_t>(round_down_min(f.l1d_bytes / 2 / (uk.nr * 4), 8), 128, 512);
  b.mc = std::clamp<int64_t>(round_down_min(f.l2_bytes / 2 / (b.kc * 4), uk.mr), uk.mr, 1024);
  b.nc = std::clamp<int64_t>(round_down_min(f.l3_bytes / 4 / (b.kc * 4), uk.nr), uk.nr, 4096);
  if (const char* e = getenv("TUNE_KC")) b.kc = atoi(e);
  if (const char* e = getenv("TUNE_MC")) b.mc = atoi(e);
  if (const char* e = getenv("TUNE_NC")) b.nc = atoi(e);
  return b;
}

// Sense-free spin barrier for the threads of one parallel region (count passed per call).
// Spins with PAUSE, then yields: on a loaded machine a descheduled peer must get the core.
class SpinBarrier {
 public:
  void wait(int nthreads) {
    if (nthreads <= 1) return;
    const unsigned gen = gen_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == nthreads - 1) {
      count_.store(0, std::memory_order_relaxed);
      gen_.fetch_add(1, std::memory_order_release);
      return;
    }
    for (int spin = 0; gen_.load(std::memory_order_acquire) == gen; ++spin) {
      if (spin < 2000) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        sched_yield();
      }
    }
  }

 private:
  std::atomic<int> count_{0};
  std::atomic<unsigned> gen_{0};
};

// GEMM's own scratch: one growable aligned block per calling thread, carved up per call.
struct Arena {
  AlignedPtr<float> buf;
  size_t cap = 0;
  float* get(size_t floats) {
    if (cap < floats) {
      buf.reset();
      buf = aligned_alloc_array<float>(floats);
      cap = floats;
    }
    return buf.get();
  }
};
thread_local Arena t_arena;

size_t padded(int64_t floats) { return size_t(round_up(std::max<int64_t>(floats, 1), 16)); }

struct Problem {
  int64_t M, N, K;
  float alpha, beta;
  ConstMatrix A, B;
  Matrix C;
  const float* bias;  // contiguous, or nullptr
  bool bias_per_row;
  Activation act;
  const float* dy;
  int64_t dy_rs, dy_cs;
  bool has_ep;
};

struct Plan {
  const SgemmUkernelInfo* uk;
  Blocking blk;
  bool column_schedule;
  int64_t chunk;  // rows (row schedule) or columns (column schedule) per work item
  int64_t nchunks;
  int threads;
  // row schedule: b_shared[2] (kc × nc, double-buffered), a_priv[t] (chunk × kc)
  // column schedule: a_all (round_up(M, mr) × K), b_priv[t] (kc × chunk)
  float* b_shared[2];
  float* a_all;
  float* priv;
  size_t priv_stride;
  std::atomic<int64_t> counter[2];
  SpinBarrier barrier;
};

// Tile (m × n at row r, column j of the problem) of one macro-kernel call.
inline void run_tile(const Problem& p, const Plan& pl, int64_t kc, const float* a, const float* b, int64_t ldb,
                     float beta, int64_t r, int64_t j, int m, int n, bool last) {
  float* c = p.C.data + r * p.C.rs + j * p.C.cs;
  if (!(last && p.has_ep)) {
    pl.uk->fn_ex(kc, p.alpha, a, b, ldb, beta, c, p.C.rs, p.C.cs, m, n, nullptr);
    return;
  }
  SgemmTileEpilogue te;
  te.bias = p.bias ? p.bias + (p.bias_per_row ? r : j) : nullptr;
  te.bias_per_row = p.bias_per_row;
  te.act = p.act;
  if (p.dy) {
    te.dy = p.dy + r * p.dy_rs + j * p.dy_cs;
    te.rs_dy = p.dy_rs;
    te.cs_dy = p.dy_cs;
  }
  pl.uk->fn_ex(kc, p.alpha, a, b, ldb, beta, c, p.C.rs, p.C.cs, m, n, &te);
}

// One packed A block (mc × kc, rows from r0) times one packed B block (kc × nc, columns from j0).
void macro_kernel(const Problem& p, const Plan& pl, int64_t r0, int64_t mc, int64_t j0, int64_t nc, int64_t kc,
                  const float* ap, const float* bp, float beta, bool last) {
  const int mr = pl.uk->mr, nr = pl.uk->nr;
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int n = int(std::min<int64_t>(nr, nc - jr));
    for (int64_t ir = 0; ir < mc; ir += mr) {
      const int m = int(std::min<int64_t>(mr, mc - ir));
      run_tile(p, pl, kc, ap + ir * kc, bp + jr * kc, nr, beta, r0 + ir, j0 + jr, m, n, last);
    }
  }
}

void row_schedule(const Problem& p, Plan& pl, int tid, int nthr) {
  const SgemmUkernelInfo& uk = *pl.uk;
  const Blocking& blk = pl.blk;
  float* a_priv = pl.priv + size_t(tid) * pl.priv_stride;
  int it = 0;
  for (int64_t jc = 0; jc < p.N; jc += blk.nc) {
    const int64_t nc = std::min(blk.nc, p.N - jc);
    const int64_t panels = (nc + uk.nr - 1) / uk.nr;
    for (int64_t pc = 0; pc < p.K; pc += blk.kc, ++it) {
      const int64_t kc = std::min(blk.kc, p.K - pc);
      const bool last = pc + kc >= p.K;
      float* bp = pl.b_shared[it & 1];
      const int64_t q0 = panels * tid / nthr, q1 = panels * (tid + 1) / nthr;
      if (q1 > q0) {
        const int64_t c0 = q0 * uk.nr, c1 = std::min(nc, q1 * uk.nr);
        uk.pack_b(kc, c1 - c0, p.B.data + pc * p.B.rs + (jc + c0) * p.B.cs, p.B.rs, p.B.cs, uk.nr, bp + c0 * kc);
      }
      // After this barrier every thread is done with iteration it-1, so its counter can be reused.
      pl.barrier.wait(nthr);
      if (tid == 0) pl.counter[(it + 1) & 1].store(0, std::memory_order_relaxed);
      const float beta = pc == 0 ? p.beta : 1.0f;
      for (;;) {
        const int64_t c = pl.counter[it & 1].fetch_add(1, std::memory_order_relaxed);
        if (c >= pl.nchunks) break;
        const int64_t r0 = c * pl.chunk, mc = std::min(pl.chunk, p.M - r0);
        uk.pack_a(mc, kc, p.A.data + r0 * p.A.rs + pc * p.A.cs, p.A.rs, p.A.cs, uk.mr, a_priv);
        macro_kernel(p, pl, r0, mc, jc, nc, kc, a_priv, bp, beta, last);
      }
    }
  }
}

void column_schedule(const Problem& p, Plan& pl, int tid, int nthr) {
  const SgemmUkernelInfo& uk = *pl.uk;
  const int64_t kcb = pl.blk.kc, mpad = round_up(p.M, uk.mr);
  // 1. A, whole: block pc (kc wide) at a_all + pc * mpad; blocks split among the threads.
  const int64_t kblocks = (p.K + kcb - 1) / kcb;
  for (int64_t q = kblocks * tid / nthr; q < kblocks * (tid + 1) / nthr; ++q) {
    const int64_t pc = q * kcb, kc = std::min(kcb, p.K - pc);
    uk.pack_a(p.M, kc, p.A.data + pc * p.A.cs, p.A.rs, p.A.cs, uk.mr, pl.a_all + pc * mpad);
  }
  pl.barrier.wait(nthr);
  // 2. Column chunks of C; each thread owns its chunk for the whole K, so no more barriers.
  //    The chunk's kc × chunk block of B is packed privately (it stays in this core's L2).
  float* bp = pl.priv + size_t(tid) * pl.priv_stride;
  for (;;) {
    const int64_t c = pl.counter[0].fetch_add(1, std::memory_order_relaxed);
    if (c >= pl.nchunks) break;
    const int64_t j0 = c * pl.chunk, nc = std::min(pl.chunk, p.N - j0);
    for (int64_t pc = 0; pc < p.K; pc += kcb) {
      const int64_t kc = std::min(kcb, p.K - pc);
      uk.pack_b(kc, nc, p.B.data + pc * p.B.rs + j0 * p.B.cs, p.B.rs, p.B.cs, uk.nr, bp);
      macro_kernel(p, pl, 0, p.M, j0, nc, kc, pl.a_all + pc * mpad, bp, pc == 0 ? p.beta : 1.0f, pc + kc >= p.K);
    }
  }
}

// C = beta*C then the epilogue, for problems without products (K == 0 or alpha == 0).
void scale_only(const Problem& p) {
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      float* cij = p.C.data + i * p.C.rs + j * p.C.cs;
      float z = p.beta == 0.0f ? 0.0f : p.beta * *cij;
      if (!p.has_ep) {
        *cij = z;
        continue;
      }
      if (p.bias) z += p.bias[p.bias_per_row ? i : j];
      *cij = p.dy ? p.dy[i * p.dy_rs + j * p.dy_cs] * activation_grad(p.act, z) : apply_activation(p.act, z);
    }
}

void sgemm_impl(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
                const GemmEpilogue& ep, int max_threads) {
  if (M <= 0 || N <= 0) return;
  const SgemmUkernelInfo& uk = sgemm_ukernel_for(active_isa());
  Problem p{M, N, K, alpha, beta, A, B, C, nullptr, ep.bias_per_row, ep.act, ep.dy, ep.dy_rs, ep.dy_cs,
            ep.bias != nullptr || ep.act != Activation::none || ep.dy != nullptr};
  const int64_t bias_len = ep.bias ? (ep.bias_per_row ? M : N) : 0;

  Plan pl;
  pl.uk = &uk;
  pl.blk = blocking_for(uk);
  const double flops = 2.0 * double(M) * double(N) * double(K);
  int threads = flops < kMinParallelFlops ? 1 : std::max(1, std::min(max_threads, get_num_threads()));
  const int64_t mpad = round_up(M, uk.mr);
  pl.column_schedule = M <= kColumnScheduleMaxM && mpad * K * 4 <= kColumnScheduleMaxPackedA;
  size_t shared_floats, priv_floats;
  if (pl.column_schedule) {
    const int64_t ntiles = (N + uk.nr - 1) / uk.nr;
    threads = int(std::min<int64_t>(threads, ntiles));
    // Chunks of at most kColumnChunkBytes of packed B, at least 4 per thread when N allows.
    const int64_t max_tiles = std::max<int64_t>(1, kColumnChunkBytes / (std::min(pl.blk.kc, K) * uk.nr * 4));
    const int64_t per_chunk = std::clamp<int64_t>(ntiles / (4 * threads), 1, max_tiles);
    pl.chunk = per_chunk * uk.nr;
    shared_floats = padded(mpad * K);
    priv_floats = padded(pl.blk.kc * pl.chunk);
  } else {
    const int64_t mtiles = (M + uk.mr - 1) / uk.mr;
    threads = int(std::min<int64_t>(threads, mtiles));
    const int64_t per_chunk = threads == 1 ? mtiles : std::max<int64_t>(1, mtiles / (4 * threads));
    pl.chunk = std::min(pl.blk.mc, per_chunk * uk.mr);
    const int64_t kc = std::min(pl.blk.kc, K), nc = std::min(pl.blk.nc, round_up(N, uk.nr));
    shared_floats = 2 * padded(kc * nc);
    priv_floats = padded(round_up(pl.chunk, uk.mr) * kc);
  }
  pl.nchunks = (pl.column_schedule ? N + pl.chunk - 1 : M + pl.chunk - 1) / pl.chunk;
  pl.threads = threads;

  const size_t bias_floats = ep.bias && ep.bias_stride != 1 ? padded(bias_len) : 0;
  float* base = t_arena.get(shared_floats + priv_floats * size_t(threads) + bias_floats);
  if (bias_floats) {
    float* b = base + shared_floats + priv_floats * size_t(threads);
    for (int64_t i = 0; i < bias_len; ++i) b[i] = ep.bias[i * ep.bias_stride];
    p.bias = b;
  } else {
    p.bias = ep.bias;
  }
  if (K <= 0 || alpha == 0.0f) {
    scale_only(p);
    return;
  }
  if (pl.column_schedule) {
    pl.a_all = base;
  } else {
    pl.b_shared[0] = base;
    pl.b_shared[1] = base + shared_floats / 2;
  }
  pl.priv = base + shared_floats;
  pl.priv_stride = priv_floats;
  pl.counter[0].store(0);
  pl.counter[1].store(0);
  auto body = [&](int tid, int nthr) {
    if (pl.column_schedule) column_schedule(p, pl, tid, nthr);
    else row_schedule(p, pl, tid, nthr);
  };
  if (threads <= 1) body(0, 1);
  else parallel_run(threads, body);
}

}  // namespace

void sgemm_serial(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
                  const GemmEpilogue& ep) {
  sgemm_impl(M, N, K, alpha, A, B, beta, C, ep, 1);
}

void sgemm(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
           const GemmEpilogue& ep) {
  sgemm_impl(M, N, K, alpha, A, B, beta, C, ep, get_num_threads());
}

}  // namespace fastnn
