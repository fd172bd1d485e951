// ThreadExitHook: runs a function when a thread that armed it exits, so that the C heap
// model's per-thread caches (record ids, frees on their way to the quarantine) go back to
// the shared lists instead of being lost with the thread.
//
// One pthread key per hook, created on first use. Arming is pthread_setspecific, which only
// the caches' slow paths call. It allocates nothing for the first 32 keys of a process
// (glibc's first-level block, PTHREAD_KEY_2NDLEVEL_SIZE) but may call calloc beyond them,
// which would recurse into the interposed allocator: a hook whose key is not among those
// stays unarmed, and a thread's cache is then lost at its exit (a bounded loss: one
// cache's worth of ids or frees per thread).
#pragma once

#include <pthread.h>

#include <atomic>

namespace cgosan {

class ThreadExitHook {
 public:
  explicit constexpr ThreadExitHook(void (*at_exit)()) : at_exit_(at_exit) {}
  ThreadExitHook(const ThreadExitHook&) = delete;
  ThreadExitHook& operator=(const ThreadExitHook&) = delete;

  // at_exit runs once when the calling thread exits; after it ran, a thread that fills its
  // cache again (a later destructor's frees) arms again, and glibc runs it again (up to
  // PTHREAD_DESTRUCTOR_ITERATIONS rounds). Returns whether the hook is armed.
  bool Arm();

 private:
  static void Run(void* hook);

  enum State : int { kNoKey, kCreating, kReady, kUnusable };
  void (*const at_exit_)();
  std::atomic<int> state_{kNoKey};
  pthread_key_t key_ = 0;
};

}  // namespace cgosan
