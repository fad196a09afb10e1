#pragma once
// Small kernels that measure this machine's limits, so benchmarks can report % of peak.
#include <cstdint>

#include "common/cpu_features.h"

namespace fastnn {

struct PeakResult {
  double gflops_fp32;      // FMA throughput, all threads
  double copy_gbps;        // bytes read + written per second, large copy, all threads
  int threads;
  const char* isa;
};

// fma_iters: per thread, each iteration does (independent chains × vector width) FMAs.
PeakResult measure_peak(Isa isa, double seconds_per_probe, int64_t copy_bytes);

// Leaf loops (one per ISA translation unit): run `iters` iterations of independent FMA chains
// and return the number of flops performed; `sink` defeats dead-code elimination.
int64_t fma_loop_generic(int64_t iters, float* sink);
#if defined(FASTNN_X86)
int64_t fma_loop_avx2(int64_t iters, float* sink);
int64_t fma_loop_avx512(int64_t iters, float* sink);
#endif

}  // namespace fastnn
