#pragma once
// Matrix-vector leaf kernels (contract in ukernel.h, SgemvKernel).
#include <cstdint>

namespace fastnn {

void sgemv_dot_ref(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y);
void sgemv_axpy_ref(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y);
#if defined(FASTNN_X86)
void sgemv_dot_avx2(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y);
void sgemv_axpy_avx2(int64_t n, int64_t k, const float* w, int64_t ldw, const float* x, float* y);
#endif

}  // namespace fastnn
