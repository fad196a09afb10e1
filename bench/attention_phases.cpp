// Phase timer for the CPU flash-attention leaf kernels (forward, one thread, no mask): runs the
// loop of attention_forward.cpp's forward_block over one (b, h) head and reports the cycles spent
// in each phase (QKᵀ GEMM, online softmax, P·V GEMM with rescale) and the GFLOP/s of each GEMM.
//
//   g++ -O3 -std=c++17 -DFASTNN_X86=1 -Icsrc -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -c \
//       csrc/cpu/attention/kernels_avx512.cpp -o /tmp/k512.o
//   g++ -O3 -std=c++17 -mavx2 -mfma -mf16c -DFASTNN_X86=1 -Icsrc bench/attention_phases.cpp \
//       csrc/cpu/attention/kernels_avx2.cpp csrc/cpu/attention/kernels_ref.cpp csrc/cpu/attention/problem.cpp \
//       /tmp/k512.o -o /tmp/attention_phases
//   /tmp/attention_phases fwd|bwd L D bq [reps]
// As the drivers, the next key block's K and V rows (and, backward, its dK/dV accumulator rows) are
// prefetched toward L2; NO_PREFETCH=1 (or NO_ACC_PREFETCH=1 for the accumulators) turns that off.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <immintrin.h>

#include "cpu/attention/kernels.h"
#include "cpu/attention/problem.h"

using namespace fastnn::attn;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

float* aligned(size_t n) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, n * sizeof(float) + 64)) std::abort();
  std::memset(p, 0, n * sizeof(float));
  return static_cast<float*>(p);
}


}  // namespace

// Backward: the loop of attention_backward.cpp's backward_block over every query block of one head.
int run_bwd(int64_t L, int64_t D, int64_t bq, int reps) {
  const Leaves& lv = leaves_avx2();
  const int64_t bk = lv.bk, ld = padded_ld(bq), ldd = padded_ld(D);
  float* k = aligned(L * ldd);
  float* v = aligned(L * ldd);
  float* qst = aligned(D * ld);
  float* dot = aligned(D * ld);
  float* qr = aligned(bq * ldd);
  float* dor = aligned(bq * ldd);
  float* lse = aligned(ld);
  float* delta = aligned(ld);
  float* dqt = aligned(D * ld);
  float* s = aligned(bk * ld);
  float* dp = aligned(bk * ld);
  float* dk = aligned(L * ldd);
  float* dv = aligned(L * ldd);
  srand(1);
  for (int64_t i = 0; i < L * ldd; ++i) k[i] = float(rand()) / RAND_MAX - 0.5f, v[i] = float(rand()) / RAND_MAX - 0.5f;
  for (int64_t i = 0; i < D * ld; ++i) qst[i] = (float(rand()) / RAND_MAX - 0.5f) / std::sqrt(float(D)), dot[i] = qst[i];
  for (int64_t i = 0; i < bq * ldd; ++i) qr[i] = float(rand()) / RAND_MAX - 0.5f, dor[i] = qr[i];
  for (int64_t i = 0; i < ld; ++i) lse[i] = 5.0f, delta[i] = 0.1f;
  double best = 1e30, ph[6] = {};
  for (int r = 0; r < reps; ++r) {
    double acc[6] = {};
    const double t0 = now();
    for (int64_t q0 = 0; q0 < L; q0 += bq) {
      for (int64_t kb = 0; kb < L; kb += bk) {
        const int64_t nk = L - kb < bk ? L - kb : bk;
        double t[7];
        if (kb + bk < L && !std::getenv("NO_PREFETCH")) {  // as the driver: the next block toward L2
          prefetch_rows(k + (kb + bk) * ldd, ldd, 1, L - kb - bk < bk ? L - kb - bk : bk, D);
          prefetch_rows(v + (kb + bk) * ldd, ldd, 1, L - kb - bk < bk ? L - kb - bk : bk, D);
          if (!std::getenv("NO_ACC_PREFETCH")) {
            prefetch_rows(dk + (kb + bk) * ldd, ldd, 1, L - kb - bk < bk ? L - kb - bk : bk, D);
            prefetch_rows(dv + (kb + bk) * ldd, ldd, 1, L - kb - bk < bk ? L - kb - bk : bk, D);
          }
        }
        t[0] = now();
        lv.gemm(nk, bq, D, k + kb * ldd, ldd, 1, qst, ld, s, ld, GemmMode::store, nullptr);
        t[1] = now();
        lv.gemm(nk, bq, D, v + kb * ldd, ldd, 1, dot, ld, dp, ld, GemmMode::store, nullptr);
        t[2] = now();
        ScoreBlock blk{s, ld, nk, bq, nullptr, nullptr, ld, kNoCausal};
        lv.softmax_bwd(blk, lse, delta, dp, ld);
        t[3] = now();
        lv.gemm(nk, (D + 7) / 8 * 8, bq, s, ld, 1, dor, ldd, dv + kb * ldd, ldd, GemmMode::accumulate, nullptr);
        t[4] = now();
        lv.gemm(nk, (D + 7) / 8 * 8, bq, dp, ld, 1, qr, ldd, dk + kb * ldd, ldd, GemmMode::accumulate, nullptr);
        t[5] = now();
        lv.gemm(D, bq, nk, k + kb * ldd, 1, ldd, dp, ld, dqt, ld, GemmMode::accumulate, nullptr);
        t[6] = now();
        for (int i = 0; i < 6; ++i) acc[i] += t[i + 1] - t[i];
      }
    }
    const double tt = now() - t0;
    if (tt < best) {
      best = tt;
      for (int i = 0; i < 6; ++i) ph[i] = acc[i];
    }
  }
  const double g = 2.0 * L * L * D;
  std::printf("bwd L=%lld D=%lld bq=%lld bk=%lld: total %.2f ms, %.1f GFLOP/s (10·L²·D)\n", (long long)L, (long long)D,
              (long long)bq, (long long)bk, best * 1e3, 5 * g / best * 1e-9);
  const char* names[6] = {"S=KQ^T", "dP=VdO^T", "softmax", "dV+=PdO", "dK+=dSQ", "dQ+=KdS"};
  for (int i = 0; i < 6; ++i)
    std::printf("  %-9s %7.2f ms %5.1f%%  %.1f GFLOP/s\n", names[i], ph[i] * 1e3, 100 * ph[i] / best,
                i == 2 ? 0.0 : g / ph[i] * 1e-9);
  return 0;
}

// Register-only FMA throughput of this core right now (the machine is shared: normalise by it).
double fma_peak() {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  const int64_t iters = 20000000;
  const double t0 = now();
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  const double t = now() - t0;
  float sink = 0;
  for (int i = 0; i < 12; ++i) sink += _mm256_cvtss_f32(acc[i]);
  if (sink == 12345.0f) std::printf(" ");
  return 12.0 * 16 * iters / t * 1e-9;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "peak") == 0) {
    std::printf("FMA peak, this core now: %.1f GFLOP/s\n", fma_peak());
    return 0;
  }
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s fwd|bwd L D bq [reps]\n", argv[0]);
    return 2;
  }
  const int64_t L = std::atoll(argv[2]), D = std::atoll(argv[3]), bq = std::atoll(argv[4]);
  const int reps = argc > 5 ? std::atoi(argv[5]) : 3;
  if (std::strcmp(argv[1], "bwd") == 0) return run_bwd(L, D, bq, reps);
  const Leaves& lv = leaves_avx2();
  const int64_t bk = lv.bk, ld = padded_ld(bq), ldk = D;
  float* k = aligned(L * ldk);
  float* v = aligned(L * ldk);
  float* qt = aligned(D * ld);
  float* ot = aligned(D * ld);
  float* s = aligned(bk * lv.panel);
  float* m = aligned(ld);
  float* l = aligned(ld);
  const int64_t ldp = padded_ld(D);
  float* vp = aligned(bk * ldp);
  const bool copy = worth_packing(ldk, 1);  // as the driver decides
  srand(1);
  for (int64_t i = 0; i < L * ldk; ++i) k[i] = float(rand()) / RAND_MAX - 0.5f, v[i] = float(rand()) / RAND_MAX - 0.5f;
  for (int64_t i = 0; i < D * ld; ++i) qt[i] = (float(rand()) / RAND_MAX - 0.5f) / std::sqrt(float(D));
  if (std::getenv("GEMM_ONLY")) {  // the two products through the generic gemm leaf, for comparison
    float* sfull = aligned(bk * ld);
    float* alpha = aligned(ld);
    for (int64_t i = 0; i < ld; ++i) alpha[i] = 1.0f;
    double bestg = 1e30;
    for (int r = 0; r < reps; ++r) {
      const double t0 = now();
      for (int64_t q0 = 0; q0 < L; q0 += bq)
        for (int64_t kb = 0; kb < L; kb += bk) {
          const int64_t nk = L - kb < bk ? L - kb : bk;
          lv.gemm(nk, bq, D, k + kb * ldk, ldk, 1, qt, ld, sfull, ld, GemmMode::store, nullptr);
          lv.gemm(D, bq, nk, v + kb * ldk, 1, ldk, sfull, ld, ot, ld, GemmMode::rescale, alpha);
        }
      const double tt = now() - t0;
      if (tt < bestg) bestg = tt;
    }
    std::printf("gemm-only L=%lld D=%lld bq=%lld: %.2f ms, %.1f GFLOP/s\n", (long long)L, (long long)D, (long long)bq,
                bestg * 1e3, 4.0 * L * L * D / bestg * 1e-9);
  }
  double best = 1e30, t_pack = 0, t_att = 0;
  for (int r = 0; r < reps; ++r) {
    double a = 0, c = 0;
    const double t0 = now();
    for (int64_t q0 = 0; q0 < L; q0 += bq) {
      for (int64_t i = 0; i < ld; ++i) m[i] = -INFINITY, l[i] = 0;
      for (int64_t kb = 0; kb < L; kb += bk) {
        const int64_t nk = L - kb < bk ? L - kb : bk;
        const double t1 = now();
        const Rows kr = block_rows(k + kb * ldk, ldk, 1, nk, D, nullptr, ldp);  // K in place, as the driver
        const Rows vr = block_rows(v + kb * ldk, ldk, 1, nk, D, copy ? vp : nullptr, ldp);
        if (kb + bk < L && !std::getenv("NO_PREFETCH")) {  // as the driver: the next block toward L2
          prefetch_rows(k + (kb + bk) * ldk, ldk, 1, L - kb - bk < bk ? L - kb - bk : bk, D);
          prefetch_rows(v + (kb + bk) * ldk, ldk, 1, L - kb - bk < bk ? L - kb - bk : bk, D);
        }
        const double t2 = now();
        lv.attend(FwdBlock{nk, D, D, bq, kr.p, kr.sl, vr.p, vr.sl, qt, ld, ot, ld, m, l, s, nullptr, nullptr, 0,
                           kNoCausal});
        const double t3 = now();
        a += t2 - t1, c += t3 - t2;
      }
    }
    const double tt = now() - t0;
    if (tt < best) best = tt, t_pack = a, t_att = c;
  }
  std::printf("fwd L=%lld D=%lld bq=%lld bk=%lld: total %.2f ms, %.1f GFLOP/s (4·L²·D), pack %.1f%%, attend %.1f GFLOP/s\n",
              (long long)L, (long long)D, (long long)bq, (long long)bk, best * 1e3, 4.0 * L * L * D / best * 1e-9,
              100 * t_pack / best, 4.0 * L * L * D / t_att * 1e-9);
  return 0;
}
