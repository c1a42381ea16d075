// Pure reply builders for mock_provider: request JSON in, provider-shaped
// bodies and SSE steps out. No sockets; included only by mock_provider.cc
// (the Makefile turns every tests/tools/*.cc into a binary, so shared code
// for one tool lives in a header).
//
// What the mock answers, so tests can assert exact values:
//   text   = "echo: " + last user text + "\n" + "0 1 2 … (chunks-1) "
//            (or "tool result: " + content when the last message is a tool
//            result). A stream sends it as `chunks` content deltas: delta 0 is
//            "echo: …\n0 ", delta i is "i " (each padded with '.' to `bytes`).
//   tools  = when the request declares tools and the last message is not a
//            tool result, the reply is a call to the FIRST tool with
//            arguments {"city":"Paris"} when its schema has a "city"
//            property, else {}. The argument string streams in 2 fragments
//            (OpenAI, Anthropic, Responses); Gemini sends one functionCall.
//   usage  = prompt/input tokens = request body bytes / 4 (integer division);
//            completion/output tokens = number of content deltas (chunks for
//            text, 2 for a tool call, 1 for a Gemini tool call);
//            total = their sum. Anthropic's message_start reports
//            output_tokens 1 (as the real API does); message_delta has the
//            final count. count_tokens / countTokens return the prompt count.
#pragma once
#include <cjson/cJSON.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/sse.h"
#include "hub/providers/aws_eventstream.h"

namespace mock {

using tether::JsonAddArr;
using tether::JsonAddBool;
using tether::JsonAddNum;
using tether::JsonAddObj;
using tether::JsonAddStr;
using tether::JsonNewObj;
using tether::JsonPtr;
using tether::PrintJson;

// What the mock understood of a generation request, whatever its format.
struct Conversation {
  std::string model;
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
  std::string user_text;       // last user text
  bool last_is_tool_result = false;
  std::string tool_result;
  std::string tool_name;  // first declared tool; empty when none
  bool tool_has_city = false;
};

// The content of the answer, independent of its wire format.
struct Answer {
  bool tool_call = false;
  std::string tool_name;
  std::string arguments;               // full JSON text
  std::vector<std::string> fragments;  // arguments split for streaming
  std::vector<std::string> deltas;     // text content deltas
  std::string text;                    // all deltas joined
  int prompt_tokens = 0;
  int completion_tokens = 0;
  std::string id_suffix;  // makes ids unique per request
};

inline std::string TextOf(const cJSON* content, const char* text_type) {
  if (!content) return "";
  if (cJSON_IsString(content)) return content->valuestring;
  std::string last;
  if (cJSON_IsArray(content)) {
    const cJSON* part;
    cJSON_ArrayForEach(part, content) {
      if (cJSON_IsString(part)) {
        last = part->valuestring;
        continue;
      }
      const char* type = tether::JsonStr(part, "type");
      const char* text = tether::JsonStr(part, "text");
      if (text && (!type || std::string(type) == text_type || std::string(type) == "text")) last = text;
    }
  }
  return last;
}

inline bool SchemaHasCity(const cJSON* schema) {
  const cJSON* props = tether::JsonObj(schema, "properties");
  return props && cJSON_GetObjectItemCaseSensitive(props, "city");
}

// OpenAI Chat Completions request.
inline Conversation ReadChat(const cJSON* req) {
  Conversation c;
  c.model = tether::JsonStrOr(req, "model", "");
  c.stream = tether::JsonBool(req, "stream", false);
  c.include_usage = tether::JsonBool(tether::JsonObj(req, "stream_options"), "include_usage", false);
  const cJSON* msgs = tether::JsonArr(req, "messages");
  int n = msgs ? cJSON_GetArraySize(msgs) : 0;
  if (n > 0) {
    const cJSON* last = cJSON_GetArrayItem(msgs, n - 1);
    if (tether::JsonStrOr(last, "role", "") == "tool") {
      c.last_is_tool_result = true;
      c.tool_result = TextOf(tether::JsonGet(last, "content"), "text");
    }
  }
  for (int i = n - 1; i >= 0; --i) {
    const cJSON* m = cJSON_GetArrayItem(msgs, i);
    if (tether::JsonStrOr(m, "role", "") == "user") {
      c.user_text = TextOf(tether::JsonGet(m, "content"), "text");
      break;
    }
  }
  const cJSON* tools = tether::JsonArr(req, "tools");
  if (tools && cJSON_GetArraySize(tools) > 0) {
    const cJSON* fn = tether::JsonObj(cJSON_GetArrayItem(tools, 0), "function");
    c.tool_name = tether::JsonStrOr(fn, "name", "");
    c.tool_has_city = SchemaHasCity(tether::JsonObj(fn, "parameters"));
  }
  return c;
}

// OpenAI Responses request: input is a string or a list of items.
inline Conversation ReadResponses(const cJSON* req) {
  Conversation c;
  c.model = tether::JsonStrOr(req, "model", "");
  c.stream = tether::JsonBool(req, "stream", false);
  const cJSON* input = tether::JsonGet(req, "input");
  if (cJSON_IsString(input)) {
    c.user_text = input->valuestring;
  } else if (cJSON_IsArray(input)) {
    int n = cJSON_GetArraySize(input);
    if (n > 0) {
      const cJSON* last = cJSON_GetArrayItem(input, n - 1);
      if (tether::JsonStrOr(last, "type", "") == "function_call_output") {
        c.last_is_tool_result = true;
        const cJSON* out = tether::JsonGet(last, "output");
        c.tool_result = cJSON_IsString(out) ? out->valuestring : TextOf(out, "input_text");
      }
    }
    for (int i = n - 1; i >= 0; --i) {
      const cJSON* m = cJSON_GetArrayItem(input, i);
      if (tether::JsonStrOr(m, "role", "") == "user") {
        c.user_text = TextOf(tether::JsonGet(m, "content"), "input_text");
        break;
      }
    }
  }
  const cJSON* tools = tether::JsonArr(req, "tools");
  const cJSON* t;
  cJSON_ArrayForEach(t, tools) {
    if (tether::JsonStrOr(t, "type", "") != "function") continue;
    c.tool_name = tether::JsonStrOr(t, "name", "");
    c.tool_has_city = SchemaHasCity(tether::JsonObj(t, "parameters"));
    break;
  }
  return c;
}

// Anthropic Messages request: a tool result is a tool_result block in the
// last user message.
inline Conversation ReadMessages(const cJSON* req) {
  Conversation c;
  c.model = tether::JsonStrOr(req, "model", "");
  c.stream = tether::JsonBool(req, "stream", false);
  const cJSON* msgs = tether::JsonArr(req, "messages");
  int n = msgs ? cJSON_GetArraySize(msgs) : 0;
  if (n > 0) {
    const cJSON* content = tether::JsonGet(cJSON_GetArrayItem(msgs, n - 1), "content");
    const cJSON* block;
    if (cJSON_IsArray(content)) {
      cJSON_ArrayForEach(block, content) {
        if (tether::JsonStrOr(block, "type", "") != "tool_result") continue;
        c.last_is_tool_result = true;
        c.tool_result = TextOf(tether::JsonGet(block, "content"), "text");
      }
    }
  }
  for (int i = n - 1; i >= 0; --i) {
    const cJSON* m = cJSON_GetArrayItem(msgs, i);
    if (tether::JsonStrOr(m, "role", "") == "user") {
      c.user_text = TextOf(tether::JsonGet(m, "content"), "text");
      break;
    }
  }
  const cJSON* tools = tether::JsonArr(req, "tools");
  if (tools && cJSON_GetArraySize(tools) > 0) {
    const cJSON* t0 = cJSON_GetArrayItem(tools, 0);
    c.tool_name = tether::JsonStrOr(t0, "name", "");
    c.tool_has_city = SchemaHasCity(tether::JsonObj(t0, "input_schema"));
  }
  return c;
}

// Gemini generateContent request (the model comes from the URL).
inline Conversation ReadGemini(const cJSON* req, const std::string& model, bool stream) {
  Conversation c;
  c.model = model;
  c.stream = stream;
  const cJSON* contents = tether::JsonArr(req, "contents");
  int n = contents ? cJSON_GetArraySize(contents) : 0;
  for (int i = n - 1; i >= 0; --i) {
    const cJSON* m = cJSON_GetArrayItem(contents, i);
    std::string role = tether::JsonStrOr(m, "role", "user");
    if (role != "user" && role != "function") continue;
    const cJSON* parts = tether::JsonArr(m, "parts");
    const cJSON* p;
    cJSON_ArrayForEach(p, parts) {
      const cJSON* fr = tether::JsonObj(p, "functionResponse");
      if (!fr) fr = tether::JsonObj(p, "function_response");
      if (fr && i == n - 1) {
        c.last_is_tool_result = true;
        const cJSON* resp = tether::JsonGet(fr, "response");
        // {"output": "..."} style responses read as their one string value.
        if (cJSON_IsObject(resp) && cJSON_GetArraySize(resp) == 1 && cJSON_IsString(resp->child))
          c.tool_result = resp->child->valuestring;
        else
          c.tool_result = resp ? PrintJson(resp) : "";
      }
      const char* text = tether::JsonStr(p, "text");
      if (text) c.user_text = text;
    }
    if (!c.user_text.empty() || c.last_is_tool_result) break;
  }
  const cJSON* tools = tether::JsonArr(req, "tools");
  const cJSON* t;
  cJSON_ArrayForEach(t, tools) {
    const cJSON* decls = tether::JsonArr(t, "functionDeclarations");
    if (!decls) decls = tether::JsonArr(t, "function_declarations");
    if (!decls || cJSON_GetArraySize(decls) == 0) continue;
    const cJSON* d = cJSON_GetArrayItem(decls, 0);
    c.tool_name = tether::JsonStrOr(d, "name", "");
    const cJSON* schema = tether::JsonObj(d, "parameters");
    if (!schema) schema = tether::JsonObj(d, "parametersJsonSchema");
    c.tool_has_city = SchemaHasCity(schema);
    break;
  }
  return c;
}

inline Answer MakeAnswer(const Conversation& c, int chunks, int bytes, size_t body_bytes,
                         uint64_t seq) {
  Answer a;
  a.prompt_tokens = static_cast<int>(body_bytes / 4);
  a.id_suffix = std::to_string(seq);
  if (!c.tool_name.empty() && !c.last_is_tool_result) {
    a.tool_call = true;
    a.tool_name = c.tool_name;
    if (c.tool_has_city) {
      a.arguments = "{\"city\":\"Paris\"}";
      a.fragments = {"{\"city\":", "\"Paris\"}"};
    } else {
      a.arguments = "{}";
      a.fragments = {"{", "}"};
    }
    a.completion_tokens = static_cast<int>(a.fragments.size());
    return a;
  }
  std::string head = c.last_is_tool_result ? "tool result: " + c.tool_result : "echo: " + c.user_text;
  if (chunks < 1) chunks = 1;
  for (int i = 0; i < chunks; ++i) {
    std::string d = (i == 0 ? head + "\n" : "") + std::to_string(i) + " ";
    if (bytes > 0 && static_cast<int>(d.size()) < bytes) d.append(bytes - d.size(), '.');
    a.text += d;
    a.deltas.push_back(std::move(d));
  }
  a.completion_tokens = chunks;
  return a;
}

// Events read best with "type" first, as the providers send them.
inline void PrependType(cJSON* obj, const char* type) {
  cJSON* t = cJSON_CreateString(type);
  cJSON_AddItemToObject(obj, "type", t);
  cJSON_DetachItemViaPointer(obj, t);
  if (obj->child) cJSON_InsertItemInArray(obj, 0, t);
  else cJSON_AddItemToObject(obj, "type", t);
}

inline void AddUsageOpenAI(cJSON* obj, const Answer& a) {
  cJSON* u = JsonAddObj(obj, "usage");
  JsonAddNum(u, "prompt_tokens", a.prompt_tokens);
  JsonAddNum(u, "completion_tokens", a.completion_tokens);
  JsonAddNum(u, "total_tokens", a.prompt_tokens + a.completion_tokens);
}

// ---- OpenAI Chat Completions ----

inline std::string ChatBody(const Conversation& c, const Answer& a) {
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "id", "chatcmpl-mock-" + a.id_suffix);
  JsonAddStr(j.get(), "object", "chat.completion");
  JsonAddNum(j.get(), "created", static_cast<double>(time(nullptr)));
  JsonAddStr(j.get(), "model", c.model);
  cJSON* choice = JsonAddObj(JsonAddArr(j.get(), "choices"), nullptr);
  JsonAddNum(choice, "index", 0);
  cJSON* msg = JsonAddObj(choice, "message");
  JsonAddStr(msg, "role", "assistant");
  if (a.tool_call) {
    cJSON_AddNullToObject(msg, "content");
    cJSON* tc = JsonAddObj(JsonAddArr(msg, "tool_calls"), nullptr);
    JsonAddStr(tc, "id", "call_mock_" + a.id_suffix);
    JsonAddStr(tc, "type", "function");
    cJSON* fn = JsonAddObj(tc, "function");
    JsonAddStr(fn, "name", a.tool_name);
    JsonAddStr(fn, "arguments", a.arguments);
  } else {
    JsonAddStr(msg, "content", a.text);
  }
  cJSON_AddNullToObject(choice, "logprobs");
  JsonAddStr(choice, "finish_reason", a.tool_call ? "tool_calls" : "stop");
  AddUsageOpenAI(j.get(), a);
  return PrintJson(j.get());
}

// `delta` is the choice delta (owned by the caller); finish may be null.
inline std::string ChatChunk(const Conversation& c, const Answer& a, cJSON* delta, const char* finish) {
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "id", "chatcmpl-mock-" + a.id_suffix);
  JsonAddStr(j.get(), "object", "chat.completion.chunk");
  JsonAddNum(j.get(), "created", static_cast<double>(time(nullptr)));
  JsonAddStr(j.get(), "model", c.model);
  cJSON* choice = JsonAddObj(JsonAddArr(j.get(), "choices"), nullptr);
  JsonAddNum(choice, "index", 0);
  cJSON_AddItemToObject(choice, "delta", delta);
  cJSON_AddNullToObject(choice, "logprobs");
  if (finish) JsonAddStr(choice, "finish_reason", finish);
  else cJSON_AddNullToObject(choice, "finish_reason");
  return tether::FormatSseData(PrintJson(j.get()));
}

inline std::vector<std::string> ChatSteps(const Conversation& c, const Answer& a) {
  std::vector<std::string> steps;
  cJSON* d0 = cJSON_CreateObject();
  JsonAddStr(d0, "role", "assistant");
  if (a.tool_call) {
    cJSON_AddNullToObject(d0, "content");
    cJSON* tc = JsonAddObj(JsonAddArr(d0, "tool_calls"), nullptr);
    JsonAddNum(tc, "index", 0);
    JsonAddStr(tc, "id", "call_mock_" + a.id_suffix);
    JsonAddStr(tc, "type", "function");
    cJSON* fn = JsonAddObj(tc, "function");
    JsonAddStr(fn, "name", a.tool_name);
    JsonAddStr(fn, "arguments", "");
  } else {
    JsonAddStr(d0, "content", "");
  }
  std::string first = ChatChunk(c, a, d0, nullptr);
  const auto& pieces = a.tool_call ? a.fragments : a.deltas;
  for (size_t i = 0; i < pieces.size(); ++i) {
    cJSON* d = cJSON_CreateObject();
    if (a.tool_call) {
      cJSON* tc = JsonAddObj(JsonAddArr(d, "tool_calls"), nullptr);
      JsonAddNum(tc, "index", 0);
      JsonAddStr(JsonAddObj(tc, "function"), "arguments", pieces[i]);
    } else {
      JsonAddStr(d, "content", pieces[i]);
    }
    steps.push_back((i == 0 ? first : "") + ChatChunk(c, a, d, nullptr));
  }
  std::string tail = ChatChunk(c, a, cJSON_CreateObject(), a.tool_call ? "tool_calls" : "stop");
  if (c.include_usage) {
    JsonPtr u = JsonNewObj();
    JsonAddStr(u.get(), "id", "chatcmpl-mock-" + a.id_suffix);
    JsonAddStr(u.get(), "object", "chat.completion.chunk");
    JsonAddNum(u.get(), "created", static_cast<double>(time(nullptr)));
    JsonAddStr(u.get(), "model", c.model);
    JsonAddArr(u.get(), "choices");
    AddUsageOpenAI(u.get(), a);
    tail += tether::FormatSseData(PrintJson(u.get()));
  }
  tail += "data: [DONE]\n\n";
  steps.back() += tail;
  return steps;
}

// ---- OpenAI Responses ----

inline cJSON* ResponsesItem(const Answer& a, bool done) {
  cJSON* item = cJSON_CreateObject();
  if (a.tool_call) {
    JsonAddStr(item, "type", "function_call");
    JsonAddStr(item, "id", "fc_mock_" + a.id_suffix);
    JsonAddStr(item, "call_id", "call_mock_" + a.id_suffix);
    JsonAddStr(item, "name", a.tool_name);
    JsonAddStr(item, "arguments", done ? a.arguments : "");
    JsonAddStr(item, "status", done ? "completed" : "in_progress");
  } else {
    JsonAddStr(item, "type", "message");
    JsonAddStr(item, "id", "msg_mock_" + a.id_suffix);
    JsonAddStr(item, "status", done ? "completed" : "in_progress");
    JsonAddStr(item, "role", "assistant");
    cJSON* content = JsonAddArr(item, "content");
    if (done) {
      cJSON* part = JsonAddObj(content, nullptr);
      JsonAddStr(part, "type", "output_text");
      JsonAddStr(part, "text", a.text);
      JsonAddArr(part, "annotations");
      JsonAddArr(part, "logprobs");
    }
  }
  return item;
}

inline JsonPtr ResponsesObject(const Conversation& c, const Answer& a, bool done) {
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "id", "resp_mock_" + a.id_suffix);
  JsonAddStr(j.get(), "object", "response");
  JsonAddNum(j.get(), "created_at", static_cast<double>(time(nullptr)));
  JsonAddStr(j.get(), "status", done ? "completed" : "in_progress");
  cJSON_AddNullToObject(j.get(), "error");
  cJSON_AddNullToObject(j.get(), "incomplete_details");
  JsonAddStr(j.get(), "model", c.model);
  cJSON* out = JsonAddArr(j.get(), "output");
  if (done) cJSON_AddItemToArray(out, ResponsesItem(a, true));
  JsonAddBool(j.get(), "parallel_tool_calls", true);
  JsonAddStr(j.get(), "tool_choice", "auto");
  JsonAddArr(j.get(), "tools");
  if (done) {
    cJSON* u = JsonAddObj(j.get(), "usage");
    JsonAddNum(u, "input_tokens", a.prompt_tokens);
    JsonAddNum(JsonAddObj(u, "input_tokens_details"), "cached_tokens", 0);
    JsonAddNum(u, "output_tokens", a.completion_tokens);
    JsonAddNum(JsonAddObj(u, "output_tokens_details"), "reasoning_tokens", 0);
    JsonAddNum(u, "total_tokens", a.prompt_tokens + a.completion_tokens);
  } else {
    cJSON_AddNullToObject(j.get(), "usage");
  }
  return j;
}

inline std::string ResponsesBody(const Conversation& c, const Answer& a) {
  return PrintJson(ResponsesObject(c, a, true).get());
}

// The Responses stream: created, in_progress, output_item.added,
// [content_part.added], deltas, the matching .done events, completed.
inline std::vector<std::string> ResponsesSteps(const Conversation& c, const Answer& a) {
  int seq = 0;
  auto event = [&](const char* type, JsonPtr j) {
    PrependType(j.get(), type);
    JsonAddNum(j.get(), "sequence_number", seq++);
    return tether::FormatSse(type, PrintJson(j.get()));
  };
  const std::string item_id = (a.tool_call ? "fc_mock_" : "msg_mock_") + a.id_suffix;
  std::string first;
  {
    JsonPtr j = JsonNewObj();
    cJSON_AddItemToObject(j.get(), "response", ResponsesObject(c, a, false).release());
    first += event("response.created", std::move(j));
    j = JsonNewObj();
    cJSON_AddItemToObject(j.get(), "response", ResponsesObject(c, a, false).release());
    first += event("response.in_progress", std::move(j));
    j = JsonNewObj();
    JsonAddNum(j.get(), "output_index", 0);
    cJSON_AddItemToObject(j.get(), "item", ResponsesItem(a, false));
    first += event("response.output_item.added", std::move(j));
    if (!a.tool_call) {
      j = JsonNewObj();
      JsonAddStr(j.get(), "item_id", item_id);
      JsonAddNum(j.get(), "output_index", 0);
      JsonAddNum(j.get(), "content_index", 0);
      cJSON* part = JsonAddObj(j.get(), "part");
      JsonAddStr(part, "type", "output_text");
      JsonAddStr(part, "text", "");
      JsonAddArr(part, "annotations");
      first += event("response.content_part.added", std::move(j));
    }
  }
  std::vector<std::string> steps;
  const auto& pieces = a.tool_call ? a.fragments : a.deltas;
  for (size_t i = 0; i < pieces.size(); ++i) {
    JsonPtr j = JsonNewObj();
    JsonAddStr(j.get(), "item_id", item_id);
    JsonAddNum(j.get(), "output_index", 0);
    if (!a.tool_call) JsonAddNum(j.get(), "content_index", 0);
    JsonAddStr(j.get(), "delta", pieces[i]);
    if (!a.tool_call) JsonAddArr(j.get(), "logprobs");
    steps.push_back((i == 0 ? first : "") +
                    event(a.tool_call ? "response.function_call_arguments.delta" : "response.output_text.delta",
                          std::move(j)));
  }
  std::string tail;
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "item_id", item_id);
  JsonAddNum(j.get(), "output_index", 0);
  if (a.tool_call) {
    JsonAddStr(j.get(), "arguments", a.arguments);
    tail += event("response.function_call_arguments.done", std::move(j));
  } else {
    JsonAddNum(j.get(), "content_index", 0);
    JsonAddStr(j.get(), "text", a.text);
    JsonAddArr(j.get(), "logprobs");
    tail += event("response.output_text.done", std::move(j));
    j = JsonNewObj();
    JsonAddStr(j.get(), "item_id", item_id);
    JsonAddNum(j.get(), "output_index", 0);
    JsonAddNum(j.get(), "content_index", 0);
    cJSON* part = JsonAddObj(j.get(), "part");
    JsonAddStr(part, "type", "output_text");
    JsonAddStr(part, "text", a.text);
    JsonAddArr(part, "annotations");
    tail += event("response.content_part.done", std::move(j));
  }
  j = JsonNewObj();
  JsonAddNum(j.get(), "output_index", 0);
  cJSON_AddItemToObject(j.get(), "item", ResponsesItem(a, true));
  tail += event("response.output_item.done", std::move(j));
  j = JsonNewObj();
  cJSON_AddItemToObject(j.get(), "response", ResponsesObject(c, a, true).release());
  tail += event("response.completed", std::move(j));
  steps.back() += tail;
  return steps;
}

// ---- Anthropic Messages ----

inline std::string MessagesBody(const Conversation& c, const Answer& a) {
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "id", "msg_mock_" + a.id_suffix);
  JsonAddStr(j.get(), "type", "message");
  JsonAddStr(j.get(), "role", "assistant");
  JsonAddStr(j.get(), "model", c.model);
  cJSON* block = JsonAddObj(JsonAddArr(j.get(), "content"), nullptr);
  if (a.tool_call) {
    JsonAddStr(block, "type", "tool_use");
    JsonAddStr(block, "id", "toolu_mock_" + a.id_suffix);
    JsonAddStr(block, "name", a.tool_name);
    auto input = tether::ParseJson(a.arguments);
    cJSON_AddItemToObject(block, "input", input->release());
  } else {
    JsonAddStr(block, "type", "text");
    JsonAddStr(block, "text", a.text);
  }
  JsonAddStr(j.get(), "stop_reason", a.tool_call ? "tool_use" : "end_turn");
  cJSON_AddNullToObject(j.get(), "stop_sequence");
  cJSON* u = JsonAddObj(j.get(), "usage");
  JsonAddNum(u, "input_tokens", a.prompt_tokens);
  JsonAddNum(u, "output_tokens", a.completion_tokens);
  return PrintJson(j.get());
}

inline std::vector<std::string> MessagesSteps(const Conversation& c, const Answer& a) {
  auto event = [](const char* type, JsonPtr j) {
    PrependType(j.get(), type);
    return tether::FormatSse(type, PrintJson(j.get()));
  };
  std::string first;
  JsonPtr j = JsonNewObj();
  cJSON* m = JsonAddObj(j.get(), "message");
  JsonAddStr(m, "id", "msg_mock_" + a.id_suffix);
  JsonAddStr(m, "type", "message");
  JsonAddStr(m, "role", "assistant");
  JsonAddStr(m, "model", c.model);
  JsonAddArr(m, "content");
  cJSON_AddNullToObject(m, "stop_reason");
  cJSON_AddNullToObject(m, "stop_sequence");
  cJSON* u = JsonAddObj(m, "usage");
  JsonAddNum(u, "input_tokens", a.prompt_tokens);
  JsonAddNum(u, "output_tokens", 1);
  first += event("message_start", std::move(j));
  j = JsonNewObj();
  JsonAddNum(j.get(), "index", 0);
  cJSON* block = JsonAddObj(j.get(), "content_block");
  if (a.tool_call) {
    JsonAddStr(block, "type", "tool_use");
    JsonAddStr(block, "id", "toolu_mock_" + a.id_suffix);
    JsonAddStr(block, "name", a.tool_name);
    JsonAddObj(block, "input");
  } else {
    JsonAddStr(block, "type", "text");
    JsonAddStr(block, "text", "");
  }
  first += event("content_block_start", std::move(j));
  first += event("ping", JsonNewObj());
  std::vector<std::string> steps;
  const auto& pieces = a.tool_call ? a.fragments : a.deltas;
  for (size_t i = 0; i < pieces.size(); ++i) {
    j = JsonNewObj();
    JsonAddNum(j.get(), "index", 0);
    cJSON* d = JsonAddObj(j.get(), "delta");
    if (a.tool_call) {
      JsonAddStr(d, "type", "input_json_delta");
      JsonAddStr(d, "partial_json", pieces[i]);
    } else {
      JsonAddStr(d, "type", "text_delta");
      JsonAddStr(d, "text", pieces[i]);
    }
    steps.push_back((i == 0 ? first : "") + event("content_block_delta", std::move(j)));
  }
  std::string tail;
  j = JsonNewObj();
  JsonAddNum(j.get(), "index", 0);
  tail += event("content_block_stop", std::move(j));
  j = JsonNewObj();
  cJSON* d = JsonAddObj(j.get(), "delta");
  JsonAddStr(d, "stop_reason", a.tool_call ? "tool_use" : "end_turn");
  cJSON_AddNullToObject(d, "stop_sequence");
  JsonAddNum(JsonAddObj(j.get(), "usage"), "output_tokens", a.completion_tokens);
  tail += event("message_delta", std::move(j));
  tail += event("message_stop", JsonNewObj());
  steps.back() += tail;
  return steps;
}

// ---- Amazon Bedrock (InvokeModel for Anthropic models) ----
// Non-stream: the Anthropic Messages body (MessagesBody). Stream: the
// Anthropic events of MessagesSteps, each one an AWS event-stream "chunk"
// frame {"bytes":"<base64 event JSON>"}; step boundaries are kept, so
// interval and reset_after behave as for the other APIs.

inline std::string Base64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t k = 0; k < in.size(); k += 3) {
    auto byte = [&](size_t i) { return i < in.size() ? static_cast<uint32_t>(static_cast<unsigned char>(in[i])) : 0u; };
    uint32_t n = byte(k) << 16 | byte(k + 1) << 8 | byte(k + 2);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += k + 1 < in.size() ? kAlphabet[n >> 6 & 63] : '=';
    out += k + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

inline std::string BedrockChunkFrame(const std::string& event_json) {
  tether::EventStreamMessage m;
  m.headers = {{":event-type", tether::EventStreamHeaderType::kString, "chunk"},
               {":content-type", tether::EventStreamHeaderType::kString, "application/json"},
               {":message-type", tether::EventStreamHeaderType::kString, "event"}};
  JsonPtr payload = JsonNewObj();
  JsonAddStr(payload.get(), "bytes", Base64(event_json));
  JsonAddStr(payload.get(), "p", "abcdefgh");  // Bedrock pads chunks against length analysis
  m.payload = PrintJson(payload.get());
  return tether::EncodeEventStreamMessage(m);
}

// An exception frame, e.g. type "throttlingException".
inline std::string BedrockExceptionFrame(const std::string& type, const std::string& message) {
  tether::EventStreamMessage m;
  m.headers = {{":exception-type", tether::EventStreamHeaderType::kString, type},
               {":content-type", tether::EventStreamHeaderType::kString, "application/json"},
               {":message-type", tether::EventStreamHeaderType::kString, "exception"}};
  JsonPtr payload = JsonNewObj();
  JsonAddStr(payload.get(), "message", message);
  m.payload = PrintJson(payload.get());
  return tether::EncodeEventStreamMessage(m);
}

inline std::vector<std::string> BedrockSteps(const Conversation& c, const Answer& a) {
  std::vector<std::string> steps;
  for (const std::string& sse : MessagesSteps(c, a)) {
    std::string frames;
    tether::SseParser parser([&](const tether::SseEvent& e) { frames += BedrockChunkFrame(e.data); });
    parser.Feed(sse);
    parser.Finish();
    steps.push_back(std::move(frames));
  }
  return steps;
}

// The x-amzn-ErrorType Bedrock sends with an HTTP error status.
inline const char* BedrockErrorType(int status) {
  switch (status) {
    case 400: return "ValidationException";
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408: return "ModelTimeoutException";
    case 424: return "ModelErrorException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return "InternalServerException";
  }
}

// ---- Gemini ----

// One GenerateContentResponse; `parts_from..parts_to` deltas (or the
// function call), with finishReason and usage when `last`.
inline std::string GeminiResponse(const Conversation& c, const Answer& a, size_t from, size_t to, bool last) {
  JsonPtr j = JsonNewObj();
  cJSON* cand = JsonAddObj(JsonAddArr(j.get(), "candidates"), nullptr);
  cJSON* content = JsonAddObj(cand, "content");
  cJSON* parts = JsonAddArr(content, "parts");
  if (a.tool_call) {
    cJSON* fc = JsonAddObj(JsonAddObj(parts, nullptr), "functionCall");
    JsonAddStr(fc, "name", a.tool_name);
    auto args = tether::ParseJson(a.arguments);
    cJSON_AddItemToObject(fc, "args", args->release());
  } else {
    std::string text;
    for (size_t i = from; i < to && i < a.deltas.size(); ++i) text += a.deltas[i];
    JsonAddStr(JsonAddObj(parts, nullptr), "text", text);
  }
  JsonAddStr(content, "role", "model");
  if (last) JsonAddStr(cand, "finishReason", "STOP");
  JsonAddNum(cand, "index", 0);
  if (last) {
    cJSON* u = JsonAddObj(j.get(), "usageMetadata");
    JsonAddNum(u, "promptTokenCount", a.prompt_tokens);
    JsonAddNum(u, "candidatesTokenCount", a.completion_tokens);
    JsonAddNum(u, "totalTokenCount", a.prompt_tokens + a.completion_tokens);
  }
  JsonAddStr(j.get(), "modelVersion", c.model);
  JsonAddStr(j.get(), "responseId", "mock-" + a.id_suffix);
  return PrintJson(j.get());
}

inline std::string GeminiBody(const Conversation& c, const Answer& a) {
  return GeminiResponse(c, a, 0, a.deltas.size(), true);
}

// alt=sse: "data: {...}\r\n\r\n" per response (Gemini's own framing);
// without alt: one JSON array streamed element by element.
inline std::vector<std::string> GeminiSteps(const Conversation& c, const Answer& a, bool sse) {
  std::vector<std::string> steps;
  size_t n = a.tool_call ? 1 : a.deltas.size();
  for (size_t i = 0; i < n; ++i) {
    std::string obj = GeminiResponse(c, a, i, i + 1, i + 1 == n);
    if (sse) steps.push_back("data: " + obj + "\r\n\r\n");
    else steps.push_back((i == 0 ? "[" : ",\r\n") + obj + (i + 1 == n ? "]" : ""));
  }
  return steps;
}

}  // namespace mock
