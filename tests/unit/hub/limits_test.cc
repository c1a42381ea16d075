#include "hub/limits.h"

#include <gtest/gtest.h>

namespace tether {
namespace {

struct FakeClock {
  uint64_t ms = 1'000'000;
  NowMsFn fn() {
    return [this] { return ms; };
  }
};

TEST(RateLimiter, RequestsPerMinuteBurstThenSteadyRate) {
  FakeClock clock;
  RateLimiter rl(clock.fn());
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  LimitDecision d = rl.Admit("alice", 2, 0);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.retry_after_sec, 30);  // one request refills every 30 s at 2 rpm
  EXPECT_NE(d.message.find("2 requests per minute for key alice"), std::string::npos) << d.message;
  // Window edge: 1 ms early is still refused (and says 1 s, never 0), on the
  // millisecond it is admitted.
  clock.ms += 29'999;
  d = rl.Admit("alice", 2, 0);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.retry_after_sec, 1);
  clock.ms += 1;
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  EXPECT_FALSE(rl.Admit("alice", 2, 0).allow);
  // Other keys have their own buckets.
  EXPECT_TRUE(rl.Admit("bob", 2, 0).allow);
}

TEST(RateLimiter, SixtyRpmAndIdleRefillCapsAtOneMinute) {
  FakeClock clock;
  RateLimiter rl(clock.fn());
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(rl.Admit("k", 60, 0).allow) << i;
  LimitDecision d = rl.Admit("k", 60, 0);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.retry_after_sec, 1);
  clock.ms += 999;
  EXPECT_FALSE(rl.Admit("k", 60, 0).allow);
  clock.ms += 1;
  EXPECT_TRUE(rl.Admit("k", 60, 0).allow);
  // An hour idle refills one minute's worth, not sixty.
  clock.ms += 3'600'000;
  int admitted = 0;
  while (rl.Admit("k", 60, 0).allow) ++admitted;
  EXPECT_EQ(admitted, 60);
  // One request per minute: the wait is the whole minute.
  EXPECT_TRUE(rl.Admit("slow", 1, 0).allow);
  EXPECT_EQ(rl.Admit("slow", 1, 0).retry_after_sec, 60);
  // Unlimited.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(rl.Admit("free", 0, 0).allow);
}

TEST(RateLimiter, TokensPerMinuteDebitAfterTheFact) {
  FakeClock clock;
  RateLimiter rl(clock.fn());
  EXPECT_TRUE(rl.Admit("k", 0, 1000).allow);
  rl.RecordTokens("k", 1000, 1500);  // 500 tokens into debt
  LimitDecision d = rl.Admit("k", 0, 1000);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.retry_after_sec, 31);  // 500 tokens at 1000/min = 30 s, positive 1 ms later
  EXPECT_NE(d.message.find("1000 tokens per minute for key k"), std::string::npos) << d.message;
  clock.ms += 30'000;  // balance exactly 0: still refused
  EXPECT_FALSE(rl.Admit("k", 0, 1000).allow);
  clock.ms += 1;
  EXPECT_TRUE(rl.Admit("k", 0, 1000).allow);
}

TEST(RateLimiter, TokenDenialDoesNotSpendARequest) {
  FakeClock clock;
  RateLimiter rl(clock.fn());
  // 60000 tpm refills one token per millisecond; 2 rpm barely refills at all
  // in the few milliseconds this test spans.
  EXPECT_TRUE(rl.Admit("k", 2, 60000).allow);  // one of two requests left
  rl.RecordTokens("k", 60000, 60001);          // one token into debt
  LimitDecision d = rl.Admit("k", 2, 60000);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.retry_after_sec, 1);
  EXPECT_NE(d.message.find("token"), std::string::npos);
  clock.ms += 2;
  EXPECT_TRUE(rl.Admit("k", 2, 60000).allow);  // the refused request was not charged
  d = rl.Admit("k", 2, 60000);
  EXPECT_FALSE(d.allow);
  EXPECT_NE(d.message.find("requests per minute"), std::string::npos) << d.message;
}

TEST(RateLimiter, RefundGivesBackOneRequestAndNeverMoreThanAMinute) {
  FakeClock clock;
  RateLimiter rl(clock.fn());
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  EXPECT_FALSE(rl.Admit("alice", 2, 0).allow);
  rl.Refund("alice", 2);  // the second was refused later, by another check
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  EXPECT_FALSE(rl.Admit("alice", 2, 0).allow);
  // Refunds cap at a full bucket: three refunds on 2 rpm still admit two.
  for (int i = 0; i < 3; ++i) rl.Refund("alice", 2);
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  EXPECT_TRUE(rl.Admit("alice", 2, 0).allow);
  EXPECT_FALSE(rl.Admit("alice", 2, 0).allow);
  rl.Refund("nobody", 2);  // unknown keys: nothing to give back
  rl.Refund("alice", 0);   // unlimited: nothing to give back
}

TEST(ConcurrencyLimiter, LimitReleaseAndSlots) {
  ConcurrencyLimiter cl;
  EXPECT_TRUE(cl.Acquire("k", 2).allow);
  EXPECT_TRUE(cl.Acquire("k", 2).allow);
  LimitDecision d = cl.Acquire("k", 2);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.retry_after_sec, 1);
  EXPECT_NE(d.message.find("2 requests in flight"), std::string::npos) << d.message;
  EXPECT_TRUE(cl.Acquire("other", 2).allow);
  cl.Release("k");
  EXPECT_EQ(cl.InFlight("k"), 1);
  {
    LimitDecision sd;
    ConcurrencyLimiter::Slot s = cl.AcquireSlot("k", 2, &sd);
    EXPECT_TRUE(sd.allow);
    EXPECT_TRUE(s.held());
    EXPECT_EQ(cl.InFlight("k"), 2);
    ConcurrencyLimiter::Slot denied = cl.AcquireSlot("k", 2, &sd);
    EXPECT_FALSE(sd.allow);
    EXPECT_FALSE(denied.held());
    ConcurrencyLimiter::Slot moved = std::move(s);
    EXPECT_FALSE(s.held());
    EXPECT_EQ(cl.InFlight("k"), 2);
  }
  EXPECT_EQ(cl.InFlight("k"), 1);  // the moved-to slot released once, the moved-from none
  cl.Release("k");
  cl.Release("k");  // an extra release does not go negative
  EXPECT_EQ(cl.InFlight("k"), 0);
  EXPECT_TRUE(cl.Acquire("k", 1).allow);
  EXPECT_FALSE(cl.Acquire("k", 1).allow);
}

TEST(BudgetTracker, DailyBudgetResetsAtUtcMidnight) {
  FakeClock clock;
  clock.ms = 1795305540ull * 1000;  // 2026-11-21T23:59:00Z
  BudgetTracker b(clock.fn());
  b.Add("alice", 4.99);
  EXPECT_TRUE(b.Check("alice", 5, 0).allow);
  b.Add("alice", 0.01);
  LimitDecision d = b.Check("alice", 5, 0);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 402);
  EXPECT_EQ(d.message, "daily budget of $5.00 for key alice is spent; resets at 00:00 UTC");
  EXPECT_EQ(d.retry_after_sec, 60);
  EXPECT_TRUE(b.Check("bob", 5, 0).allow);
  clock.ms = 1795305600ull * 1000 - 1;  // 23:59:59.999
  EXPECT_FALSE(b.Check("alice", 5, 0).allow);
  clock.ms += 1;  // 2026-11-22T00:00:00Z
  EXPECT_TRUE(b.Check("alice", 5, 0).allow);
  EXPECT_DOUBLE_EQ(b.SpentToday("alice"), 0);
  EXPECT_NEAR(b.SpentThisMonth("alice"), 5.0, 1e-9);
}

TEST(BudgetTracker, MonthlyBudgetResetsOnTheFirst) {
  FakeClock clock;
  clock.ms = 1796040000ull * 1000;  // 2026-11-30T12:00:00Z
  BudgetTracker b(clock.fn());
  b.Restore("alice", 1, 10);  // seeded from the ledger at start-up
  LimitDecision d = b.Check("alice", 50, 10);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 402);
  EXPECT_EQ(d.message, "monthly budget of $10.00 for key alice is spent; resets on 2026-12-01 at 00:00 UTC");
  EXPECT_EQ(d.retry_after_sec, 12 * 3600);
  clock.ms = 1796083200ull * 1000;  // 2026-12-01T00:00:00Z
  EXPECT_TRUE(b.Check("alice", 50, 10).allow);
  EXPECT_DOUBLE_EQ(b.SpentThisMonth("alice"), 0);
  // Across a year boundary.
  clock.ms = 1798758000ull * 1000;  // 2026-12-31T23:00:00Z
  b.Add("alice", 10);
  d = b.Check("alice", 0, 10);
  EXPECT_NE(d.message.find("resets on 2027-01-01"), std::string::npos) << d.message;
  EXPECT_EQ(d.retry_after_sec, 3600);
  b.Add("alice", 0);      // ignored
  b.Add("alice", -5);     // ignored: refunds are not budget
  EXPECT_DOUBLE_EQ(b.SpentThisMonth("alice"), 10);
}

TEST(Calendar, UtcBoundaries) {
  EXPECT_EQ(UtcDayStart(1835442000), 1835442000 - 13 * 3600);  // 2028-02-29T13:00Z
  EXPECT_EQ(UtcMonthStart(1835442000), 1832976000);             // 2028-02-01
  EXPECT_EQ(UtcNextMonthStart(1835442000), 1835481600);         // 2028-03-01 (leap year)
  EXPECT_EQ(UtcNextMonthStart(1798758000), 1798761600);         // 2027-01-01
  EXPECT_EQ(UtcMonthStart(0), 0);
}

}  // namespace
}  // namespace tether
