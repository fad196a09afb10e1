#include "common/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <unistd.h>

#include "common/errors.h"

#if defined(FASTNN_X86)
#include <cpuid.h>
#endif

namespace fastnn {
namespace {

#if defined(FASTNN_X86)
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

void detect_x86(CpuFeatures& f) {
  unsigned a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return;
  unsigned max_leaf = a;
  char vendor[13];
  std::memcpy(vendor + 0, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  vendor[12] = 0;
  f.vendor = vendor;

  __get_cpuid(1, &a, &b, &c, &d);
  f.sse42 = c & (1u << 20);
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  f.avx = c & (1u << 28);
  bool osxsave = c & (1u << 27);
  if (osxsave) {
    uint64_t xcr0 = read_xcr0();
    f.os_avx = (xcr0 & 0x6) == 0x6;        // XMM | YMM state
    f.os_avx512 = (xcr0 & 0xe6) == 0xe6;   // + opmask, ZMM_Hi256, Hi16_ZMM
  }
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
  }
  unsigned ext = 0;
  __get_cpuid(0x80000000, &ext, &b, &c, &d);
  if (ext >= 0x80000004) {
    unsigned regs[12];
    for (unsigned i = 0; i < 3; ++i)
      __get_cpuid(0x80000002 + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    char brand[49];
    std::memcpy(brand, regs, 48);
    brand[48] = 0;
    f.brand = brand;
    while (!f.brand.empty() && f.brand.back() == ' ') f.brand.pop_back();
  }
}
#endif

int64_t sysconf_or(int name, int64_t fallback) {
  long v = sysconf(name);
  return v > 0 ? v : fallback;
}

CpuFeatures detect() {
  CpuFeatures f;
#if defined(FASTNN_X86)
  detect_x86(f);
#endif
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  f.l1d_bytes = sysconf_or(_SC_LEVEL1_DCACHE_SIZE, 32 * 1024);
  f.l2_bytes = sysconf_or(_SC_LEVEL2_CACHE_SIZE, 512 * 1024);
  f.l3_bytes = sysconf_or(_SC_LEVEL3_CACHE_SIZE, 8 * 1024 * 1024);
#else
  f.l1d_bytes = 32 * 1024;
  f.l2_bytes = 512 * 1024;
  f.l3_bytes = 8 * 1024 * 1024;
#endif
  return f;
}

std::atomic<int> g_active{-1};
std::once_flag g_env_once;

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

Isa parse_isa(const std::string& name, const char* source) {
  if (name == "generic") return Isa::generic;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  throw ValueError(str_cat(source, "='", name, "' is not a known ISA; expected one of avx512, avx2, generic"));
}

bool isa_supported(Isa isa) {
#if defined(FASTNN_X86)
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::generic: return true;
    case Isa::avx2: return f.avx2 && f.fma && f.f16c && f.os_avx;
    case Isa::avx512:
#if defined(FASTNN_AVX512_EMULATED_BUILD)
      // Test build (CMake FASTNN_EMULATE_AVX512): the AVX-512 kernels are SIMDe code compiled for
      // AVX2+FMA, so they run wherever the AVX2 path does.
      return f.avx2 && f.fma && f.f16c && f.os_avx;
#endif
      return f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma && f.os_avx512;
  }
  return false;
#else
  return isa == Isa::generic;
#endif
}

Isa best_isa() {
  if (isa_supported(Isa::avx512)) return Isa::avx512;
  if (isa_supported(Isa::avx2)) return Isa::avx2;
  return Isa::generic;
}

void set_active_isa(Isa isa) {
  FASTNN_CHECK_VALUE(isa_supported(isa), "ISA '", isa_name(isa), "' is not supported by this CPU/build (best available: ",
                     isa_name(best_isa()), ")");
  g_active.store(int(isa), std::memory_order_relaxed);
}

void init_isa_from_env() {
  std::call_once(g_env_once, [] {
    const char* env = std::getenv("FASTNN_ISA");
    if (env && *env) {
      Isa isa = parse_isa(env, "FASTNN_ISA");
      FASTNN_CHECK_VALUE(isa_supported(isa), "FASTNN_ISA=", env, " is not supported by this CPU (best available: ",
                         isa_name(best_isa()), ")");
      g_active.store(int(isa));
    } else {
      g_active.store(int(best_isa()));
    }
  });
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v < 0) {
    init_isa_from_env();
    v = g_active.load();
  }
  return Isa(v);
}

}  // namespace fastnn
