#include "frugal/core/allocator.h"

#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "frugal/core/error.h"

namespace frugal {

namespace {
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};
}  // namespace

namespace {
// Training frees and re-allocates the same activation sizes every step. By default glibc serves
// large blocks with mmap and returns them on free, so every step page-faults its activations in
// anew (a fifth of the run time in profiles). Keeping blocks up to 32 MiB on the heap, untrimmed,
// lets them be reused.
bool keep_freed_blocks() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return true;
}

// Blocks above glibc's largest mmap threshold are still mapped and unmapped on every allocation,
// and a spiking net's activations ([T, N, ...], 26-110 MB at batch 128-256) mostly are: in profiles
// of `frugal eval` a third of the time went to page faults and page zeroing. Freed blocks of 8 MiB
// and more are kept and handed out again: the smallest kept block that holds the request, if it is
// at most twice its size (so a freed spike train can hold the next layer's smaller output). A
// request that no kept block fits releases kept blocks (oldest first) until live plus kept plus
// the new block is within the largest footprint these blocks already had, so the cache never
// raises the resident set above what the process would have reached without it.
struct BigBlocks {
  std::mutex mutex;
  std::vector<std::pair<void*, size_t>> kept;
  std::unordered_map<void*, size_t> live_sizes;  // a block handed out may be larger than asked for
  size_t kept_bytes = 0, live = 0, peak_footprint = 0;
};
constexpr size_t kBigBlock = size_t{8} << 20;

BigBlocks& big_blocks() {
  static BigBlocks* b = new BigBlocks();  // never destroyed: tensors may be freed during static destruction
  return *b;
}

void* alloc_big(size_t rounded) {
  BigBlocks& b = big_blocks();
  {
    std::lock_guard<std::mutex> lock(b.mutex);
    size_t best = b.kept.size();
    for (size_t i = 0; i < b.kept.size(); ++i) {
      const size_t size = b.kept[i].second;
      if (size >= rounded && size / 2 <= rounded && (best == b.kept.size() || size < b.kept[best].second)) best = i;
    }
    if (best < b.kept.size()) {
      const auto [ptr, size] = b.kept[best];
      b.kept.erase(b.kept.begin() + static_cast<std::ptrdiff_t>(best));
      b.kept_bytes -= size;
      b.live += size;
      b.live_sizes[ptr] = size;
      return ptr;
    }
    while (!b.kept.empty() && b.live + b.kept_bytes + rounded > b.peak_footprint) {
      std::free(b.kept.front().first);
      b.kept_bytes -= b.kept.front().second;
      b.kept.erase(b.kept.begin());
    }
  }
  void* ptr = std::aligned_alloc(64, rounded);
  if (!ptr) return nullptr;
  // Transparent huge pages where the system grants them on request: a fresh block then faults in
  // 2 MiB at a time instead of 4 KiB (the first batch of a run touches every block fresh).
  const uintptr_t page = 4096, begin = (reinterpret_cast<uintptr_t>(ptr) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(ptr) + rounded) / page * page;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  std::lock_guard<std::mutex> lock(b.mutex);
  b.live += rounded;
  b.live_sizes[ptr] = rounded;
  if (b.live + b.kept_bytes > b.peak_footprint) b.peak_footprint = b.live + b.kept_bytes;
  return ptr;
}

void free_big(void* ptr) {
  BigBlocks& b = big_blocks();
  std::lock_guard<std::mutex> lock(b.mutex);
  const auto it = b.live_sizes.find(ptr);
  const size_t size = it->second;
  b.live_sizes.erase(it);
  b.live -= size;
  b.kept.emplace_back(ptr, size);
  b.kept_bytes += size;
}

size_t rounded_size(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  return rounded == 0 ? 64 : rounded;
}
}  // namespace

void* tracked_alloc(size_t bytes) {
  static const bool tuned = keep_freed_blocks();
  (void)tuned;
  const size_t rounded = rounded_size(bytes);
  void* ptr = rounded >= kBigBlock ? alloc_big(rounded) : std::aligned_alloc(64, rounded);
  if (!ptr) throw Error("out of memory allocating " + std::to_string(bytes) + " bytes");
  int64_t live = g_live.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes);
  int64_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return ptr;
}

void tracked_free(void* ptr, size_t bytes) {
  if (!ptr) return;
  const size_t rounded = rounded_size(bytes);
  if (rounded >= kBigBlock) free_big(ptr);
  else std::free(ptr);
  g_live.fetch_sub(static_cast<int64_t>(bytes));
}

int64_t live_bytes() { return g_live.load(); }
int64_t peak_bytes() { return g_peak.load(); }
void reset_peak_bytes() { g_peak.store(g_live.load()); }

int64_t max_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace frugal
