// The tracking allocator: every tensor byte goes through here, so live and peak bytes are exact.
// Peak bytes are how reversible training is judged; reset the peak before the phase you measure.
#pragma once
#include <cstddef>
#include <cstdint>

namespace frugal {

void* tracked_alloc(size_t bytes);  // 64-byte aligned, throws Error when out of memory
void tracked_free(void* ptr, size_t bytes);

int64_t live_bytes();
int64_t peak_bytes();
void reset_peak_bytes();  // peak := live
int64_t max_rss_bytes();  // the process's max resident set size (getrusage)

}  // namespace frugal
