// Process and thread identity as the reports print them.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "report/report_writer.h"

namespace cgosan {
namespace {

TEST(ReportProcessInfoTest, CollectsPidExeArgvAndBuildId) {
  CollectProcessInfo();
  const ProcessInfo& p = CurrentProcessInfo();
  EXPECT_EQ(p.pid, getpid());
  ASSERT_NE(p.exe, nullptr);
  EXPECT_EQ(p.exe[0], '/');
  std::string exe = std::filesystem::read_symlink("/proc/self/exe");
  EXPECT_EQ(exe, p.exe);
  EXPECT_EQ(std::filesystem::path(exe).filename(), p.exe_name);
  EXPECT_EQ(std::string(p.exe).substr(strlen(p.exe) - strlen(p.exe_name)), p.exe_name);
  ASSERT_GE(p.argc, 1);
  ASSERT_NE(p.argv, nullptr);
  EXPECT_NE(std::string(p.argv[0]).find(p.exe_name), std::string::npos);
  EXPECT_EQ(p.argv[p.argc], nullptr);
  // Debian's toolchain links with --build-id.
  ASSERT_NE(p.build_id, nullptr);
  EXPECT_GE(strlen(p.build_id), 16u);
  for (const char* c = p.build_id; *c; ++c) EXPECT_TRUE(isxdigit(*c) && !isupper(*c)) << *c;
}

TEST(ReportProcessInfoTest, ThreadNameAndTid) {
  ThreadInfo main_info;
  CurrentThreadInfo(&main_info);
  EXPECT_EQ(main_info.tid, static_cast<pid_t>(syscall(SYS_gettid)));
  char want[32] = {};
  pthread_getname_np(pthread_self(), want, sizeof(want));
  EXPECT_STREQ(main_info.name, want);

  ThreadInfo worker;
  pid_t worker_tid = 0;
  std::thread t([&] {
    pthread_setname_np(pthread_self(), "worker-x");
    worker_tid = static_cast<pid_t>(syscall(SYS_gettid));
    CurrentThreadInfo(&worker);
  });
  t.join();
  EXPECT_EQ(worker.tid, worker_tid);
  EXPECT_NE(worker.tid, getpid());
  EXPECT_STREQ(worker.name, "worker-x");
  EXPECT_EQ(worker.goroutine, -1);
}

}  // namespace
}  // namespace cgosan
