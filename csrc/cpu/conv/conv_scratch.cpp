#include "cpu/conv/conv_scratch.h"

#include "common/workspace.h"

namespace fastnn {
namespace {

struct ScratchSet {
  AlignedPtr<float> buf[int(ConvScratch::count)];
  size_t cap[int(ConvScratch::count)] = {};
};
thread_local ScratchSet t_scratch;

}  // namespace

float* conv_scratch(ConvScratch id, size_t floats) {
  ScratchSet& s = t_scratch;
  const int i = int(id);
  if (s.cap[i] < floats) {
    s.buf[i].reset();
    s.buf[i] = aligned_alloc_array<float>(floats);
    s.cap[i] = floats;
  }
  return s.buf[i].get();
}

}  // namespace fastnn
