// GoMappings implementation: a fixed array of disjoint [begin, end) ranges, sorted.
#include "shadow/go_mappings.h"

#include <atomic>

#include "shadow/base/spin_lock.h"

namespace cgosan {
namespace {

constexpr int kMaxRanges = 1024;

struct Range {
  uintptr_t begin, end;
};

struct Table {
  SpinLock write_lock;
  int count = 0;
  Range ranges[kMaxRanges] = {};
};

Table g_table;
std::atomic<unsigned>& g_seq = GoMappings::seq_;

// Rewrites the table as ranges[0..n) under the sequence counter.
void Publish(const Range* ranges, int n) {
  g_seq.fetch_add(1, std::memory_order_acq_rel);
  for (int i = 0; i < n; ++i) g_table.ranges[i] = ranges[i];
  g_table.count = n;
  GoMappings::SetBounds(n ? ranges[0].begin : ~uintptr_t{0}, n ? ranges[n - 1].end : 0);
  g_seq.fetch_add(1, std::memory_order_release);
}

}  // namespace

void GoMappings::Add(uintptr_t addr, size_t length) {
  if (length == 0) return;
  SpinLockGuard guard(g_table.write_lock);
  static Range next[kMaxRanges];
  Range add = {addr, addr + length};
  int n = 0;
  bool placed = false;
  for (int i = 0; i < g_table.count; ++i) {
    Range r = g_table.ranges[i];
    if (r.end < add.begin) {
      next[n++] = r;
    } else if (add.end < r.begin) {
      if (!placed) next[n++] = add, placed = true;
      next[n++] = r;
    } else {  // overlapping or adjacent: merge into add
      if (r.begin < add.begin) add.begin = r.begin;
      if (r.end > add.end) add.end = r.end;
    }
    if (n >= kMaxRanges - 1) break;
  }
  if (!placed) next[n++] = add;
  Publish(next, n);
}

void GoMappings::Remove(uintptr_t addr, size_t length) {
  if (length == 0) return;
  SpinLockGuard guard(g_table.write_lock);
  static Range next[kMaxRanges];
  uintptr_t cut_begin = addr, cut_end = addr + length;
  int n = 0;
  for (int i = 0; i < g_table.count && n < kMaxRanges - 1; ++i) {
    Range r = g_table.ranges[i];
    if (r.end <= cut_begin || cut_end <= r.begin) {
      next[n++] = r;
      continue;
    }
    if (r.begin < cut_begin) next[n++] = {r.begin, cut_begin};
    if (cut_end < r.end) next[n++] = {cut_end, r.end};
  }
  Publish(next, n);
}

void GoMappings::SetBounds(uintptr_t low, uintptr_t high) {
  low_.store(low, std::memory_order_relaxed);
  high_.store(high, std::memory_order_relaxed);
}

// Never matches a counter value (writers leave it even between writes).
constexpr unsigned kNoSeq = 1;

__thread GoMappings::LastHit GoMappings::t_last_hit_ = {0, 0, kNoSeq};
__thread GoMappings::LastHit GoMappings::t_last_gap_ = {0, 0, kNoSeq};

namespace {

// Rewrites a remembered range. A signal handler on this thread may look in between: the
// entry is invalid (an odd counter) while its range is rewritten.
void Remember(GoMappings::LastHit* h, uintptr_t begin, uintptr_t end, unsigned seq) {
  h->seq = kNoSeq;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  h->begin = begin;
  h->size = end - begin;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  h->seq = seq;
}

}  // namespace

bool GoMappings::ContainsSearched(uintptr_t addr) {
  for (;;) {
    unsigned before = g_seq.load(std::memory_order_acquire);
    if (before & 1) continue;
    int lo = 0, hi = g_table.count;
    bool found = false;
    Range hit = {0, 0};
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      const Range& r = g_table.ranges[mid];
      if (addr < r.begin) {
        hi = mid;
      } else if (addr >= r.end) {
        lo = mid + 1;
      } else {
        found = true;
        hit = r;
        break;
      }
    }
    // Not found: ranges before lo end at or below addr, those from lo on begin above it.
    if (!found) {
      hit.begin = lo > 0 ? g_table.ranges[lo - 1].end : 0;
      hit.end = lo < g_table.count ? g_table.ranges[lo].begin : ~uintptr_t{0};
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    if (g_seq.load(std::memory_order_relaxed) != before) continue;
    Remember(found ? &t_last_hit_ : &t_last_gap_, hit.begin, hit.end, before);
    return found;
  }
}

size_t GoMappings::RangeCount() { return static_cast<size_t>(g_table.count); }

uint64_t GoMappings::Bytes() {
  SpinLockGuard guard(g_table.write_lock);
  uint64_t total = 0;
  for (int i = 0; i < g_table.count; ++i) total += g_table.ranges[i].end - g_table.ranges[i].begin;
  return total;
}

}  // namespace cgosan
