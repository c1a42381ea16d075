// OpenAI Responses API <-> the pivot (OpenAI chat), requests and
// non-streaming responses. The stream decoder and encoder live in
// responses_stream.cc.
//
// Responses history is a flat list of items (messages, reasoning,
// function_call, function_call_output); the pivot groups an assistant turn's
// reasoning, text and tool calls into one message, with tool results after it.
#include <cjson/cJSON.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>

#include "hub/formats/formats_internal.h"
#include "hub/formats/responses_internal.h"

namespace tether {

JsonPtr ResponsesSkeleton(const std::string& id, const std::string& model, int64_t created_at) {
  JsonPtr r = JsonNewObj();
  JsonAddStr(r.get(), "id", id);
  JsonAddStr(r.get(), "object", "response");
  JsonAddNum(r.get(), "created_at", static_cast<double>(created_at));
  JsonAddStr(r.get(), "status", "in_progress");
  cJSON_AddItemToObject(r.get(), "error", cJSON_CreateNull());
  cJSON_AddItemToObject(r.get(), "incomplete_details", cJSON_CreateNull());
  JsonAddStr(r.get(), "model", model);
  JsonAddArr(r.get(), "output");
  JsonAddBool(r.get(), "parallel_tool_calls", true);
  JsonAddStr(r.get(), "tool_choice", "auto");
  JsonAddArr(r.get(), "tools");
  cJSON_AddItemToObject(r.get(), "usage", cJSON_CreateNull());
  return r;
}

JsonPtr ResponsesReasoningItem(const std::string& id, std::string_view text, std::string_view signature) {
  JsonPtr item = JsonNewObj();
  JsonAddStr(item.get(), "id", id);
  JsonAddStr(item.get(), "type", "reasoning");
  cJSON* summary = JsonAddArr(item.get(), "summary");
  if (!text.empty()) {
    cJSON* s = JsonAddObj(summary, nullptr);
    JsonAddStr(s, "type", "summary_text");
    JsonAddStr(s, "text", text);
  }
  if (!signature.empty()) JsonAddStr(item.get(), "encrypted_content", signature);
  return item;
}

JsonPtr ResponsesMessageItem(const std::string& id, std::string_view text, const char* status) {
  JsonPtr item = JsonNewObj();
  JsonAddStr(item.get(), "id", id);
  JsonAddStr(item.get(), "type", "message");
  JsonAddStr(item.get(), "status", status);
  JsonAddStr(item.get(), "role", "assistant");
  cJSON* content = JsonAddArr(item.get(), "content");
  cJSON* part = JsonAddObj(content, nullptr);
  JsonAddStr(part, "type", "output_text");
  JsonAddStr(part, "text", text);
  JsonAddArr(part, "annotations");
  return item;
}

JsonPtr ResponsesFunctionCallItem(const std::string& id, std::string_view call_id, std::string_view name,
                                  std::string_view arguments, const char* status) {
  JsonPtr item = JsonNewObj();
  JsonAddStr(item.get(), "id", id);
  JsonAddStr(item.get(), "type", "function_call");
  JsonAddStr(item.get(), "status", status);
  JsonAddStr(item.get(), "call_id", call_id);
  JsonAddStr(item.get(), "name", name);
  JsonAddStr(item.get(), "arguments", arguments);
  return item;
}

void ResponsesSetStatus(cJSON* response, std::string_view finish_reason) {
  cJSON_DeleteItemFromObjectCaseSensitive(response, "status");
  cJSON_DeleteItemFromObjectCaseSensitive(response, "incomplete_details");
  const char* reason = finish_reason == "length"           ? "max_output_tokens"
                       : finish_reason == "content_filter" ? "content_filter"
                                                           : nullptr;
  JsonAddStr(response, "status", reason ? "incomplete" : "completed");
  if (reason) JsonAddStr(JsonAddObj(response, "incomplete_details"), "reason", reason);
  else cJSON_AddItemToObject(response, "incomplete_details", cJSON_CreateNull());
}

JsonPtr ResponsesUsageFromChat(const cJSON* usage) {
  JsonPtr u = JsonNewObj();
  double in = JsonNum(usage, "prompt_tokens", 0), out = JsonNum(usage, "completion_tokens", 0);
  JsonAddNum(u.get(), "input_tokens", in);
  JsonAddNum(JsonAddObj(u.get(), "input_tokens_details"), "cached_tokens",
             JsonNum(JsonObj(usage, "prompt_tokens_details"), "cached_tokens", 0));
  JsonAddNum(u.get(), "output_tokens", out);
  JsonAddNum(JsonAddObj(u.get(), "output_tokens_details"), "reasoning_tokens",
             JsonNum(JsonObj(usage, "completion_tokens_details"), "reasoning_tokens", 0));
  JsonAddNum(u.get(), "total_tokens", JsonNum(usage, "total_tokens", in + out));
  return u;
}

JsonPtr ResponsesUsageToChat(const cJSON* usage) {
  JsonPtr u = JsonNewObj();
  double in = JsonNum(usage, "input_tokens", 0), out = JsonNum(usage, "output_tokens", 0);
  JsonAddNum(u.get(), "prompt_tokens", in);
  JsonAddNum(u.get(), "completion_tokens", out);
  JsonAddNum(u.get(), "total_tokens", JsonNum(usage, "total_tokens", in + out));
  JsonAddNum(JsonAddObj(u.get(), "prompt_tokens_details"), "cached_tokens",
             JsonNum(JsonObj(usage, "input_tokens_details"), "cached_tokens", 0));
  JsonAddNum(JsonAddObj(u.get(), "completion_tokens_details"), "reasoning_tokens",
             JsonNum(JsonObj(usage, "output_tokens_details"), "reasoning_tokens", 0));
  return u;
}

std::string ResponsesFinishReason(const cJSON* response, bool has_calls) {
  std::string status = JsonStrOr(response, "status", "completed");
  if (status == "incomplete") {
    std::string reason = JsonStrOr(JsonObj(response, "incomplete_details"), "reason", "");
    return reason == "content_filter" ? "content_filter" : "length";
  }
  return has_calls ? "tool_calls" : "stop";
}

namespace {

std::string PartsText(const cJSON* content) {
  if (cJSON_IsString(content)) return content->valuestring;
  std::string out;
  const cJSON* p;
  cJSON_ArrayForEach(p, content) {
    if (const char* t = JsonStr(p, "text")) out += t;
    else if (const char* r = JsonStr(p, "refusal")) out += r;
  }
  return out;
}

// Responses content parts -> pivot content (string when text only).
void AddResponsesContent(cJSON* msg, const cJSON* content) {
  if (cJSON_IsString(content) || !content) {
    JsonAddStr(msg, "content", cJSON_IsString(content) ? content->valuestring : "");
    return;
  }
  bool only_text = true;
  const cJSON* p;
  cJSON_ArrayForEach(p, content) {
    std::string type = JsonStrOr(p, "type", "");
    if (type == "input_image" || type == "image_url") only_text = false;
  }
  if (only_text) {
    int n = cJSON_GetArraySize(content);
    if (n <= 1) {
      JsonAddStr(msg, "content", PartsText(content));
      return;
    }
  }
  cJSON* arr = JsonAddArr(msg, "content");
  cJSON_ArrayForEach(p, content) {
    std::string type = JsonStrOr(p, "type", "");
    if (type == "input_text" || type == "output_text" || type == "text" || type == "refusal") {
      cJSON* o = JsonAddObj(arr, nullptr);
      JsonAddStr(o, "type", "text");
      JsonAddStr(o, "text", JsonStrOr(p, type == "refusal" ? "refusal" : "text", ""));
    } else if (type == "input_image") {
      const cJSON* iu = JsonGet(p, "image_url");
      std::string url = cJSON_IsString(iu) ? iu->valuestring : JsonStrOr(iu, "url", "");
      if (url.empty()) continue;  // file_id images have no pivot form
      cJSON* o = JsonAddObj(arr, nullptr);
      JsonAddStr(o, "type", "image_url");
      cJSON* u = JsonAddObj(o, "image_url");
      JsonAddStr(u, "url", url);
      if (const char* d = JsonStr(p, "detail"); d && std::string_view(d) != "auto") JsonAddStr(u, "detail", d);
    }
    // input_file / input_audio: no pivot form.
  }
}

std::string EffortFromResponses(const std::string& e) {
  if (e == "minimal") return "low";
  if (e == "xhigh") return "high";
  if (e == "low" || e == "medium" || e == "high") return e;
  return "";
}

// A Responses web_search tool as the pivot's web_search_options (Chat
// Completions' own field, plus the extension "allowed_domains"). Codex's
// "external_web_access": false asks for cached results only, which no other
// provider offers, so that tool has no pivot form.
JsonPtr WebSearchOptions(const cJSON* t) {
  if (cJSON_IsFalse(JsonGet(t, "external_web_access"))) return nullptr;
  JsonPtr o = JsonNewObj();
  if (const char* size = JsonStr(t, "search_context_size")) JsonAddStr(o.get(), "search_context_size", size);
  if (const cJSON* loc = JsonObj(t, "user_location")) {
    cJSON* ul = JsonAddObj(o.get(), "user_location");
    JsonAddStr(ul, "type", "approximate");
    cJSON* approx = JsonAddObj(ul, "approximate");
    for (const char* k : {"city", "country", "region", "timezone"})
      if (const char* v = JsonStr(loc, k)) JsonAddStr(approx, k, v);
  }
  if (const cJSON* domains = JsonArr(JsonObj(t, "filters"), "allowed_domains"); cJSON_GetArraySize(domains) > 0)
    JsonAddCopy(o.get(), "allowed_domains", domains);
  return o;
}

bool IsWebSearch(const std::string& type) { return type.rfind("web_search", 0) == 0; }

}  // namespace

Result<JsonPtr> ResponsesRequestToChat(const cJSON* req) {
  if (!cJSON_IsObject(req)) return Status::Error("responses request: expected a JSON object");
  const ResponsesToolNames names(req);
  JsonPtr out = JsonNewObj();
  if (const char* model = JsonStr(req, "model")) JsonAddStr(out.get(), "model", model);
  cJSON* messages = JsonAddArr(out.get(), "messages");
  if (const char* ins = JsonStr(req, "instructions"); ins && *ins) {
    cJSON* m = JsonAddObj(messages, nullptr);
    JsonAddStr(m, "role", "system");
    JsonAddStr(m, "content", ins);
  }

  const cJSON* input = JsonGet(req, "input");
  if (cJSON_IsString(input)) {
    cJSON* m = JsonAddObj(messages, nullptr);
    JsonAddStr(m, "role", "user");
    JsonAddStr(m, "content", input->valuestring);
  } else if (cJSON_IsArray(input)) {
    // The assistant message still open for reasoning / text / tool calls.
    cJSON* assistant = nullptr;
    auto open_assistant = [&]() {
      if (!assistant) {
        assistant = JsonAddObj(messages, nullptr);
        JsonAddStr(assistant, "role", "assistant");
        cJSON_AddItemToObject(assistant, "content", cJSON_CreateNull());
      }
      return assistant;
    };
    int i = 0;
    const cJSON* item;
    cJSON_ArrayForEach(item, input) {
      std::string type = JsonStrOr(item, "type", "");
      std::string role = JsonStrOr(item, "role", "");
      if (type.empty() && !role.empty()) type = "message";
      if (type == "message") {
        if (role == "assistant") {
          cJSON* a = open_assistant();
          // Text after a tool call starts a new turn in the pivot.
          if (JsonArr(a, "tool_calls")) {
            assistant = nullptr;
            a = open_assistant();
          }
          std::string prev = JsonStrOr(a, "content", "");
          cJSON_DeleteItemFromObjectCaseSensitive(a, "content");
          JsonAddStr(a, "content", prev + PartsText(JsonGet(item, "content")));
          continue;
        }
        assistant = nullptr;
        cJSON* m = JsonAddObj(messages, nullptr);
        JsonAddStr(m, "role", role == "developer" || role == "system" || role == "user" ? role : std::string("user"));
        AddResponsesContent(m, JsonGet(item, "content"));
      } else if (type == "reasoning") {
        cJSON* a = open_assistant();
        if (JsonArr(a, "tool_calls") || !cJSON_IsNull(JsonGet(a, "content"))) {
          assistant = nullptr;
          a = open_assistant();
        }
        std::string text;
        const cJSON* s;
        cJSON_ArrayForEach(s, JsonArr(item, "summary")) {
          if (const char* t = JsonStr(s, "text")) {
            if (!text.empty()) text += "\n\n";
            text += t;
          }
        }
        if (text.empty()) {
          cJSON_ArrayForEach(s, JsonArr(item, "content")) {
            if (const char* t = JsonStr(s, "text")) text += t;
          }
        }
        std::string prev = JsonStrOr(a, "reasoning_content", "");
        cJSON_DeleteItemFromObjectCaseSensitive(a, "reasoning_content");
        if (!prev.empty() || !text.empty()) JsonAddStr(a, "reasoning_content", prev + text);
        if (const char* enc = JsonStr(item, "encrypted_content"); enc && *enc) {
          cJSON_DeleteItemFromObjectCaseSensitive(a, "reasoning_signature");
          JsonAddStr(a, "reasoning_signature", enc);
        }
      } else if (type == "function_call" || type == "custom_tool_call") {
        cJSON* a = open_assistant();
        cJSON* calls = cJSON_GetObjectItemCaseSensitive(a, "tool_calls");
        if (!calls) calls = JsonAddArr(a, "tool_calls");
        cJSON* tc = JsonAddObj(calls, nullptr);
        std::string call_id = JsonStrOr(item, "call_id", JsonStrOr(item, "id", ""));
        JsonAddStr(tc, "id", call_id);
        JsonAddStr(tc, "type", "function");
        cJSON* f = JsonAddObj(tc, "function");
        JsonAddStr(f, "name", names.Wire(JsonStrOr(item, "namespace", ""), JsonStrOr(item, "name", "")));
        if (type == "function_call") {
          JsonAddStr(f, "arguments", JsonStrOr(item, "arguments", "{}"));
        } else {  // freeform input, carried as a one-field object
          JsonAddStr(f, "arguments", "{\"input\":" + JsonQuote(JsonStrOr(item, "input", "")) + "}");
        }
      } else if (type == "function_call_output" || type == "custom_tool_call_output") {
        assistant = nullptr;
        cJSON* m = JsonAddObj(messages, nullptr);
        JsonAddStr(m, "role", "tool");
        JsonAddStr(m, "tool_call_id", JsonStrOr(item, "call_id", ""));
        const cJSON* output = JsonGet(item, "output");
        if (cJSON_IsString(output)) JsonAddStr(m, "content", output->valuestring);
        else if (cJSON_IsArray(output)) AddResponsesContent(m, output);
        else JsonAddStr(m, "content", output ? PrintJson(output) : "");
      } else if (type.empty()) {
        return Status::Error("responses request: input[" + std::to_string(i) + "] has no type");
      }
      // web_search_call, local_shell_call, item_reference, compaction, ...:
      // no pivot form; dropped.
      ++i;
    }
  } else if (input) {
    return Status::Error("responses request: \"input\" must be a string or an array");
  }

  if (const cJSON* tools = JsonArr(req, "tools")) {
    JsonPtr arr = JsonNewArr();
    ResponsesToolsToChat(req, names, arr.get());
    if (cJSON_GetArraySize(arr.get()) > 0) cJSON_AddItemToObject(out.get(), "tools", arr.release());
    const cJSON* t;
    cJSON_ArrayForEach(t, tools) {
      if (!IsWebSearch(JsonStrOr(t, "type", "")) || JsonGet(out.get(), "web_search_options")) continue;
      if (JsonPtr ws = WebSearchOptions(t)) cJSON_AddItemToObject(out.get(), "web_search_options", ws.release());
    }
  }

  // A choice among tools none of which has a pivot form means nothing.
  if (const cJSON* tc = JsonGet(req, "tool_choice"); tc && JsonArr(out.get(), "tools")) {
    if (cJSON_IsString(tc)) {
      JsonAddStr(out.get(), "tool_choice", tc->valuestring);
    } else if (std::string type = JsonStrOr(tc, "type", ""); (type == "function" || type == "custom") && JsonStr(tc, "name")) {
      cJSON* o = JsonAddObj(out.get(), "tool_choice");
      JsonAddStr(o, "type", "function");
      JsonAddStr(JsonAddObj(o, "function"), "name", names.Wire(JsonStrOr(tc, "namespace", ""), JsonStr(tc, "name")));
    } else {
      JsonAddStr(out.get(), "tool_choice", "auto");
    }
  }
  if (const cJSON* v = JsonGet(req, "max_output_tokens"); cJSON_IsNumber(v)) JsonAddNum(out.get(), "max_tokens", v->valuedouble);
  if (const cJSON* v = JsonGet(req, "temperature"); cJSON_IsNumber(v)) JsonAddNum(out.get(), "temperature", v->valuedouble);
  if (const cJSON* v = JsonGet(req, "top_p"); cJSON_IsNumber(v)) JsonAddNum(out.get(), "top_p", v->valuedouble);
  if (const cJSON* v = JsonGet(req, "parallel_tool_calls"); cJSON_IsBool(v))
    JsonAddBool(out.get(), "parallel_tool_calls", cJSON_IsTrue(v));
  if (const cJSON* v = JsonGet(req, "stream"); cJSON_IsBool(v)) JsonAddBool(out.get(), "stream", cJSON_IsTrue(v));
  if (const char* u = JsonStr(req, "user")) JsonAddStr(out.get(), "user", u);
  if (const cJSON* fmt = JsonObj(JsonObj(req, "text"), "format")) {
    std::string type = JsonStrOr(fmt, "type", "");
    if (type == "json_schema") {
      cJSON* rf = JsonAddObj(out.get(), "response_format");
      JsonAddStr(rf, "type", "json_schema");
      cJSON* js = JsonAddObj(rf, "json_schema");
      JsonAddStr(js, "name", JsonStrOr(fmt, "name", "response"));
      if (const cJSON* s = JsonGet(fmt, "schema")) JsonAddCopy(js, "schema", s);
      if (const cJSON* st = JsonGet(fmt, "strict"); cJSON_IsBool(st)) JsonAddBool(js, "strict", cJSON_IsTrue(st));
    } else if (type == "json_object") {
      JsonAddStr(JsonAddObj(out.get(), "response_format"), "type", "json_object");
    }
  }
  if (const char* e = JsonStr(JsonObj(req, "reasoning"), "effort")) {
    std::string effort = EffortFromResponses(e);
    if (!effort.empty()) JsonAddStr(out.get(), "reasoning_effort", effort);
  }
  // store, include, prompt_cache_key, client_metadata, truncation: nothing
  // in the pivot would carry them.
  return out;
}

Result<JsonPtr> ChatRequestToResponses(const cJSON* chat) {
  if (!cJSON_IsObject(chat)) return Status::Error("chat request: expected a JSON object");
  const cJSON* messages = JsonArr(chat, "messages");
  if (!messages) return Status::Error("chat request: \"messages\" must be an array");
  JsonPtr out = JsonNewObj();
  if (const char* model = JsonStr(chat, "model")) JsonAddStr(out.get(), "model", model);
  std::string instructions;
  bool leading = true;
  cJSON* input = JsonAddArr(out.get(), "input");
  const cJSON* m;
  cJSON_ArrayForEach(m, messages) {
    std::string role = JsonStrOr(m, "role", "user");
    const cJSON* content = JsonGet(m, "content");
    if ((role == "system" || role == "developer") && leading) {
      if (!instructions.empty()) instructions += "\n\n";
      instructions += PartsText(content);
      continue;
    }
    leading = false;
    if (role == "tool" || role == "function") {
      cJSON* o = JsonAddObj(input, nullptr);
      JsonAddStr(o, "type", "function_call_output");
      JsonAddStr(o, "call_id", JsonStrOr(m, "tool_call_id", ""));
      JsonAddStr(o, "output", PartsText(content));
      continue;
    }
    if (role == "assistant") {
      const char* sig = JsonStr(m, "reasoning_signature");
      // A reasoning item only carries weight with its encrypted content;
      // bare summaries are not accepted back as input.
      if (sig && *sig) {
        cJSON* r = JsonAddObj(input, nullptr);
        JsonAddStr(r, "type", "reasoning");
        cJSON* summary = JsonAddArr(r, "summary");
        if (const char* rc = JsonStr(m, "reasoning_content"); rc && *rc) {
          cJSON* s = JsonAddObj(summary, nullptr);
          JsonAddStr(s, "type", "summary_text");
          JsonAddStr(s, "text", rc);
        }
        JsonAddStr(r, "encrypted_content", sig);
      }
      std::string text = PartsText(content);
      if (!text.empty()) {
        cJSON* o = JsonAddObj(input, nullptr);
        JsonAddStr(o, "type", "message");
        JsonAddStr(o, "role", "assistant");
        cJSON* part = JsonAddObj(JsonAddArr(o, "content"), nullptr);
        JsonAddStr(part, "type", "output_text");
        JsonAddStr(part, "text", text);
      }
      const cJSON* tc;
      cJSON_ArrayForEach(tc, JsonArr(m, "tool_calls")) {
        const cJSON* f = JsonObj(tc, "function");
        cJSON* o = JsonAddObj(input, nullptr);
        JsonAddStr(o, "type", "function_call");
        JsonAddStr(o, "call_id", JsonStrOr(tc, "id", ""));
        JsonAddStr(o, "name", JsonStrOr(f, "name", ""));
        JsonAddStr(o, "arguments", JsonStrOr(f, "arguments", "{}"));
      }
      continue;
    }
    cJSON* o = JsonAddObj(input, nullptr);
    JsonAddStr(o, "type", "message");
    JsonAddStr(o, "role", role == "system" || role == "developer" ? "developer" : "user");
    cJSON* parts = JsonAddArr(o, "content");
    if (cJSON_IsString(content)) {
      cJSON* p = JsonAddObj(parts, nullptr);
      JsonAddStr(p, "type", "input_text");
      JsonAddStr(p, "text", content->valuestring);
    } else {
      const cJSON* c;
      cJSON_ArrayForEach(c, content) {
        std::string type = JsonStrOr(c, "type", "");
        cJSON* p = nullptr;
        if (type == "text") {
          p = JsonAddObj(parts, nullptr);
          JsonAddStr(p, "type", "input_text");
          JsonAddStr(p, "text", JsonStrOr(c, "text", ""));
        } else if (type == "image_url") {
          const cJSON* iu = JsonGet(c, "image_url");
          p = JsonAddObj(parts, nullptr);
          JsonAddStr(p, "type", "input_image");
          JsonAddStr(p, "image_url", cJSON_IsString(iu) ? iu->valuestring : JsonStrOr(iu, "url", ""));
          JsonAddStr(p, "detail", JsonStrOr(iu, "detail", "auto"));
        }
      }
    }
  }
  if (!instructions.empty()) JsonAddStr(out.get(), "instructions", instructions);

  if (const cJSON* tools = JsonArr(chat, "tools")) {
    cJSON* arr = JsonAddArr(out.get(), "tools");
    const cJSON* t;
    cJSON_ArrayForEach(t, tools) {
      const cJSON* f = JsonObj(t, "function");
      if (!JsonStr(f, "name")) continue;
      cJSON* o = JsonAddObj(arr, nullptr);
      JsonAddStr(o, "type", "function");
      JsonAddStr(o, "name", JsonStr(f, "name"));
      if (const char* d = JsonStr(f, "description")) JsonAddStr(o, "description", d);
      if (const cJSON* ps = JsonObj(f, "parameters")) JsonAddCopy(o, "parameters", ps);
      JsonAddBool(o, "strict", JsonBool(f, "strict", false));
    }
  }
  if (const cJSON* ws = JsonObj(chat, "web_search_options")) {
    cJSON* arr = cJSON_GetObjectItemCaseSensitive(out.get(), "tools");
    if (!arr) arr = JsonAddArr(out.get(), "tools");
    cJSON* o = JsonAddObj(arr, nullptr);
    JsonAddStr(o, "type", "web_search");
    if (const char* size = JsonStr(ws, "search_context_size")) JsonAddStr(o, "search_context_size", size);
    if (const cJSON* approx = JsonObj(JsonObj(ws, "user_location"), "approximate")) {
      cJSON* ul = JsonAddObj(o, "user_location");
      JsonAddStr(ul, "type", "approximate");
      for (const char* k : {"city", "country", "region", "timezone"})
        if (const char* v = JsonStr(approx, k)) JsonAddStr(ul, k, v);
    }
    if (const cJSON* domains = JsonArr(ws, "allowed_domains"))
      JsonAddCopy(JsonAddObj(o, "filters"), "allowed_domains", domains);
  }
  if (const cJSON* tc = JsonGet(chat, "tool_choice")) {
    if (cJSON_IsString(tc)) {
      JsonAddStr(out.get(), "tool_choice", tc->valuestring);
    } else if (const char* n = JsonStr(JsonObj(tc, "function"), "name")) {
      cJSON* o = JsonAddObj(out.get(), "tool_choice");
      JsonAddStr(o, "type", "function");
      JsonAddStr(o, "name", n);
    }
  }
  const cJSON* mt = JsonGet(chat, "max_completion_tokens");
  if (!cJSON_IsNumber(mt)) mt = JsonGet(chat, "max_tokens");
  if (cJSON_IsNumber(mt)) JsonAddNum(out.get(), "max_output_tokens", mt->valuedouble);
  if (const cJSON* v = JsonGet(chat, "temperature"); cJSON_IsNumber(v)) JsonAddNum(out.get(), "temperature", v->valuedouble);
  if (const cJSON* v = JsonGet(chat, "top_p"); cJSON_IsNumber(v)) JsonAddNum(out.get(), "top_p", v->valuedouble);
  if (const cJSON* v = JsonGet(chat, "parallel_tool_calls"); cJSON_IsBool(v))
    JsonAddBool(out.get(), "parallel_tool_calls", cJSON_IsTrue(v));
  if (const cJSON* v = JsonGet(chat, "stream"); cJSON_IsBool(v)) JsonAddBool(out.get(), "stream", cJSON_IsTrue(v));
  if (const cJSON* rf = JsonObj(chat, "response_format")) {
    std::string type = JsonStrOr(rf, "type", "");
    if (type == "json_schema" || type == "json_object") {
      cJSON* fmt = JsonAddObj(JsonAddObj(out.get(), "text"), "format");
      JsonAddStr(fmt, "type", type);
      if (type == "json_schema") {
        const cJSON* js = JsonObj(rf, "json_schema");
        JsonAddStr(fmt, "name", JsonStrOr(js, "name", "response"));
        if (const cJSON* s = JsonGet(js, "schema")) JsonAddCopy(fmt, "schema", s);
        if (const cJSON* st = JsonGet(js, "strict"); cJSON_IsBool(st)) JsonAddBool(fmt, "strict", cJSON_IsTrue(st));
      }
    }
  }
  std::string effort = JsonStrOr(chat, "reasoning_effort", "");
  if (effort.empty()) {
    if (const cJSON* b = JsonGet(chat, "thinking_budget"); cJSON_IsNumber(b) && b->valuedouble > 0)
      effort = b->valuedouble <= 2048 ? "low" : b->valuedouble <= 16384 ? "medium" : "high";
  }
  if (!effort.empty()) JsonAddStr(JsonAddObj(out.get(), "reasoning"), "effort", effort);
  return out;
}

// ---- non-streaming responses --------------------------------------------------

Result<JsonPtr> ResponsesResponseToChat(const cJSON* resp) {
  if (!cJSON_IsObject(resp)) return Status::Error("responses response: expected a JSON object");
  JsonPtr out = JsonNewObj();
  JsonAddStr(out.get(), "id", JsonStrOr(resp, "id", RandomId("resp_")));
  JsonAddStr(out.get(), "object", "chat.completion");
  JsonAddNum(out.get(), "created", JsonNum(resp, "created_at", static_cast<double>(UnixNow())));
  JsonAddStr(out.get(), "model", JsonStrOr(resp, "model", ""));
  cJSON* choice = JsonAddObj(JsonAddArr(out.get(), "choices"), nullptr);
  JsonAddNum(choice, "index", 0);
  cJSON* msg = JsonAddObj(choice, "message");
  JsonAddStr(msg, "role", "assistant");
  std::string text, reasoning, sig;
  JsonPtr calls = JsonNewArr();
  const cJSON* item;
  cJSON_ArrayForEach(item, JsonArr(resp, "output")) {
    std::string type = JsonStrOr(item, "type", "");
    if (type == "message") {
      text += PartsText(JsonGet(item, "content"));
    } else if (type == "reasoning") {
      const cJSON* s;
      std::string r;
      cJSON_ArrayForEach(s, JsonArr(item, "summary")) {
        if (const char* t = JsonStr(s, "text")) r += (r.empty() ? "" : "\n\n") + std::string(t);
      }
      if (r.empty()) {
        cJSON_ArrayForEach(s, JsonArr(item, "content")) {
          if (const char* t = JsonStr(s, "text")) r += t;
        }
      }
      reasoning += r;
      if (const char* e = JsonStr(item, "encrypted_content")) sig = e;
    } else if (type == "function_call" || type == "custom_tool_call") {
      cJSON* tc = JsonAddObj(calls.get(), nullptr);
      JsonAddStr(tc, "id", JsonStrOr(item, "call_id", JsonStrOr(item, "id", "")));
      JsonAddStr(tc, "type", "function");
      cJSON* f = JsonAddObj(tc, "function");
      JsonAddStr(f, "name", JsonStrOr(item, "name", ""));
      if (type == "function_call") JsonAddStr(f, "arguments", JsonStrOr(item, "arguments", "{}"));
      else JsonAddStr(f, "arguments", "{\"input\":" + JsonQuote(JsonStrOr(item, "input", "")) + "}");
    }
  }
  bool has_calls = cJSON_GetArraySize(calls.get()) > 0;
  if (text.empty() && has_calls) cJSON_AddItemToObject(msg, "content", cJSON_CreateNull());
  else JsonAddStr(msg, "content", text);
  if (!reasoning.empty()) JsonAddStr(msg, "reasoning_content", reasoning);
  if (!sig.empty()) JsonAddStr(msg, "reasoning_signature", sig);
  if (has_calls) cJSON_AddItemToObject(msg, "tool_calls", calls.release());
  JsonAddStr(choice, "finish_reason", ResponsesFinishReason(resp, has_calls).c_str());
  if (const cJSON* u = JsonObj(resp, "usage")) cJSON_AddItemToObject(out.get(), "usage", ResponsesUsageToChat(u).release());
  return out;
}

Result<JsonPtr> ChatResponseToResponses(const cJSON* chat, std::string_view model, const cJSON* client_request) {
  if (!cJSON_IsObject(chat)) return Status::Error("chat response: expected a JSON object");
  const ResponsesToolNames names(client_request);
  const cJSON* choice = cJSON_GetArrayItem(JsonArr(chat, "choices"), 0);
  const cJSON* msg = JsonObj(choice, "message");
  std::string id = JsonStrOr(chat, "id", "");
  JsonPtr out = ResponsesSkeleton(id.rfind("resp_", 0) == 0 ? id : RandomId("resp_"),
                                  model.empty() ? JsonStrOr(chat, "model", "") : std::string(model),
                                  static_cast<int64_t>(JsonNum(chat, "created", static_cast<double>(UnixNow()))));
  cJSON* output = cJSON_GetObjectItemCaseSensitive(out.get(), "output");
  const char* rc = JsonStr(msg, "reasoning_content");
  const char* sig = JsonStr(msg, "reasoning_signature");
  if ((rc && *rc) || (sig && *sig))
    cJSON_AddItemToArray(output, ResponsesReasoningItem(RandomId("rs_"), rc ? rc : "", sig ? sig : "").release());
  std::string text;
  const cJSON* content = JsonGet(msg, "content");
  if (cJSON_IsString(content)) text = content->valuestring;
  else text = PartsText(content);
  if (!text.empty() || !JsonArr(msg, "tool_calls"))
    cJSON_AddItemToArray(output, ResponsesMessageItem(RandomId("msg_"), text, "completed").release());
  const cJSON* tc;
  cJSON_ArrayForEach(tc, JsonArr(msg, "tool_calls")) {
    const cJSON* f = JsonObj(tc, "function");
    std::string name = JsonStrOr(f, "name", "");
    const ResponsesToolName* e = names.FindWire(name);
    cJSON_AddItemToArray(output, ResponsesCallItem(names, RandomId(e && e->custom ? "ctc_" : "fc_"), JsonStrOr(tc, "id", ""),
                                                   name, JsonStrOr(f, "arguments", "{}"), "completed")
                                     .release());
  }
  ResponsesSetStatus(out.get(), JsonStrOr(choice, "finish_reason", "stop"));
  const cJSON* usage = JsonObj(chat, "usage");
  cJSON_DeleteItemFromObjectCaseSensitive(out.get(), "usage");
  cJSON_AddItemToObject(out.get(), "usage", ResponsesUsageFromChat(usage).release());
  return out;
}

}  // namespace tether
