#include "hub/router.h"

#include <gtest/gtest.h>

#include "hub/model_resolver.h"

namespace tether {
namespace {

TEST(Router, PlainOpenAIPath) {
  Route r = ParseRoute("POST", "/v1/chat/completions");
  EXPECT_EQ(r.endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(r.format, ApiFormat::kOpenAIChat);
  EXPECT_EQ(r.uid, "");
  EXPECT_EQ(r.path, "/v1/chat/completions");
}

TEST(Router, UidPrefixIsStripped) {
  Route r = ParseRoute("POST", "/u1/v1/chat/completions?x=1");
  EXPECT_EQ(r.uid, "u1");
  EXPECT_EQ(r.path, "/v1/chat/completions");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.endpoint, Endpoint::kChatCompletions);
}

TEST(Router, ApiRootsAreNeverUids) {
  for (const char* p : {"/v1/models", "/api/v1/messages", "/claude/v1/messages", "/openai/v1/chat/completions",
                        "/gemini/v1beta/models", "/healthz", "/metrics", "/debug/info", "/_tether/ping"}) {
    Route r = ParseRoute("GET", p);
    EXPECT_EQ(r.uid, "") << p;
  }
}

TEST(Router, AliasPrefixesMapToSameHandlers) {
  EXPECT_EQ(ParseRoute("POST", "/claude/v1/messages").endpoint, Endpoint::kMessages);
  EXPECT_EQ(ParseRoute("POST", "/api/v1/messages?beta=true").endpoint, Endpoint::kMessages);
  EXPECT_EQ(ParseRoute("POST", "/openai/v1/chat/completions").endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(ParseRoute("POST", "/u7/claude/v1/messages").uid, "u7");
  Route g = ParseRoute("POST", "/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(g.endpoint, Endpoint::kGeminiStream);
  EXPECT_EQ(g.path_model, "gemini-2.5-flash");
  EXPECT_EQ(g.query, "alt=sse");
}

TEST(Router, GeminisOpenAiCompatibleRootReachesTheOpenAiHandlers) {
  // https://generativelanguage.googleapis.com/v1beta/openai/ as a base URL.
  EXPECT_EQ(ParseRoute("POST", "/v1beta/openai/chat/completions").endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(ParseRoute("POST", "/u1/v1beta/openai/chat/completions").endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(ParseRoute("POST", "/gemini/v1beta/openai/chat/completions").endpoint, Endpoint::kChatCompletions);
  EXPECT_EQ(ParseRoute("POST", "/v1beta/openai/embeddings").endpoint, Endpoint::kEmbeddings);
  EXPECT_EQ(ParseRoute("GET", "/v1beta/openai/models").endpoint, Endpoint::kModels);
  EXPECT_EQ(ParseRoute("POST", "/v1beta/openai/responses").format, ApiFormat::kOpenAIResponses);
  // Not a way round to the hub's own endpoints, and Gemini's own paths stay Gemini.
  EXPECT_EQ(ParseRoute("GET", "/v1beta/openai/healthz").endpoint, Endpoint::kUnknown);
  EXPECT_EQ(ParseRoute("GET", "/v1beta/openai").endpoint, Endpoint::kUnknown);
  EXPECT_EQ(ParseRoute("POST", "/v1beta/openaix/chat/completions").endpoint, Endpoint::kUnknown);
  EXPECT_EQ(ParseRoute("POST", "/v1beta/models/gemini-2.5-pro:generateContent").endpoint, Endpoint::kGeminiGenerate);
}

TEST(Router, FormatAgreesWithApiFormatForPath) {
  // The edge knows only ApiFormatForPath; an error it answers (hub down,
  // 413, 504) must have the shape the hub's handler would have used.
  struct Case {
    const char* method;
    const char* target;
  } cases[] = {
      {"POST", "/v1/chat/completions"},           {"POST", "/u1/v1/chat/completions?x=1"},
      {"POST", "/claude/v1/chat/completions"},    {"POST", "/gemini/v1/chat/completions"},
      {"POST", "/u1/claude/v1/chat/completions"}, {"POST", "/chat/completions"},
      {"POST", "/u1/chat/completions"},           {"POST", "/v1/responses"},
      {"POST", "/claude/v1/responses/compact"},   {"POST", "/v1/embeddings"},
      {"POST", "/gemini/embeddings"},             {"GET", "/v1/models"},
      {"GET", "/claude/v1/models"},               {"GET", "/gemini/v1/models"},
      {"GET", "/v1beta/models"},                  {"GET", "/gemini/v1beta/models"},
      {"POST", "/v1/messages"},                   {"POST", "/openai/v1/messages"},
      {"POST", "/api/v1/messages?beta=true"},     {"POST", "/u1/v1/messages/count_tokens"},
      {"GET", "/v1/messages"},                    {"POST", "/v1beta/models/m:generateContent"},
      {"POST", "/openai/v1beta/models/m:streamGenerateContent?alt=sse"},
      {"POST", "/v1/models/m:countTokens"},       {"POST", "/u1/gemini/v1beta/models/m:embedContent"},
      {"POST", "/v1beta/models/m:bogus"},         {"POST", "/v1beta/openai/chat/completions"},
      {"POST", "/u1/v1beta/openai/chat/completions"}, {"POST", "/v1beta/openai/responses"},
      {"POST", "/claude/v1/unknown"},             {"POST", "/gemini/v1/unknown"},
      {"POST", "/openai/v1beta/unknown"},         {"POST", "/u1/claude/unknown"},
      {"POST", "/v1/threads/t/messages"},         {"GET", "/v1/models/ft:gpt-4o:org::id"},
      {"POST", "/bad.uid/v1/messages"},           {"GET", "/"},
      {"GET", "/healthz"},                        {"GET", "/u1/healthz"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ApiFormatName(ParseRoute(c.method, c.target).format), std::string(ApiFormatName(ApiFormatForPath(c.target))))
        << c.method << " " << c.target;
  }
  // Paths no endpoint claims take the alias's format, UID or not.
  EXPECT_STREQ(ApiFormatName(ParseRoute("POST", "/claude/v1/unknown").format), "anthropic");
  EXPECT_STREQ(ApiFormatName(ParseRoute("POST", "/u1/gemini/v1/unknown").format), "gemini");
  EXPECT_STREQ(ApiFormatName(ParseRoute("POST", "/u1/v1beta/openai/chat/completions").format), "openai-chat");
}

TEST(Router, GeminiVerbs) {
  EXPECT_EQ(ParseRoute("POST", "/v1beta/models/m:generateContent").endpoint, Endpoint::kGeminiGenerate);
  EXPECT_EQ(ParseRoute("POST", "/v1beta/models/m:countTokens").endpoint, Endpoint::kGeminiCountTokens);
  EXPECT_EQ(ParseRoute("POST", "/v1beta/models/m:embedContent").endpoint, Endpoint::kGeminiEmbed);
  EXPECT_EQ(ParseRoute("GET", "/v1beta/models").endpoint, Endpoint::kGeminiModels);
  EXPECT_EQ(ParseRoute("POST", "/v1beta/models/m:bogus").endpoint, Endpoint::kUnknown);
}

TEST(Router, ResponsesAndCompact) {
  EXPECT_EQ(ParseRoute("POST", "/v1/responses").endpoint, Endpoint::kResponses);
  EXPECT_EQ(ParseRoute("POST", "/v1/responses/compact").endpoint, Endpoint::kResponsesCompact);
  // A WebSocket attempt is a GET: not a handler.
  EXPECT_EQ(ParseRoute("GET", "/v1/responses").endpoint, Endpoint::kUnknown);
}

TEST(Router, BadFirstSegmentIsFlagged) {
  EXPECT_TRUE(ParseRoute("POST", "/..%2f/v1/chat/completions").bad_uid);
  EXPECT_TRUE(ParseRoute("POST", "/a.b/v1/chat/completions").bad_uid);
  std::string long_uid(65, 'a');
  EXPECT_TRUE(ParseRoute("POST", "/" + long_uid + "/v1/chat/completions").bad_uid);
  EXPECT_FALSE(ParseRoute("POST", "/" + std::string(64, 'a') + "/v1/chat/completions").bad_uid);
}

TEST(Router, UidValidity) {
  EXPECT_TRUE(IsValidUid("team_a-1"));
  EXPECT_FALSE(IsValidUid(""));
  EXPECT_FALSE(IsValidUid("a/b"));
  EXPECT_FALSE(IsValidUid(".."));
}

TEST(Router, QueryParam) {
  EXPECT_EQ(QueryParam("alt=sse&key=abc", "key"), "abc");
  EXPECT_EQ(QueryParam("alt=sse&key=abc", "alt"), "sse");
  EXPECT_EQ(QueryParam("alt=sse", "key"), "");
  EXPECT_EQ(QueryParam("", "key"), "");
}

HubConfig TwoProviders() {
  HubConfig c;
  ProviderConfig a;
  a.id = "oa";
  a.models = {{"gpt-4o-mini", ""}, {"gpt-4o", "smart"}};
  ProviderConfig b;
  b.id = "an";
  b.type = ProviderType::kAnthropic;
  b.models = {{"claude-sonnet-4-5", ""}};
  b.model_globs = {"claude-*"};
  c.providers = {a, b};
  c.model_map["claude-opus-4-5-20251101"] = "oa/gpt-4o";
  return c;
}

TEST(ModelResolver, OrderOfResolution) {
  HubConfig c = TwoProviders();
  ResolvedModel r = ResolveModel(c, "an/custom-name");
  EXPECT_EQ(r.provider, 1);
  EXPECT_EQ(r.upstream_model, "custom-name");
  r = ResolveModel(c, "claude-opus-4-5-20251101");  // model_map beats the glob
  EXPECT_EQ(r.provider, 0);
  EXPECT_EQ(r.upstream_model, "gpt-4o");
  r = ResolveModel(c, "smart");  // alias
  EXPECT_EQ(r.provider, 0);
  EXPECT_EQ(r.upstream_model, "gpt-4o");
  r = ResolveModel(c, "claude-sonnet-4-5");
  EXPECT_EQ(r.provider, 1);
  r = ResolveModel(c, "claude-3-haiku");  // glob
  EXPECT_EQ(r.provider, 1);
  EXPECT_EQ(r.upstream_model, "claude-3-haiku");
  EXPECT_EQ(ResolveModel(c, "llama-3").provider, -1);
  EXPECT_EQ(ResolveModel(c, "nope/llama-3").provider, -1);
}

TEST(ModelResolver, Glob) {
  EXPECT_TRUE(GlobMatch("claude-*", "claude-3"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("g?t-*o", "gpt-4o"));
  EXPECT_FALSE(GlobMatch("claude-*", "gpt-4o"));
  EXPECT_FALSE(GlobMatch("a*b", "acbd"));
}

}  // namespace
}  // namespace tether
