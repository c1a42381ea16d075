// Gemini <-> pivot: real client requests from ../shared/fixtures/clients,
// hand-written cases per feature, and the stream decoder/encoder fed whole
// and one byte at a time.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/sse.h"
#include "hub/formats/formats_internal.h"
#include "tests/unit/hub/formats/format_test_util.h"

namespace tether {
namespace {

using testutil::J;
using Fixture = testutil::Captured;

std::vector<Fixture> LoadFixtures(const std::string& name) { return testutil::LoadRequests(name); }

std::string PartsTextOf(const cJSON* parts) {
  std::string s;
  const cJSON* p;
  cJSON_ArrayForEach(p, parts) if (const char* t = JsonStr(p, "text")) s += t;
  return s;
}

std::string Lowered(const cJSON* schema) {
  std::string s = PrintJson(schema);
  for (const char* t : {"OBJECT", "STRING", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY"}) {
    std::string up = std::string("\"") + t + "\"";
    std::string low = up;
    for (char& c : low) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (size_t at; (at = s.find(up)) != std::string::npos;) s.replace(at, up.size(), low);
  }
  return s;
}

const cJSON* Msg(const cJSON* chat, int i) { return cJSON_GetArrayItem(JsonArr(chat, "messages"), i); }

// ---- fixtures ------------------------------------------------------------------

TEST(GeminiFixtures, EveryClientRequestSurvivesTheRoundTrip) {
  int checked = 0, with_tools = 0, with_calls = 0;
  for (const char* file : {"gemini-cli.jsonl", "gemini-cli-tool.jsonl", "genai-sdk.jsonl"}) {
    for (Fixture& f : LoadFixtures(file)) {
      SCOPED_TRACE(f.file + " " + f.path);
      const cJSON* req = f.body.get();
      if (!JsonArr(req, "contents")) continue;
      auto chat = GeminiRequestToChat(req);
      ASSERT_TRUE(chat.ok()) << chat.status().message();
      const cJSON* c = chat->get();

      // System instruction text.
      std::string sys = PartsTextOf(JsonArr(JsonObj(req, "systemInstruction"), "parts"));
      if (!sys.empty()) {
        EXPECT_EQ(JsonStrOr(Msg(c, 0), "role", ""), "system");
        EXPECT_EQ(JsonStrOr(Msg(c, 0), "content", ""), sys);
      } else {
        EXPECT_NE(JsonStrOr(Msg(c, 0), "role", ""), "system");
      }
      // Generation config.
      const cJSON* gc = JsonObj(req, "generationConfig");
      if (JsonGet(gc, "temperature")) {
        EXPECT_EQ(JsonNum(c, "temperature", -1), JsonNum(gc, "temperature", -2));
      }
      if (JsonGet(gc, "topP")) {
        EXPECT_EQ(JsonNum(c, "top_p", -1), JsonNum(gc, "topP", -2));
      }
      if (JsonGet(gc, "topK")) {
        EXPECT_EQ(JsonNum(c, "top_k", -1), JsonNum(gc, "topK", -2));
      }
      if (const char* lvl = JsonStr(JsonObj(gc, "thinkingConfig"), "thinkingLevel")) {
        std::string l = lvl;
        for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        EXPECT_EQ(JsonStrOr(c, "reasoning_effort", ""), l);
      }
      if (const cJSON* rs = JsonGet(gc, "responseJsonSchema")) {
        const cJSON* rf = JsonObj(c, "response_format");
        EXPECT_EQ(JsonStrOr(rf, "type", ""), "json_schema");
        EXPECT_EQ(PrintJson(JsonGet(JsonObj(rf, "json_schema"), "schema")), Lowered(rs));
      }
      // Tools: every function declaration, with its schema.
      std::map<std::string, std::string> decl_schema;
      const cJSON* t;
      cJSON_ArrayForEach(t, JsonArr(req, "tools")) {
        const cJSON* d;
        cJSON_ArrayForEach(d, JsonArr(t, "functionDeclarations")) {
          const cJSON* js = JsonGet(d, "parametersJsonSchema");
          decl_schema[JsonStr(d, "name")] = js ? PrintJson(js) : Lowered(JsonGet(d, "parameters"));
        }
      }
      std::map<std::string, std::string> chat_schema;
      cJSON_ArrayForEach(t, JsonArr(c, "tools")) {
        const cJSON* fn = JsonObj(t, "function");
        chat_schema[JsonStr(fn, "name")] = PrintJson(JsonGet(fn, "parameters"));
      }
      EXPECT_EQ(chat_schema, decl_schema);
      if (!decl_schema.empty()) ++with_tools;

      // Back to Gemini.
      auto back = ChatRequestToGemini(c);
      ASSERT_TRUE(back.ok()) << back.status().message();
      const cJSON* g = back->get();
      EXPECT_EQ(JsonGet(g, "model"), nullptr);
      EXPECT_EQ(JsonGet(g, "stream"), nullptr);
      EXPECT_EQ(PartsTextOf(JsonArr(JsonObj(g, "systemInstruction"), "parts")), sys);
      ASSERT_EQ(cJSON_GetArraySize(JsonArr(g, "contents")), cJSON_GetArraySize(JsonArr(req, "contents")));
      for (int i = 0; i < cJSON_GetArraySize(JsonArr(req, "contents")); ++i) {
        const cJSON* a = cJSON_GetArrayItem(JsonArr(req, "contents"), i);
        const cJSON* b = cJSON_GetArrayItem(JsonArr(g, "contents"), i);
        EXPECT_EQ(JsonStrOr(b, "role", ""), JsonStrOr(a, "role", "user"));
        EXPECT_EQ(PartsTextOf(JsonArr(b, "parts")), PartsTextOf(JsonArr(a, "parts")));
        ASSERT_EQ(cJSON_GetArraySize(JsonArr(b, "parts")), cJSON_GetArraySize(JsonArr(a, "parts")));
        for (int k = 0; k < cJSON_GetArraySize(JsonArr(a, "parts")); ++k) {
          const cJSON* pa = cJSON_GetArrayItem(JsonArr(a, "parts"), k);
          const cJSON* pb = cJSON_GetArrayItem(JsonArr(b, "parts"), k);
          if (const cJSON* fc = JsonObj(pa, "functionCall")) {
            ++with_calls;
            const cJSON* fb = JsonObj(pb, "functionCall");
            EXPECT_EQ(JsonStrOr(fb, "name", "b"), JsonStrOr(fc, "name", "a"));
            EXPECT_EQ(JsonStrOr(fb, "id", "b"), JsonStrOr(fc, "id", "a"));
            EXPECT_EQ(PrintJson(JsonGet(fb, "args")), PrintJson(JsonGet(fc, "args")));
            EXPECT_EQ(JsonStrOr(pb, "thoughtSignature", ""), JsonStrOr(pa, "thoughtSignature", ""));
          }
          if (const cJSON* fr = JsonObj(pa, "functionResponse")) {
            const cJSON* fb = JsonObj(pb, "functionResponse");
            EXPECT_EQ(JsonStrOr(fb, "name", ""), JsonStrOr(fr, "name", ""));
            EXPECT_EQ(JsonStrOr(fb, "id", ""), JsonStrOr(fr, "id", ""));
            EXPECT_EQ(PrintJson(JsonGet(fb, "response")), PrintJson(JsonGet(fr, "response")));
          }
        }
      }
      std::map<std::string, std::string> back_schema;
      cJSON_ArrayForEach(t, JsonArr(g, "tools")) {
        const cJSON* d;
        cJSON_ArrayForEach(d, JsonArr(t, "functionDeclarations")) {
          back_schema[JsonStr(d, "name")] = PrintJson(JsonGet(d, "parametersJsonSchema"));
        }
      }
      EXPECT_EQ(back_schema, decl_schema);
      const cJSON* bgc = JsonObj(g, "generationConfig");
      for (const char* k : {"temperature", "topP", "topK"}) {
        if (JsonGet(gc, k)) {
          EXPECT_EQ(JsonNum(bgc, k, -1), JsonNum(gc, k, -2)) << k;
        }
      }
      if (const char* lvl = JsonStr(JsonObj(gc, "thinkingConfig"), "thinkingLevel")) {
        EXPECT_EQ(JsonStrOr(JsonObj(bgc, "thinkingConfig"), "thinkingLevel", ""), lvl);
        EXPECT_TRUE(JsonBool(JsonObj(bgc, "thinkingConfig"), "includeThoughts", false));
      }
      if (JsonGet(gc, "responseJsonSchema")) {
        EXPECT_EQ(JsonStrOr(bgc, "responseMimeType", ""), "application/json");
        EXPECT_EQ(PrintJson(JsonGet(bgc, "responseJsonSchema")), Lowered(JsonGet(gc, "responseJsonSchema")));
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 9);
  EXPECT_GE(with_tools, 4);
  EXPECT_GE(with_calls, 1);
}

TEST(GeminiFixtures, ToolTurnMapsIdsBetweenCallAndResult) {
  auto fx = LoadFixtures("gemini-cli-tool.jsonl");
  ASSERT_EQ(fx.size(), 3u);
  auto chat = GeminiRequestToChat(fx[2].body.get());
  ASSERT_TRUE(chat.ok());
  const cJSON* c = chat->get();
  // system, user (2 text parts), assistant with the call, tool result.
  ASSERT_EQ(cJSON_GetArraySize(JsonArr(c, "messages")), 4);
  const cJSON* a = Msg(c, 2);
  EXPECT_EQ(JsonStrOr(a, "role", ""), "assistant");
  const cJSON* call = cJSON_GetArrayItem(JsonArr(a, "tool_calls"), 0);
  EXPECT_EQ(JsonStrOr(call, "id", ""), "read_file_1795299963372_0");
  EXPECT_EQ(JsonStrOr(JsonObj(call, "function"), "name", ""), "read_file");
  EXPECT_EQ(JsonStrOr(JsonObj(call, "function"), "arguments", ""), "{\"file_path\":\"hello.txt\"}");
  EXPECT_EQ(JsonStrOr(a, "reasoning_signature", ""), "skip_thought_signature_validator");
  const cJSON* tool = Msg(c, 3);
  EXPECT_EQ(JsonStrOr(tool, "role", ""), "tool");
  EXPECT_EQ(JsonStrOr(tool, "tool_call_id", ""), "read_file_1795299963372_0");
  EXPECT_EQ(JsonStrOr(tool, "content", ""), "hello from file\n");
  EXPECT_EQ(cJSON_GetArraySize(JsonArr(c, "tools")), 8);
}

// ---- requests: Gemini -> pivot ----------------------------------------------------

TEST(GeminiRequest, PartsToolsAndConfigIntoThePivot) {
  JsonPtr req = J(R"({
    "systemInstruction": {"parts": [{"text": "be brief"}, {"text": "be kind"}]},
    "contents": [
      {"role": "user", "parts": [{"text": "look"},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://b/x.jpg"}}]},
      {"role": "model", "parts": [{"text": "thinking...", "thought": true},
        {"text": "Let me check", "thoughtSignature": "SIG1"},
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}]},
      {"role": "user", "parts": [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 20}}},
        {"functionResponse": {"name": "get_weather", "response": {"output": "hot"}}},
        {"text": "thanks"}]}
    ],
    "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Get weather",
               "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}]},
              {"googleSearch": {}}, {"codeExecution": {}}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
    "generationConfig": {"temperature": 0.5, "topP": 0.9, "topK": 40, "maxOutputTokens": 100,
      "stopSequences": ["END"], "candidateCount": 2, "responseMimeType": "application/json",
      "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}},
      "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true}}
  })");
  auto r = GeminiRequestToChat(req.get());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const cJSON* c = r->get();
  ASSERT_EQ(cJSON_GetArraySize(JsonArr(c, "messages")), 6);
  EXPECT_EQ(JsonStrOr(Msg(c, 0), "content", ""), "be brief\nbe kind");
  const cJSON* user = JsonArr(Msg(c, 1), "content");
  ASSERT_EQ(cJSON_GetArraySize(user), 3);
  EXPECT_EQ(JsonStrOr(JsonObj(cJSON_GetArrayItem(user, 1), "image_url"), "url", ""), "data:image/png;base64,AAAA");
  EXPECT_EQ(JsonStrOr(JsonObj(cJSON_GetArrayItem(user, 2), "image_url"), "url", ""), "gs://b/x.jpg");

  const cJSON* a = Msg(c, 2);
  EXPECT_EQ(JsonStrOr(a, "content", ""), "Let me check");
  EXPECT_EQ(JsonStrOr(a, "reasoning_content", ""), "thinking...");
  EXPECT_EQ(JsonStrOr(a, "reasoning_signature", ""), "SIG1");
  const cJSON* calls = JsonArr(a, "tool_calls");
  ASSERT_EQ(cJSON_GetArraySize(calls), 2);
  EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(calls, 0), "id", ""), "call_get_weather_0");
  EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(calls, 1), "id", ""), "call_get_weather_1");
  // Results without ids answer the calls in order.
  EXPECT_EQ(JsonStrOr(Msg(c, 3), "tool_call_id", ""), "call_get_weather_0");
  EXPECT_EQ(JsonStrOr(Msg(c, 3), "content", ""), "{\"temp\":20}");
  EXPECT_EQ(JsonStrOr(Msg(c, 4), "tool_call_id", ""), "call_get_weather_1");
  EXPECT_EQ(JsonStrOr(Msg(c, 4), "content", ""), "hot");
  EXPECT_EQ(JsonStrOr(Msg(c, 5), "content", ""), "thanks");

  ASSERT_EQ(cJSON_GetArraySize(JsonArr(c, "tools")), 1);  // googleSearch, codeExecution dropped
  const cJSON* fn = JsonObj(cJSON_GetArrayItem(JsonArr(c, "tools"), 0), "function");
  EXPECT_EQ(PrintJson(JsonGet(fn, "parameters")),
            R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})");
  EXPECT_EQ(JsonStrOr(JsonObj(JsonObj(c, "tool_choice"), "function"), "name", ""), "get_weather");
  EXPECT_EQ(JsonNum(c, "temperature", 0), 0.5);
  EXPECT_EQ(JsonNum(c, "top_p", 0), 0.9);
  EXPECT_EQ(JsonNum(c, "top_k", 0), 40);
  EXPECT_EQ(JsonNum(c, "max_tokens", 0), 100);
  EXPECT_EQ(JsonNum(c, "n", 0), 2);
  EXPECT_EQ(PrintJson(JsonGet(c, "stop")), "[\"END\"]");
  EXPECT_EQ(JsonNum(c, "thinking_budget", 0), 2048);
  EXPECT_EQ(PrintJson(JsonGet(c, "response_format")),
            R"({"type":"json_schema","json_schema":{"name":"response","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}})");
  EXPECT_EQ(JsonGet(c, "model"), nullptr);
  EXPECT_EQ(JsonGet(c, "stream"), nullptr);
}

TEST(GeminiRequest, ToolChoiceModes) {
  auto mode = [](const char* cfg) {
    JsonPtr req = J(std::string(R"({"contents":[{"role":"user","parts":[{"text":"x"}]}],"toolConfig":{"functionCallingConfig":)") +
                    cfg + "}}");
    auto r = GeminiRequestToChat(req.get());
    EXPECT_TRUE(r.ok());
    return PrintJson(JsonGet(r->get(), "tool_choice"));
  };
  EXPECT_EQ(mode(R"({"mode":"AUTO"})"), "\"auto\"");
  EXPECT_EQ(mode(R"({"mode":"NONE"})"), "\"none\"");
  EXPECT_EQ(mode(R"({"mode":"ANY"})"), "\"required\"");
  EXPECT_EQ(mode(R"({"mode":"ANY","allowedFunctionNames":["a","b"]})"), "\"required\"");
}

TEST(GeminiRequest, MalformedInputIsAnErrorNotACrash) {
  EXPECT_FALSE(GeminiRequestToChat(J("[]").get()).ok());
  EXPECT_FALSE(GeminiRequestToChat(J("{}").get()).ok());
  EXPECT_FALSE(GeminiRequestToChat(J(R"({"contents":[{"role":"user"}]})").get()).ok());
  auto r = GeminiRequestToChat(J(R"({"contents":[{"role":"model","parts":[{"functionCall":{}}, 5, null]}],
                                     "tools":[{"functionDeclarations":[{}]}, 7], "generationConfig": 3})").get());
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(ChatRequestToGemini(J("{}").get()).ok());
  EXPECT_TRUE(ChatRequestToGemini(J(R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"arguments":"not json"}}]},
                                                    {"role":"tool","content":[{"type":"text","text":"x"}]}, 4]})").get()).ok());
}

// ---- requests: pivot -> Gemini ----------------------------------------------------

TEST(GeminiRequest, PivotToGemini) {
  JsonPtr chat = J(R"({
    "model": "gemini-3-pro", "stream": true, "stream_options": {"include_usage": true},
    "messages": [
      {"role": "system", "content": "sys one"},
      {"role": "developer", "content": [{"type": "text", "text": "sys two"}]},
      {"role": "user", "content": [{"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,QUJD"}},
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
      {"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":1}"}},
        {"id": "call_2", "type": "function", "function": {"name": "fetch", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "call_2", "content": "{\"ok\":true}"},
      {"role": "tool", "tool_call_id": "call_1", "content": "plain text"},
      {"role": "assistant", "content": "done", "reasoning_content": "hmm", "reasoning_signature": "S2"},
      {"role": "user", "content": "next"}
    ],
    "tools": [{"type": "function", "function": {"name": "lookup", "description": "d",
      "parameters": {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                     "properties": {"q": {"type": "integer"}}, "additionalProperties": false}}}],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "max_tokens": 50, "temperature": 0.1, "top_p": 0.2, "stop": "STOP!",
    "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
    "reasoning_effort": "high", "user": "u1", "parallel_tool_calls": true
  })");
  auto r = ChatRequestToGemini(chat.get());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const cJSON* g = r->get();
  for (const char* k : {"model", "stream", "stream_options", "messages", "user", "parallel_tool_calls"})
    EXPECT_EQ(JsonGet(g, k), nullptr) << k;
  EXPECT_EQ(PrintJson(JsonGet(g, "systemInstruction")), R"({"parts":[{"text":"sys one"},{"text":"sys two"}]})");
  const cJSON* contents = JsonArr(g, "contents");
  ASSERT_EQ(cJSON_GetArraySize(contents), 5);
  const cJSON* up = JsonArr(cJSON_GetArrayItem(contents, 0), "parts");
  EXPECT_EQ(PrintJson(cJSON_GetArrayItem(up, 1)), R"({"inlineData":{"mimeType":"image/webp","data":"QUJD"}})");
  EXPECT_EQ(PrintJson(cJSON_GetArrayItem(up, 2)), R"({"fileData":{"mimeType":"image/png","fileUri":"https://x/y.png"}})");
  const cJSON* model = cJSON_GetArrayItem(contents, 1);
  EXPECT_EQ(JsonStrOr(model, "role", ""), "model");
  // No signature from the source: the first call gets the documented placeholder.
  EXPECT_EQ(PrintJson(JsonArr(model, "parts")),
            R"([{"functionCall":{"name":"lookup","args":{"q":1},"id":"call_1"},"thoughtSignature":"skip_thought_signature_validator"},)"
            R"({"functionCall":{"name":"fetch","args":{},"id":"call_2"}}])");
  // Both results in one user turn, named through the call ids.
  EXPECT_EQ(PrintJson(cJSON_GetArrayItem(contents, 2)),
            R"({"role":"user","parts":[{"functionResponse":{"name":"fetch","response":{"ok":true},"id":"call_2"}},)"
            R"({"functionResponse":{"name":"lookup","response":{"output":"plain text"},"id":"call_1"}}]})");
  EXPECT_EQ(PrintJson(JsonArr(cJSON_GetArrayItem(contents, 3), "parts")),
            R"([{"text":"hmm","thought":true},{"text":"done","thoughtSignature":"S2"}])");
  const cJSON* decl = cJSON_GetArrayItem(JsonArr(cJSON_GetArrayItem(JsonArr(g, "tools"), 0), "functionDeclarations"), 0);
  EXPECT_EQ(PrintJson(decl),
            R"({"name":"lookup","description":"d","parametersJsonSchema":{"type":"object","properties":{"q":{"type":"integer"}},"additionalProperties":false}})");
  EXPECT_EQ(PrintJson(JsonGet(g, "toolConfig")),
            R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["lookup"]}})");
  EXPECT_EQ(PrintJson(JsonGet(g, "generationConfig")),
            R"({"temperature":0.1,"topP":0.2,"maxOutputTokens":50,"stopSequences":["STOP!"],)"
            R"("responseMimeType":"application/json","responseJsonSchema":{"type":"object"},)"
            R"("thinkingConfig":{"thinkingLevel":"HIGH","includeThoughts":true}})");
}

TEST(GeminiRequest, ThinkingForGemini2AndBudgets) {
  auto cfg = [](const char* extra) {
    JsonPtr chat = J(std::string(R"({"messages":[{"role":"user","content":"x"}],)") + extra + "}");
    auto r = ChatRequestToGemini(chat.get());
    EXPECT_TRUE(r.ok());
    return PrintJson(JsonGet(JsonObj(r->get(), "generationConfig"), "thinkingConfig"));
  };
  EXPECT_EQ(cfg(R"("model":"gemini-2.5-flash","reasoning_effort":"low")"), R"({"thinkingBudget":1024,"includeThoughts":true})");
  EXPECT_EQ(cfg(R"("model":"gemini-2.5-pro","reasoning_effort":"high")"), R"({"thinkingBudget":24576,"includeThoughts":true})");
  EXPECT_EQ(cfg(R"("thinking_budget":0)"), R"({"thinkingBudget":0})");
  EXPECT_EQ(cfg(R"("thinking_budget":5000,"reasoning_effort":"low")"), R"({"thinkingBudget":5000,"includeThoughts":true})");
  EXPECT_EQ(cfg(R"("model":"x")"), "null");
  EXPECT_EQ(cfg(R"("response_format":{"type":"json_object"})"), "null");
}

// ---- non-streaming responses -----------------------------------------------------------

TEST(GeminiResponse, ToPivot) {
  JsonPtr resp = J(R"({
    "candidates": [{"content": {"role": "model", "parts": [
        {"text": "plan", "thought": true}, {"text": "Hello "}, {"text": "world"},
        {"functionCall": {"name": "f", "args": {"a": [1, 2]}}, "thoughtSignature": "SIG"}]},
      "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7,
                      "cachedContentTokenCount": 4, "totalTokenCount": 22},
    "modelVersion": "gemini-2.5-flash", "responseId": "abc"})");
  auto r = GeminiResponseToChat(resp.get());
  ASSERT_TRUE(r.ok());
  const cJSON* c = r->get();
  EXPECT_EQ(JsonStrOr(c, "id", ""), "chatcmpl-abc");
  EXPECT_EQ(JsonStrOr(c, "object", ""), "chat.completion");
  EXPECT_EQ(JsonStrOr(c, "model", ""), "gemini-2.5-flash");
  const cJSON* ch = cJSON_GetArrayItem(JsonArr(c, "choices"), 0);
  EXPECT_EQ(JsonStrOr(ch, "finish_reason", ""), "tool_calls");
  const cJSON* m = JsonObj(ch, "message");
  EXPECT_EQ(JsonStrOr(m, "content", ""), "Hello world");
  EXPECT_EQ(JsonStrOr(m, "reasoning_content", ""), "plan");
  EXPECT_EQ(JsonStrOr(m, "reasoning_signature", ""), "SIG");
  EXPECT_EQ(PrintJson(JsonArr(m, "tool_calls")),
            R"([{"id":"call_f_0","type":"function","function":{"name":"f","arguments":"{\"a\":[1,2]}"}}])");
  EXPECT_EQ(PrintJson(JsonGet(c, "usage")),
            R"({"prompt_tokens":10,"completion_tokens":12,"total_tokens":22,)"
            R"("prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":7}})");
}

TEST(GeminiResponse, FinishReasons) {
  auto finish = [](const char* body) {
    auto r = GeminiResponseToChat(J(body).get());
    EXPECT_TRUE(r.ok());
    return JsonStrOr(cJSON_GetArrayItem(JsonArr(r->get(), "choices"), 0), "finish_reason", "");
  };
  EXPECT_EQ(finish(R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"MAX_TOKENS"}]})"), "length");
  EXPECT_EQ(finish(R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"SAFETY"}]})"), "content_filter");
  EXPECT_EQ(finish(R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"RECITATION"}]})"), "content_filter");
  EXPECT_EQ(finish(R"({"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"STOP"}]})"), "stop");
  EXPECT_EQ(finish(R"({"promptFeedback":{"blockReason":"SAFETY"}})"), "content_filter");
  EXPECT_FALSE(GeminiResponseToChat(J("[1]").get()).ok());
}

TEST(GeminiResponse, FromPivot) {
  JsonPtr chat = J(R"({"id":"chatcmpl-xyz","object":"chat.completion","model":"up","choices":[{"index":0,
    "message":{"role":"assistant","content":"hi","reasoning_content":"r","reasoning_signature":"S",
      "tool_calls":[{"id":"call_9","type":"function","function":{"name":"g","arguments":"{\"k\":\"v\"}"}}]},
    "finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":10,"completion_tokens":12,"total_tokens":22,
             "prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":7}}})");
  auto r = ChatResponseToGemini(chat.get(), "client-model");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(PrintJson(r->get()),
            R"({"candidates":[{"content":{"role":"model","parts":[{"text":"r","thought":true},{"text":"hi"},)"
            R"({"functionCall":{"name":"g","args":{"k":"v"},"id":"call_9"},"thoughtSignature":"S"}]},"finishReason":"STOP","index":0}],)"
            R"("usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":7,"cachedContentTokenCount":4,"totalTokenCount":22},)"
            R"("modelVersion":"client-model","responseId":"xyz"})");
  JsonPtr len = J(R"({"choices":[{"message":{"content":"a"},"finish_reason":"length"}]})");
  auto r2 = ChatResponseToGemini(len.get(), "m");
  EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(JsonArr(r2->get(), "candidates"), 0), "finishReason", ""), "MAX_TOKENS");
  JsonPtr cf = J(R"({"choices":[{"message":{"content":""},"finish_reason":"content_filter"}]})");
  auto r3 = ChatResponseToGemini(cf.get(), "m");
  EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(JsonArr(r3->get(), "candidates"), 0), "finishReason", ""), "SAFETY");
}

// ---- streaming ---------------------------------------------------------------------------

std::vector<SseEvent> ParseSse(const std::string& bytes, bool byte_at_a_time) {
  std::vector<SseEvent> events;
  SseParser p([&](const SseEvent& e) { events.push_back(e); });
  if (byte_at_a_time) {
    for (char c : bytes) p.Feed(std::string_view(&c, 1));
  } else {
    p.Feed(bytes);
  }
  p.Finish();
  return events;
}

std::vector<std::string> Decode(StreamDecoder* d, const std::string& bytes, bool bytewise) {
  std::vector<JsonPtr> chunks;
  for (const SseEvent& e : ParseSse(bytes, bytewise)) d->Decode(e, &chunks);
  d->Finish(&chunks);
  std::vector<std::string> out;
  for (auto& c : chunks) {
    // Strip the volatile envelope; keep choices / usage / error.
    cJSON_DeleteItemFromObjectCaseSensitive(c.get(), "created");
    out.push_back(PrintJson(c.get()));
  }
  return out;
}

const char* kGeminiStream =
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Think\",\"thought\":true}],\"role\":\"model\"},\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":9,\"totalTokenCount\":9},\"modelVersion\":\"gemini-3-flash\",\"responseId\":\"R1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\",\"thoughtSignature\":\"SIG\"}],\"role\":\"model\"},\"index\":0}],"
    "\"modelVersion\":\"gemini-3-flash\",\"responseId\":\"R1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}],\"role\":\"model\"},\"index\":0}],\"responseId\":\"R1\"}\r\n\r\n"
    "data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"ls\",\"args\":{\"dir\":\"/\"}}},"
    "{\"functionCall\":{\"name\":\"cat\",\"args\":{},\"id\":\"c-7\"}}],\"role\":\"model\"},\"finishReason\":\"STOP\",\"index\":0}],"
    "\"usageMetadata\":{\"promptTokenCount\":9,\"candidatesTokenCount\":6,\"thoughtsTokenCount\":3,\"cachedContentTokenCount\":2,"
    "\"totalTokenCount\":18},\"responseId\":\"R1\"}\r\n\r\n";

TEST(GeminiStreamDecoder, ChunksWholeAndByteByByte) {
  const std::vector<std::string> want = {
      R"({"id":"chatcmpl-R1","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Think"},"finish_reason":null}]})",
      R"({"id":"chatcmpl-R1","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"content":"Hel","reasoning_signature":"SIG"},"finish_reason":null}]})",
      R"({"id":"chatcmpl-R1","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]})",
      R"({"id":"chatcmpl-R1","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[{"index":0,"delta":{"tool_calls":[)"
      R"({"index":0,"id":"call_ls_0","type":"function","function":{"name":"ls","arguments":"{\"dir\":\"/\"}"}},)"
      R"({"index":1,"id":"c-7","type":"function","function":{"name":"cat","arguments":"{}"}}]},"finish_reason":"tool_calls"}]})",
      R"({"id":"chatcmpl-R1","object":"chat.completion.chunk","model":"gemini-3-flash","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18,"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":3}}})",
  };
  for (bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise ? "byte at a time" : "whole");
    auto d = NewGeminiStreamDecoder();
    EXPECT_EQ(Decode(d.get(), kGeminiStream, bytewise), want);
  }
}

TEST(GeminiStreamDecoder, FinishWithoutReasonAndErrors) {
  auto d = NewGeminiStreamDecoder();
  auto got = Decode(d.get(), "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"a\"}]}}]}\n\n", false);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[1].find("\"finish_reason\":\"stop\""), std::string::npos) << got[1];

  auto e = NewGeminiStreamDecoder();
  auto err = Decode(e.get(), "data: {\"error\":{\"code\":429,\"message\":\"quota\",\"status\":\"RESOURCE_EXHAUSTED\"}}\r\n\r\n", true);
  ASSERT_EQ(err.size(), 1u);
  EXPECT_EQ(err[0], R"({"error":{"message":"quota","type":"RESOURCE_EXHAUSTED","code":429}})");

  auto f = NewGeminiStreamDecoder();
  auto junk = Decode(f.get(), "data: not json\n\ndata: [1,2]\n\n: comment\n\n", false);
  ASSERT_EQ(junk.size(), 1u);  // only the closing finish chunk
}

// Pivot chunks as an OpenAI-style upstream would send them: tool-call
// arguments in fragments, finish_reason, then a usage chunk.
std::vector<JsonPtr> PivotStream() {
  std::vector<JsonPtr> v;
  auto add = [&](const char* s) { v.push_back(J(s)); };
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"mull"},"finish_reason":null}]})");
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{"reasoning_signature":"SG"},"finish_reason":null}]})");
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{"content":"Hi "},"finish_reason":null}]})");
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{"content":"there"},"finish_reason":null}]})");
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"run","arguments":""}}]},"finish_reason":null}]})");
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"cmd\":"}}]},"finish_reason":null}]})");
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"ls\"}"}}]},"finish_reason":null}]})");
  add(R"({"id":"chatcmpl-9","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})");
  add(R"({"id":"chatcmpl-9","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":8,"total_tokens":19,"completion_tokens_details":{"reasoning_tokens":3},"prompt_tokens_details":{"cached_tokens":5}}})");
  return v;
}

TEST(GeminiStreamEncoder, SseChunksBufferCallsAndCarryUsageLast) {
  StreamOptions o;
  o.model = "gemini-client";
  auto enc = NewGeminiStreamEncoder(o);
  std::string out;
  std::vector<std::string> pieces;
  for (auto& c : PivotStream()) {
    pieces.push_back(enc->Encode(c.get()));
    out += pieces.back();
  }
  // Fragments of the call produce nothing until the call is complete.
  EXPECT_EQ(pieces[1], "");
  EXPECT_EQ(pieces[4], "");
  EXPECT_EQ(pieces[5], "");
  EXPECT_EQ(pieces[6], "");
  EXPECT_EQ(pieces[7], "");  // finish waits for usage
  out += enc->Finish();
  EXPECT_EQ(enc->Finish(), "");
  EXPECT_EQ(out.find("\n\n"), std::string::npos) << "events end with CRLF CRLF";
  size_t crlf2 = 0;
  for (size_t at = 0; (at = out.find("\r\n\r\n", at)) != std::string::npos; at += 4) ++crlf2;
  EXPECT_EQ(crlf2, 4u);
  const std::vector<std::string> want = {
      R"({"candidates":[{"content":{"role":"model","parts":[{"text":"mull","thought":true}]},"index":0}],"modelVersion":"gemini-client","responseId":"9"})",
      R"({"candidates":[{"content":{"role":"model","parts":[{"text":"Hi ","thoughtSignature":"SG"}]},"index":0}],"modelVersion":"gemini-client","responseId":"9"})",
      R"({"candidates":[{"content":{"role":"model","parts":[{"text":"there"}]},"index":0}],"modelVersion":"gemini-client","responseId":"9"})",
      R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"run","args":{"cmd":"ls"},"id":"call_a"}}]},"finishReason":"STOP","index":0}],)"
      R"("usageMetadata":{"promptTokenCount":11,"candidatesTokenCount":5,"thoughtsTokenCount":3,"cachedContentTokenCount":5,"totalTokenCount":19},"modelVersion":"gemini-client","responseId":"9"})",
  };
  for (bool bytewise : {false, true}) {
    std::vector<std::string> got;
    for (const SseEvent& e : ParseSse(out, bytewise)) got.push_back(e.data);
    EXPECT_EQ(got, want);
  }
  // And the decoder reads back what the encoder wrote.
  auto d = NewGeminiStreamDecoder();
  auto back = Decode(d.get(), out, true);
  ASSERT_EQ(back.size(), 5u);
  EXPECT_NE(back[3].find(R"("arguments":"{\"cmd\":\"ls\"}")"), std::string::npos) << back[3];
  EXPECT_NE(back[4].find(R"("completion_tokens":8)"), std::string::npos) << back[4];
}

TEST(GeminiStreamEncoder, JsonArrayForm) {
  StreamOptions o;
  o.model = "m";
  o.gemini_sse = false;
  auto enc = NewGeminiStreamEncoder(o);
  std::string out;
  for (auto& c : PivotStream()) out += enc->Encode(c.get());
  EXPECT_EQ(enc->KeepAlive(), "");
  out += enc->Finish();
  EXPECT_EQ(out.rfind("[", 0), 0u);
  EXPECT_NE(out.find("},\r\n{"), std::string::npos);
  auto parsed = ParseJson(out);
  ASSERT_TRUE(parsed.ok()) << out;
  ASSERT_EQ(cJSON_GetArraySize(parsed->get()), 4);
  const cJSON* last = cJSON_GetArrayItem(parsed->get(), 3);
  EXPECT_EQ(JsonNum(JsonObj(last, "usageMetadata"), "totalTokenCount", 0), 19);

  auto empty = NewGeminiStreamEncoder(o);
  std::string e = empty->Finish();
  auto pe = ParseJson(e);
  ASSERT_TRUE(pe.ok()) << e;
  EXPECT_EQ(cJSON_GetArraySize(pe->get()), 1);  // the closing chunk with finishReason
}

TEST(GeminiStreamEncoder, ErrorsEndTheStream) {
  StreamOptions o;
  auto sse = NewGeminiStreamEncoder(o);
  EXPECT_EQ(sse->KeepAlive(), "\r\n");
  std::string out = sse->Encode(J(R"({"choices":[{"index":0,"delta":{"content":"a"}}]})").get());
  out += sse->Error(429, "slow down");
  EXPECT_EQ(sse->Finish(), "");
  EXPECT_EQ(sse->Encode(J(R"({"choices":[{"index":0,"delta":{"content":"b"}}]})").get()), "");
  auto events = ParseSse(out, true);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].data, R"({"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}})");

  o.gemini_sse = false;
  auto arr = NewGeminiStreamEncoder(o);
  std::string a = arr->Encode(J(R"({"choices":[{"index":0,"delta":{"content":"a"}}]})").get());
  a += arr->Encode(J(R"({"error":{"message":"boom","type":"x"}})").get());
  EXPECT_EQ(arr->Finish(), "");
  auto pa = ParseJson(a);
  ASSERT_TRUE(pa.ok()) << a;
  EXPECT_EQ(JsonNum(JsonObj(cJSON_GetArrayItem(pa->get(), 1), "error"), "code", 0), 502);

  auto arr2 = NewGeminiStreamEncoder(o);
  auto p2 = ParseJson(arr2->Error(500, "x"));
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(cJSON_GetArraySize(p2->get()), 1);
}

}  // namespace
}  // namespace tether
