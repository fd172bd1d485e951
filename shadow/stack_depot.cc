// StackDepot implementation: a fixed bucket array of record offsets plus a bump arena.
// Records are immutable once published, so readers need no lock.
#include "shadow/stack_depot.h"

#include <atomic>
#include <cstring>

#include "shadow/base/internal_mmap.h"

namespace cgosan {
namespace {

constexpr size_t kBuckets = 1 << 18;
constexpr size_t kArenaBytes = size_t{256} << 20;  // ids index 8-byte units: fits in 32 bits

struct Record {
  uint32_t next;  // id of the next record in the bucket chain
  uint32_t hash;
  uint32_t size;
  uint32_t pad;
  uintptr_t pcs[1];
};

struct Depot {
  std::atomic<uint32_t>* buckets;
  char* arena;
  std::atomic<size_t> used;  // bytes; starts at 8 so that offset 0 (id 0) is never a record
};

Depot g_depot;
std::atomic<int> g_init_state{0};  // 0 none, 1 initialising, 2 ready, 3 failed

bool EnsureInit() {
  int state = g_init_state.load(std::memory_order_acquire);
  if (state == 2) return true;
  if (state == 3) return false;
  int expected = 0;
  if (g_init_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    g_depot.buckets =
        static_cast<std::atomic<uint32_t>*>(InternalMmap(kBuckets * sizeof(uint32_t)));
    g_depot.arena = static_cast<char*>(InternalMmap(kArenaBytes));
    g_depot.used.store(8);
    bool ok = g_depot.buckets && g_depot.arena;
    g_init_state.store(ok ? 2 : 3, std::memory_order_release);
    return ok;
  }
  while ((state = g_init_state.load(std::memory_order_acquire)) == 1) {
  }
  return state == 2;
}

uint32_t HashPcs(const uintptr_t* pcs, int n) {
  uint64_t h = 0xcbf29ce484222325ull ^ static_cast<uint64_t>(n);
  for (int i = 0; i < n; ++i) {
    h ^= pcs[i];
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  return static_cast<uint32_t>(h ^ (h >> 32));
}

Record* RecordOf(uint32_t id) { return reinterpret_cast<Record*>(g_depot.arena + size_t{id} * 8); }

}  // namespace

StackId StackDepot::Put(const uintptr_t* pcs, int n) {
  if (n <= 0 || !EnsureInit()) return 0;
  if (n > kMaxDepth) n = kMaxDepth;
  uint32_t hash = HashPcs(pcs, n);
  std::atomic<uint32_t>& bucket = g_depot.buckets[hash & (kBuckets - 1)];
  uint32_t head = bucket.load(std::memory_order_acquire);
  for (uint32_t id = head; id != 0; id = RecordOf(id)->next) {
    Record* r = RecordOf(id);
    if (r->hash == hash && r->size == static_cast<uint32_t>(n) &&
        memcmp(r->pcs, pcs, n * sizeof(uintptr_t)) == 0) {
      return id;
    }
  }
  size_t bytes = offsetof(Record, pcs) + n * sizeof(uintptr_t);
  size_t offset = g_depot.used.fetch_add(bytes, std::memory_order_relaxed);
  if (offset + bytes > kArenaBytes) return 0;
  uint32_t id = static_cast<uint32_t>(offset / 8);
  Record* r = RecordOf(id);
  r->hash = hash;
  r->size = static_cast<uint32_t>(n);
  memcpy(r->pcs, pcs, n * sizeof(uintptr_t));
  // A concurrent insert of the same stack may win; a duplicate record is harmless.
  do {
    r->next = head;
  } while (!bucket.compare_exchange_weak(head, id, std::memory_order_release,
                                         std::memory_order_acquire));
  return id;
}

int StackDepot::Get(StackId id, const uintptr_t** pcs) {
  if (id == 0 || g_init_state.load(std::memory_order_acquire) != 2) return 0;
  if (size_t{id} * 8 >= g_depot.used.load(std::memory_order_relaxed)) return 0;
  Record* r = RecordOf(id);
  *pcs = r->pcs;
  return static_cast<int>(r->size);
}

}  // namespace cgosan
