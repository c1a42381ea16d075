#include "common/json_scan.h"

#include <gtest/gtest.h>

#include <string>

#include "common/json.h"
#include "tests/unit/hub/client_fixtures.h"

namespace tether {
namespace {

constexpr std::string_view kRequestKeys[] = {"model", "stream", "metadata", "prompt_cache_key"};

Status Scan(std::string_view text) {
  std::string_view values[4];
  return ScanJson(text, kRequestKeys, values);
}

TEST(ScanJson, FindsTopLevelMembersOnly) {
  std::string_view values[4];
  const std::string text =
      R"( {"messages":[{"model":"inner","stream":false}],"metadata":{"user_id":"u\"1"},)"
      R"("model" : "claude-sonnet-4-5","stream":true,"model":"second"} )";
  ASSERT_TRUE(ScanJson(text, kRequestKeys, values).ok());
  EXPECT_EQ(values[0], R"("claude-sonnet-4-5")");  // the first top-level one, as cJSON reads it
  EXPECT_EQ(values[1], "true");
  EXPECT_EQ(values[2], R"({"user_id":"u\"1"})");
  EXPECT_EQ(values[3], "");
}

TEST(ScanJson, AgreesWithCjsonOnEveryClientFixture) {
  int bodies = 0;
  for (const char* file : {"claude-code.jsonl", "claude-code-tool.jsonl", "claude-code-authtoken.jsonl", "codex.jsonl",
                           "codex-tool.jsonl", "gemini-cli.jsonl", "gemini-cli-tool.jsonl", "openai-sdk.jsonl",
                           "anthropic-sdk.jsonl", "genai-sdk.jsonl"}) {
    for (const auto& r : testutil::LoadClientRecords(file)) {
      if (!r.body) continue;
      std::string text = PrintJson(r.body.get());
      std::string_view values[4];
      ASSERT_TRUE(ScanJson(text, kRequestKeys, values).ok()) << file;
      for (size_t k = 0; k < 4; ++k) {
        const cJSON* member = JsonGet(r.body.get(), std::string(kRequestKeys[k]).c_str());
        EXPECT_EQ(values[k], member ? PrintJson(member) : "") << file << " " << kRequestKeys[k];
      }
      ++bodies;
    }
  }
  EXPECT_GE(bodies, 10);
}

TEST(ScanJson, AcceptsEveryKindOfValue) {
  for (const char* ok : {"{}", "[]", " [ ] ", "0", "-0", "1.5e+10", "-12.25E-3", "\"\"", "true", "false", "null",
                         R"(["\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"])", R"({"a":[1,{"b":null}],"c":{}})", "[\"\xC3\xA9\"]"}) {
    EXPECT_TRUE(Scan(ok).ok()) << ok;
  }
}

TEST(ScanJson, RejectsWhatRfc8259Rejects) {
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"", "empty body where JSON was expected"},
      {"  \n", "empty body where JSON was expected"},
      {R"({"a":1,})", "invalid JSON at byte 7"},
      {R"({"a" 1})", "invalid JSON at byte 5"},
      {R"({a:1})", "invalid JSON at byte 1"},
      {R"([1 2])", "invalid JSON at byte 3"},
      {R"({"a":"x)", "invalid JSON at byte 7"},
      {"[\"a\tb\"]", "invalid JSON at byte 3"},  // raw control character in a string
      {R"(["\x"])", "invalid JSON at byte 3"},
      {R"(["\u12G4"])", "invalid JSON at byte 6"},
      {"[01]", "invalid JSON at byte 2"},  // no leading zeros: "0" ends the number
      {"[1.]", "invalid JSON at byte 3"},
      {"[-]", "invalid JSON at byte 2"},
      {"[1e]", "invalid JSON at byte 3"},
      {"[tru]", "invalid JSON at byte 4"},
      {"[nul", "invalid JSON at byte 4"},
      {"{\"a\":1} x", "invalid JSON: trailing data at byte 8"},
      {"{\"a\":1}{}", "invalid JSON: trailing data at byte 7"},
      {"[1,2", "invalid JSON at byte 4"},
      {"[1}", "invalid JSON at byte 2"},
  };
  for (const Case& c : cases) {
    Status st = Scan(c.text);
    EXPECT_FALSE(st.ok()) << c.text;
    EXPECT_EQ(st.message(), c.message) << c.text;
  }
}

TEST(ScanJson, NestingLimitMatchesParseJson) {
  std::string deep(kMaxJsonDepth, '[');
  deep += std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(Scan(deep).ok());
  std::string deeper = "[" + deep + "]";
  Status st = Scan(deeper);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels at byte " +
                              std::to_string(kMaxJsonDepth));
}

TEST(ScanJson, LongStringsCrossTheVectorStepsAtEveryOffset) {
  // The string scan looks at 16 bytes at a time: put the quote, an escape
  // and a control character at every position around that step.
  for (size_t len = 0; len < 40; ++len) {
    std::string plain = "[\"" + std::string(len, 'x') + "\"]";
    EXPECT_TRUE(Scan(plain).ok()) << len;
    std::string escaped = "[\"" + std::string(len, 'x') + "\\\"y\"]";
    EXPECT_TRUE(Scan(escaped).ok()) << len;
    std::string control = "[\"" + std::string(len, 'x') + "\x01\"]";
    Status st = Scan(control);
    ASSERT_FALSE(st.ok()) << len;
    EXPECT_EQ(st.message(), "invalid JSON at byte " + std::to_string(2 + len));
    std::string cut = "[\"" + std::string(len, 'x');
    EXPECT_FALSE(Scan(cut).ok()) << len;
    EXPECT_EQ(JsonStringEnd(escaped, 1), escaped.size() - 1) << len;
  }
}

TEST(JsonUnquote, DecodesEscapes) {
  std::string out;
  ASSERT_TRUE(JsonUnquote(R"("a\"b\\c\/d\n\u00e9\uD83D\uDE00")", &out));
  EXPECT_EQ(out, "a\"b\\c/d\n\xC3\xA9\xF0\x9F\x98\x80");
  ASSERT_TRUE(JsonUnquote(R"("\uD800x")", &out));  // lone surrogate
  EXPECT_EQ(out, "\xEF\xBF\xBDx");
  EXPECT_FALSE(JsonUnquote("42", &out));
  EXPECT_FALSE(JsonUnquote(R"("open)", &out));
  EXPECT_FALSE(JsonUnquote(R"("a"b")", &out));
  EXPECT_FALSE(JsonUnquote("", &out));
}

}  // namespace
}  // namespace tether
