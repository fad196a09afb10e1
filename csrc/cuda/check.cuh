#pragma once
#include <cuda_runtime.h>

#include <stdexcept>

#include "common/errors.h"

// Every CUDA call and launch goes through one of these: failures raise RuntimeError naming
// the call or kernel and CUDA's own message.
#define FASTNN_CUDA_CHECK(expr)                                                                  \
  do {                                                                                           \
    cudaError_t err__ = (expr);                                                                  \
    if (err__ != cudaSuccess)                                                                    \
      throw std::runtime_error(::fastnn::str_cat("CUDA error in ", #expr, ": ", cudaGetErrorName(err__), \
                                                 " (", cudaGetErrorString(err__), ")"));       \
  } while (0)

#define FASTNN_CUDA_CHECK_LAUNCH(kernel_name)                                                    \
  do {                                                                                           \
    cudaError_t err__ = cudaGetLastError();                                                      \
    if (err__ != cudaSuccess)                                                                    \
      throw std::runtime_error(::fastnn::str_cat("CUDA kernel ", kernel_name, " failed to launch: ", \
                                                 cudaGetErrorName(err__), " (", cudaGetErrorString(err__), ")")); \
  } while (0)
