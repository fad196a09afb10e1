#pragma once
// When memory-bound kernels write their outputs with non-temporal (streaming) stores.
//
// A normal store to a line not in cache first reads it (read-for-ownership), so a kernel that
// writes a large output moves its bytes twice. Streaming stores skip that read but also skip
// the cache, so they only pay off when the working set would not stay in cache anyway.
#include <cstdint>

namespace fastnn {

constexpr int64_t kStreamMinBytes = int64_t(16) << 20;

// bytes_touched: everything the call reads and writes.
inline bool use_streaming_stores(int64_t bytes_touched) { return bytes_touched >= kStreamMinBytes; }

}  // namespace fastnn
