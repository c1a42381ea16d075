#include "hub/accounts.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>

#include "tests/unit/hub/client_fixtures.h"

namespace tether {
namespace {

using testutil::LoadClientRecords;

constexpr uint64_t kNow = 784111777000;  // Sun, 06 Nov 1994 08:49:37 GMT, in ms

TEST(ParseRetryAfter, DelaySeconds) {
  EXPECT_EQ(ParseRetryAfter("120", kNow), 120000u);
  EXPECT_EQ(ParseRetryAfter("0", kNow), 0u);
  EXPECT_EQ(ParseRetryAfter(" 7 ", kNow), 7000u);
  EXPECT_FALSE(ParseRetryAfter("-1", kNow));
  EXPECT_FALSE(ParseRetryAfter("1.5", kNow));  // not delay-seconds (ParseResetHint takes it)
  EXPECT_FALSE(ParseRetryAfter("", kNow));
  EXPECT_FALSE(ParseRetryAfter("soon", kNow));
}

TEST(ParseRetryAfter, HttpDateAllThreeForms) {
  // RFC 9110 §5.6.7's example instant, 10 s after "now" in each form.
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", kNow), 10000u);
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:47 GMT", kNow), 10000u);
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:47 1994", kNow), 10000u);
  EXPECT_EQ(ParseRetryAfter("Mon, 07 Nov 1994 08:49:37 GMT", kNow), 86400000u);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:00 GMT", kNow), 0u);  // in the past
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 PST", kNow));
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Foo 1994 08:49:47 GMT", kNow));
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Nov 1994 25:49:47 GMT", kNow));
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT trailing", kNow));
}

TEST(ParseResetHint, TimestampsAndDurations) {
  EXPECT_EQ(ParseResetHint("1994-11-06T08:50:37Z", kNow), 60000u);
  EXPECT_EQ(ParseResetHint("1994-11-06T09:50:37+01:00", kNow), 60000u);
  EXPECT_EQ(ParseResetHint("1994-11-06T08:49:39.2Z", kNow), 3000u);  // fractions round up
  EXPECT_EQ(ParseResetHint("1m30s", kNow), 90000u);
  EXPECT_EQ(ParseResetHint("6m0s", kNow), 360000u);
  EXPECT_EQ(ParseResetHint("250ms", kNow), 250u);
  EXPECT_EQ(ParseResetHint("1.5", kNow), 1500u);
  EXPECT_FALSE(ParseResetHint("1 fortnight", kNow));
  EXPECT_FALSE(ParseResetHint("", kNow));
}

TEST(CooldownHintFromHeaders, PrefersRetryAfterThenLatestReset) {
  EXPECT_EQ(CooldownHintFromHeaders({{"retry-after", "30"}, {"x-ratelimit-reset-requests", "1s"}}), "30");
  EXPECT_EQ(CooldownHintFromHeaders({{"Retry-After-Ms", "1500"}}), "1500ms");
  EXPECT_EQ(CooldownHintFromHeaders({{"x-ratelimit-reset-requests", "1s"}, {"x-ratelimit-reset-tokens", "6m0s"}}), "6m0s");
  EXPECT_EQ(CooldownHintFromHeaders({{"content-type", "application/json"}}), "");
}

std::vector<AccountConfig> Three(int w0 = 1, int w1 = 1, int w2 = 1) {
  return {{"a", "sk-aaaaaaaaaaaaaaaa1111", 0, w0}, {"b", "sk-bbbbbbbbbbbbbbbb2222", 0, w1}, {"c", "sk-cccccccccccccccc3333", 0, w2}};
}

TEST(AccountPool, CooldownScheduleDoublesToCapAndResetsOnSuccess) {
  AccountPool pool({{"only", "sk-0123456789abcdef", 0, 1}});
  uint64_t now = kNow;
  const uint64_t expected[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 120000, 120000, 120000};
  for (uint64_t want : expected) {
    ASSERT_EQ(pool.Pick("", now), 0);
    pool.ReportResult(0, 429, "", now);
    EXPECT_EQ(pool.Pick("", now), -1);
    EXPECT_EQ(pool.NextAvailableMs(now), want);
    EXPECT_FALSE(pool.Available(0, now + want - 1));
    EXPECT_TRUE(pool.Available(0, now + want));
    now += want;
  }
  ASSERT_EQ(pool.Pick("", now), 0);
  pool.ReportResult(0, 200, "", now);  // success resets the exponent
  ASSERT_EQ(pool.Pick("", now), 0);
  pool.ReportResult(0, 503, "", now);  // 5xx cools down like 429
  EXPECT_EQ(pool.NextAvailableMs(now), 1000u);
  now += 1000;
  ASSERT_EQ(pool.Pick("", now), 0);
  pool.ReportResult(0, 0, "", now);  // transport error too
  EXPECT_EQ(pool.NextAvailableMs(now), 2000u);
}

TEST(AccountPool, ProviderHintOverridesBackoff) {
  AccountPool pool({{"only", "sk-0123456789abcdef", 0, 1}});
  ASSERT_EQ(pool.Pick("", kNow), 0);
  pool.ReportResult(0, 429, "7", kNow);
  EXPECT_EQ(pool.NextAvailableMs(kNow), 7000u);
  uint64_t now = kNow + 7000;
  ASSERT_EQ(pool.Pick("", now), 0);
  pool.ReportResult(0, 429, "Sun, 06 Nov 1994 08:50:37 GMT", now);  // 60 s after kNow
  EXPECT_EQ(pool.NextAvailableMs(now), 60000u - 7000u);
  now = kNow + 60000;
  ASSERT_EQ(pool.Pick("", now), 0);
  pool.ReportResult(0, 429, "6m0s", now);  // an OpenAI reset hint passed through
  EXPECT_EQ(pool.NextAvailableMs(now), 360000u);
  now += 360000;
  ASSERT_EQ(pool.Pick("", now), 0);
  pool.ReportResult(0, 429, "99999999999", now);  // capped at a day
  EXPECT_EQ(pool.NextAvailableMs(now), 24u * 3600 * 1000);
}

TEST(AccountPool, UnauthorizedDisablesUntilOperatorActsAndBadRequestChangesNothing) {
  AccountPool pool(Three());
  int a = pool.Pick("", kNow);
  pool.ReportResult(a, 400, "", kNow);
  EXPECT_TRUE(pool.Available(a, kNow));
  int b = pool.Pick("", kNow);
  ASSERT_NE(a, b);
  pool.ReportResult(b, 403, "", kNow, "Your key sk-bbbbbbbbbbbbbbbb2222 has no credit");
  EXPECT_FALSE(pool.Available(b, kNow));
  EXPECT_FALSE(pool.Available(b, kNow + 365ull * 86400 * 1000));  // no timeout
  for (int i = 0; i < 100; ++i) {
    int p = pool.Pick("", kNow + i);
    EXPECT_NE(p, b);
    pool.Release(p);
  }
  JsonPtr snap = pool.Snapshot(kNow);
  std::string text = PrintJson(snap.get());
  EXPECT_EQ(text.find("sk-bbbbbbbbbbbbbbbb2222"), std::string::npos) << text;
  EXPECT_EQ(text.find("bbbbbbbbbbbb"), std::string::npos) << text;
  const cJSON* acc = cJSON_GetArrayItem(JsonArr(snap.get(), "accounts"), b);
  EXPECT_STREQ(JsonStr(acc, "state"), "disabled");
  EXPECT_STREQ(JsonStr(acc, "key"), "****2222");
  std::string reason = JsonStrOr(acc, "disabled_reason", "");
  EXPECT_NE(reason.find("provider answered 403 at 1994-11-06T08:49:37Z"), std::string::npos) << reason;
  EXPECT_NE(reason.find("no credit"), std::string::npos) << reason;
  pool.Enable(b);
  EXPECT_TRUE(pool.Available(b, kNow));
  // 401 as well.
  int c = pool.Pick("", kNow);
  pool.ReportResult(c, 401, "", kNow);
  EXPECT_FALSE(pool.Available(c, kNow));
  EXPECT_EQ(pool.NextAvailableMs(kNow), 0u);  // others are still up
}

TEST(AccountPool, AllDisabledReportsNoRecovery) {
  AccountPool pool({{"x", "k", 0, 1}});
  pool.ReportResult(pool.Pick("", kNow), 401, "", kNow);
  EXPECT_EQ(pool.Pick("", kNow), -1);
  EXPECT_EQ(pool.NextAvailableMs(kNow), UINT64_MAX);
}

TEST(AccountPool, StickySessionsFollowHealth) {
  AccountPool pool(Three());
  int first = pool.Pick("session-1", kNow);
  ASSERT_GE(first, 0);
  for (int i = 0; i < 20; ++i) {
    pool.ReportResult(first, 200, "", kNow);
    EXPECT_EQ(pool.Pick("session-1", kNow + i), first);
  }
  // Other sessions spread over the other accounts.
  std::map<int, int> spread;
  for (int i = 0; i < 30; ++i) ++spread[pool.Pick("other-" + std::to_string(i), kNow)];
  EXPECT_EQ(spread.size(), 3u);
  // The session's account cools down: the session moves, and stays moved.
  pool.ReportResult(first, 429, "", kNow);
  int moved = pool.Pick("session-1", kNow);
  ASSERT_GE(moved, 0);
  EXPECT_NE(moved, first);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pool.Pick("session-1", kNow + 5000 + i), moved);
}

TEST(AccountPool, StickyMapIsBoundedLru) {
  AccountPool pool(Three(), 3);
  int s1 = pool.Pick("s1", kNow);
  pool.Pick("s2", kNow);
  pool.Pick("s3", kNow);
  EXPECT_EQ(pool.Pick("s1", kNow), s1);  // s1 is now the most recent
  pool.Pick("s4", kNow);                 // evicts s2, the least recent
  EXPECT_EQ(pool.session_count(), 3u);
  // s1 survived eviction: still sticky across many picks.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.Pick("s1", kNow), s1);
}

TEST(AccountPool, WeightsRespectedOverAThousandPicks) {
  AccountPool pool(Three(5, 3, 2));
  std::map<int, int> n;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    int p = pool.Pick("", kNow);
    ++n[p];
    pool.ReportResult(p, 200, "", kNow);
  }
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / 1000;
  std::printf("AccountPool Pick+ReportResult (3 accounts): %.0f ns\n", ns);
  EXPECT_NEAR(n[0], 500, 25);
  EXPECT_NEAR(n[1], 300, 15);
  EXPECT_NEAR(n[2], 200, 10);
  // Smooth: the heaviest never gets more than its share in a row.
  AccountPool p2(Three(5, 3, 2));
  std::string seq;
  for (int i = 0; i < 10; ++i) seq += static_cast<char>('a' + p2.Pick("", kNow));
  EXPECT_EQ(seq.find("aaa"), std::string::npos) << seq;
}

TEST(AccountPool, PriorityTiersFailOver) {
  AccountPool pool({{"backup", "k1", 1, 10}, {"primary1", "k2", 0, 1}, {"primary2", "k3", 0, 1}});
  for (int i = 0; i < 10; ++i) EXPECT_NE(pool.Pick("", kNow), 0);
  pool.ReportResult(1, 500, "", kNow);
  EXPECT_EQ(pool.Pick("", kNow), 2);
  pool.ReportResult(2, 500, "", kNow);
  EXPECT_EQ(pool.Pick("", kNow), 0);  // both primaries cooling: the backup
  EXPECT_NE(pool.Pick("", kNow + 1000), 0);  // a primary is back after 1 s
}

TEST(AccountPool, SnapshotCountsInFlightAndErrors) {
  AccountPool pool({{"x", "sk-live-1234567890abcd", 0, 1}});
  pool.Pick("", kNow);
  pool.Pick("", kNow);
  pool.ReportResult(0, 502, "", kNow);
  JsonPtr snap = pool.Snapshot(kNow + 500);
  const cJSON* a = cJSON_GetArrayItem(JsonArr(snap.get(), "accounts"), 0);
  EXPECT_EQ(JsonNum(a, "in_flight", -1), 1);
  EXPECT_EQ(JsonNum(a, "errors_5m", -1), 1);
  EXPECT_EQ(JsonNum(a, "last_status", -1), 502);
  EXPECT_STREQ(JsonStr(a, "state"), "cooldown");
  EXPECT_EQ(JsonNum(a, "cooldown_remaining_ms", -1), 500);
  EXPECT_STREQ(JsonStr(a, "key"), "****abcd");
  EXPECT_EQ(PrintJson(snap.get()).find("1234567890"), std::string::npos);
  snap = pool.Snapshot(kNow + 6 * 60 * 1000);
  a = cJSON_GetArrayItem(JsonArr(snap.get(), "accounts"), 0);
  EXPECT_EQ(JsonNum(a, "errors_5m", -1), 0);
  EXPECT_STREQ(JsonStr(a, "state"), "healthy");
  pool.Release(0);
  EXPECT_EQ(JsonNum(cJSON_GetArrayItem(JsonArr(pool.Snapshot(kNow).get(), "accounts"), 0), "in_flight", -1), 0);
}

// SessionKeyFromRequest takes the raw text of two body members, as the
// gateway's scan finds them; the fixtures come parsed, so print them back.
std::string SessionKeyOf(const HeaderList& headers, const cJSON* body) {
  const cJSON* metadata = JsonGet(body, "metadata");
  const cJSON* pck = JsonGet(body, "prompt_cache_key");
  return SessionKeyFromRequest(headers, metadata ? PrintJson(metadata) : "", pck ? PrintJson(pck) : "");
}

TEST(SessionKey, ClaudeCodeFixtures) {
  int checked = 0;
  for (const char* file : {"claude-code.jsonl", "claude-code-tool.jsonl", "claude-code-authtoken.jsonl"}) {
    for (const auto& r : LoadClientRecords(file)) {
      if (!r.body) continue;
      std::string header = r.Header("X-Claude-Code-Session-Id");
      ASSERT_FALSE(header.empty()) << file;
      EXPECT_EQ(SessionKeyOf(r.headers, r.body.get()), header);
      // Without the header, metadata.user_id yields the same session.
      HeaderList no_header;
      for (const auto& h : r.headers)
        if (strcasecmp(h.first.c_str(), "x-claude-code-session-id") != 0) no_header.push_back(h);
      EXPECT_EQ(SessionKeyOf(no_header, r.body.get()), header) << file;
      ++checked;
    }
  }
  EXPECT_GE(checked, 3);
  // The older user_id shape.
  auto body = ParseJson(R"({"metadata":{"user_id":"user_abc123_account__session_9f1c-77"}})");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(SessionKeyOf({}, body->get()), "9f1c-77");
}

TEST(SessionKey, CodexFixtures) {
  int checked = 0;
  for (const char* file : {"codex.jsonl", "codex-tool.jsonl"}) {
    for (const auto& r : LoadClientRecords(file)) {
      if (!r.body) continue;
      std::string header = r.Header("session-id");
      ASSERT_FALSE(header.empty()) << file;
      EXPECT_EQ(SessionKeyOf(r.headers, r.body.get()), header);
      EXPECT_EQ(SessionKeyOf({}, r.body.get()), JsonStrOr(r.body.get(), "prompt_cache_key", "?"));
      ++checked;
    }
  }
  EXPECT_GE(checked, 3);
  EXPECT_EQ(SessionKeyFromRequest({{"session_id", "older-codex"}}, "", ""), "older-codex");
}

TEST(SessionKey, RawMembersWithEscapes) {
  // metadata.user_id is itself JSON text, escaped inside a JSON string.
  EXPECT_EQ(SessionKeyFromRequest({}, R"({"user_id":"{\"device_id\":\"d1\",\"session_id\":\"s-\u00e9\"}"})", ""), "s-\xc3\xa9");
  EXPECT_EQ(SessionKeyFromRequest({}, "", R"("pc\/key")"), "pc/key");
  // Members of the wrong type carry no session.
  EXPECT_EQ(SessionKeyFromRequest({}, R"({"user_id":42})", "7"), "");
  EXPECT_EQ(SessionKeyFromRequest({}, R"(["user_id"])", ""), "");
}

TEST(SessionKey, SdkRequestsHaveNone) {
  for (const char* file : {"openai-sdk.jsonl", "anthropic-sdk.jsonl", "genai-sdk.jsonl", "gemini-cli.jsonl"})
    for (const auto& r : LoadClientRecords(file)) EXPECT_EQ(SessionKeyOf(r.headers, r.body.get()), "") << file;
}

}  // namespace
}  // namespace tether
