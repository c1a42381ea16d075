// OpenAI Responses <-> pivot: Codex CLI and OpenAI SDK requests from
// ../shared/fixtures/clients, hand-written cases per feature, and the stream
// encoder/decoder with exact event sequences, fed whole and byte by byte.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/sse.h"
#include "hub/formats/formats_internal.h"
#include "tests/unit/hub/formats/format_test_util.h"

namespace tether {
namespace {

using testutil::J;

// /v1/responses request bodies from one capture file.
std::vector<JsonPtr> LoadResponsesRequests(const std::string& name) {
  std::vector<JsonPtr> out;
  for (testutil::Captured& c : testutil::LoadRequests(name))
    if (c.path.find("/responses") != std::string::npos) out.push_back(std::move(c.body));
  return out;
}

const cJSON* Msg(const cJSON* chat, int i) { return cJSON_GetArrayItem(JsonArr(chat, "messages"), i); }

std::string Text(const cJSON* content) {
  if (cJSON_IsString(content)) return content->valuestring;
  std::string s;
  const cJSON* p;
  cJSON_ArrayForEach(p, content) {
    if (const char* t = JsonStr(p, "text")) s += t;
  }
  return s;
}

// ---- fixtures ------------------------------------------------------------------

TEST(ResponsesFixtures, EveryClientRequestSurvivesTheRoundTrip) {
  int checked = 0, with_calls = 0, namespaced = 0;
  for (const char* file : {"codex.jsonl", "codex-tool.jsonl", "openai-sdk.jsonl"}) {
    for (JsonPtr& body : LoadResponsesRequests(file)) {
      SCOPED_TRACE(file);
      const cJSON* req = body.get();
      auto chat = ResponsesRequestToChat(req);
      ASSERT_TRUE(chat.ok()) << chat.status().message();
      const cJSON* c = chat->get();
      EXPECT_EQ(JsonStrOr(c, "model", ""), JsonStrOr(req, "model", "?"));

      // Messages: every input message keeps its role and text, function
      // calls and outputs keep their call ids.
      std::vector<std::string> want_roles, want_text, got_roles, got_text;
      std::vector<std::string> want_calls, want_outputs, got_calls, got_outputs;
      const cJSON* input = JsonGet(req, "input");
      if (cJSON_IsString(input)) {
        want_roles.push_back("user");
        want_text.push_back(input->valuestring);
      }
      const cJSON* item;
      cJSON_ArrayForEach(item, JsonArr(req, "input")) {
        std::string type = JsonStrOr(item, "type", "message");
        if (type == "message") {
          want_roles.push_back(JsonStrOr(item, "role", ""));
          want_text.push_back(Text(JsonGet(item, "content")));
        } else if (type == "function_call") {
          want_calls.push_back(JsonStrOr(item, "call_id", "") + " " + JsonStrOr(item, "name", "") + " " +
                               JsonStrOr(item, "arguments", ""));
        } else if (type == "function_call_output") {
          want_outputs.push_back(JsonStrOr(item, "call_id", "") + " " + JsonStrOr(item, "output", ""));
        }
      }
      const cJSON* m;
      cJSON_ArrayForEach(m, JsonArr(c, "messages")) {
        std::string role = JsonStrOr(m, "role", "");
        if (role == "tool") {
          got_outputs.push_back(JsonStrOr(m, "tool_call_id", "") + " " + Text(JsonGet(m, "content")));
          continue;
        }
        const cJSON* tc;
        cJSON_ArrayForEach(tc, JsonArr(m, "tool_calls")) {
          got_calls.push_back(JsonStrOr(tc, "id", "") + " " + JsonStrOr(JsonObj(tc, "function"), "name", "") + " " +
                              JsonStrOr(JsonObj(tc, "function"), "arguments", ""));
        }
        if (role == "assistant" && !JsonStr(m, "content")) continue;
        got_roles.push_back(role);
        got_text.push_back(Text(JsonGet(m, "content")));
      }
      EXPECT_EQ(got_roles, want_roles);
      EXPECT_EQ(got_text, want_text);
      EXPECT_EQ(got_calls, want_calls);
      EXPECT_EQ(got_outputs, want_outputs);
      with_calls += static_cast<int>(want_calls.size());

      // Tools: functions, and namespace members as "<namespace>__<name>";
      // hosted ones dropped.
      std::vector<std::string> want_tools, got_tools;
      const cJSON* t;
      cJSON_ArrayForEach(t, JsonArr(req, "tools")) {
        std::string type = JsonStrOr(t, "type", "");
        if (type == "function") want_tools.push_back(JsonStrOr(t, "name", "") + PrintJson(JsonGet(t, "parameters")));
        if (type == "namespace") {
          ++namespaced;
          const cJSON* inner;
          cJSON_ArrayForEach(inner, JsonArr(t, "tools")) {
            want_tools.push_back(JsonStrOr(t, "name", "") + "__" + JsonStrOr(inner, "name", "") +
                                 PrintJson(JsonGet(inner, "parameters")));
          }
        }
      }
      cJSON_ArrayForEach(t, JsonArr(c, "tools")) {
        const cJSON* fn = JsonObj(t, "function");
        EXPECT_EQ(JsonStrOr(t, "type", ""), "function");
        got_tools.push_back(JsonStrOr(fn, "name", "") + PrintJson(JsonGet(fn, "parameters")));
      }
      EXPECT_EQ(got_tools, want_tools);
      if (const char* tc = JsonStr(req, "tool_choice")) {
        EXPECT_EQ(JsonStrOr(c, "tool_choice", ""), tc);
      }
      if (JsonGet(req, "parallel_tool_calls")) {
        EXPECT_EQ(JsonBool(c, "parallel_tool_calls", false), JsonBool(req, "parallel_tool_calls", true));
      }
      for (const char* k : {"store", "include", "prompt_cache_key", "client_metadata", "input", "reasoning"}) {
        EXPECT_EQ(JsonGet(c, k), nullptr) << k;
      }

      // And back to Responses (as if a Responses provider served it).
      auto back = ChatRequestToResponses(c);
      ASSERT_TRUE(back.ok()) << back.status().message();
      const cJSON* r = back->get();
      std::vector<std::string> back_calls, back_outputs, back_text;
      cJSON_ArrayForEach(item, JsonArr(r, "input")) {
        std::string type = JsonStrOr(item, "type", "");
        if (type == "function_call")
          back_calls.push_back(JsonStrOr(item, "call_id", "") + " " + JsonStrOr(item, "name", "") + " " +
                               JsonStrOr(item, "arguments", ""));
        else if (type == "function_call_output")
          back_outputs.push_back(JsonStrOr(item, "call_id", "") + " " + JsonStrOr(item, "output", ""));
        else if (type == "message")
          back_text.push_back(Text(JsonGet(item, "content")));
      }
      EXPECT_EQ(back_calls, want_calls);
      EXPECT_EQ(back_outputs, want_outputs);
      // Leading developer messages become instructions.
      std::string instructions;
      size_t lead = 0;
      while (lead < want_roles.size() && want_roles[lead] == "developer") {
        instructions += (instructions.empty() ? "" : "\n\n") + want_text[lead];
        ++lead;
      }
      EXPECT_EQ(JsonStrOr(r, "instructions", ""), instructions);
      EXPECT_EQ(back_text, std::vector<std::string>(want_text.begin() + static_cast<long>(lead), want_text.end()));
      EXPECT_EQ(cJSON_GetArraySize(JsonArr(r, "tools")), static_cast<int>(want_tools.size()));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 6);
  EXPECT_EQ(with_calls, 1);
  EXPECT_EQ(namespaced, 3);
}

// ---- requests ---------------------------------------------------------------------

TEST(ResponsesRequest, ItemsIntoThePivot) {
  JsonPtr req = J(R"({
    "model": "gpt-5", "instructions": "be terse", "stream": true,
    "input": [
      {"role": "user", "content": [{"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "high"},
        {"type": "input_image", "file_id": "file-1"}]},
      {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "first"},
        {"type": "summary_text", "text": "second"}], "encrypted_content": "ENC"},
      {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "checking"}]},
      {"type": "function_call", "call_id": "call_1", "name": "sh", "arguments": "{\"c\":1}"},
      {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin"},
      {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
      {"type": "custom_tool_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "done"}]},
      {"type": "web_search_call", "id": "ws", "status": "completed", "action": {"type": "search"}},
      {"type": "message", "role": "developer", "content": "later rule"},
      {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "final"}]}
    ],
    "tools": [{"type": "function", "name": "sh", "description": "shell", "strict": true,
               "parameters": {"type": "object", "properties": {"c": {"type": "integer"}}}},
              {"type": "web_search"}, {"type": "local_shell"}, {"type": "custom", "name": "apply_patch"},
              {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "inner"}]}],
    "tool_choice": {"type": "function", "name": "sh"},
    "max_output_tokens": 300, "temperature": 0.3, "top_p": 0.8, "parallel_tool_calls": false,
    "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}},
    "reasoning": {"effort": "minimal", "summary": "auto"},
    "store": false, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k"
  })");
  auto r = ResponsesRequestToChat(req.get());
  ASSERT_TRUE(r.ok()) << r.status().message();
  const cJSON* c = r->get();
  ASSERT_EQ(cJSON_GetArraySize(JsonArr(c, "messages")), 7);
  EXPECT_EQ(PrintJson(Msg(c, 0)), R"({"role":"system","content":"be terse"})");
  EXPECT_EQ(PrintJson(Msg(c, 1)),
            R"({"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA","detail":"high"}}]})");
  // Reasoning, text and both calls make one assistant turn.
  EXPECT_EQ(PrintJson(Msg(c, 2)),
            R"({"role":"assistant","reasoning_content":"first\n\nsecond","reasoning_signature":"ENC","content":"checking",)"
            R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"sh","arguments":"{\"c\":1}"}},)"
            R"({"id":"call_2","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin\"}"}}]})");
  EXPECT_EQ(PrintJson(Msg(c, 3)), R"({"role":"tool","tool_call_id":"call_1","content":"ok"})");
  EXPECT_EQ(PrintJson(Msg(c, 4)), R"({"role":"tool","tool_call_id":"call_2","content":"done"})");
  EXPECT_EQ(PrintJson(Msg(c, 5)), R"({"role":"developer","content":"later rule"})");
  EXPECT_EQ(PrintJson(Msg(c, 6)), R"({"role":"assistant","content":"final"})");
  EXPECT_EQ(PrintJson(JsonGet(c, "tools")),
            R"([{"type":"function","function":{"name":"sh","description":"shell","parameters":{"type":"object","properties":{"c":{"type":"integer"}}},"strict":true}},)"
            R"({"type":"function","function":{"name":"apply_patch","parameters":{"type":"object","properties":{"input":)"
            R"({"type":"string","description":"The raw input for the tool, passed to it verbatim."}},"required":["input"],)"
            R"("additionalProperties":false}}},)"
            R"({"type":"function","function":{"name":"ns__inner","parameters":{"type":"object","properties":{}}}}])");
  EXPECT_EQ(PrintJson(JsonGet(c, "web_search_options")), "{}");
  EXPECT_EQ(PrintJson(JsonGet(c, "tool_choice")), R"({"type":"function","function":{"name":"sh"}})");
  EXPECT_EQ(JsonNum(c, "max_tokens", 0), 300);
  EXPECT_EQ(JsonNum(c, "temperature", 0), 0.3);
  EXPECT_EQ(JsonNum(c, "top_p", 0), 0.8);
  EXPECT_FALSE(JsonBool(c, "parallel_tool_calls", true));
  EXPECT_TRUE(JsonBool(c, "stream", false));
  EXPECT_EQ(PrintJson(JsonGet(c, "response_format")),
            R"({"type":"json_schema","json_schema":{"name":"out","schema":{"type":"object"},"strict":true}})");
  EXPECT_EQ(JsonStrOr(c, "reasoning_effort", ""), "low");
}

TEST(ResponsesRequest, MalformedInputIsAnErrorNotACrash) {
  EXPECT_FALSE(ResponsesRequestToChat(J("[]").get()).ok());
  EXPECT_FALSE(ResponsesRequestToChat(J(R"({"input": 5})").get()).ok());
  EXPECT_FALSE(ResponsesRequestToChat(J(R"({"input": [{"content": "no type or role"}]})").get()).ok());
  EXPECT_TRUE(ResponsesRequestToChat(J(R"({"input": [{"type": "function_call"}, {"type": "reasoning"},
      {"type": "message", "role": "user", "content": [5, {"type": "input_image"}]}],
      "tools": [{"type": "namespace"}, {"type": "function"}, 3], "text": {"format": 1}, "reasoning": {"effort": "none"}})")
                  .get())
                  .ok());
  EXPECT_FALSE(ChatRequestToResponses(J("{}").get()).ok());
}

TEST(ResponsesRequest, PivotToResponses) {
  JsonPtr chat = J(R"({
    "model": "gpt-5", "stream": true,
    "messages": [
      {"role": "system", "content": "sys"},
      {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
      {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://i/x.png"}}]},
      {"role": "assistant", "content": "calling", "reasoning_content": "why", "reasoning_signature": "ENC",
       "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "res"},
      {"role": "assistant", "content": "no signature here", "reasoning_content": "dropped"},
      {"role": "system", "content": "late"}
    ],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "max_tokens": 10, "temperature": 1, "top_p": 0.5, "parallel_tool_calls": true, "stop": ["x"], "n": 1,
    "response_format": {"type": "json_object"}, "thinking_budget": 20000
  })");
  auto r = ChatRequestToResponses(chat.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(PrintJson(r->get()),
            R"({"model":"gpt-5","input":[)"
            R"({"type":"message","role":"user","content":[{"type":"input_text","text":"hi"},{"type":"input_image","image_url":"https://i/x.png","detail":"auto"}]},)"
            R"({"type":"reasoning","summary":[{"type":"summary_text","text":"why"}],"encrypted_content":"ENC"},)"
            R"({"type":"message","role":"assistant","content":[{"type":"output_text","text":"calling"}]},)"
            R"({"type":"function_call","call_id":"call_1","name":"f","arguments":"{}"},)"
            R"({"type":"function_call_output","call_id":"call_1","output":"res"},)"
            R"({"type":"message","role":"assistant","content":[{"type":"output_text","text":"no signature here"}]},)"
            R"({"type":"message","role":"developer","content":[{"type":"input_text","text":"late"}]}],)"
            R"("instructions":"sys\n\ndev",)"
            R"("tools":[{"type":"function","name":"f","description":"d","parameters":{"type":"object"},"strict":false}],)"
            R"("tool_choice":{"type":"function","name":"f"},"max_output_tokens":10,"temperature":1,"top_p":0.5,)"
            R"("parallel_tool_calls":true,"stream":true,"text":{"format":{"type":"json_object"}},"reasoning":{"effort":"high"}})");
}

// ---- non-streaming responses -----------------------------------------------------------

TEST(ResponsesResponse, ToPivot) {
  JsonPtr resp = J(R"({"id":"resp_1","object":"response","created_at":100,"status":"completed","model":"gpt-5",
    "output":[{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"plan"}],"encrypted_content":"E"},
      {"type":"message","id":"msg_1","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]},
      {"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{\"a\":1}"}],
    "usage":{"input_tokens":20,"input_tokens_details":{"cached_tokens":8},"output_tokens":9,
             "output_tokens_details":{"reasoning_tokens":4},"total_tokens":29}})");
  auto r = ResponsesResponseToChat(resp.get());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(PrintJson(r->get()),
            R"({"id":"resp_1","object":"chat.completion","created":100,"model":"gpt-5","choices":[{"index":0,)"
            R"("message":{"role":"assistant","content":"Hello","reasoning_content":"plan","reasoning_signature":"E",)"
            R"("tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],)"
            R"("usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":8},)"
            R"("completion_tokens_details":{"reasoning_tokens":4}}})");
  JsonPtr inc = J(R"({"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[]})");
  auto r2 = ResponsesResponseToChat(inc.get());
  EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(JsonArr(r2->get(), "choices"), 0), "finish_reason", ""), "length");
  EXPECT_FALSE(ResponsesResponseToChat(J("1").get()).ok());
}

TEST(ResponsesResponse, FromPivot) {
  JsonPtr chat = J(R"({"id":"chatcmpl-1","created":55,"model":"up","choices":[{"index":0,"message":{"role":"assistant",
    "content":"Hi","reasoning_content":"think","reasoning_signature":"SIG",
    "tool_calls":[{"id":"call_7","type":"function","function":{"name":"g","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":1},
             "completion_tokens_details":{"reasoning_tokens":2}}})");
  auto r = ChatResponseToResponses(chat.get(), "client-model");
  ASSERT_TRUE(r.ok());
  const cJSON* o = r->get();
  EXPECT_EQ(JsonStrOr(o, "id", "").rfind("resp_", 0), 0u);
  EXPECT_EQ(JsonStrOr(o, "object", ""), "response");
  EXPECT_EQ(JsonStrOr(o, "status", ""), "completed");
  EXPECT_EQ(JsonStrOr(o, "model", ""), "client-model");
  EXPECT_EQ(JsonNum(o, "created_at", 0), 55);
  const cJSON* out = JsonArr(o, "output");
  ASSERT_EQ(cJSON_GetArraySize(out), 3);
  const cJSON* rs = cJSON_GetArrayItem(out, 0);
  EXPECT_EQ(JsonStrOr(rs, "type", ""), "reasoning");
  EXPECT_EQ(JsonStrOr(rs, "id", "").rfind("rs_", 0), 0u);
  EXPECT_EQ(PrintJson(JsonGet(rs, "summary")), R"([{"type":"summary_text","text":"think"}])");
  EXPECT_EQ(JsonStrOr(rs, "encrypted_content", ""), "SIG");
  const cJSON* msg = cJSON_GetArrayItem(out, 1);
  EXPECT_EQ(JsonStrOr(msg, "type", ""), "message");
  EXPECT_EQ(JsonStrOr(msg, "role", ""), "assistant");
  EXPECT_EQ(PrintJson(JsonGet(msg, "content")), R"([{"type":"output_text","text":"Hi","annotations":[]}])");
  const cJSON* fc = cJSON_GetArrayItem(out, 2);
  EXPECT_EQ(JsonStrOr(fc, "type", ""), "function_call");
  EXPECT_EQ(JsonStrOr(fc, "call_id", ""), "call_7");
  EXPECT_EQ(JsonStrOr(fc, "name", ""), "g");
  EXPECT_EQ(JsonStrOr(fc, "arguments", ""), "{}");
  EXPECT_EQ(JsonStrOr(fc, "id", "").rfind("fc_", 0), 0u);
  EXPECT_EQ(PrintJson(JsonGet(o, "usage")),
            R"({"input_tokens":3,"input_tokens_details":{"cached_tokens":1},"output_tokens":4,)"
            R"("output_tokens_details":{"reasoning_tokens":2},"total_tokens":7})");
  JsonPtr len = J(R"({"choices":[{"message":{"content":"cut"},"finish_reason":"length"}]})");
  auto r2 = ChatResponseToResponses(len.get(), "m");
  EXPECT_EQ(JsonStrOr(r2->get(), "status", ""), "incomplete");
  EXPECT_EQ(JsonStrOr(JsonObj(r2->get(), "incomplete_details"), "reason", ""), "max_output_tokens");
}

// ---- streaming -------------------------------------------------------------------------

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

std::vector<JsonPtr> PivotStream() {
  std::vector<JsonPtr> v;
  auto add = [&](const char* s) { v.push_back(J(s)); };
  add(R"({"id":"c","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Let me "},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"reasoning_content":"think"},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"reasoning_signature":"SIG"},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"sh","arguments":""}}]},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"c\":"}}]},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"ls","arguments":"{}"}}]},"finish_reason":null}]})");
  add(R"({"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})");
  add(R"({"id":"c","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":2}}})");
  return v;
}

TEST(ResponsesStreamEncoder, FullEventSequence) {
  StreamOptions o;
  o.model = "gpt-client";
  auto enc = NewResponsesStreamEncoder(o);
  std::string out;
  for (auto& c : PivotStream()) out += enc->Encode(c.get());
  out += enc->Finish();
  EXPECT_EQ(enc->Finish(), "");
  EXPECT_EQ(enc->Error(500, "late"), "");

  const std::vector<std::string> want_names = {
      "response.created", "response.in_progress",
      // reasoning item 0
      "response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done", "response.output_item.done",
      // message item 1
      "response.output_item.added", "response.content_part.added", "response.output_text.delta",
      "response.output_text.delta", "response.output_text.done", "response.content_part.done",
      "response.output_item.done",
      // function calls 2 and 3
      "response.output_item.added", "response.function_call_arguments.delta",
      "response.function_call_arguments.delta", "response.output_item.added",
      "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done",
      "response.function_call_arguments.done", "response.output_item.done",
      "response.completed"};
  for (bool bytewise : {false, true}) {
    SCOPED_TRACE(bytewise ? "byte at a time" : "whole");
    auto events = ParseSse(out, bytewise);
    std::vector<std::string> names;
    std::vector<JsonPtr> data;
    for (const SseEvent& e : events) {
      names.push_back(e.event);
      data.push_back(J(e.data));
    }
    ASSERT_EQ(names, want_names);
    for (size_t i = 0; i < data.size(); ++i) {
      EXPECT_EQ(JsonStrOr(data[i].get(), "type", ""), names[i]);
      EXPECT_EQ(JsonNum(data[i].get(), "sequence_number", -1), static_cast<double>(i));
    }
    auto idx = [&](size_t i) { return JsonNum(data[i].get(), "output_index", -1); };
    EXPECT_EQ(idx(2), 0);
    EXPECT_EQ(JsonStrOr(JsonObj(data[2].get(), "item"), "type", ""), "reasoning");
    EXPECT_EQ(JsonStrOr(data[4].get(), "delta", ""), "Let me ");
    EXPECT_EQ(JsonStrOr(data[6].get(), "text", ""), "Let me think");
    EXPECT_EQ(JsonStrOr(JsonObj(data[8].get(), "item"), "encrypted_content", ""), "SIG");
    EXPECT_EQ(idx(9), 1);
    EXPECT_EQ(PrintJson(JsonGet(JsonObj(data[9].get(), "item"), "content")), "[]");
    EXPECT_EQ(JsonNum(data[10].get(), "content_index", -1), 0);
    EXPECT_EQ(JsonStrOr(data[11].get(), "delta", ""), "Hel");
    EXPECT_EQ(JsonStrOr(data[11].get(), "item_id", ""), JsonStrOr(JsonObj(data[9].get(), "item"), "id", "?"));
    EXPECT_EQ(JsonStrOr(data[13].get(), "text", ""), "Hello");
    EXPECT_EQ(JsonStrOr(JsonObj(data[15].get(), "item"), "status", ""), "completed");
    const cJSON* call_a = JsonObj(data[16].get(), "item");
    EXPECT_EQ(idx(16), 2);
    EXPECT_EQ(JsonStrOr(call_a, "type", ""), "function_call");
    EXPECT_EQ(JsonStrOr(call_a, "call_id", ""), "call_a");
    EXPECT_EQ(JsonStrOr(call_a, "name", ""), "sh");
    EXPECT_EQ(JsonStrOr(call_a, "arguments", "?"), "");
    EXPECT_EQ(idx(19), 3);
    EXPECT_EQ(JsonStrOr(JsonObj(data[19].get(), "item"), "call_id", ""), "call_b");
    EXPECT_EQ(idx(21), 2);
    EXPECT_EQ(JsonStrOr(data[21].get(), "arguments", ""), "{\"c\":1}");
    EXPECT_EQ(JsonStrOr(JsonObj(data[22].get(), "item"), "arguments", ""), "{\"c\":1}");
    EXPECT_EQ(idx(23), 3);
    EXPECT_EQ(JsonStrOr(data[23].get(), "arguments", ""), "{}");
    const cJSON* resp = JsonObj(data.back().get(), "response");
    EXPECT_EQ(JsonStrOr(resp, "status", ""), "completed");
    EXPECT_EQ(JsonStrOr(resp, "model", ""), "gpt-client");
    EXPECT_EQ(JsonStrOr(resp, "id", ""), JsonStrOr(JsonObj(data[0].get(), "response"), "id", "?"));
    const cJSON* output = JsonArr(resp, "output");
    ASSERT_EQ(cJSON_GetArraySize(output), 4);
    EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(output, 0), "type", ""), "reasoning");
    EXPECT_EQ(PrintJson(JsonGet(cJSON_GetArrayItem(output, 1), "content")),
              R"([{"type":"output_text","text":"Hello","annotations":[]}])");
    EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(output, 2), "arguments", ""), "{\"c\":1}");
    EXPECT_EQ(JsonStrOr(cJSON_GetArrayItem(output, 3), "name", ""), "ls");
    EXPECT_EQ(PrintJson(JsonGet(resp, "usage")),
              R"({"input_tokens":12,"input_tokens_details":{"cached_tokens":3},"output_tokens":7,)"
              R"("output_tokens_details":{"reasoning_tokens":2},"total_tokens":19})");
  }
}

TEST(ResponsesStreamEncoder, LengthIsIncompleteAndErrorsFail) {
  StreamOptions o;
  auto enc = NewResponsesStreamEncoder(o);
  std::string out = enc->Encode(J(R"({"choices":[{"index":0,"delta":{"content":"cut"},"finish_reason":"length"}]})").get());
  out += enc->Finish();
  auto events = ParseSse(out, true);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().event, "response.incomplete");
  EXPECT_NE(events.back().data.find(R"("incomplete_details":{"reason":"max_output_tokens"})"), std::string::npos);

  auto e2 = NewResponsesStreamEncoder(o);
  EXPECT_EQ(e2->KeepAlive(), ": keep-alive\n\n");
  std::string f = e2->Encode(J(R"({"choices":[{"index":0,"delta":{"content":"part"}}]})").get());
  f += e2->Error(429, "too many");
  EXPECT_EQ(e2->Finish(), "");
  EXPECT_EQ(e2->KeepAlive(), "");
  auto fe = ParseSse(f, false);
  std::vector<std::string> names;
  for (auto& e : fe) names.push_back(e.event);
  EXPECT_EQ(names, (std::vector<std::string>{"response.created", "response.in_progress", "response.output_item.added",
                                             "response.content_part.added", "response.output_text.delta",
                                             "response.output_text.done", "response.content_part.done",
                                             "response.output_item.done", "response.failed"}));
  JsonPtr failed = J(fe.back().data);
  const cJSON* resp = JsonObj(failed.get(), "response");
  EXPECT_EQ(JsonStrOr(resp, "status", ""), "failed");
  EXPECT_EQ(JsonStrOr(JsonObj(resp, "error"), "code", ""), "rate_limit_exceeded");
  EXPECT_EQ(JsonStrOr(JsonObj(resp, "error"), "message", ""), "too many");

  // An upstream error chunk mid-stream also fails the response.
  auto e3 = NewResponsesStreamEncoder(o);
  std::string g = e3->Encode(J(R"({"error":{"message":"boom","type":"server_error"}})").get());
  auto ge = ParseSse(g, true);
  ASSERT_EQ(ge.size(), 3u);
  EXPECT_EQ(ge[2].event, "response.failed");
  EXPECT_EQ(e3->Finish(), "");
}

const char* kResponsesStream =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_9\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5\",\"output\":[]}}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[]}}\n\n"
    "event: response.reasoning_summary_part.added\n"
    "data: {\"type\":\"response.reasoning_summary_part.added\",\"sequence_number\":2,\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":\"\"}}\n\n"
    "event: response.reasoning_summary_text.delta\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"sequence_number\":3,\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":0,\"delta\":\"Plan\"}\n\n"
    "event: response.reasoning_summary_part.added\n"
    "data: {\"type\":\"response.reasoning_summary_part.added\",\"sequence_number\":4,\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":1,\"part\":{\"type\":\"summary_text\",\"text\":\"\"}}\n\n"
    "event: response.reasoning_summary_text.delta\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"sequence_number\":5,\"item_id\":\"rs_1\",\"output_index\":0,\"summary_index\":1,\"delta\":\"More\"}\n\n"
    "event: response.output_item.done\n"
    "data: {\"type\":\"response.output_item.done\",\"sequence_number\":6,\"output_index\":0,\"item\":{\"id\":\"rs_1\",\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"ENC\"}}\n\n"
    "event: response.output_text.delta\n"
    "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":7,\"item_id\":\"msg_1\",\"output_index\":1,\"content_index\":0,\"delta\":\"Hi\"}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":8,\"output_index\":2,\"item\":{\"id\":\"fc_1\",\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"sh\",\"arguments\":\"\"}}\n\n"
    "event: response.function_call_arguments.delta\n"
    "data: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":9,\"item_id\":\"fc_1\",\"output_index\":2,\"delta\":\"{\\\"a\\\":\"}\n\n"
    "event: response.function_call_arguments.delta\n"
    "data: {\"type\":\"response.function_call_arguments.delta\",\"sequence_number\":10,\"item_id\":\"fc_1\",\"output_index\":2,\"delta\":\"2}\"}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"sequence_number\":11,\"output_index\":3,\"item\":{\"id\":\"fc_2\",\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":\"ls\",\"arguments\":\"\"}}\n\n"
    "event: response.output_item.done\n"
    "data: {\"type\":\"response.output_item.done\",\"sequence_number\":12,\"output_index\":3,\"item\":{\"id\":\"fc_2\",\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":\"ls\",\"arguments\":\"{}\"}}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":13,\"response\":{\"id\":\"resp_9\",\"status\":\"completed\",\"model\":\"gpt-5\",\"output\":[],"
    "\"usage\":{\"input_tokens\":5,\"input_tokens_details\":{\"cached_tokens\":1},\"output_tokens\":6,\"output_tokens_details\":{\"reasoning_tokens\":2},\"total_tokens\":11}}}\n\n";

std::vector<std::string> Decode(const std::string& bytes, bool bytewise) {
  auto d = NewResponsesStreamDecoder();
  std::vector<JsonPtr> chunks;
  for (const SseEvent& e : ParseSse(bytes, bytewise)) d->Decode(e, &chunks);
  d->Finish(&chunks);
  std::vector<std::string> out;
  for (auto& c : chunks) {
    cJSON_DeleteItemFromObjectCaseSensitive(c.get(), "created");
    const cJSON* ch = cJSON_GetArrayItem(JsonArr(c.get(), "choices"), 0);
    if (JsonGet(c.get(), "error")) out.push_back(PrintJson(c.get()));
    else if (ch) out.push_back(PrintJson(JsonGet(ch, "delta")) + " " + PrintJson(JsonGet(ch, "finish_reason")));
    else out.push_back("usage " + PrintJson(JsonGet(c.get(), "usage")));
  }
  return out;
}

TEST(ResponsesStreamDecoder, ChunksWholeAndByteByByte) {
  const std::vector<std::string> want = {
      R"({"role":"assistant","reasoning_content":"Plan"} null)",
      R"({"reasoning_content":"\n\n"} null)",
      R"({"reasoning_content":"More"} null)",
      R"({"reasoning_signature":"ENC"} null)",
      R"({"content":"Hi"} null)",
      R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"sh","arguments":""}}]} null)",
      R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]} null)",
      R"({"tool_calls":[{"index":0,"function":{"arguments":"2}"}}]} null)",
      R"({"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"ls","arguments":""}}]} null)",
      R"({"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]} null)",
      R"({} "tool_calls")",
      R"(usage {"prompt_tokens":5,"completion_tokens":6,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":2}})",
  };
  EXPECT_EQ(Decode(kResponsesStream, false), want);
  EXPECT_EQ(Decode(kResponsesStream, true), want);
}

TEST(ResponsesStreamDecoder, FailuresAndTruncation) {
  auto failed = Decode(
      "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\","
      "\"error\":{\"code\":\"server_error\",\"message\":\"broke\"}}}\n\n",
      true);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0], R"({"error":{"message":"broke","type":"upstream_error","code":"server_error"}})");
  auto err = Decode("event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"slow\"}\n\n", false);
  ASSERT_EQ(err.size(), 1u);
  EXPECT_NE(err[0].find("\"slow\""), std::string::npos);
  // Cut off without response.completed: the decoder still closes the turn.
  auto cut = Decode("data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\ndata: garbage\n\n", true);
  EXPECT_EQ(cut, (std::vector<std::string>{R"({"role":"assistant","content":"x"} null)", R"({} "stop")"}));
  auto inc = Decode("data: {\"type\":\"response.incomplete\",\"response\":{\"status\":\"incomplete\","
                    "\"incomplete_details\":{\"reason\":\"max_output_tokens\"}}}\n\n",
                    false);
  EXPECT_EQ(inc, (std::vector<std::string>{R"({"role":"assistant"} "length")"}));
}

TEST(ResponsesStream, EncoderOutputDecodesBack) {
  StreamOptions o;
  o.model = "m";
  auto enc = NewResponsesStreamEncoder(o);
  std::string out;
  for (auto& c : PivotStream()) out += enc->Encode(c.get());
  out += enc->Finish();
  auto got = Decode(out, true);
  std::string joined;
  for (auto& s : got) joined += s + "\n";
  EXPECT_NE(joined.find(R"("reasoning_content":"Let me ")"), std::string::npos) << joined;
  EXPECT_NE(joined.find(R"({"reasoning_signature":"SIG"})"), std::string::npos) << joined;
  EXPECT_NE(joined.find(R"("arguments":"1}")"), std::string::npos) << joined;
  EXPECT_NE(joined.find(R"("id":"call_b")"), std::string::npos) << joined;
  EXPECT_NE(joined.find(R"({} "tool_calls")"), std::string::npos) << joined;
  EXPECT_NE(joined.find(R"("prompt_tokens":12,"completion_tokens":7)"), std::string::npos) << joined;
}

}  // namespace
}  // namespace tether
