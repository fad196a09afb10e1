#include "common/workspace.h"

namespace fastnn {
namespace {
constexpr int kSlots = 4;
struct ThreadBuffers {
  AlignedPtr<float> buf[kSlots];
  size_t cap[kSlots] = {};
};
thread_local ThreadBuffers t_buffers;
}  // namespace

float* thread_workspace(int slot, size_t floats) {
  ThreadBuffers& tb = t_buffers;
  if (tb.cap[slot] < floats) {
    tb.buf[slot].reset();
    tb.buf[slot] = aligned_alloc_array<float>(floats);
    tb.cap[slot] = floats;
  }
  return tb.buf[slot].get();
}

}  // namespace fastnn
