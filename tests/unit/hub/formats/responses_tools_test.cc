// Responses tools without a pivot shape: namespace members, freeform
// (custom) tools and hosted tools, from a Codex-style request to every
// provider format and back, streaming included. Golden files live in
// golden/responses_tools_*.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/sse.h"
#include "hub/formats/formats_internal.h"
#include "hub/formats/responses_internal.h"
#include "tests/unit/hub/formats/format_test_util.h"

namespace tether {
namespace {

using testutil::J;

// Every target's rule at once: OpenAI chat and Anthropic ^[a-zA-Z0-9_-]{1,64}$,
// Gemini a letter or underscore first and at most 63 in some API versions.
const std::regex kSafeName("^[a-zA-Z_][a-zA-Z0-9_-]{0,62}$");

// Random ids become "<prefix>*"; clock fields go.
void Normalize(cJSON* j) {
  if (!j) return;
  if (cJSON_IsObject(j)) {
    cJSON_DeleteItemFromObjectCaseSensitive(j, "created_at");
    cJSON_DeleteItemFromObjectCaseSensitive(j, "created");
  }
  cJSON* c;
  cJSON_ArrayForEach(c, j) {
    if (cJSON_IsString(c) && c->string &&
        (std::string(c->string) == "id" || std::string(c->string) == "item_id")) {
      std::string v = c->valuestring;
      size_t us = v.find('_');
      if (us != std::string::npos && v.rfind("call_", 0) != 0) cJSON_SetValuestring(c, (v.substr(0, us + 1) + "*").c_str());
    } else {
      Normalize(c);
    }
  }
}

std::string Canon(const std::string& golden_text) { return PrintJson(J(golden_text).get()); }

JsonPtr Request() { return J(testutil::Golden("responses_tools_request.json")); }

JsonPtr Pivot(const cJSON* req) {
  auto chat = ResponsesRequestToChat(req);
  EXPECT_TRUE(chat.ok()) << chat.status().message();
  return chat.ok() ? std::move(*chat) : JsonNewObj();
}

// Names of the callable tools in a provider body.
std::vector<std::string> ToolNames(ApiFormat f, const cJSON* body) {
  std::vector<std::string> out;
  const cJSON* t;
  cJSON_ArrayForEach(t, JsonArr(body, "tools")) {
    if (f == ApiFormat::kGemini) {
      const cJSON* d;
      cJSON_ArrayForEach(d, JsonArr(t, "functionDeclarations")) out.push_back(JsonStrOr(d, "name", ""));
    } else if (f == ApiFormat::kAnthropic) {
      if (!JsonGet(t, "type")) out.push_back(JsonStrOr(t, "name", ""));  // client tools carry no type
    } else {
      out.push_back(JsonStrOr(JsonObj(t, "function"), "name", ""));
    }
  }
  return out;
}

// ---- request direction ---------------------------------------------------------

TEST(ResponsesTools, RequestGoldenIntoEveryFormat) {
  JsonPtr req = Request();
  JsonPtr chat = Pivot(req.get());
  EXPECT_EQ(PrintJson(chat.get()), Canon(testutil::Golden("responses_tools_pivot.json")));
  struct Target {
    ApiFormat format;
    const char* golden;
  } targets[] = {{ApiFormat::kOpenAIChat, "responses_tools_chat.json"},
                 {ApiFormat::kAnthropic, "responses_tools_anthropic.json"},
                 {ApiFormat::kGemini, "responses_tools_gemini.json"}};
  for (const Target& t : targets) {
    SCOPED_TRACE(ApiFormatName(t.format));
    auto body = FromChatRequest(t.format, chat.get());
    ASSERT_TRUE(body.ok()) << body.status().message();
    EXPECT_EQ(PrintJson(body->get()), Canon(testutil::Golden(t.golden)));
  }
}

// Each function inside a namespace, and each custom tool, is a callable
// tool in every target, under a name the target accepts; hosted tools are
// not. Checked on the golden request and on every captured Codex request.
TEST(ResponsesTools, EveryMemberIsCallableUnderAValidName) {
  std::vector<JsonPtr> requests;
  requests.push_back(Request());
  for (const char* file : {"codex.jsonl", "codex-tool.jsonl"})
    for (testutil::Captured& c : testutil::LoadRequests(file))
      if (c.path.find("/responses") != std::string::npos) requests.push_back(std::move(c.body));
  ASSERT_GT(requests.size(), 1u);
  int namespaced = 0;
  for (const JsonPtr& req : requests) {
    const ResponsesToolNames names(req.get());
    // What must be callable: (namespace, name) of every function and custom tool.
    std::vector<std::string> want;
    const cJSON* t;
    cJSON_ArrayForEach(t, JsonArr(req.get(), "tools")) {
      std::string type = JsonStrOr(t, "type", "");
      if (type == "function" || type == "custom") want.push_back(names.Wire("", JsonStrOr(t, "name", "")));
      if (type != "namespace") continue;
      const cJSON* inner;
      cJSON_ArrayForEach(inner, JsonArr(t, "tools")) {
        const ResponsesToolName* e = names.Find(JsonStrOr(t, "name", ""), JsonStrOr(inner, "name", ""));
        ASSERT_NE(e, nullptr) << JsonStrOr(inner, "name", "");
        EXPECT_EQ(e->custom, JsonStrOr(inner, "type", "") == "custom");
        want.push_back(e->wire);
        ++namespaced;
      }
    }
    std::set<std::string> unique(want.begin(), want.end());
    EXPECT_EQ(unique.size(), want.size()) << "tool names collide";
    JsonPtr chat = Pivot(req.get());
    for (ApiFormat f : {ApiFormat::kOpenAIChat, ApiFormat::kAnthropic, ApiFormat::kGemini}) {
      SCOPED_TRACE(ApiFormatName(f));
      auto body = FromChatRequest(f, chat.get());
      ASSERT_TRUE(body.ok()) << body.status().message();
      std::vector<std::string> got = ToolNames(f, body->get());
      EXPECT_EQ(got, want);
      for (const std::string& n : got) EXPECT_TRUE(std::regex_match(n, kSafeName)) << n;
    }
  }
  EXPECT_GE(namespaced, 5);
}

TEST(ResponsesTools, NamesAreSafeUniqueAndReversible) {
  std::string long_ns(70, 'n');
  JsonPtr req = J(R"({"tools":[
    {"type":"function","name":"a__b"},
    {"type":"namespace","name":"a","tools":[{"type":"function","name":"b"},{"type":"function","name":"b"}]},
    {"type":"namespace","name":"9lives.ns","tools":[{"type":"function","name":"x y"}]},
    {"type":"namespace","name":")" + long_ns + R"(","tools":[{"type":"function","name":"one"},{"type":"function","name":"two"}]},
    {"type":"custom","name":"free"},
    {"type":"custom","name":"free"},
    {"type":"namespace","name":"nested","tools":[{"type":"namespace","name":"deeper","tools":[]}]}
  ]})");
  const ResponsesToolNames names(req.get());
  std::vector<std::pair<std::string, std::string>> members = {
      {"", "a__b"}, {"a", "b"}, {"9lives.ns", "x y"}, {long_ns, "one"}, {long_ns, "two"}, {"", "free"}};
  std::set<std::string> wires;
  for (const auto& [ns, name] : members) {
    const ResponsesToolName* e = names.Find(ns, name);
    ASSERT_NE(e, nullptr) << ns << "/" << name;
    EXPECT_TRUE(std::regex_match(e->wire, kSafeName)) << e->wire;
    EXPECT_TRUE(wires.insert(e->wire).second) << "duplicate " << e->wire;
    const ResponsesToolName* back = names.FindWire(e->wire);
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(back->ns, ns);
    EXPECT_EQ(back->name, name);
  }
  // The client's own top-level name wins; the namespaced twin gets a suffix.
  EXPECT_EQ(names.Find("", "a__b")->wire, "a__b");
  EXPECT_EQ(names.Find("a", "b")->wire, "a__b_2");
  EXPECT_EQ(names.Find("9lives.ns", "x y")->wire, "_9lives_ns__x_y");
  EXPECT_TRUE(names.Find("", "free")->custom);
  EXPECT_EQ(names.Find("nested", "deeper"), nullptr);  // a namespace is not a callable member
  JsonPtr chat = Pivot(req.get());
  EXPECT_EQ(cJSON_GetArraySize(JsonArr(chat.get(), "tools")), static_cast<int>(members.size()));
  // A history call to a tool no longer offered is named the same way.
  EXPECT_EQ(names.Wire("gone", "tool"), "gone__tool");
  EXPECT_EQ(names.Wire("", "plain"), "plain");
}

TEST(ResponsesTools, BadToolEntriesAreSkippedNotFatal) {
  for (const char* tools : {R"([1, "x", null, {}, {"type":"namespace"}, {"type":"namespace","tools":{}}])",
                            R"([{"type":"namespace","name":"n","tools":[1,{"name":5},{"type":"custom"}]}])",
                            R"([{"type":"custom","name":"c","format":"lark"}, {"type":"web_search","filters":7}])",
                            R"({"not":"an array"})"}) {
    SCOPED_TRACE(tools);
    JsonPtr req = J(std::string(R"({"model":"m","input":"hi","tools":)") + tools + "}");
    auto chat = ResponsesRequestToChat(req.get());
    ASSERT_TRUE(chat.ok()) << chat.status().message();
    for (ApiFormat f : {ApiFormat::kOpenAIChat, ApiFormat::kAnthropic, ApiFormat::kGemini}) {
      auto body = FromChatRequest(f, chat->get());
      ASSERT_TRUE(body.ok());
      for (const std::string& n : ToolNames(f, body->get())) EXPECT_TRUE(std::regex_match(n, kSafeName)) << n;
    }
  }
}

// ---- hosted tools ----------------------------------------------------------------

TEST(ResponsesTools, HostedToolsAreDroppedWhereNobodyRunsThem) {
  JsonPtr req = J(R"({"model":"m","input":"hi","tools":[
    {"type":"file_search","vector_store_ids":["vs"]},{"type":"local_shell"},{"type":"image_generation"},
    {"type":"computer_use_preview","display_width":1,"display_height":1,"environment":"linux"},
    {"type":"mcp","server_label":"x","server_url":"https://x"},{"type":"code_interpreter","container":{"type":"auto"}},
    {"type":"web_search","external_web_access":false}],"tool_choice":"required"})");
  JsonPtr chat = Pivot(req.get());
  EXPECT_EQ(JsonGet(chat.get(), "tools"), nullptr);
  EXPECT_EQ(JsonGet(chat.get(), "web_search_options"), nullptr);
  for (ApiFormat f : {ApiFormat::kOpenAIChat, ApiFormat::kAnthropic, ApiFormat::kGemini}) {
    SCOPED_TRACE(ApiFormatName(f));
    auto body = FromChatRequest(f, chat.get());
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(JsonGet(body->get(), "tools"), nullptr);
    // No tool left to require: Anthropic and Gemini get no tool choice.
    if (f != ApiFormat::kOpenAIChat) {
      EXPECT_EQ(JsonGet(body->get(), "tool_choice"), nullptr);
      EXPECT_EQ(JsonGet(body->get(), "toolConfig"), nullptr);
    }
  }
}

TEST(ResponsesTools, WebSearchBecomesAnthropicsServerTool) {
  JsonPtr req = J(R"({"model":"m","input":"news?","tools":[
    {"type":"function","name":"f"},
    {"type":"web_search","search_context_size":"low","filters":{"allowed_domains":["example.com"]},
     "user_location":{"type":"approximate","city":"Paris","country":"FR","timezone":"Europe/Paris"}}]})");
  JsonPtr chat = Pivot(req.get());
  EXPECT_EQ(PrintJson(JsonGet(chat.get(), "web_search_options")),
            R"({"search_context_size":"low","user_location":{"type":"approximate","approximate":)"
            R"({"city":"Paris","country":"FR","timezone":"Europe/Paris"}},"allowed_domains":["example.com"]})");
  auto a = FromChatRequest(ApiFormat::kAnthropic, chat.get());
  ASSERT_TRUE(a.ok());
  const cJSON* tools = JsonArr(a->get(), "tools");
  ASSERT_EQ(cJSON_GetArraySize(tools), 2);
  EXPECT_EQ(PrintJson(cJSON_GetArrayItem(tools, 1)),
            R"({"type":"web_search_20250305","name":"web_search","allowed_domains":["example.com"],)"
            R"("user_location":{"type":"approximate","city":"Paris","country":"FR","timezone":"Europe/Paris"}})");
  // Gemini and an OpenAI chat provider get the function only.
  for (ApiFormat f : {ApiFormat::kOpenAIChat, ApiFormat::kGemini}) {
    auto body = FromChatRequest(f, chat.get());
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(JsonGet(body->get(), "web_search_options"), nullptr);
    EXPECT_EQ(ToolNames(f, body->get()), std::vector<std::string>{"f"});
    EXPECT_EQ(PrintJson(body->get()).find("earch"), std::string::npos) << PrintJson(body->get());
  }
  // A Responses provider gets its own web_search back.
  auto r = FromChatRequest(ApiFormat::kOpenAIResponses, chat.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(PrintJson(cJSON_GetArrayItem(JsonArr(r->get(), "tools"), 1)),
            R"({"type":"web_search","search_context_size":"low","user_location":{"type":"approximate","city":"Paris",)"
            R"("country":"FR","timezone":"Europe/Paris"},"filters":{"allowed_domains":["example.com"]}})");
  // A client function already called web_search keeps the name.
  JsonPtr clash = J(R"({"model":"m","input":"x","tools":[{"type":"function","name":"web_search"},{"type":"web_search"}]})");
  auto a2 = FromChatRequest(ApiFormat::kAnthropic, Pivot(clash.get()).get());
  ASSERT_TRUE(a2.ok());
  EXPECT_EQ(cJSON_GetArraySize(JsonArr(a2->get(), "tools")), 1);
  EXPECT_EQ(JsonGet(cJSON_GetArrayItem(JsonArr(a2->get(), "tools"), 0), "type"), nullptr);
}

// ---- response direction ----------------------------------------------------------

// A pivot answer calling a plain function, a namespaced one, the custom
// tool and a namespaced custom tool.
constexpr const char* kPivotAnswer = R"({"id":"chatcmpl-1","created":1,"model":"up","choices":[{"index":0,
  "message":{"role":"assistant","content":null,"tool_calls":[
   {"id":"call_1","type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}},
   {"id":"call_2","type":"function","function":{"name":"multi_agent_v1__close_agent","arguments":"{\"target\":\"agent-7\"}"}},
   {"id":"call_3","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}},
   {"id":"call_4","type":"function","function":{"name":"mcp_docs-server__raw_query","arguments":"{\"input\":\"title:\\\"x\\\"\"}"}}]},
  "finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":6,"total_tokens":11}})";

TEST(ResponsesTools, ResponseGoldenRestoresNamespacesAndCustomCalls) {
  JsonPtr req = Request();
  JsonPtr chat = J(kPivotAnswer);
  auto r = FromChatResponse(ApiFormat::kOpenAIResponses, chat.get(), "gpt-5.4", req.get());
  ASSERT_TRUE(r.ok()) << r.status().message();
  Normalize(r->get());
  EXPECT_EQ(PrintJson(JsonGet(r->get(), "output")), Canon(testutil::Golden("responses_tools_output.json")));
  // Without the client's request the calls stay plain functions.
  auto plain = FromChatResponse(ApiFormat::kOpenAIResponses, chat.get(), "gpt-5.4");
  ASSERT_TRUE(plain.ok());
  const cJSON* item;
  cJSON_ArrayForEach(item, JsonArr(plain->get(), "output")) EXPECT_EQ(JsonStrOr(item, "type", ""), "function_call");
}

TEST(ResponsesTools, CustomInputFromArguments) {
  EXPECT_EQ(CustomToolInput(R"({"input":"a\nb"})"), "a\nb");
  EXPECT_EQ(CustomToolInput(R"({"patch":"p"})"), "p");  // a lone string under another key
  EXPECT_EQ(CustomToolInput(R"("bare")"), "bare");
  EXPECT_EQ(CustomToolInput("{}"), "");
  EXPECT_EQ(CustomToolInput("not json"), "not json");
  EXPECT_EQ(CustomToolInput(R"({"a":1,"b":2})"), R"({"a":1,"b":2})");
}

// Pivot chunks of kPivotAnswer, arguments split mid-escape.
std::vector<JsonPtr> PivotChunks() {
  std::vector<JsonPtr> v;
  for (const std::string& line : testutil::GoldenLines("responses_tools_stream_pivot.jsonl")) v.push_back(J(line));
  return v;
}

TEST(ResponsesTools, StreamGoldenRestoresNamespacesAndCustomCalls) {
  JsonPtr req = Request();
  StreamOptions o;
  o.model = "gpt-5.4";
  o.client_request = req.get();
  auto enc = NewStreamEncoder(ApiFormat::kOpenAIResponses, o);
  std::string out;
  for (const JsonPtr& c : PivotChunks()) out += enc->Encode(c.get());
  out += enc->Finish();
  std::vector<std::string> want = testutil::GoldenLines("responses_tools_stream_out.jsonl");
  for (bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise ? "byte at a time" : "whole");
    std::vector<std::string> got;
    SseParser p([&](const SseEvent& e) {
      JsonPtr d = J(e.data);
      EXPECT_EQ(JsonStrOr(d.get(), "type", ""), e.event);
      Normalize(d.get());
      got.push_back(PrintJson(d.get()));
    });
    if (bytewise) {
      for (char c : out) p.Feed(std::string_view(&c, 1));
    } else {
      p.Feed(out);
    }
    p.Finish();
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], Canon(want[i])) << "event " << i;
  }
}

// Calls coming back from each provider format end as the client's items.
TEST(ResponsesTools, ProviderCallsComeBackAsTheClientsItems) {
  JsonPtr req = Request();
  // Anthropic stream: tool_use blocks under the pivot names.
  std::string sse =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
      "\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
      "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"multi_agent_v1__close_agent\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
      "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"target\\\":\\\"a\\\"}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":"
      "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"apply_patch\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
      "{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"input\\\":\\\"*** Begin\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":"
      "{\"type\":\"input_json_delta\",\"partial_json\":\" Patch\\\\n\\\"}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},"
      "\"usage\":{\"output_tokens\":9}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  auto dec = NewStreamDecoder(ApiFormat::kAnthropic);
  StreamOptions o;
  o.client_request = req.get();
  auto enc = NewStreamEncoder(ApiFormat::kOpenAIResponses, o);
  std::string out;
  SseParser parser([&](const SseEvent& e) {
    std::vector<JsonPtr> chunks;
    dec->Decode(e, &chunks);
    for (const JsonPtr& c : chunks) out += enc->Encode(c.get());
  });
  parser.Feed(sse);
  parser.Finish();
  std::vector<JsonPtr> tail;
  dec->Finish(&tail);
  for (const JsonPtr& c : tail) out += enc->Encode(c.get());
  out += enc->Finish();
  JsonPtr completed;
  std::vector<std::string> names;
  SseParser events([&](const SseEvent& e) {
    names.push_back(e.event);
    if (e.event == "response.completed") completed = J(e.data);
  });
  events.Feed(out);
  events.Finish();
  ASSERT_TRUE(completed);
  const cJSON* output = JsonArr(JsonObj(completed.get(), "response"), "output");
  ASSERT_EQ(cJSON_GetArraySize(output), 2);
  const cJSON* fc = cJSON_GetArrayItem(output, 0);
  EXPECT_EQ(JsonStrOr(fc, "type", ""), "function_call");
  EXPECT_EQ(JsonStrOr(fc, "namespace", ""), "multi_agent_v1");
  EXPECT_EQ(JsonStrOr(fc, "name", ""), "close_agent");
  EXPECT_EQ(JsonStrOr(fc, "call_id", ""), "toolu_1");
  EXPECT_EQ(JsonStrOr(fc, "arguments", ""), R"({"target":"a"})");
  const cJSON* ctc = cJSON_GetArrayItem(output, 1);
  EXPECT_EQ(JsonStrOr(ctc, "type", ""), "custom_tool_call");
  EXPECT_EQ(JsonStrOr(ctc, "name", ""), "apply_patch");
  EXPECT_EQ(JsonStrOr(ctc, "call_id", ""), "toolu_2");
  EXPECT_EQ(JsonStrOr(ctc, "input", ""), "*** Begin Patch\n");
  EXPECT_EQ(JsonGet(ctc, "namespace"), nullptr);
  EXPECT_NE(std::find(names.begin(), names.end(), "response.custom_tool_call_input.done"), names.end());

  // Gemini, non-streaming: a functionCall of the namespaced custom tool.
  JsonPtr gemini = J(R"({"candidates":[{"content":{"role":"model","parts":[{"functionCall":
    {"name":"mcp_docs-server__raw_query","args":{"input":"q=1"}}}]},"finishReason":"STOP"}],
    "usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":3,"totalTokenCount":5}})");
  auto chat = ToChatResponse(ApiFormat::kGemini, gemini.get());
  ASSERT_TRUE(chat.ok());
  auto r = FromChatResponse(ApiFormat::kOpenAIResponses, chat->get(), "m", req.get());
  ASSERT_TRUE(r.ok());
  const cJSON* item = cJSON_GetArrayItem(JsonArr(r->get(), "output"), 0);
  EXPECT_EQ(JsonStrOr(item, "type", ""), "custom_tool_call");
  EXPECT_EQ(JsonStrOr(item, "namespace", ""), "mcp.docs-server");
  EXPECT_EQ(JsonStrOr(item, "name", ""), "raw_query");
  EXPECT_EQ(JsonStrOr(item, "input", ""), "q=1");
  EXPECT_EQ(JsonStrOr(item, "status", ""), "completed");
  EXPECT_FALSE(JsonStrOr(item, "call_id", "").empty());
}

}  // namespace
}  // namespace tether
