#include "cpu/peak/peak.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/parallel.h"
#include "common/workspace.h"

namespace fastnn {

int64_t fma_loop_generic(int64_t iters, float* sink) {
  float acc[16];
  for (int i = 0; i < 16; ++i) acc[i] = 0.001f * float(i);
  for (int64_t it = 0; it < iters; ++it)
    for (int i = 0; i < 16; ++i) acc[i] = std::fma(acc[i], 0.999999f, 1e-7f);
  float s = 0;
  for (float v : acc) s += v;
  *sink = s;
  return iters * 16 * 2;
}

namespace {

using Clock = std::chrono::steady_clock;

int64_t run_fma(Isa isa, int64_t iters, float* sink) {
  switch (isa) {
#if defined(FASTNN_X86)
    case Isa::avx512: return fma_loop_avx512(iters, sink);
    case Isa::avx2: return fma_loop_avx2(iters, sink);
#endif
    default: return fma_loop_generic(iters, sink);
  }
}

// All threads run the loop at once; the slowest thread's time bounds the aggregate rate.
double probe_fma(Isa isa, double seconds) {
  float sink = 0;
  int64_t iters = 1 << 16;
  for (;;) {  // calibrate on one thread
    auto t0 = Clock::now();
    run_fma(isa, iters, &sink);
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt > seconds / 10 || iters > (int64_t(1) << 36)) {
      iters = int64_t(double(iters) * (seconds / 3) / std::max(dt, 1e-9)) + 1;
      break;
    }
    iters *= 4;
  }
  double best = 0;
  const int threads = get_num_threads();
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<double> secs(threads, 0.0);
    std::vector<int64_t> flops(threads, 0);
    std::vector<float> sinks(threads, 0.f);
    parallel_run(threads, [&](int tid, int) {
      auto t0 = Clock::now();
      flops[tid] = run_fma(isa, iters, &sinks[tid]);
      secs[tid] = std::chrono::duration<double>(Clock::now() - t0).count();
    });
    double total = 0, slowest = 0;
    for (int t = 0; t < threads; ++t) total += double(flops[t]), slowest = std::max(slowest, secs[t]);
    best = std::max(best, total / slowest * 1e-9);
  }
  return best;
}

double probe_copy(int64_t bytes) {
  const size_t n = size_t(bytes / 4);
  AlignedPtr<float> src = aligned_alloc_array<float>(n), dst = aligned_alloc_array<float>(n);
  parallel_for(0, int64_t(n), 1 << 16, [&](int64_t lo, int64_t hi) {  // first touch on the worker threads
    for (int64_t i = lo; i < hi; ++i) src[i] = float(i & 1023), dst[i] = 0.f;
  });
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    parallel_for(0, int64_t(n), 1 << 16, [&](int64_t lo, int64_t hi) {
      std::memcpy(dst.get() + lo, src.get() + lo, size_t(hi - lo) * 4);
    });
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, 2.0 * double(n) * 4 / dt * 1e-9);
  }
  return best;
}

}  // namespace

PeakResult measure_peak(Isa isa, double seconds_per_probe, int64_t copy_bytes) {
  PeakResult r;
  r.gflops_fp32 = probe_fma(isa, seconds_per_probe);
  r.copy_gbps = copy_bytes > 0 ? probe_copy(copy_bytes) : 0.0;
  r.threads = get_num_threads();
  r.isa = isa_name(isa);
  return r;
}

}  // namespace fastnn
