// TokenBucket: a rate limit for decisions taken inside malloc (which blocks get a guard
// page): at most `rate` takes per second on average, in bursts of up to a tenth of it (at
// least 1), so that what the takes cost is spread over the second rather than paid at once
// (a short program would otherwise pay a whole second's worth at its start). Lock-free,
// allocation-free; the caller passes the clock and the rate, so that it needs no set-up
// before options are known and tests can drive time.
#pragma once

#include <atomic>
#include <cstdint>

namespace cgosan {

class TokenBucket {
 public:
  constexpr TokenBucket() = default;

  // rate: takes per second (0: no limit). now_ns: a monotonic clock.
  bool Take(int64_t now_ns, int64_t rate) {
    if (rate <= 0) return true;
    Refill(now_ns, rate);
    int64_t tokens = tokens_.load(std::memory_order_relaxed);
    while (tokens > 0) {
      if (tokens_.compare_exchange_weak(tokens, tokens - 1, std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

 private:
  static constexpr int64_t kSecond = 1000000000;
  static int64_t Burst(int64_t rate) { return rate >= 10 ? rate / 10 : 1; }

  // Adds the whole tokens earned since the last refill; the clock advances by exactly their
  // worth, so that a slow rate still earns its tokens between frequent takes.
  void Refill(int64_t now_ns, int64_t rate) {
    int64_t last = refilled_ns_.load(std::memory_order_relaxed);
    int64_t elapsed = now_ns - last;
    if (elapsed <= 0) return;
    if (elapsed > kSecond) elapsed = kSecond;  // no overflow (a burst is less than this)
    int64_t earned = elapsed * rate / kSecond;
    if (earned == 0) return;
    int64_t advanced = now_ns - last > kSecond ? now_ns : last + earned * kSecond / rate;
    if (!refilled_ns_.compare_exchange_strong(last, advanced, std::memory_order_relaxed)) {
      return;  // another thread refilled for this interval
    }
    int64_t tokens = tokens_.load(std::memory_order_relaxed);
    int64_t filled;
    do {
      filled = tokens + earned < Burst(rate) ? tokens + earned : Burst(rate);
    } while (!tokens_.compare_exchange_weak(tokens, filled, std::memory_order_relaxed));
  }

  std::atomic<int64_t> tokens_{0};
  std::atomic<int64_t> refilled_ns_{0};
};

}  // namespace cgosan
