// Error bodies in each client's API format, and format detection by path.
#include "common/api_error.h"

#include <gtest/gtest.h>

#include <string>

#include "common/json.h"

namespace tether {
namespace {

const int kStatuses[] = {400, 401, 402, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 529};

// Messages that must survive JSON encoding unchanged.
const char* const kMessages[] = {
    "plain",
    "model \"gpt-x\" not found",
    "line one\nline two\ttab\\backslash",
    "control \x01\x1f and unicode \xe2\x9c\x93",
    "",
};

JsonPtr MustParse(const std::string& body) {
  auto r = ParseJson(body);
  EXPECT_TRUE(r.ok()) << r.status().message() << " in " << body;
  return r.ok() ? std::move(r.value()) : JsonPtr();
}

TEST(ApiErrorBodyTest, OpenAIShape) {
  for (ApiFormat f : {ApiFormat::kOpenAIChat, ApiFormat::kOpenAIResponses}) {
    for (int status : kStatuses) {
      for (const char* msg : kMessages) {
        JsonPtr doc = MustParse(ApiErrorBody(f, status, msg));
        ASSERT_TRUE(doc);
        EXPECT_EQ(cJSON_GetArraySize(doc.get()), 1) << "only \"error\" at the top";
        const cJSON* err = JsonObj(doc.get(), "error");
        ASSERT_NE(err, nullptr);
        EXPECT_EQ(JsonStrOr(err, "message", "?"), msg);
        ASSERT_NE(JsonStr(err, "type"), nullptr) << status;
        EXPECT_STRNE(JsonStr(err, "type"), "");
        ASSERT_NE(JsonGet(err, "param"), nullptr);
        EXPECT_TRUE(cJSON_IsNull(JsonGet(err, "param")));
        EXPECT_NE(JsonGet(err, "code"), nullptr);
      }
    }
  }
}

TEST(ApiErrorBodyTest, OpenAITypesFollowTheStatus) {
  auto type = [](int status) {
    JsonPtr doc = MustParse(ApiErrorBody(ApiFormat::kOpenAIChat, status, "m"));
    return JsonStrOr(JsonObj(doc.get(), "error"), "type", "?");
  };
  EXPECT_EQ(type(400), "invalid_request_error");
  EXPECT_EQ(type(401), "authentication_error");
  EXPECT_EQ(type(429), "rate_limit_error");
  EXPECT_EQ(type(500), "server_error");
  EXPECT_EQ(type(503), "server_error");
}

TEST(ApiErrorBodyTest, AnthropicShape) {
  for (int status : kStatuses) {
    for (const char* msg : kMessages) {
      JsonPtr doc = MustParse(ApiErrorBody(ApiFormat::kAnthropic, status, msg));
      ASSERT_TRUE(doc);
      EXPECT_EQ(JsonStrOr(doc.get(), "type", "?"), "error");
      const cJSON* err = JsonObj(doc.get(), "error");
      ASSERT_NE(err, nullptr);
      EXPECT_EQ(JsonStrOr(err, "type", "?"), AnthropicErrorType(status)) << status;
      EXPECT_EQ(JsonStrOr(err, "message", "?"), msg);
    }
  }
}

TEST(ApiErrorBodyTest, GeminiShape) {
  for (int status : kStatuses) {
    for (const char* msg : kMessages) {
      JsonPtr doc = MustParse(ApiErrorBody(ApiFormat::kGemini, status, msg));
      ASSERT_TRUE(doc);
      const cJSON* err = JsonObj(doc.get(), "error");
      ASSERT_NE(err, nullptr);
      const cJSON* code = JsonGet(err, "code");
      ASSERT_TRUE(cJSON_IsNumber(code)) << "code is a number";
      EXPECT_EQ(code->valueint, status);
      EXPECT_EQ(JsonStrOr(err, "message", "?"), msg);
      EXPECT_EQ(JsonStrOr(err, "status", "?"), GeminiErrorStatus(status)) << status;
    }
  }
}

TEST(ApiErrorBodyTest, ExplicitTypeIsUsedAndEscaped) {
  JsonPtr a = MustParse(ApiErrorBody(ApiFormat::kAnthropic, 400, "m", "overloaded_error"));
  EXPECT_EQ(JsonStrOr(JsonObj(a.get(), "error"), "type", "?"), "overloaded_error");
  JsonPtr o = MustParse(ApiErrorBody(ApiFormat::kOpenAIChat, 400, "m", "insufficient_quota"));
  EXPECT_EQ(JsonStrOr(JsonObj(o.get(), "error"), "type", "?"), "insufficient_quota");
  JsonPtr q = MustParse(ApiErrorBody(ApiFormat::kOpenAIResponses, 400, "m", "we\"ird"));
  EXPECT_EQ(JsonStrOr(JsonObj(q.get(), "error"), "type", "?"), "we\"ird");
}

TEST(ApiErrorTypesTest, AnthropicTypesAsDocumented) {
  EXPECT_STREQ(AnthropicErrorType(400), "invalid_request_error");
  EXPECT_STREQ(AnthropicErrorType(401), "authentication_error");
  EXPECT_STREQ(AnthropicErrorType(403), "permission_error");
  EXPECT_STREQ(AnthropicErrorType(404), "not_found_error");
  EXPECT_STREQ(AnthropicErrorType(413), "request_too_large");
  EXPECT_STREQ(AnthropicErrorType(429), "rate_limit_error");
  EXPECT_STREQ(AnthropicErrorType(529), "overloaded_error");
  EXPECT_STREQ(AnthropicErrorType(500), "api_error");
  EXPECT_STREQ(AnthropicErrorType(502), "api_error");
}

TEST(ApiErrorTypesTest, GeminiStatusesAsDocumented) {
  EXPECT_STREQ(GeminiErrorStatus(400), "INVALID_ARGUMENT");
  EXPECT_STREQ(GeminiErrorStatus(401), "UNAUTHENTICATED");
  EXPECT_STREQ(GeminiErrorStatus(403), "PERMISSION_DENIED");
  EXPECT_STREQ(GeminiErrorStatus(404), "NOT_FOUND");
  EXPECT_STREQ(GeminiErrorStatus(429), "RESOURCE_EXHAUSTED");
  EXPECT_STREQ(GeminiErrorStatus(500), "INTERNAL");
  EXPECT_STREQ(GeminiErrorStatus(503), "UNAVAILABLE");
  EXPECT_STREQ(GeminiErrorStatus(504), "DEADLINE_EXCEEDED");
}

TEST(ApiFormatTest, Names) {
  EXPECT_STREQ(ApiFormatName(ApiFormat::kOpenAIChat), "openai-chat");
  EXPECT_STREQ(ApiFormatName(ApiFormat::kOpenAIResponses), "openai-responses");
  EXPECT_STREQ(ApiFormatName(ApiFormat::kAnthropic), "anthropic");
  EXPECT_STREQ(ApiFormatName(ApiFormat::kGemini), "gemini");
}

TEST(ApiFormatTest, ForPath) {
  struct Case {
    const char* path;
    ApiFormat format;
  } cases[] = {
      {"/v1/messages", ApiFormat::kAnthropic},
      {"/u1/v1/messages?beta=true", ApiFormat::kAnthropic},
      {"/v1/messages/count_tokens", ApiFormat::kAnthropic},
      {"/claude/v1/messages", ApiFormat::kAnthropic},
      {"/v1beta/models/x:generateContent", ApiFormat::kGemini},
      {"/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", ApiFormat::kGemini},
      {"/u1/v1beta/models/x:generateContent", ApiFormat::kGemini},
      {"/gemini/v1beta/models/x:generateContent", ApiFormat::kGemini},
      {"/v1/responses", ApiFormat::kOpenAIResponses},
      {"/u1/v1/responses?stream=true", ApiFormat::kOpenAIResponses},
      {"/v1/chat/completions", ApiFormat::kOpenAIChat},
      {"/team_a/v1/chat/completions", ApiFormat::kOpenAIChat},
      {"/openai/v1/chat/completions", ApiFormat::kOpenAIChat},
      {"/v1/models", ApiFormat::kOpenAIChat},
      // Gemini's OpenAI-compatible endpoint answers in OpenAI's shapes.
      {"/v1beta/openai/chat/completions", ApiFormat::kOpenAIChat},
      {"/gemini/v1beta/openai/chat/completions?x=1", ApiFormat::kOpenAIChat},
      {"/v1beta/openai/responses", ApiFormat::kOpenAIResponses},
      {"/v1beta/openai/models", ApiFormat::kOpenAIChat},
      {"/u1/v1beta/openai/chat/completions", ApiFormat::kOpenAIChat},
      {"/u1/v1beta/openai/responses?x=1", ApiFormat::kOpenAIResponses},
      {"/v1beta/openai", ApiFormat::kOpenAIChat},
      {"/", ApiFormat::kOpenAIChat},
      {"", ApiFormat::kOpenAIChat},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ApiFormatName(ApiFormatForPath(c.path)), std::string(ApiFormatName(c.format)))
        << c.path;
  }
}

// The format's name, so a failure prints "anthropic", not enum bytes.
std::string FormatFor(std::string_view path) { return ApiFormatName(ApiFormatForPath(path)); }

TEST(ApiFormatTest, EndpointWinsOverAliasPrefix) {
  // The hub strips an alias and serves the endpoint under it: a Chat
  // Completions body sent to /claude/v1/chat/completions is answered (and
  // fails) as Chat Completions.
  EXPECT_EQ(FormatFor("/claude/v1/chat/completions"), "openai-chat");
  EXPECT_EQ(FormatFor("/u1/claude/v1/chat/completions"), "openai-chat");
  EXPECT_EQ(FormatFor("/gemini/v1/chat/completions"), "openai-chat");
  EXPECT_EQ(FormatFor("/gemini/v1/responses"), "openai-responses");
  EXPECT_EQ(FormatFor("/openai/v1/messages"), "anthropic");
  EXPECT_EQ(FormatFor("/api/v1/messages?beta=true"), "anthropic");
  EXPECT_EQ(FormatFor("/openai/v1beta/models/m:generateContent"), "gemini");
  EXPECT_EQ(FormatFor("/claude/v1/models"), "openai-chat");
  EXPECT_EQ(FormatFor("/gemini/models"), "openai-chat");
}

TEST(ApiFormatTest, AliasPrefixNamesTheFormatOfOtherPaths) {
  EXPECT_EQ(FormatFor("/claude/v1/unknown"), "anthropic");
  EXPECT_EQ(FormatFor("/claude/v1/models/claude-sonnet-4"), "anthropic");
  EXPECT_EQ(FormatFor("/u1/gemini/v1/unknown"), "gemini");
  EXPECT_EQ(FormatFor("/gemini"), "gemini");
  EXPECT_EQ(FormatFor("/openai/v1beta/unknown"), "openai-chat");
  EXPECT_EQ(FormatFor("/openai/unknown"), "openai-chat");
  EXPECT_EQ(FormatFor("/claude/v1beta/unknown"), "anthropic");
  EXPECT_EQ(FormatFor("/v1beta/unknown"), "gemini");
  EXPECT_EQ(FormatFor("/v1/unknown"), "openai-chat");
}

TEST(ApiFormatTest, SegmentsNotSubstringsDecide) {
  // OpenAI's Assistants API has .../messages; that is not Anthropic's.
  EXPECT_EQ(FormatFor("/v1/threads/thread_1/messages"), "openai-chat");
  // Anthropic's own sub-resources of /v1/messages.
  EXPECT_EQ(FormatFor("/v1/messages/batches"), "anthropic");
  EXPECT_EQ(FormatFor("/u1/v1/messages/batches/b1/results"), "anthropic");
  EXPECT_EQ(FormatFor("/v1/responses/resp_1"), "openai-responses");
  // A colon in an OpenAI fine-tuned model id is not a Gemini verb.
  EXPECT_EQ(FormatFor("/v1/models/ft:gpt-4o-mini:org::abc"), "openai-chat");
  EXPECT_EQ(FormatFor("/v1/models/gemini-2.5-pro:generateContent"), "gemini");
  EXPECT_EQ(FormatFor("/u1/v1/models/m:batchEmbedContents"), "gemini");
  // A UID that merely contains an API root's name is still a UID.
  EXPECT_EQ(FormatFor("/gemini-team/v1/messages"), "anthropic");
  EXPECT_EQ(FormatFor("/claude_users/v1/chat/completions"), "openai-chat");
}

TEST(ApiFormatTest, QueryDoesNotDecideTheFormat) {
  EXPECT_EQ(ApiFormatForPath("/v1/chat/completions?next=/v1/messages"), ApiFormat::kOpenAIChat);
  EXPECT_EQ(ApiFormatForPath("/v1/chat/completions?x=/v1beta/"), ApiFormat::kOpenAIChat);
}

}  // namespace
}  // namespace tether
