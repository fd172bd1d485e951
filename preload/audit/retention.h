// Retention: finds Go pointers that C kept after the cgo call that handed them over
// returned (the cgo rule no tool checks), before anything crashes. An audit scans C-owned
// memory (live C heap blocks, C globals: preload/audit/c_memory.h) for words that point
// into live Go memory (GoHeapView), and confirms each candidate only when no cgo call that
// received a pointer into the same Go object was in progress on any thread while it was
// looked at: a call may legitimately keep its argument in C memory until it returns.
//
// Audits run on a thread of cgosan's own (every signal blocked), asked for after a cgo call
// with Go pointers returns (at most once per retention_interval_ms), when a map array is
// relocated or cleared, when the GC frees a range under efence, and at exit. One finding
// per (holder, Go object); non-fatal unless halt_on_error=1.
//
// A background pass is bounded so that a large heap never stalls the program: the block
// list is copied in steps (one shard lock held for at most 4096 slots), memory is read in
// 1 MiB slices, each followed by a pause at least as long (the thread takes at most half a
// core), and each slice's candidates are confirmed before the next. The exit audit is not
// paced; a background pass in progress gives up for it.
#pragma once

#include <cstdint>

namespace cgosan {

class Retention {
 public:
  // Go programs, after CgoCalls and GoHeapView are attached. Starts the audit thread.
  static void Attach();
  static bool Enabled();
  // Asks for an audit soon. Async-signal-safe (runtime hooks call it from SIGTRAP).
  static void Request();
  // Runs one audit now, on the calling thread (the exit helper). Waits for one in progress.
  static void AuditNow();
  static uint64_t Findings();  // go-pointer-retained findings reported so far
  static uint64_t Audits();
  // At verbosity 1: one line of audit statistics (passes, bytes, longest pass and pause).
  static void SayStats();
  static void AfterForkInChild();  // the child has no audit thread: audits are off there
};

}  // namespace cgosan
