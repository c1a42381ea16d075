#include "hub/providers/provider_request.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace tether {
namespace {

ProviderConfig Provider(ProviderType type, std::string prefix, bool tls = true, int port = 443) {
  ProviderConfig p;
  p.id = "p";
  p.type = type;
  p.tls = tls;
  p.host = "api.example.com";
  p.port = port;
  p.path_prefix = std::move(prefix);
  p.accounts = {{"acct0", "prov-secret-1234", 0, 1}};
  return p;
}

TEST(ProviderPath, PerType) {
  EXPECT_EQ(ProviderPath(Provider(ProviderType::kOpenAI, "/v1"), Endpoint::kChatCompletions, "m", false, ""),
            "/v1/chat/completions");
  EXPECT_EQ(ProviderPath(Provider(ProviderType::kAnthropic, ""), Endpoint::kMessages, "m", true, "beta=true"),
            "/v1/messages?beta=true");
  EXPECT_EQ(ProviderPath(Provider(ProviderType::kAnthropic, "/anthropic"), Endpoint::kCountTokens, "m", false, ""),
            "/anthropic/v1/messages/count_tokens");
  EXPECT_EQ(ProviderPath(Provider(ProviderType::kGemini, ""), Endpoint::kGeminiStream, "gemini-2.5-pro", true, "key=secret"),
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse");
  EXPECT_EQ(ProviderPath(Provider(ProviderType::kGemini, ""), Endpoint::kGeminiGenerate, "g", false, "key=secret&x=1"),
            "/v1beta/models/g:generateContent?x=1");
  EXPECT_EQ(ProviderPath(Provider(ProviderType::kOpenAIResponses, "/v1"), Endpoint::kResponses, "m", true, ""),
            "/v1/responses");
}

TEST(ProviderHead, ReplacesClientCredentialsAndKeepsOtherHeaders) {
  RequestHead client;
  client.method = "POST";
  client.target = "/v1/messages";
  client.headers.Add("Authorization", "Bearer client-key");
  client.headers.Add("x-api-key", "client-key");
  client.headers.Add("session_id", "abc");
  client.headers.Add("anthropic-beta", "tools-2024");
  client.headers.Add("X-Stainless-Lang", "js");
  client.headers.Add("X-Tether-Edge-Token", "edge-secret");
  client.headers.Add("X-Forwarded-For", "1.2.3.4");
  client.headers.Add("Connection", "keep-alive");
  RequestHead h = BuildProviderHead(Provider(ProviderType::kAnthropic, ""), client, "/v1/messages", 10, true, "rid", "prov-secret-1234");
  EXPECT_EQ(h.headers.GetOr("x-api-key", ""), "prov-secret-1234");
  EXPECT_EQ(h.headers.Count("x-api-key"), 1u);
  EXPECT_EQ(h.headers.Get("Authorization"), nullptr);
  EXPECT_EQ(h.headers.GetOr("session_id", ""), "abc");
  EXPECT_EQ(h.headers.GetOr("anthropic-beta", ""), "tools-2024");
  EXPECT_EQ(h.headers.GetOr("anthropic-version", ""), "2023-06-01");
  EXPECT_EQ(h.headers.GetOr("X-Stainless-Lang", ""), "js");
  EXPECT_EQ(h.headers.Get("X-Tether-Edge-Token"), nullptr);
  EXPECT_EQ(h.headers.Get("X-Forwarded-For"), nullptr);
  EXPECT_EQ(h.headers.Get("Connection"), nullptr);
  EXPECT_EQ(h.headers.GetOr("Content-Length", ""), "10");
  EXPECT_EQ(h.headers.GetOr("Host", ""), "api.example.com");
  EXPECT_EQ(h.headers.GetOr("Accept", ""), "text/event-stream");
  std::string serialized = SerializeRequestHead(h);
  EXPECT_EQ(serialized.find("client-key"), std::string::npos);
}

TEST(ProviderHead, OpenAIBearerAndPortInHost) {
  RequestHead client;
  client.method = "POST";
  RequestHead h = BuildProviderHead(Provider(ProviderType::kOpenAI, "/v1", false, 9000), client, "/v1/chat/completions", 2, false, "r", "prov-secret-1234");
  EXPECT_EQ(h.headers.GetOr("Authorization", ""), "Bearer prov-secret-1234");
  EXPECT_EQ(h.headers.GetOr("Host", ""), "api.example.com:9000");
}

TEST(ReplaceModelField, RewritesOnlyTopLevelModel) {
  std::string in = R"({"messages":[{"model":"inner","content":"x"}],"model":"gpt-4o","z":{"model":"deep"}})";
  std::string out = ReplaceModelField(in, "gpt-4o-mini");
  EXPECT_EQ(out, R"({"messages":[{"model":"inner","content":"x"}],"model":"gpt-4o-mini","z":{"model":"deep"}})");
}

TEST(ReplaceModelField, KeepsEverythingElseByteForByte) {
  std::string in = "{ \"model\" : \"a\",\n  \"cache_control\": {\"type\":\"ephemeral\"}, \"x\": 1.50 }";
  std::string out = ReplaceModelField(in, "b\"c");
  EXPECT_EQ(out, "{ \"model\" : \"b\\\"c\",\n  \"cache_control\": {\"type\":\"ephemeral\"}, \"x\": 1.50 }");
  auto parsed = ParseJson(out);
  ASSERT_TRUE(parsed.ok());
  EXPECT_STREQ(JsonStr(parsed->get(), "model"), "b\"c");
}

TEST(ReplaceModelField, UnchangedWhenSameOrAbsent) {
  EXPECT_EQ(ReplaceModelField(R"({"model":"a"})", "a"), R"({"model":"a"})");
  EXPECT_EQ(ReplaceModelField(R"({"x":"model"})", "b"), R"({"x":"model"})");
  EXPECT_EQ(ReplaceModelField(R"({"x":{"model":"m"}})", "b"), R"({"x":{"model":"m"}})");
  EXPECT_EQ(ReplaceModelField(R"({"model":5,"y":"z"})", "b"), R"({"model":5,"y":"z"})");
}

TEST(ReplaceModelField, KeyStringsContainingEscapes) {
  std::string in = R"({"a\"model":"x","model":"old"})";
  EXPECT_EQ(ReplaceModelField(in, "new"), R"({"a\"model":"x","model":"new"})");
}


TEST(ProviderHead, AccountKeyChosenByCallerAndNoneWhenEmpty) {
  RequestHead client;
  client.method = "POST";
  ProviderConfig p = Provider(ProviderType::kGemini, "");
  RequestHead h = BuildProviderHead(p, client, "/v1beta/models/g:generateContent", 2, false, "r", "second-account-key");
  EXPECT_EQ(h.headers.GetOr("x-goog-api-key", ""), "second-account-key");
  h = BuildProviderHead(p, client, "/v1beta/models/g:generateContent", 2, false, "r", "");
  EXPECT_EQ(h.headers.Get("x-goog-api-key"), nullptr);
}

}  // namespace
}  // namespace tether
