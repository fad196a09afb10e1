#pragma once
// CPU feature detection and the run-time ISA choice.
//
// The active ISA starts as the best one the CPU (and OS) supports, or as FASTNN_ISA
// (avx512 | avx2 | generic) when set. An unknown or unsupported value is an error,
// never a silent fallback. Kernels read active_isa() once per call to pick their table row.
#include <cstdint>
#include <string>

namespace fastnn {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };
constexpr int kNumIsas = 3;

struct CpuFeatures {
  std::string vendor;
  std::string brand;
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool os_avx = false, os_avx512 = false;  // OS saves the YMM / ZMM state (XGETBV)
  int64_t l1d_bytes = 0, l2_bytes = 0, l3_bytes = 0;
};

const CpuFeatures& cpu_features();

const char* isa_name(Isa isa);
// Parses "avx512" | "avx2" | "generic"; throws ValueError naming `source` otherwise.
Isa parse_isa(const std::string& name, const char* source);
bool isa_supported(Isa isa);
Isa best_isa();

// The ISA kernels dispatch to. Thread-safe; set_active_isa throws if unsupported.
Isa active_isa();
void set_active_isa(Isa isa);
// Applies FASTNN_ISA from the environment (called at module import so a bad value fails early).
void init_isa_from_env();

}  // namespace fastnn
