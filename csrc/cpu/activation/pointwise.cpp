#include "cpu/activation/pointwise.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "common/cpu_features.h"
#include "common/parallel.h"
#include "common/workspace.h"

namespace fastnn {
namespace {

struct Plan {
  int nd = 0;
  int nops = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[kMaxPointwiseOperands][kMaxDims] = {};
  char* data[kMaxPointwiseOperands] = {};
  int esize[kMaxPointwiseOperands] = {};
  bool output[kMaxPointwiseOperands] = {};
  int64_t numel = 1;
  bool contiguous = false;
};

// Returns false when the shape is empty (nothing to do).
bool make_plan(int ndim, const int64_t* shape, int nops, const PwOperand* ops, Plan& p) {
  FASTNN_ASSERT(nops >= 1 && nops <= kMaxPointwiseOperands, "pointwise: bad operand count ", nops);
  FASTNN_ASSERT(ndim >= 0 && ndim <= kMaxDims, "pointwise: bad rank ", ndim);
  p.nops = nops;
  for (int k = 0; k < nops; ++k) {
    p.data[k] = static_cast<char*>(ops[k].data);
    p.esize[k] = ops[k].esize;
    p.output[k] = ops[k].output;
  }
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 0) return false;
    if (shape[d] == 1) continue;
    bool merge = p.nd > 0;
    for (int k = 0; k < nops && merge; ++k)
      if (p.data[k] && p.strides[k][p.nd - 1] != ops[k].strides[d] * shape[d]) merge = false;
    if (merge) {
      p.shape[p.nd - 1] *= shape[d];
      for (int k = 0; k < nops; ++k) p.strides[k][p.nd - 1] = p.data[k] ? ops[k].strides[d] : 0;
    } else {
      p.shape[p.nd] = shape[d];
      for (int k = 0; k < nops; ++k) p.strides[k][p.nd] = p.data[k] ? ops[k].strides[d] : 0;
      ++p.nd;
    }
  }
  if (p.nd == 0) {  // a single element
    p.nd = 1;
    p.shape[0] = 1;
    for (int k = 0; k < nops; ++k) p.strides[k][0] = 1;
  }
  p.numel = 1;
  for (int d = 0; d < p.nd; ++d) p.numel *= p.shape[d];
  p.contiguous = p.nd == 1;
  for (int k = 0; k < nops; ++k)
    if (p.data[k] && p.strides[k][0] != 1) p.contiguous = false;
  return true;
}

// Copies n elements of size es between a strided array and a dense buffer.
void gather(char* dst, const char* src, int64_t stride, int64_t n, int es) {
  if (stride == 1) {
    std::memcpy(dst, src, size_t(n) * es);
  } else if (es == 4) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
  } else {
    for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * es, src + i * stride * es, es);
  }
}

void scatter(char* dst, const char* src, int64_t stride, int64_t n, int es) {
  if (stride == 1) {
    std::memcpy(dst, src, size_t(n) * es);
  } else if (es == 4) {
    const float* s = reinterpret_cast<const float*>(src);
    float* d = reinterpret_cast<float*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i * stride] = s[i];
  } else {
    for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * stride * es, src + i * es, es);
  }
}

// Multi-index of flat index `pos` in the plan's shape.
void unflatten(const Plan& p, int64_t pos, int64_t* idx) {
  for (int d = p.nd - 1; d >= 0; --d) {
    idx[d] = pos % p.shape[d];
    pos /= p.shape[d];
  }
}

int64_t offset_of(const Plan& p, int k, const int64_t* idx) {
  int64_t off = 0;
  for (int d = 0; d < p.nd; ++d) off += idx[d] * p.strides[k][d];
  return off;
}

// Strided walk over flat indices [lo, hi) of the plan, in segments.
double run_strided(const Plan& p, int64_t lo, int64_t hi, const PwBlockFn& fn) {
  const int nd = p.nd;
  const int64_t inner = p.shape[nd - 1];
  // Short rows: segments span rows and everything is gathered, so a (1e6, 3) view does not make
  // a million three-element calls.
  const bool span_rows = inner < 256;
  char* buf = reinterpret_cast<char*>(
      thread_workspace(0, size_t(p.nops) * kPointwiseSegment * 8 / sizeof(float) + 16));
  auto slot = [&](int k) { return buf + size_t(k) * kPointwiseSegment * 8; };
  double total = 0.0;
  int64_t idx[kMaxDims];
  for (int64_t pos = lo; pos < hi;) {
    unflatten(p, pos, idx);
    PwBlock b;
    b.start = pos;
    b.direct = false;
    if (!span_rows) {  // one piece of one row: stride-1 operands in place
      const int64_t seg = std::min({inner - idx[nd - 1], hi - pos, kPointwiseSegment});
      for (int k = 0; k < p.nops; ++k) {
        b.ptr[k] = nullptr;
        if (!p.data[k]) continue;
        char* base = p.data[k] + offset_of(p, k, idx) * p.esize[k];
        if (p.strides[k][nd - 1] == 1) {
          b.ptr[k] = base;
        } else {
          if (!p.output[k]) gather(slot(k), base, p.strides[k][nd - 1], seg, p.esize[k]);
          b.ptr[k] = slot(k);
        }
      }
      b.n = seg;
      total += fn(b);
      for (int k = 0; k < p.nops; ++k) {
        if (!p.data[k] || !p.output[k] || p.strides[k][nd - 1] == 1) continue;
        scatter(p.data[k] + offset_of(p, k, idx) * p.esize[k], slot(k), p.strides[k][nd - 1], seg, p.esize[k]);
      }
      pos += seg;
    } else {  // several short rows: every operand through the buffers
      const int64_t seg = std::min(hi - pos, kPointwiseSegment);
      for (int k = 0; k < p.nops; ++k) b.ptr[k] = p.data[k] ? slot(k) : nullptr;
      auto walk = [&](bool outputs) {
        int64_t w[kMaxDims];
        std::copy(idx, idx + nd, w);
        for (int64_t done = 0; done < seg;) {
          const int64_t piece = std::min(inner - w[nd - 1], seg - done);
          for (int k = 0; k < p.nops; ++k) {
            if (!p.data[k] || p.output[k] != outputs) continue;
            char* arr = p.data[k] + offset_of(p, k, w) * p.esize[k];
            char* dense = slot(k) + done * p.esize[k];
            if (outputs)
              scatter(arr, dense, p.strides[k][nd - 1], piece, p.esize[k]);
            else
              gather(dense, arr, p.strides[k][nd - 1], piece, p.esize[k]);
          }
          done += piece;
          w[nd - 1] += piece;
          for (int d = nd - 1; d > 0 && w[d] == p.shape[d]; --d) {
            w[d] = 0;
            ++w[d - 1];
          }
        }
      };
      walk(false);
      b.n = seg;
      total += fn(b);
      walk(true);
      pos += seg;
    }
  }
  return total;
}

double run_range(const Plan& p, int64_t lo, int64_t hi, const PwBlockFn& fn) {
  if (!p.contiguous) return run_strided(p, lo, hi, fn);
  PwBlock b;
  for (int k = 0; k < p.nops; ++k) b.ptr[k] = p.data[k] ? p.data[k] + lo * p.esize[k] : nullptr;
  b.n = hi - lo;
  b.start = lo;
  b.direct = true;
  return fn(b);
}

}  // namespace

double pointwise_run(int ndim, const int64_t* shape, int nops, const PwOperand* ops, const PwBlockFn& fn,
                     int64_t chunk, int64_t grain) {
  Plan p;
  if (!make_plan(ndim, shape, nops, ops, p)) return 0.0;
  const int64_t n = p.numel;
  if (chunk <= 0) {  // plain map: pieces of `grain` elements (multiples of 64 keep stores aligned)
    dynamic_for(0, n, (std::max<int64_t>(grain, 64) + 63) / 64 * 64, [&](int64_t lo, int64_t hi) { run_range(p, lo, hi, fn); });
    return 0.0;
  }
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<double> partial(size_t(chunks), 0.0);
  dynamic_for(0, chunks, std::max<int64_t>(1, grain / chunk), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) partial[c] = run_range(p, c * chunk, std::min(n, (c + 1) * chunk), fn);
  });
  double total = 0.0;
  for (double v : partial) total += v;
  return total;
}

namespace {
std::atomic<int64_t> g_stream_threshold{-1};
}

bool pointwise_stream_stores(int64_t bytes) {
  int64_t threshold = g_stream_threshold.load(std::memory_order_relaxed);
  if (threshold < 0) {
    const int64_t llc = cpu_features().l3_bytes;
    threshold = llc > 0 ? llc : int64_t(32) << 20;
  }
  return bytes >= threshold;
}

void set_pointwise_stream_threshold(int64_t bytes) { g_stream_threshold.store(bytes < 0 ? -1 : bytes); }

}  // namespace fastnn
