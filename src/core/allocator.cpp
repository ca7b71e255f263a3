#include "frugal/core/allocator.h"

#include <malloc.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

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
}  // namespace

namespace {
// Blocks above 32 MiB (glibc's largest mmap threshold) are still mmapped and unmapped on free
// whatever mallopt says; the spiking CNN's [T, N, 64, 8, 8] activations and gradients are 52 MB,
// and faulting them in anew each step took a fifth of its training time. A few freed ones are
// kept for the next request of the same size (oldest evicted first).
constexpr size_t kLargeBlock = size_t{32} << 20;
constexpr int kKeptLarge = 8;
struct KeptBlock {
  void* ptr = nullptr;
  size_t bytes = 0;
};
std::mutex g_kept_mutex;
KeptBlock g_kept[kKeptLarge];

size_t rounded_size(size_t bytes) { return bytes == 0 ? 64 : (bytes + 63) / 64 * 64; }

void* take_kept(size_t rounded) {
  std::lock_guard<std::mutex> lock(g_kept_mutex);
  for (KeptBlock& k : g_kept)
    if (k.ptr && k.bytes == rounded) {
      void* ptr = k.ptr;
      k.ptr = nullptr;
      return ptr;
    }
  return nullptr;
}

void keep_or_free(void* ptr, size_t rounded) {
  void* evicted = ptr;
  {
    std::lock_guard<std::mutex> lock(g_kept_mutex);
    int slot = kKeptLarge - 1;  // the oldest, unless a slot is free
    for (int i = 0; i < kKeptLarge; ++i)
      if (!g_kept[i].ptr) {
        slot = i;
        break;
      }
    evicted = g_kept[slot].ptr;
    for (int i = slot; i > 0; --i) g_kept[i] = g_kept[i - 1];
    g_kept[0] = {ptr, rounded};
  }
  std::free(evicted);
}
}  // namespace

void* tracked_alloc(size_t bytes) {
  static const bool tuned = keep_freed_blocks();
  (void)tuned;
  const size_t rounded = rounded_size(bytes);
  void* ptr = rounded > kLargeBlock ? take_kept(rounded) : nullptr;
  if (!ptr) ptr = std::aligned_alloc(64, rounded);
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
  if (rounded > kLargeBlock) keep_or_free(ptr, rounded);
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
