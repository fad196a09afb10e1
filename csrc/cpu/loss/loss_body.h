#pragma once
// The per-ISA loss kernel table (include only from loss_{generic,avx2,avx512}.cpp).
#include "cpu/loss/cross_entropy_body.h"
#include "cpu/loss/pointwise_loss_body.h"

namespace fastnn {
namespace {

template <class VO>
const LossKernels& make_loss_kernels() {
  static const LossKernels table = {
      &ce_row_stats<VO>, &ce_row_grad<VO>,     &ce_col_stats<VO>,        &ce_col_backward<VO>,
      &bce<VO>,          &bce_backward<VO>,    &bce_logits<VO>,          &bce_logits_backward<VO>,
      &mse<VO>,          &mse_backward<VO>,
  };
  return table;
}

}  // namespace
}  // namespace fastnn
