// GEMM driver: dispatch table, cache blocking, macro-kernel, threading.
//
// M == 1 or N == 1 is a matrix-vector product: the matrix streams once through a dot or axpy
// kernel (by its layout), threads split the outputs, the epilogue follows per element.
// Otherwise one of three schedules (each also runs single-threaded, for sgemm_serial):
//  - row (BLIS ic loop), for M and N large: per (jc, pc) block the threads pack the KC×NC block of
//    B together into a shared, double-buffered buffer, meet at one barrier, then take row chunks
//    (≤ MC) of A from an atomic counter, each packing its chunk privately (into its own L2) and
//    running the macro-kernel over the whole B block.
//  - row_whole_b, for small B (N ≤ NC, K×N ≤ 4 MiB packed; e.g. K large, N small): the threads
//    pack all of B together once, meet at one barrier, then take row chunks that each run the
//    whole K. With few column panels, full row tiles read row-major A in place (no A packing).
//  - column (BLIS jr loop), for small M (inference, M ≤ 64): the threads pack all of A together
//    once, meet at one barrier, then each owns a fixed column range of C and walks K outside,
//    packing its part of each KC-row block of B privately: B, the big operand, streams from
//    memory once, block after block. With M ≤ 2·MR and row-major B (memory-bound), the thread
//    instead walks shallow blocks of B and prefetches the next block in memory order while the
//    kernels run (column_streamed_b).
// The row schedules take dynamic chunks (an even number, of equal size), which keep both cores busy on a shared, noisy machine
// where static splits stall on the slower core. Each element of C is summed over K in one fixed
// order by one thread, so the result does not depend on the number of threads.
#include "cpu/gemm/sgemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include <sched.h>
#include <sys/mman.h>

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
// Column schedule for M up to this.
constexpr int64_t kColumnScheduleMaxM = 64;
// The small operand is packed whole (A in the column schedule, B in row_whole_b) up to this size.
constexpr int64_t kPackWholeMaxBytes = int64_t(4) << 20;
// Read A in place (no packing) when B has at most this many column panels.
constexpr int64_t kDirectAMaxPanels = 3;
constexpr int64_t kColumnChunkBytes = 256 << 10;  // packed B per column chunk: half of a 512 KiB L2
// column_streamed_b, for M up to this many row tiles and row-major B: blocks of kStreamBRows
// rows and kStreamBBlockBytes packed (Zen 3, 2 threads, 8×4096·4096×4096, medians of one
// interleaved run on the shared machine: 64 rows × 1024 columns 7.3 ms; 32 × 2048 7.4; 48 or
// 96 rows 8.1-8.2; the chunked packing pass it replaces 9.7).
constexpr int64_t kStreamBMaxTiles = 2;
constexpr int64_t kStreamBRows = 64;
constexpr int64_t kStreamBBlockBytes = 256 << 10;

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
int64_t round_down_min(int64_t x, int64_t m) { return std::max(m, x / m * m); }

struct Blocking {
  int64_t mc, kc, nc;
};

// KC: one B micro-panel (kc × nr) fills L1; MC: the packed A block about fills L2; NC: the packed
// B block takes at most a quarter of L3 and 4096 columns. Larger than the textbook "half of L1 /
// half of L2": the kernel streams A from L2/L3 comfortably (≈ 4 B/cycle), while fewer passes over
// C (K/KC of them, each reading and writing all of C) measured 10-20% faster single-threaded on
// the shared Zen 3 machine (2048³: KC 512 vs 256; KC 128 was 23% slower).
Blocking blocking_for(const SgemmUkernelInfo& uk) {
  const CpuFeatures& f = cpu_features();
  Blocking b;
  b.kc = std::clamp<int64_t>(round_down_min(f.l1d_bytes / (uk.nr * 4), 8), 128, 1024);
  b.mc = std::clamp<int64_t>(round_down_min(f.l2_bytes / (b.kc * 4), uk.mr), uk.mr, 1024);
  b.nc = std::clamp<int64_t>(round_down_min(f.l3_bytes / 4 / (b.kc * 4), uk.nr), uk.nr, 4096);
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
// Blocks of 2 MiB and more are 2 MiB-aligned and advised to use transparent huge pages: the
// packed panels are streamed by every micro-kernel call, and 4 KiB pages cost TLB misses.
struct Arena {
  AlignedPtr<float> buf;
  size_t cap = 0;
  float* get(size_t floats) {
    if (cap < floats) {
      buf.reset();
      constexpr size_t kHuge = size_t(2) << 20;
      const size_t bytes = floats * sizeof(float);
      if (bytes >= kHuge) {
        const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
        void* p = std::aligned_alloc(kHuge, rounded);
        if (!p) throw std::bad_alloc();
        madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure (no THP) changes nothing
        buf.reset(static_cast<float*>(p));
        floats = rounded / sizeof(float);
      } else {
        buf = aligned_alloc_array<float>(floats);
      }
      cap = floats;
    }
    return buf.get();
  }
};
thread_local Arena t_arena, t_small_arena;

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
  enum Kind { column, row, row_whole_b } kind;
  bool direct_a;  // row_whole_b: full row tiles read A in place (fn_rowa)
  bool stream_b = false;  // column: column_streamed_b (chunk: its block width)
  int64_t chunk;  // rows (row schedules) or columns (column schedule) per work item
  int64_t nchunks;
  // column: a_all (round_up(M, mr) × K, shared); priv[t]: a kc × chunk block of B
  // row: b_shared[2] (kc × nc, double-buffered); priv[t]: a chunk × kc block of A
  // row_whole_b: b_all (K × round_up(N, nr), shared); priv[t]: a chunk × kc block of A
  float* shared[2];
  float* priv;
  size_t priv_stride;
  std::atomic<int64_t> counter[2];
  SpinBarrier barrier;
};

// Epilogue of the tile at row r, column j of the problem (nullptr unless it is due now).
inline const SgemmTileEpilogue* tile_epilogue(const Problem& p, int64_t r, int64_t j, bool last,
                                              SgemmTileEpilogue& te) {
  if (!(last && p.has_ep)) return nullptr;
  te.bias = p.bias ? p.bias + (p.bias_per_row ? r : j) : nullptr;
  te.bias_per_row = p.bias_per_row;
  te.act = p.act;
  if (p.dy) {
    te.dy = p.dy + r * p.dy_rs + j * p.dy_cs;
    te.rs_dy = p.dy_rs;
    te.cs_dy = p.dy_cs;
  }
  return &te;
}

// Packed A block (mc × kc, rows from r0) times packed B block (kc × nc, columns from j0) into C.
// a_rows (optional): A's rows from r0 and column pc in place, for fn_rowa on full row tiles.
void macro_kernel(const Problem& p, const Plan& pl, int64_t r0, int64_t mc, int64_t j0, int64_t nc, int64_t kc,
                  const float* ap, const float* a_rows, const float* bp, float beta, bool last) {
  const SgemmUkernelInfo& uk = *pl.uk;
  const int mr = uk.mr, nr = uk.nr;
  SgemmTileEpilogue te;
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int n = int(std::min<int64_t>(nr, nc - jr));
    const float* b = bp + jr * kc;
    for (int64_t ir = 0; ir < mc; ir += mr) {
      const int m = int(std::min<int64_t>(mr, mc - ir));
      float* c = p.C.data + (r0 + ir) * p.C.rs + (j0 + jr) * p.C.cs;
      const SgemmTileEpilogue* ep = tile_epilogue(p, r0 + ir, j0 + jr, last, te);
      if (a_rows && m == mr)
        uk.fn_rowa(kc, p.alpha, a_rows + ir * p.A.rs, p.A.rs, b, nr, beta, c, p.C.rs, p.C.cs, n, ep);
      else
        uk.fn_ex(kc, p.alpha, ap + ir * kc, b, nr, beta, c, p.C.rs, p.C.cs, m, n, ep);
    }
  }
}

// B block (kc × nc from row pc, column jc) into `out`, its nr-panels split among the threads.
void pack_b_shared(const Problem& p, const SgemmUkernelInfo& uk, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                   float* out, int tid, int nthr) {
  const int64_t panels = (nc + uk.nr - 1) / uk.nr;
  const int64_t q0 = panels * tid / nthr, q1 = panels * (tid + 1) / nthr;
  if (q1 <= q0) return;
  const int64_t c0 = q0 * uk.nr, c1 = std::min(nc, q1 * uk.nr);
  uk.pack_b(kc, c1 - c0, p.B.data + pc * p.B.rs + (jc + c0) * p.B.cs, p.B.rs, p.B.cs, uk.nr, out + c0 * kc);
}

// Rows [r0, r0 + mc) of A, columns [pc, pc + kc), into the thread's private buffer (only the
// last, partial row tile when full tiles read A in place).
const float* pack_a_chunk(const Problem& p, const Plan& pl, float* a_priv, int64_t r0, int64_t mc, int64_t pc,
                          int64_t kc) {
  const SgemmUkernelInfo& uk = *pl.uk;
  int64_t from = 0;
  if (pl.direct_a) from = mc / uk.mr * uk.mr;
  if (from < mc)
    uk.pack_a(mc - from, kc, p.A.data + (r0 + from) * p.A.rs + pc * p.A.cs, p.A.rs, p.A.cs, uk.mr,
              a_priv + from * kc);
  return a_priv;
}

// Rows [r0, r0 + mc) of row chunk c: the row tiles split evenly among the chunks.
inline void row_chunk(const Problem& p, const Plan& pl, int64_t c, int64_t& r0, int64_t& mc) {
  const int64_t mr = pl.uk->mr, tiles = (p.M + mr - 1) / mr;
  r0 = c * tiles / pl.nchunks * mr;
  mc = std::min(p.M, (c + 1) * tiles / pl.nchunks * mr) - r0;
}

void row_schedule(const Problem& p, Plan& pl, int tid, int nthr) {
  const SgemmUkernelInfo& uk = *pl.uk;
  const Blocking& blk = pl.blk;
  float* a_priv = pl.priv + size_t(tid) * pl.priv_stride;
  int it = 0;
  for (int64_t jc = 0; jc < p.N; jc += blk.nc) {
    const int64_t nc = std::min(blk.nc, p.N - jc);
    for (int64_t pc = 0; pc < p.K; pc += blk.kc, ++it) {
      const int64_t kc = std::min(blk.kc, p.K - pc);
      float* bp = pl.shared[it & 1];
      pack_b_shared(p, uk, pc, kc, jc, nc, bp, tid, nthr);
      // After this barrier every thread is done with iteration it-1, so its counter can be reused.
      pl.barrier.wait(nthr);
      if (tid == 0) pl.counter[(it + 1) & 1].store(0, std::memory_order_relaxed);
      for (;;) {
        const int64_t c = pl.counter[it & 1].fetch_add(1, std::memory_order_relaxed);
        if (c >= pl.nchunks) break;
        int64_t r0, mc;
        row_chunk(p, pl, c, r0, mc);
        const float* ap = pack_a_chunk(p, pl, a_priv, r0, mc, pc, kc);
        macro_kernel(p, pl, r0, mc, jc, nc, kc, ap, nullptr, bp, pc == 0 ? p.beta : 1.0f, pc + kc >= p.K);
      }
    }
  }
}

// B is small: packed whole once (block pc at b_all + pc * npad), one barrier, then row chunks
// that each run the whole K — no further synchronisation.
void row_whole_b_schedule(const Problem& p, Plan& pl, int tid, int nthr) {
  const SgemmUkernelInfo& uk = *pl.uk;
  const int64_t kcb = pl.blk.kc, npad = round_up(p.N, uk.nr);
  for (int64_t pc = 0; pc < p.K; pc += kcb)
    pack_b_shared(p, uk, pc, std::min(kcb, p.K - pc), 0, p.N, pl.shared[0] + pc * npad, tid, nthr);
  pl.barrier.wait(nthr);
  float* a_priv = pl.priv + size_t(tid) * pl.priv_stride;
  for (;;) {
    const int64_t c = pl.counter[0].fetch_add(1, std::memory_order_relaxed);
    if (c >= pl.nchunks) break;
    int64_t r0, mc;
    row_chunk(p, pl, c, r0, mc);
    for (int64_t pc = 0; pc < p.K; pc += kcb) {
      const int64_t kc = std::min(kcb, p.K - pc);
      const float* ap = pack_a_chunk(p, pl, a_priv, r0, mc, pc, kc);
      const float* a_rows = pl.direct_a ? p.A.data + r0 * p.A.rs + pc : nullptr;
      macro_kernel(p, pl, r0, mc, 0, p.N, kc, ap, a_rows, pl.shared[0] + pc * npad, pc == 0 ? p.beta : 1.0f,
                   pc + kc >= p.K);
    }
  }
}

// Column schedule with few rows (M ≤ 2·MR), B row-major: the product is bound by streaming B
// from memory. Packing B chunk by chunk as a separate pass (kc × a few panels: short runs of
// rows kc apart, which the hardware prefetcher does not follow) ran at half the speed of a
// sequential read, then left the FMA units idle while it ran. Here the thread walks its
// columns in blocks of kb rows × w columns (packed, in L2); while the kernels run on one block,
// the next block's rows are prefetched in memory order (row after row, w columns each), a
// slice after each column panel, so B streams sequentially and under the FMAs, and the packing
// reads from cache. C (M × w) stays in L1/L2 across the K blocks.
void column_streamed_b(const Problem& p, const Plan& pl, const float* a_all, int64_t mpad, int64_t j0, int64_t j1,
                       float* bp) {
  const SgemmUkernelInfo& uk = *pl.uk;
  const int mr = uk.mr, nr = uk.nr;
  const int64_t kb = pl.blk.kc, wmax = pl.chunk;
  const int64_t row_bytes = p.B.rs * int64_t(sizeof(float));
  SgemmTileEpilogue te;
  for (int64_t jc = j0; jc < j1; jc += wmax) {
    const int64_t width = std::min(wmax, j1 - jc), panels = (width + nr - 1) / nr;
    for (int64_t pc = 0; pc < p.K; pc += kb) {
      const int64_t kc = std::min(kb, p.K - pc);
      const float beta = pc == 0 ? p.beta : 1.0f;
      const bool last = pc + kc >= p.K;
      const float* ablk = a_all + pc * mpad;
      uk.pack_b(kc, width, p.B.data + pc * p.B.rs + jc, p.B.rs, 1, nr, bp);
      // The next block: the next kb rows of these columns, else the first rows of the next ones.
      int64_t npc = pc + kc, njc = jc;
      if (npc >= p.K) npc = 0, njc = jc + width;
      const int64_t nrows = njc < j1 ? std::min(kb, p.K - npc) : 0;
      const int64_t lines = (std::min(wmax, j1 - njc) * int64_t(sizeof(float)) + 63) / 64 + 1;  // + misalignment
      const char* next = reinterpret_cast<const char*>(p.B.data + npc * p.B.rs + njc);
      const int64_t per_panel = (nrows * lines + panels - 1) / panels;
      int64_t pf_row = 0, pf_line = 0;
      for (int64_t q = 0; q < panels; ++q) {
        const int64_t j = jc + q * nr;
        const int n = int(std::min<int64_t>(nr, jc + width - j));
        for (int64_t ir = 0; ir < p.M; ir += mr) {
          const int m = int(std::min<int64_t>(mr, p.M - ir));
          float* c = p.C.data + ir * p.C.rs + j * p.C.cs;
          uk.fn_ex(kc, p.alpha, ablk + ir * kc, bp + q * nr * kc, nr, beta, c, p.C.rs, p.C.cs, m, n,
                   tile_epilogue(p, ir, j, last, te));
        }
        for (int64_t t = 0; t < per_panel && pf_row < nrows; ++t) {
          __builtin_prefetch(next + pf_row * row_bytes + pf_line * 64, 0, 2);
          if (++pf_line == lines) pf_line = 0, ++pf_row;
        }
      }
    }
  }
}

void column_schedule(const Problem& p, Plan& pl, int tid, int nthr) {
  const SgemmUkernelInfo& uk = *pl.uk;
  const int64_t kcb = pl.blk.kc, mpad = round_up(p.M, uk.mr);
  float* a_all = pl.shared[0];
  // 1. A, whole: block pc (kc wide) at a_all + pc * mpad; blocks split among the threads.
  const int64_t kblocks = (p.K + kcb - 1) / kcb;
  for (int64_t q = kblocks * tid / nthr; q < kblocks * (tid + 1) / nthr; ++q) {
    const int64_t pc = q * kcb, kc = std::min(kcb, p.K - pc);
    uk.pack_a(p.M, kc, p.A.data + pc * p.A.cs, p.A.rs, p.A.cs, uk.mr, a_all + pc * mpad);
  }
  pl.barrier.wait(nthr);
  // 2. Each thread owns a fixed column range of C for the whole K (no more barriers) and walks
  //    K outside: B is then read block after block of whole rows (streaming, each element once),
  //    the thread's part of each block packed privately in pieces of ≤ chunk columns.
  const int64_t ntiles = (p.N + uk.nr - 1) / uk.nr;
  const int64_t j0 = ntiles * tid / nthr * uk.nr, j1 = std::min(p.N, ntiles * (tid + 1) / nthr * uk.nr);
  float* bp = pl.priv + size_t(tid) * pl.priv_stride;
  if (pl.stream_b) return column_streamed_b(p, pl, a_all, mpad, j0, j1, bp);
  for (int64_t pc = 0; pc < p.K; pc += kcb) {
    const int64_t kc = std::min(kcb, p.K - pc);
    for (int64_t j = j0; j < j1; j += pl.chunk) {
      const int64_t nc = std::min(pl.chunk, j1 - j);
      uk.pack_b(kc, nc, p.B.data + pc * p.B.rs + j * p.B.cs, p.B.rs, p.B.cs, uk.nr, bp);
      macro_kernel(p, pl, 0, p.M, j, nc, kc, a_all + pc * mpad, nullptr, bp, pc == 0 ? p.beta : 1.0f,
                   pc + kc >= p.K);
    }
  }
}

// C(i, j) = epilogue(alpha·raw + beta·C(i, j)), one element (products-free and matrix-vector paths).
inline void finish_scalar(const Problem& p, int64_t i, int64_t j, float raw) {
  float* cij = p.C.data + i * p.C.rs + j * p.C.cs;
  float z = p.alpha * raw;
  if (p.beta != 0.0f) z += p.beta * *cij;
  if (!p.has_ep) {
    *cij = z;
    return;
  }
  if (p.bias) z += p.bias[p.bias_per_row ? i : j];
  *cij = p.dy ? p.dy[i * p.dy_rs + j * p.dy_cs] * activation_grad(p.act, z) : apply_activation(p.act, z);
}

// C = epilogue(beta·C), for problems without products (K == 0 or alpha == 0): A·B is never read,
// so NaN or Inf in A or B cannot leak in.
void scale_only(const Problem& p) {
  Problem q = p;
  q.alpha = 1.0f;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) finish_scalar(q, i, j, 0.0f);
}

// ---- matrix-vector products: M == 1 or N == 1 ----------------------------------------------------
// The matrix is streamed once, straight from memory (packing it would double the traffic of a
// memory-bound product); threads split the outputs.
struct GemvPlan {
  SgemvKernel fn = nullptr;
  bool dot = false;      // fn is the dot kernel (w's rows are outputs) or the axpy kernel
  const float* w = nullptr;
  int64_t ldw = 0;
  const float* x = nullptr;  // the vector operand, K elements, incx apart
  int64_t incx = 0;
  int64_t n = 0;             // outputs: along N when M == 1, along M when N == 1
  bool along_n = false;
};

GemvPlan plan_gemv(const Problem& p, const SgemmUkernelInfo& uk) {
  GemvPlan g;
  if (!uk.gemv_dot || !uk.gemv_axpy) return g;
  if (p.M == 1 && (p.B.cs == 1 || p.B.rs == 1)) {  // C row = a row · B
    g.along_n = true;
    g.n = p.N;
    g.x = p.A.data;
    g.incx = p.A.cs;
    g.w = p.B.data;
    g.dot = p.B.cs != 1;  // B column-major: its columns are contiguous dot-product rows
    g.ldw = g.dot ? p.B.cs : p.B.rs;
  } else if (p.N == 1 && (p.A.cs == 1 || p.A.rs == 1)) {  // C column = A · b column
    g.n = p.M;
    g.x = p.B.data;
    g.incx = p.B.rs;
    g.w = p.A.data;
    g.dot = p.A.cs == 1;
    g.ldw = g.dot ? p.A.rs : p.A.cs;
  } else {
    return g;
  }
  g.fn = g.dot ? uk.gemv_dot : uk.gemv_axpy;
  return g;
}

// xbuf: K floats (used when x is strided), ybuf: n floats.
void run_gemv(const Problem& p, const GemvPlan& g, float* xbuf, float* ybuf, int threads) {
  const float* x = g.x;
  if (g.incx != 1) {
    for (int64_t k = 0; k < p.K; ++k) xbuf[k] = g.x[k * g.incx];
    x = xbuf;
  }
  const int64_t unit = g.dot ? 4 : 64, units = (g.n + unit - 1) / unit;
  auto body = [&](int tid, int nthr) {
    const int64_t o0 = std::min(g.n, units * tid / nthr * unit), o1 = std::min(g.n, units * (tid + 1) / nthr * unit);
    if (o1 <= o0) return;
    g.fn(o1 - o0, p.K, g.w + (g.dot ? o0 * g.ldw : o0), g.ldw, x, ybuf + o0);
    for (int64_t o = o0; o < o1; ++o) finish_scalar(p, g.along_n ? 0 : o, g.along_n ? o : 0, ybuf[o]);
  };
  threads = int(std::min<int64_t>(threads, units));
  if (threads <= 1) body(0, 1);
  else parallel_run(threads, body);
}

void sgemm_impl(int64_t M, int64_t N, int64_t K, float alpha, ConstMatrix A, ConstMatrix B, float beta, Matrix C,
                const GemmEpilogue& ep, int max_threads) {
  if (M <= 0 || N <= 0) return;
  const SgemmUkernelInfo& uk = sgemm_ukernel_for(active_isa());
  Problem p{M, N, K, alpha, beta, A, B, C, nullptr, ep.bias_per_row, ep.act, ep.dy, ep.dy_rs, ep.dy_cs,
            ep.bias != nullptr || ep.act != Activation::none || ep.dy != nullptr};
  const int64_t bias_len = ep.bias ? (ep.bias_per_row ? M : N) : 0;

  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int want_threads = flops < kMinParallelFlops ? 1 : std::max(1, std::min(max_threads, get_num_threads()));

  // Small scratch: a contiguous copy of a strided bias; the matrix-vector path's x and y.
  const GemvPlan gemv = K > 0 && alpha != 0.0f ? plan_gemv(p, uk) : GemvPlan();
  const size_t bias_floats = ep.bias && ep.bias_stride != 1 ? padded(bias_len) : 0;
  const size_t gemv_floats = gemv.fn ? padded(K) + padded(gemv.n) : 0;
  float* small = t_small_arena.get(bias_floats + gemv_floats);
  p.bias = ep.bias;
  if (bias_floats) {
    for (int64_t i = 0; i < bias_len; ++i) small[i] = ep.bias[i * ep.bias_stride];
    p.bias = small;
  }
  if (K <= 0 || alpha == 0.0f) {
    scale_only(p);
    return;
  }
  if (gemv.fn) {
    run_gemv(p, gemv, small + bias_floats, small + bias_floats + padded(K), want_threads);
    return;
  }

  Plan pl;
  pl.uk = &uk;
  pl.blk = blocking_for(uk);
  // K blocks of equal size, up to 1.5× the nominal KC: K = 768 is one pass over C rather than
  // 512 + 256 (each pass reads and writes all of C; the B panel then streams from L2, which the
  // kernel's 11 B/cycle need allows).
  // MC follows so the A block stays about the size of L2.
  if (K > 0) {
    const int64_t blocks = (K + pl.blk.kc * 3 / 2 - 1) / (pl.blk.kc * 3 / 2);
    const int64_t kc = round_up((K + blocks - 1) / blocks, 8);
    pl.blk.mc = std::max<int64_t>(uk.mr, pl.blk.mc * pl.blk.kc / kc / uk.mr * uk.mr);
    pl.blk.kc = kc;
  }
  const Blocking& blk = pl.blk;
  int threads = want_threads;
  const int64_t mpad = round_up(M, uk.mr), npad = round_up(N, uk.nr);
  const int64_t kc1 = std::min(blk.kc, std::max<int64_t>(K, 1));
  const int64_t mtiles = mpad / uk.mr, ntiles = npad / uk.nr;
  size_t shared_floats, priv_floats;
  if (M <= kColumnScheduleMaxM && mpad * K * 4 <= kPackWholeMaxBytes) {
    pl.kind = Plan::column;
    threads = int(std::min<int64_t>(threads, ntiles));
    // Pieces of at most kColumnChunkBytes of packed B.
    pl.chunk = std::max<int64_t>(1, kColumnChunkBytes / (kc1 * uk.nr * 4)) * uk.nr;
    shared_floats = padded(mpad * K);
    priv_floats = padded(kc1 * pl.chunk);
    if (M <= kStreamBMaxTiles * uk.mr && B.cs == 1) {
      pl.stream_b = true;
      pl.blk.kc = kStreamBRows;  // A is packed in blocks of this K width too
      pl.chunk = std::max<int64_t>(1, kStreamBBlockBytes / (kStreamBRows * uk.nr * 4)) * uk.nr;
      priv_floats = padded(kStreamBRows * pl.chunk);
    }
  } else {
    threads = int(std::min<int64_t>(threads, mtiles));
    const int64_t per_chunk = threads == 1 ? mtiles : std::max<int64_t>(1, mtiles / (4 * threads));
    pl.chunk = std::min(blk.mc, per_chunk * uk.mr);
    priv_floats = padded(round_up(pl.chunk, uk.mr) * kc1);
    if (N <= blk.nc && npad * K * 4 <= kPackWholeMaxBytes) {
      pl.kind = Plan::row_whole_b;
      shared_floats = padded(npad * K);
      // Reading A in place skips its packing, which few column panels would not amortise.
      pl.direct_a = uk.fn_rowa != nullptr && A.cs == 1 && ntiles <= kDirectAMaxPanels;
    } else {
      pl.kind = Plan::row;
      shared_floats = 2 * padded(kc1 * std::min(blk.nc, npad));
    }
  }
  if (pl.kind != Plan::row_whole_b) pl.direct_a = false;
  if (pl.kind == Plan::column) {
    pl.nchunks = (N + pl.chunk - 1) / pl.chunk;
  } else {
    // Chunks of at most pl.chunk rows, as many as a multiple of the thread count, the row tiles
    // spread evenly: every chunk costs the same, so both threads reach the next barrier
    // together (a leftover chunk idled one core for a whole chunk per K block).
    pl.nchunks = std::min(round_up((M + pl.chunk - 1) / pl.chunk, threads), mtiles);
  }

  float* base = t_arena.get(shared_floats + priv_floats * size_t(threads));
  pl.shared[0] = base;
  pl.shared[1] = base + shared_floats / 2;  // row schedule: the second B buffer
  pl.priv = base + shared_floats;
  pl.priv_stride = priv_floats;
  pl.counter[0].store(0);
  pl.counter[1].store(0);
  auto body = [&](int tid, int nthr) {
    switch (pl.kind) {
      case Plan::column: return column_schedule(p, pl, tid, nthr);
      case Plan::row: return row_schedule(p, pl, tid, nthr);
      case Plan::row_whole_b: return row_whole_b_schedule(p, pl, tid, nthr);
    }
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
