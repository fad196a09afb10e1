// The intrinsics tools/avx512_emulation/emulated_avx512.h supplies (SIMDe 0.7.4 lacks them),
// each against a scalar transcription of Intel's definition: masked lanes left alone and never
// read (a masked-off lane on a PROT_NONE page must not fault), conversion rounding and overflow
// results, shift counts above 31, gather/scatter, and GCC's reduction order (exact float sums and
// NaN propagation). Run by tests/test_avx512_emulation_shim.py:
//   g++ -std=c++17 -O0 -mavx2 -mfma -include tools/avx512_emulation/emulated_avx512.h \
//       tools/avx512_emulation/check_shim.cpp -o check_shim && ./check_shim
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>

static int failures = 0, checks = 0;
static std::mt19937 rng(7);

static void expect(bool ok, const char* what, int detail) {
  ++checks;
  if (!ok) {
    ++failures;
    if (failures < 30) std::printf("FAIL %s (%d)\n", what, detail);
  }
}
static bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }
static void to_floats(__m512 v, float* t) { std::memcpy(t, &v, 64); }
static void to_ints(__m512i v, int32_t* t) { std::memcpy(t, &v, 64); }
static __m512 from_floats(const float* t) { return _mm512_loadu_ps(t); }
static __m512i from_ints(const int32_t* t) { return _mm512_loadu_si512(t); }

static void check_masked_moves() {
  std::uniform_real_distribution<float> d(-5, 5);
  for (int rep = 0; rep < 200; ++rep) {
    const __mmask16 k = __mmask16(rng());
    float src[16], mem[16], got[16];
    int32_t isrc[16], imem[16], igot[16];
    for (int i = 0; i < 16; ++i) src[i] = d(rng), mem[i] = d(rng), isrc[i] = int32_t(rng()), imem[i] = int32_t(rng());
    to_floats(_mm512_maskz_loadu_ps(k, mem), got);
    for (int i = 0; i < 16; ++i) expect(same_bits(got[i], (k >> i & 1) ? mem[i] : 0.0f), "maskz_loadu_ps", i);
    to_floats(_mm512_mask_loadu_ps(from_floats(src), k, mem), got);
    for (int i = 0; i < 16; ++i) expect(same_bits(got[i], (k >> i & 1) ? mem[i] : src[i]), "mask_loadu_ps", i);
    float out[16];
    std::memcpy(out, mem, 64);
    _mm512_mask_storeu_ps(out, k, from_floats(src));
    for (int i = 0; i < 16; ++i) expect(same_bits(out[i], (k >> i & 1) ? src[i] : mem[i]), "mask_storeu_ps", i);
    to_ints(_mm512_maskz_loadu_epi32(k, imem), igot);
    for (int i = 0; i < 16; ++i) expect(igot[i] == ((k >> i & 1) ? imem[i] : 0), "maskz_loadu_epi32", i);
    int32_t iout[16];
    std::memcpy(iout, imem, 64);
    _mm512_mask_storeu_epi32(iout, k, from_ints(isrc));
    for (int i = 0; i < 16; ++i) expect(iout[i] == ((k >> i & 1) ? isrc[i] : imem[i]), "mask_storeu_epi32", i);
  }
  // masked-off lanes on an inaccessible page: no fault (kernels load row tails this way)
  const long page = sysconf(_SC_PAGESIZE);
  char* mem = static_cast<char*>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  mprotect(mem + page, page, PROT_NONE);
  float* edge = reinterpret_cast<float*>(mem + page) - 5;  // 5 readable floats, then the guard page
  for (int i = 0; i < 5; ++i) edge[i] = float(i + 1);
  float got[16];
  to_floats(_mm512_maskz_loadu_ps(0x1f, edge), got);
  expect(got[4] == 5.0f && got[5] == 0.0f, "maskz_loadu_ps at a page end", 0);
  _mm512_mask_storeu_ps(edge, 0x1f, _mm512_set1_ps(9.0f));
  expect(edge[0] == 9.0f && edge[4] == 9.0f, "mask_storeu_ps at a page end", 0);
  to_floats(_mm512_mask_loadu_ps(_mm512_set1_ps(-1.0f), 0x3, edge + 3), got);
  expect(got[0] == 9.0f && got[1] == 9.0f && got[2] == -1.0f, "mask_loadu_ps at a page end", 0);
  munmap(mem, 2 * page);
}

static void check_conversions() {
  const float special[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2147483520.0f, 2147483648.0f, -2147483648.0f,
                           -2147483904.0f, NAN, INFINITY, -INFINITY, 1e-30f, -7.75f, 3.49999976f};
  float v[16];
  int32_t got[16];
  std::memcpy(v, special, 64);
  to_ints(_mm512_cvtps_epi32(from_floats(v)), got);
  for (int i = 0; i < 16; ++i) {
    const float r = std::nearbyint(v[i]);  // round to nearest even (default MXCSR)
    const int32_t want = (r >= -2147483648.0f && r < 2147483648.0f) ? int32_t(r) : INT32_MIN;
    expect(got[i] == want, "cvtps_epi32", i);
  }
  to_ints(_mm512_cvttps_epi32(from_floats(v)), got);
  for (int i = 0; i < 16; ++i) {
    const float r = std::trunc(v[i]);
    const int32_t want = (r >= -2147483648.0f && r < 2147483648.0f) ? int32_t(r) : INT32_MIN;
    expect(got[i] == want, "cvttps_epi32", i);
  }
  int32_t iv[16] = {0, 1, -1, 16777217, -16777217, INT32_MAX, INT32_MIN, 123456789, -7, 33554435, 8, 9, 10, 11, 12, 13};
  float fgot[16];
  to_floats(_mm512_cvtepi32_ps(from_ints(iv)), fgot);
  for (int i = 0; i < 16; ++i) expect(same_bits(fgot[i], float(iv[i])), "cvtepi32_ps", i);
  for (unsigned n : {0u, 1u, 7u, 23u, 31u, 32u, 40u}) {
    to_ints(_mm512_srai_epi32(from_ints(iv), n), got);
    for (int i = 0; i < 16; ++i) expect(got[i] == (n > 31 ? (iv[i] < 0 ? -1 : 0) : iv[i] >> n), "srai_epi32", int(n));
  }
  float seq[16];
  for (int i = 0; i < 16; ++i) seq[i] = float(i) - 3.25f;
  float half[8];
  __m256 h = _mm512_extractf32x8_ps(from_floats(seq), 1);
  std::memcpy(half, &h, 32);
  for (int i = 0; i < 8; ++i) expect(half[i] == seq[8 + i], "extractf32x8_ps 1", i);
  h = _mm512_extractf32x8_ps(from_floats(seq), 0);
  std::memcpy(half, &h, 32);
  for (int i = 0; i < 8; ++i) expect(half[i] == seq[i], "extractf32x8_ps 0", i);
  expect(_mm512_cvtss_f32(from_floats(seq)) == seq[0], "cvtss_f32", 0);
}

static void check_gather_scatter() {
  float table[200];
  for (int i = 0; i < 200; ++i) table[i] = float(i) * 0.5f;
  int32_t idx[16];
  for (int i = 0; i < 16; ++i) idx[i] = (i * 37 + 5) % 190 - 3;  // includes negative indices
  float got[16];
  to_floats(_mm512_i32gather_ps(from_ints(idx), table + 5, 4), got);
  for (int i = 0; i < 16; ++i) expect(got[i] == table[5 + idx[i]], "i32gather_ps", i);
  float out[200] = {};
  float val[16];
  for (int i = 0; i < 16; ++i) val[i] = float(i + 1);
  int32_t rep[16];
  for (int i = 0; i < 16; ++i) rep[i] = i % 5;  // repeated indices: the highest lane wins
  _mm512_i32scatter_ps(out + 10, from_ints(rep), from_floats(val), 4);
  for (int j = 0; j < 5; ++j) {
    int last = -1;
    for (int i = 0; i < 16; ++i)
      if (rep[i] == j) last = i;
    expect(out[10 + j] == val[last], "i32scatter_ps repeated index", j);
  }
  expect(out[9] == 0.0f && out[15] == 0.0f, "i32scatter_ps untouched", 0);
}

// GCC's order (avx512fintrin.h): halves, then 128-bit quarters, then pairs.
static float tree_add(const float* v) {
  float t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = v[8 + i] + v[i];
  for (int i = 0; i < 4; ++i) u[i] = t[4 + i] + t[i];
  const float w0 = u[0] + u[2], w1 = u[1] + u[3];
  return w0 + w1;
}
static float maxps(float a, float b) { return a > b ? a : b; }  // vmaxps: the second operand on NaN or equality
static float tree_max(const float* v) {
  float t[8], u[4];
  for (int i = 0; i < 8; ++i) t[i] = maxps(v[8 + i], v[i]);
  for (int i = 0; i < 4; ++i) u[i] = maxps(t[4 + i], t[i]);
  const float w[4] = {maxps(u[0], u[2]), maxps(u[1], u[3]), maxps(u[2], u[0]), maxps(u[3], u[1])};
  return maxps(w[0], w[1]);
}

static void check_reductions() {
  std::uniform_real_distribution<float> d(-1, 1);
  for (int rep = 0; rep < 500; ++rep) {
    float v[16];
    for (int i = 0; i < 16; ++i) v[i] = d(rng) * std::ldexp(1.0f, int(rng() % 40) - 20);  // order-sensitive sums
    if (rep % 7 == 0) v[rng() % 16] = NAN;
    expect(same_bits(_mm512_reduce_add_ps(from_floats(v)), tree_add(v)) ||
               (std::isnan(tree_add(v)) && std::isnan(_mm512_reduce_add_ps(from_floats(v)))),
           "reduce_add_ps order", rep);
    const float m = _mm512_reduce_max_ps(from_floats(v)), want = tree_max(v);
    expect(same_bits(m, want) || (std::isnan(m) && std::isnan(want)), "reduce_max_ps", rep);
  }
  float v[16];
  for (int i = 0; i < 16; ++i) v[i] = float(i == 11 ? 40 : i);
  expect(_mm512_reduce_max_ps(from_floats(v)) == 40.0f, "reduce_max_ps value", 0);
  expect(_mm512_reduce_min_ps(from_floats(v)) == 0.0f, "reduce_min_ps value", 0);
  expect(_mm512_reduce_add_ps(from_floats(v)) == 120.0f - 11.0f + 40.0f, "reduce_add_ps value", 0);
}

static void check_stream() {
  alignas(64) float buf[32] = {};
  _mm512_stream_ps(buf + 16, _mm512_set1_ps(3.0f));
  _mm_sfence();
  expect(buf[16] == 3.0f && buf[31] == 3.0f && buf[15] == 0.0f, "stream_ps", 0);
}

int main() {
  check_masked_moves();
  check_conversions();
  check_gather_scatter();
  check_reductions();
  check_stream();
  std::printf("emulated_avx512.h shim: %d checks, %d failures\n", checks, failures);
  return failures != 0;
}
