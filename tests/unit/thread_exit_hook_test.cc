// ThreadExitHook: the function runs at the exit of each thread that armed the hook, once
// per arming, and not for threads that never armed it.
#include "shadow/base/thread_exit_hook.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace cgosan {
namespace {

std::atomic<int> g_runs{0};
thread_local int t_rearm = 0;  // how many more times this thread arms again from at_exit

void CountRun();
ThreadExitHook g_hook(&CountRun);

void CountRun() {
  g_runs.fetch_add(1);
  // What a cache does when a later destructor's frees refill it: arm again.
  if (t_rearm > 0) {
    --t_rearm;
    g_hook.Arm();
  }
}

TEST(ThreadExitHookTest, RunsOnceAtTheExitOfEachArmedThread) {
  g_runs = 0;
  std::thread([] { EXPECT_TRUE(g_hook.Arm()); }).join();
  EXPECT_EQ(g_runs.load(), 1);
  std::thread([] {
    EXPECT_TRUE(g_hook.Arm());
    EXPECT_TRUE(g_hook.Arm());  // armed twice before exit: still one run
  }).join();
  EXPECT_EQ(g_runs.load(), 2);
  std::thread([] {}).join();  // never armed
  EXPECT_EQ(g_runs.load(), 2);
}

TEST(ThreadExitHookTest, ArmedAgainFromItsOwnRunItRunsAgain) {
  g_runs = 0;
  std::thread([] {
    t_rearm = 1;
    EXPECT_TRUE(g_hook.Arm());
  }).join();
  EXPECT_EQ(g_runs.load(), 2);
}

}  // namespace
}  // namespace cgosan
