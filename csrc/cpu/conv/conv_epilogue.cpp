#include "cpu/conv/conv_epilogue.h"

#include "cpu/activation_math.h"

namespace fastnn {

void conv_epilogue_ref(float* c, int64_t rs, int64_t cs, int m, int n, const float* bias, Activation act) {
  if (!bias && act == Activation::none) return;
  for (int i = 0; i < m; ++i) {
    const float b = bias ? bias[i] : 0.0f;
    float* ci = c + i * rs;
    for (int j = 0; j < n; ++j) ci[j * cs] = apply_activation(act, ci[j * cs] + b);
  }
}

EpilogueFn conv_epilogue_for(Isa isa) {
  static const EpilogueFn table[kNumIsas] = {
      conv_epilogue_ref,
#if defined(FASTNN_X86)
      conv_epilogue_avx2,
      conv_epilogue_avx512,
#else
      conv_epilogue_ref,
      conv_epilogue_ref,
#endif
  };
  return table[int(isa)];
}

}  // namespace fastnn
