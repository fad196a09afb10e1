// Compute cost of the AVX2 glue kernels alone: TSC cycles per element, one thread, data resident
// in L1 (4096 elements, best of 30 x 20 calls), so no memory time is included. Compare with the
// memory budget: at 80% of a copy bandwidth B (read + write) on P cores at TSC rate f, a kernel
// moving b bytes per element has P·f·b / (0.8·B) cycles per element per core; above that it
// cannot reach the bar whatever the memory system does (and compute overlaps memory only partly).
//   g++ -std=c++17 -O3 -mavx2 -mfma -DFASTNN_X86 -Icsrc bench/glue_compute_cost.cpp \
//       csrc/cpu/dropout/dropout_avx2.cpp -o /tmp/glue_compute_cost && /tmp/glue_compute_cost
#include <x86intrin.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "cpu/activation/activation_body.h"
#include "cpu/dropout/dropout_kernels.h"
#include "cpu/loss/loss_body.h"

using namespace fastnn;
using VO = VecAvx2;

template <class F>
static double cycles_per_elem(F&& f, int n) {
  double best = 1e30;
  for (int rep = 0; rep < 30; ++rep) {
    const unsigned long long t0 = __rdtsc();
    for (int k = 0; k < 20; ++k) f();
    best = std::min(best, double(__rdtsc() - t0) / 20 / n);
  }
  return best;
}

int main() {
  const int n = 4096;
  std::vector<float> x(n), g(n), p(n), t(n), y(n), o(n), s(n);
  for (int i = 0; i < n; ++i) {
    x[i] = -4.0f + 8.0f * float((i * 53) % 1000) / 1000.0f;
    g[i] = -1.0f + 2.0f * float((i * 91) % 1000) / 1000.0f;
    p[i] = 0.01f + 0.98f * float((i * 37) % 1000) / 1000.0f;
    t[i] = float((i * 71) % 1000) / 1000.0f;
    y[i] = std::tanh(x[i]);
  }
  static const char* const names[kNumActKinds] = {"relu", "leaky_relu", "gelu", "gelu_tanh",
                                                  "silu", "sigmoid",    "tanh", "softplus"};
  const ActivationKernels& A = make_activation_kernels<VO>();
  ActParams prm;
  std::printf("%-28s %s\n", "kernel", "TSC cycles / element (1 thread, L1)");
  for (int k = 0; k < kNumActKinds; ++k) {
    std::printf("%-28s %.2f\n", names[k], cycles_per_elem([&] { A.forward[k](x.data(), o.data(), n, prm, false); }, n));
    std::printf("%-28s %.2f\n", (std::string(names[k]) + "_backward(x)").c_str(),
                cycles_per_elem([&] { A.backward[k](g.data(), x.data(), o.data(), n, prm, false); }, n));
  }
  for (int k = 0; k < kNumActOutKinds; ++k)
    std::printf("%-28s %.2f\n", k ? "tanh_backward(y)" : "sigmoid_backward(y)",
                cycles_per_elem([&] { A.backward_from_output[k](g.data(), y.data(), o.data(), n, false); }, n));
  const LossKernels& L = make_loss_kernels<VO>();
  int64_t bad = 0;
  volatile double sink = 0;
  float m, sm;
  std::printf("%-28s %.2f\n", "binary_cross_entropy",
              cycles_per_elem([&] { sink = sink + L.bce(p.data(), t.data(), nullptr, nullptr, n, &bad); }, n));
  std::printf("%-28s %.2f\n", "bce_with_logits",
              cycles_per_elem([&] { sink = sink + L.bce_logits(x.data(), t.data(), nullptr, nullptr, nullptr, n); }, n));
  std::printf("%-28s %.2f\n", "cross_entropy row stats",
              cycles_per_elem([&] { L.ce_row_stats(x.data(), n, nullptr, &m, &sm, nullptr, nullptr); }, n));
  std::printf("%-28s %.2f\n", "softmax row", cycles_per_elem([&] { softmax_row<VO>(x.data(), o.data(), n, false, false, s.data(), nullptr); }, n));
  std::printf("%-28s %.2f\n", "log_softmax row", cycles_per_elem([&] { softmax_row<VO>(x.data(), o.data(), n, true, false, s.data(), nullptr); }, n));
  DropoutParams d;
  d.seed = 1, d.offset = 0, d.threshold = uint64_t(std::ceil(0.1 * 4294967296.0)), d.scale = 1.0f / 0.9f;
  int64_t start = 0;
  std::printf("%-28s %.2f\n", "dropout (Philox4x32-10)", cycles_per_elem([&] {
                dropout_avx2(x.data(), o.data(), nullptr, n, start, d, false);
                start += n;
              }, n));
  return 0;
}
