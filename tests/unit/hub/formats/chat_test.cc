// OpenAI Chat on both sides of the pivot: near-identity requests and
// responses, the data:/[DONE] stream codec, and an Anthropic stream
// re-encoded for an OpenAI client.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/hub/formats/format_test_util.h"

namespace tether {
namespace {

using testutil::Decode;
using testutil::Golden;
using testutil::GoldenLines;
using testutil::J;
using testutil::LoadRequests;
using testutil::SplitSse;

std::string P(const cJSON* j) { return PrintJson(j); }

TEST(ChatFixtures, OpenAISdkRequestsPassThroughUnchanged) {
  int checked = 0;
  for (auto& rec : LoadRequests("openai-sdk.jsonl")) {
    if (rec.path.find("/chat/completions") == std::string::npos) continue;
    auto pivot = ToChatRequest(ApiFormat::kOpenAIChat, rec.body.get());
    ASSERT_TRUE(pivot.ok());
    EXPECT_TRUE(cJSON_Compare(pivot->get(), rec.body.get(), true)) << P(pivot->get());
    auto out = FromChatRequest(ApiFormat::kOpenAIChat, pivot->get());
    ASSERT_TRUE(out.ok());
    EXPECT_TRUE(cJSON_Compare(out->get(), rec.body.get(), true)) << P(out->get());
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(ChatRequest, LegacyFunctionsBecomeTools) {
  JsonPtr in = J(R"({"model":"gpt","functions":[{"name":"f","parameters":{"type":"object"}}],
    "function_call":{"name":"f"},"messages":[{"role":"user","content":"go"},
    {"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{\"a\":1}"}},
    {"role":"function","name":"f","content":"done"}]})");
  auto r = ToChatRequest(ApiFormat::kOpenAIChat, in.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(P(r->get()),
            R"({"model":"gpt","messages":[{"role":"user","content":"go"},)"
            R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_legacy_0","type":"function",)"
            R"("function":{"name":"f","arguments":"{\"a\":1}"}}]},)"
            R"({"role":"tool","name":"f","content":"done","tool_call_id":"call_legacy_0"}],)"
            R"("tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],)"
            R"("tool_choice":{"type":"function","function":{"name":"f"}}})");
  JsonPtr auto_in = J(R"({"model":"g","functions":[{"name":"f"}],"function_call":"auto","messages":[]})");
  auto a = ToChatRequest(ApiFormat::kOpenAIChat, auto_in.get());
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(P(JsonGet(a->get(), "tool_choice")), R"("auto")");
  EXPECT_EQ(JsonGet(a->get(), "functions"), nullptr);
}

TEST(ChatRequest, ReasoningSpellingIsNormalisedAndModelAlwaysSet) {
  JsonPtr in = J(R"({"messages":[{"role":"assistant","content":"a","reasoning":"r"}]})");
  auto r = ToChatRequest(ApiFormat::kOpenAIChat, in.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(P(r->get()), R"({"messages":[{"role":"assistant","content":"a","reasoning_content":"r"}],"model":""})");
  JsonPtr bad = J("\"text\"");
  EXPECT_FALSE(ToChatRequest(ApiFormat::kOpenAIChat, bad.get()).ok());
  EXPECT_FALSE(FromChatRequest(ApiFormat::kOpenAIChat, bad.get()).ok());
}

TEST(ChatRequest, PivotExtensionsAreStrippedForOpenAIProviders) {
  JsonPtr pivot = J(R"({"model":"m","thinking_budget":20000,"top_k":3,"messages":[
    {"role":"assistant","content":"a","reasoning_content":"r","reasoning_signature":"S","redacted_reasoning":"X"},
    {"role":"tool","tool_call_id":"t","content":"c","is_error":true}]})");
  auto r = FromChatRequest(ApiFormat::kOpenAIChat, pivot.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(P(r->get()),
            R"({"model":"m","messages":[{"role":"assistant","content":"a","reasoning_content":"r"},)"
            R"({"role":"tool","tool_call_id":"t","content":"c"}],"reasoning_effort":"high"})");
  JsonPtr keep = J(R"({"model":"m","thinking_budget":2000,"reasoning_effort":"medium","messages":[]})");
  auto k = FromChatRequest(ApiFormat::kOpenAIChat, keep.get());
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(JsonStrOr(k->get(), "reasoning_effort", ""), "medium");
}

TEST(ChatResponse, PassThroughWithModelEchoed) {
  JsonPtr in = J(R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"upstream-x",
    "choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning":"why"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})");
  auto pivot = ToChatResponse(ApiFormat::kOpenAIChat, in.get());
  ASSERT_TRUE(pivot.ok());
  EXPECT_EQ(JsonStrOr(JsonObj(cJSON_GetArrayItem(JsonArr(pivot->get(), "choices"), 0), "message"),
                      "reasoning_content", ""),
            "why");
  auto out = FromChatResponse(ApiFormat::kOpenAIChat, pivot->get(), "client-alias");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(P(out->get()),
            R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"client-alias",)"
            R"("choices":[{"index":0,"message":{"role":"assistant","content":"hi","reasoning_content":"why"},)"
            R"("finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})");
}

// ---- Streaming ----------------------------------------------------------------

const char* kOpenAIStream =
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"gpt-x\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    ": OPENROUTER PROCESSING\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"gpt-x\","
    "\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\"think\"},\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"gpt-x\","
    "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-7\",\"object\":\"chat.completion.chunk\",\"created\":9,\"model\":\"gpt-x\","
    "\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":2,\"total_tokens\":6}}\n\n"
    "data: [DONE]\n\n";

TEST(ChatStream, DecoderWholeAndBytewise) {
  std::vector<std::string> want = {
      R"({"id":"chatcmpl-7","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
      R"({"id":"chatcmpl-7","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"reasoning_content":"think"},"finish_reason":null}]})",
      R"({"id":"chatcmpl-7","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]})",
      R"({"id":"chatcmpl-7","object":"chat.completion.chunk","model":"gpt-x","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}})"};
  EXPECT_EQ(Decode(ApiFormat::kOpenAIChat, kOpenAIStream, false), want);
  EXPECT_EQ(Decode(ApiFormat::kOpenAIChat, kOpenAIStream, true), want);
}

TEST(ChatStream, DecoderClosesACutStreamAndPassesErrors) {
  std::string cut =
      "data: {\"id\":\"c1\",\"model\":\"g\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
      "\"id\":\"call_1\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}}]}\n\n";
  auto chunks = Decode(ApiFormat::kOpenAIChat, cut, true);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1], R"({"id":"c1","object":"chat.completion.chunk","model":"g","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})");
  auto err = Decode(ApiFormat::kOpenAIChat,
                    "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":503}}\n\n"
                    "data: {\"id\":\"late\",\"choices\":[]}\n\n",
                    false);
  ASSERT_EQ(err.size(), 1u);
  EXPECT_EQ(err[0], R"({"error":{"message":"overloaded","type":"server_error","code":503}})");
}

std::string Strip(const std::string& data) {
  if (data == "[DONE]") return data;
  JsonPtr j = J(data);
  cJSON_DeleteItemFromObject(j.get(), "created");
  return P(j.get());
}

TEST(ChatStream, EncoderRewritesModelAndEndsWithDone) {
  StreamOptions o;
  o.model = "client-alias";
  auto enc = NewStreamEncoder(ApiFormat::kOpenAIChat, o);
  auto dec = NewStreamDecoder(ApiFormat::kOpenAIChat);
  std::vector<JsonPtr> chunks;
  SseParser parser([&](const SseEvent& ev) { dec->Decode(ev, &chunks); });
  parser.Feed(kOpenAIStream);
  std::string out;
  for (auto& c : chunks) out += enc->Encode(c.get());
  out += enc->Finish();
  EXPECT_EQ(enc->Finish(), "");
  auto ev = SplitSse(out);
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].data,
            R"({"id":"chatcmpl-7","object":"chat.completion.chunk","created":9,"model":"client-alias","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})");
  EXPECT_EQ(ev[3].data,
            R"({"id":"chatcmpl-7","object":"chat.completion.chunk","created":9,"model":"client-alias","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}})");
  EXPECT_EQ(ev[4].data, "[DONE]");
  EXPECT_EQ(out.substr(out.size() - 14), "data: [DONE]\n\n");

  // Without include_usage the usage-only chunk is dropped, and usage is
  // removed from chunks that also carry choices.
  o.include_usage = false;
  auto quiet = NewStreamEncoder(ApiFormat::kOpenAIChat, o);
  EXPECT_EQ(quiet->Encode(chunks[3].get()), "");
  JsonPtr both = J(R"({"id":"a","created":1,"model":"u","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}})");
  EXPECT_EQ(quiet->Encode(both.get()),
            "data: {\"id\":\"a\",\"created\":1,\"model\":\"client-alias\",\"choices\":[{\"index\":0,\"delta\":{},"
            "\"finish_reason\":\"stop\"}],\"object\":\"chat.completion.chunk\"}\n\n");
}

TEST(ChatStream, EncoderErrorsAndKeepAlive) {
  StreamOptions o;
  o.model = "m";
  auto enc = NewStreamEncoder(ApiFormat::kOpenAIChat, o);
  EXPECT_EQ(enc->KeepAlive(), ": keep-alive\n\n");
  EXPECT_EQ(enc->Error(429, "slow down"),
            "data: {\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":\"rate_limit_error\"}}\n\n");
  EXPECT_EQ(enc->Finish(), "");
  auto enc2 = NewStreamEncoder(ApiFormat::kOpenAIChat, o);
  EXPECT_EQ(enc2->Encode(J(R"({"error":{"message":"Overloaded","type":"overloaded_error","code":529}})").get()),
            "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"overloaded_error\",\"code\":529}}\n\n");
  EXPECT_EQ(enc2->Finish(), "");  // no [DONE] after an error
}

TEST(ChatStream, AnthropicStreamReencodedForAnOpenAIClient) {
  std::string sse = Golden("anthropic_stream_in.sse");
  auto want = GoldenLines("anthropic_to_chat_stream.jsonl");
  for (bool bytewise : {false, true}) {
    auto dec = NewStreamDecoder(ApiFormat::kAnthropic);
    StreamOptions o;
    o.model = "claude-client-name";
    auto enc = NewStreamEncoder(ApiFormat::kOpenAIChat, o);
    std::string out;
    std::vector<JsonPtr> chunks;
    SseParser parser([&](const SseEvent& ev) {
      dec->Decode(ev, &chunks);
      for (auto& c : chunks) out += enc->Encode(c.get());
      chunks.clear();
    });
    if (bytewise) {
      for (char c : sse) parser.Feed(std::string_view(&c, 1));
    } else {
      parser.Feed(sse);
    }
    parser.Finish();
    dec->Finish(&chunks);
    for (auto& c : chunks) out += enc->Encode(c.get());
    out += enc->Finish();
    std::vector<std::string> got;
    for (const auto& e : SplitSse(out)) got.push_back(Strip(e.data));
    EXPECT_EQ(got, want) << (bytewise ? "bytewise" : "whole");
  }
}

}  // namespace
}  // namespace tether
