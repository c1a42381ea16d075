#include "common/log.h"

#include <gtest/gtest.h>

namespace tether {
namespace {

TEST(LogTest, OneEventIsOneLine) {
  testing::internal::CaptureStderr();
  LogLine(LogLevel::kInfo, "hub", "first\nsecond\r\nthird");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "info hub: first second  third\n");
}

TEST(LogTest, BatchedLinesWaitForTheFlushButWarningsDoNot) {
  testing::internal::CaptureStderr();
  BatchLogLines(true);
  LogInfo("request", "id=1");
  LogInfo("request", "id=2");
  std::string held = testing::internal::GetCapturedStderr();
  testing::internal::CaptureStderr();
  LogWarn("hub", "provider down");  // flushes what is held, in order, then itself
  LogInfo("request", "id=3");
  FlushLogLines();
  BatchLogLines(false);
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(held, "");
  EXPECT_EQ(out, "info request: id=1\ninfo request: id=2\nwarn hub: provider down\ninfo request: id=3\n");
}

TEST(LogTest, TurningBatchingOffFlushes) {
  testing::internal::CaptureStderr();
  BatchLogLines(true);
  LogInfo("edge", "stopping");
  BatchLogLines(false);
  LogInfo("edge", "stopped");
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "info edge: stopping\ninfo edge: stopped\n");
}

}  // namespace
}  // namespace tether
