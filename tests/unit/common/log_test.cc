#include "common/log.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

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

TEST(RequestIds, PrefixThenACounterSoEveryIdDiffers) {
  RequestIds ids("req_1a2b3c4d");
  EXPECT_EQ(ids.Next(), "req_1a2b3c4d000000000001");
  EXPECT_EQ(ids.Next(), "req_1a2b3c4d000000000002");
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) seen.insert(ids.Next());
  EXPECT_EQ(seen.size(), 5000u);
  EXPECT_EQ(*seen.rbegin(), "req_1a2b3c4d00000000138a");  // 5002 in hex
}

}  // namespace
}  // namespace tether
