// ThreadExitHook implementation: the key's lazy creation and the destructor glibc calls.
#include "shadow/base/thread_exit_hook.h"

namespace cgosan {

namespace {
// glibc keeps the values of keys below this in the thread descriptor itself
// (PTHREAD_KEY_2NDLEVEL_SIZE); setting a higher key's value may allocate.
constexpr unsigned kKeysWithoutAllocation = 32;
}  // namespace

bool ThreadExitHook::Arm() {
  int state = state_.load(std::memory_order_acquire);
  if (state == kNoKey) {
    if (!state_.compare_exchange_strong(state, kCreating, std::memory_order_acq_rel)) {
      return false;  // another thread creates it: this one arms on its next slow path
    }
    pthread_key_t key;
    bool usable = pthread_key_create(&key, &ThreadExitHook::Run) == 0 &&
                  static_cast<unsigned>(key) < kKeysWithoutAllocation;
    key_ = key;
    state = usable ? kReady : kUnusable;
    state_.store(state, std::memory_order_release);
  }
  return state == kReady && pthread_setspecific(key_, this) == 0;
}

void ThreadExitHook::Run(void* hook) { static_cast<ThreadExitHook*>(hook)->at_exit_(); }

}  // namespace cgosan
