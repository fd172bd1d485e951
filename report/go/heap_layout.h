// GoHeapLayout: the Go heap's own bookkeeping that cgosan reads to know Go objects from
// outside the runtime: mheap_.arenas (the arena index), heapArena.spans (page -> *mspan),
// the mspan fields that give an object's bounds, whether it is allocated (allocBits below
// freeindex) and pinned (pinnerBits, 1.21+), and runtime.allgptr/allglen (every g, for
// goroutine stacks). One entry per Go version, read off the DWARF of real binaries of each
// toolchain (the unit test HeapLayoutTest checks every installed one the same way); at
// attach the size of the binary's runtime.mheap_ symbol must match the entry, and every
// span read is checked for consistency (the span must contain the address) before use.
#pragma once

#include <cstdint>

namespace cgosan {

struct GoHeapLayout {
  int minor;               // Go 1.<minor>
  uint32_t mheap_size;     // sizeof(runtime.mheap): checked against runtime.mheap_'s symbol
  uint32_t mheap_arenas;   // mheap.arenas: [1]*[1<<22]*heapArena on linux/amd64
  uint32_t mheap_allspans; // mheap.allspans: []*mspan
  uint32_t arena_spans;    // heapArena.spans: [8192]*mspan
  uint32_t span_start, span_npages, span_freeindex, span_nelems;
  uint8_t index_bytes;     // size of freeindex and nelems: 8 (1.19, 1.21) or 2 (1.22+)
  uint32_t span_alloc_bits, span_pinner_bits;  // pinner_bits 0: no Pinner (1.19)
  uint32_t span_state, span_elemsize, span_limit;
  uint32_t g_atomicstatus, g_syscallsp;
  uint32_t m_alllink;  // runtime.m.alllink (the allm list)
};

// runtime mSpanState values.
constexpr uint8_t kGoSpanInUse = 1;   // heap objects
constexpr uint8_t kGoSpanManual = 2;  // goroutine stacks (and other manually managed memory)
constexpr uint32_t kGoStatusRunning = 2;  // _Grunning
constexpr uint32_t kGoStatusSyscall = 3;  // _Gsyscall (a cgo call too)
constexpr uint32_t kGoStatusDead = 6;     // _Gdead
constexpr uint64_t kGoPageBytes = 8192;
constexpr uint64_t kGoArenaBytes = uint64_t{64} << 20;
// linux/amd64: arenaBaseOffset 0xffff800000000000, arenaL1Bits 0, arenaL2Bits 22.
constexpr uint64_t kGoArenaBaseOffset = 0xffff800000000000ull;
constexpr uint64_t kGoArenaL2Entries = uint64_t{1} << 22;
constexpr uint64_t kGoPagesPerArena = kGoArenaBytes / kGoPageBytes;

// The layout for Go 1.<minor>, or nullptr.
const GoHeapLayout* FindGoHeapLayout(int minor);

// Index of addr's arena in mheap_.arenas[0] (may be out of range for a wild address).
inline uint64_t GoArenaIndex(uint64_t addr) { return (addr - kGoArenaBaseOffset) / kGoArenaBytes; }

}  // namespace cgosan
