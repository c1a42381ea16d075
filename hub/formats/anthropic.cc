// Anthropic Messages <-> pivot (OpenAI Chat shape):
// requests. Responses are in anthropic_response.cc, streams in
// anthropic_stream.cc.
//
// Field names follow the public Messages API reference: system (string or
// text blocks), content blocks text/image/document/tool_use/tool_result/
// thinking/redacted_thinking, tools with input_schema, tool_choice
// auto/any/tool/none, thinking enabled/adaptive, output_config.effort and
// output_config.format, usage with cache_read/cache_creation_input_tokens.
#include <cstring>
#include <string>
#include <vector>

#include "hub/formats/anthropic_internal.h"
#include "hub/formats/formats_internal.h"

namespace tether {
namespace {

bool Is(const char* s, const char* want) { return s && std::strcmp(s, want) == 0; }

// ---- Shared small pieces ----------------------------------------------------

// Anthropic requires max_tokens; 8192 fits every current model's output cap.
constexpr double kDefaultMaxTokens = 8192;
// Anthropic's minimum thinking budget.
constexpr double kMinThinkingBudget = 1024;

const char* EffortForBudget(double budget) {
  if (budget < 4096) return "low";
  if (budget < 16384) return "medium";
  return "high";
}

// Pivot efforts are low|medium|high; Anthropic adds "max" (mapped to high).
const char* PivotEffort(const char* effort) {
  if (Is(effort, "low") || Is(effort, "medium") || Is(effort, "high")) return effort;
  if (Is(effort, "minimal")) return "low";
  return "high";
}

// "data:image/png;base64,AAAA" -> media type and payload; false for other URLs.
bool SplitDataUrl(std::string_view url, std::string* media_type, std::string* data) {
  if (url.substr(0, 5) != "data:") return false;
  size_t comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  std::string_view meta = url.substr(5, comma - 5);
  size_t semi = meta.find(';');
  *media_type = std::string(meta.substr(0, semi));
  *data = std::string(url.substr(comma + 1));
  return true;
}

void CopyIf(cJSON* to, const char* to_key, const cJSON* from, const char* from_key) {
  if (const cJSON* v = JsonGet(from, from_key)) JsonAddCopy(to, to_key, v);
}

// ---- Anthropic -> pivot: content ----------------------------------------------

// An Anthropic image/document/text block as a pivot content part, or null.
JsonPtr BlockToPart(const cJSON* block) {
  const char* type = JsonStr(block, "type");
  JsonPtr part = JsonNewObj();
  if (Is(type, "text")) {
    JsonAddStr(part.get(), "type", "text");
    JsonAddStr(part.get(), "text", JsonStrOr(block, "text", ""));
    CopyIf(part.get(), "cache_control", block, "cache_control");
    return part;
  }
  const cJSON* source = JsonObj(block, "source");
  const char* stype = JsonStr(source, "type");
  if (Is(type, "image")) {
    std::string url;
    if (Is(stype, "base64")) {
      url = "data:" + JsonStrOr(source, "media_type", "image/png") + ";base64," +
            JsonStrOr(source, "data", "");
    } else if (Is(stype, "url")) {
      url = JsonStrOr(source, "url", "");
    } else {
      return nullptr;  // file ids only mean something to Anthropic
    }
    JsonAddStr(part.get(), "type", "image_url");
    JsonAddStr(JsonAddObj(part.get(), "image_url"), "url", url);
    CopyIf(part.get(), "cache_control", block, "cache_control");
    return part;
  }
  if (Is(type, "document")) {
    if (Is(stype, "text")) {  // plain-text document: its text is the content
      JsonAddStr(part.get(), "type", "text");
      JsonAddStr(part.get(), "text", JsonStrOr(source, "data", ""));
      return part;
    }
    std::string data;
    if (Is(stype, "base64")) {
      data = "data:" + JsonStrOr(source, "media_type", "application/pdf") + ";base64," +
             JsonStrOr(source, "data", "");
    } else if (Is(stype, "url")) {
      data = JsonStrOr(source, "url", "");
    } else {
      return nullptr;
    }
    JsonAddStr(part.get(), "type", "file");
    cJSON* file = JsonAddObj(part.get(), "file");
    if (const char* title = JsonStr(block, "title")) JsonAddStr(file, "filename", title);
    JsonAddStr(file, "file_data", data);
    return part;
  }
  return nullptr;  // search_result, container_upload, ... have no pivot form
}

// A tool_result block as a pivot tool message.
void AddToolMessage(cJSON* messages, const cJSON* block) {
  cJSON* m = JsonAddObj(messages, nullptr);
  JsonAddStr(m, "role", "tool");
  JsonAddStr(m, "tool_call_id", JsonStrOr(block, "tool_use_id", ""));
  const cJSON* content = JsonGet(block, "content");
  if (cJSON_IsArray(content)) {
    int n = cJSON_GetArraySize(content);
    const cJSON* first = cJSON_GetArrayItem(content, 0);
    if (n == 1 && Is(JsonStr(first, "type"), "text")) {
      JsonAddStr(m, "content", JsonStrOr(first, "text", ""));
    } else {
      cJSON* parts = JsonAddArr(m, "content");
      const cJSON* b;
      cJSON_ArrayForEach(b, content) {
        if (JsonPtr p = BlockToPart(b)) cJSON_AddItemToArray(parts, p.release());
      }
    }
  } else {
    JsonAddStr(m, "content", cJSON_IsString(content) ? content->valuestring : "");
  }
  if (JsonBool(block, "is_error", false)) JsonAddBool(m, "is_error", true);
  CopyIf(m, "cache_control", block, "cache_control");
}

void AddUserMessage(cJSON* messages, const cJSON* content) {
  if (cJSON_IsString(content)) {
    cJSON* m = JsonAddObj(messages, nullptr);
    JsonAddStr(m, "role", "user");
    JsonAddStr(m, "content", content->valuestring);
    return;
  }
  // Tool results first: the pivot needs them right after the assistant turn.
  JsonPtr parts = JsonNewArr();
  const cJSON* b;
  cJSON_ArrayForEach(b, content) {
    if (Is(JsonStr(b, "type"), "tool_result")) AddToolMessage(messages, b);
    else if (JsonPtr p = BlockToPart(b)) cJSON_AddItemToArray(parts.get(), p.release());
  }
  if (cJSON_GetArraySize(parts.get()) > 0) {
    cJSON* m = JsonAddObj(messages, nullptr);
    JsonAddStr(m, "role", "user");
    cJSON_AddItemToObject(m, "content", parts.release());
  }
}

}  // namespace

void AnthropicAssistantToChat(cJSON* messages, const cJSON* content) {
  cJSON* m = JsonAddObj(messages, nullptr);
  JsonAddStr(m, "role", "assistant");
  if (cJSON_IsString(content)) {
    JsonAddStr(m, "content", content->valuestring);
    return;
  }
  std::string text, reasoning, signature;
  std::vector<std::string> redacted;
  JsonPtr tool_calls = JsonNewArr();
  const cJSON* b;
  cJSON_ArrayForEach(b, content) {
    const char* type = JsonStr(b, "type");
    if (Is(type, "text")) {
      text += JsonStrOr(b, "text", "");
    } else if (Is(type, "thinking")) {
      reasoning += JsonStrOr(b, "thinking", "");
      if (const char* sig = JsonStr(b, "signature"); sig && *sig) signature = sig;
    } else if (Is(type, "redacted_thinking")) {
      redacted.push_back(JsonStrOr(b, "data", ""));
    } else if (Is(type, "tool_use")) {
      cJSON* tc = JsonAddObj(tool_calls.get(), nullptr);
      JsonAddStr(tc, "id", JsonStrOr(b, "id", ""));
      JsonAddStr(tc, "type", "function");
      cJSON* fn = JsonAddObj(tc, "function");
      JsonAddStr(fn, "name", JsonStrOr(b, "name", ""));
      const cJSON* input = JsonGet(b, "input");
      JsonAddStr(fn, "arguments", input ? PrintJson(input) : "{}");
    }
    // server_tool_use and *_tool_result blocks are Anthropic-side state.
  }
  bool has_calls = cJSON_GetArraySize(tool_calls.get()) > 0;
  if (text.empty() && has_calls) cJSON_AddNullToObject(m, "content");
  else JsonAddStr(m, "content", text);
  if (!reasoning.empty()) JsonAddStr(m, "reasoning_content", reasoning);
  if (!signature.empty()) JsonAddStr(m, "reasoning_signature", signature);
  if (redacted.size() == 1) {
    JsonAddStr(m, "redacted_reasoning", redacted[0]);
  } else if (redacted.size() > 1) {
    cJSON* arr = JsonAddArr(m, "redacted_reasoning");
    for (const auto& r : redacted) JsonAddStr(arr, nullptr, r);
  }
  if (has_calls) cJSON_AddItemToObject(m, "tool_calls", tool_calls.release());
}

namespace {

// The system prompt as pivot content: a string when it is one plain string,
// text parts otherwise (keeps block boundaries and cache_control).
void AddSystemParts(cJSON* parts, const cJSON* system) {
  if (cJSON_IsString(system)) {
    if (!*system->valuestring) return;
    cJSON* p = JsonAddObj(parts, nullptr);
    JsonAddStr(p, "type", "text");
    JsonAddStr(p, "text", system->valuestring);
    return;
  }
  const cJSON* b;
  cJSON_ArrayForEach(b, system) {
    if (!Is(JsonStr(b, "type"), "text")) continue;
    if (JsonPtr p = BlockToPart(b)) cJSON_AddItemToArray(parts, p.release());
  }
}

}  // namespace

// ---- Anthropic request -> pivot ----------------------------------------------

Result<JsonPtr> AnthropicRequestToChat(const cJSON* req) {
  const cJSON* in_messages = JsonArr(req, "messages");
  if (!in_messages) return Status::Error("anthropic request: messages: expected an array");
  JsonPtr out = JsonNewObj();
  cJSON* o = out.get();
  JsonAddStr(o, "model", JsonStrOr(req, "model", ""));
  cJSON* messages = JsonAddArr(o, "messages");

  // System prompt: `system` plus any role:"system" entries in messages
  // (Claude Code sends those), hoisted into one leading system message.
  JsonPtr sys_parts = JsonNewArr();
  AddSystemParts(sys_parts.get(), JsonGet(req, "system"));
  const cJSON* m;
  cJSON_ArrayForEach(m, in_messages) {
    if (Is(JsonStr(m, "role"), "system")) AddSystemParts(sys_parts.get(), JsonGet(m, "content"));
  }
  if (cJSON_GetArraySize(sys_parts.get()) > 0) {
    cJSON* sm = JsonAddObj(messages, nullptr);
    JsonAddStr(sm, "role", "system");
    const cJSON* only = cJSON_GetArrayItem(sys_parts.get(), 0);
    if (cJSON_GetArraySize(sys_parts.get()) == 1 && !JsonGet(only, "cache_control")) {
      JsonAddStr(sm, "content", JsonStrOr(only, "text", ""));
    } else {
      cJSON_AddItemToObject(sm, "content", sys_parts.release());
    }
  }

  cJSON_ArrayForEach(m, in_messages) {
    const char* role = JsonStr(m, "role");
    const cJSON* content = JsonGet(m, "content");
    if (Is(role, "user")) AddUserMessage(messages, content);
    else if (Is(role, "assistant")) AnthropicAssistantToChat(messages, content);
  }

  // Tools: only custom (client-run) tools have a pivot form; server tools
  // (web_search_20250305, code_execution_..., bash_..., ...) are dropped.
  int tool_count = 0;
  if (const cJSON* tools = JsonArr(req, "tools")) {
    cJSON* out_tools = JsonAddArr(o, "tools");
    const cJSON* t;
    cJSON_ArrayForEach(t, tools) {
      const char* type = JsonStr(t, "type");
      if (type && !Is(type, "custom")) continue;
      const char* name = JsonStr(t, "name");
      if (!name) continue;
      cJSON* ot = JsonAddObj(out_tools, nullptr);
      JsonAddStr(ot, "type", "function");
      cJSON* fn = JsonAddObj(ot, "function");
      JsonAddStr(fn, "name", name);
      CopyIf(fn, "description", t, "description");
      if (const cJSON* schema = JsonObj(t, "input_schema")) JsonAddCopy(fn, "parameters", schema);
      else JsonAddObj(JsonAddObj(fn, "parameters"), "properties");
      if (cJSON_IsBool(JsonGet(t, "strict"))) CopyIf(fn, "strict", t, "strict");
      ++tool_count;
    }
    if (tool_count == 0) cJSON_DeleteItemFromObjectCaseSensitive(o, "tools");
  }
  if (const cJSON* tc = JsonObj(req, "tool_choice"); tc && tool_count > 0) {
    const char* type = JsonStr(tc, "type");
    if (Is(type, "auto")) JsonAddStr(o, "tool_choice", "auto");
    else if (Is(type, "any")) JsonAddStr(o, "tool_choice", "required");
    else if (Is(type, "none")) JsonAddStr(o, "tool_choice", "none");
    else if (Is(type, "tool")) {
      cJSON* c = JsonAddObj(o, "tool_choice");
      JsonAddStr(c, "type", "function");
      JsonAddStr(JsonAddObj(c, "function"), "name", JsonStrOr(tc, "name", ""));
    }
    if (JsonBool(tc, "disable_parallel_tool_use", false)) JsonAddBool(o, "parallel_tool_calls", false);
  }

  CopyIf(o, "max_tokens", req, "max_tokens");
  CopyIf(o, "temperature", req, "temperature");
  CopyIf(o, "top_p", req, "top_p");
  CopyIf(o, "top_k", req, "top_k");
  CopyIf(o, "stop", req, "stop_sequences");
  if (JsonBool(req, "stream", false)) {
    JsonAddBool(o, "stream", true);
    JsonAddBool(JsonAddObj(o, "stream_options"), "include_usage", true);
  }
  if (const char* user = JsonStr(JsonObj(req, "metadata"), "user_id")) JsonAddStr(o, "user", user);

  // Thinking: a fixed budget keeps its number (and gets an effort for
  // providers that only know efforts); adaptive thinking is an effort.
  const cJSON* thinking = JsonObj(req, "thinking");
  const cJSON* output_config = JsonObj(req, "output_config");
  const char* effort = JsonStr(output_config, "effort");
  const char* ttype = JsonStr(thinking, "type");
  if (Is(ttype, "enabled")) {
    double budget = JsonNum(thinking, "budget_tokens", kMinThinkingBudget);
    JsonAddNum(o, "thinking_budget", budget);
    JsonAddStr(o, "reasoning_effort", effort ? PivotEffort(effort) : EffortForBudget(budget));
  } else if (Is(ttype, "adaptive") || (effort && !Is(ttype, "disabled"))) {
    JsonAddStr(o, "reasoning_effort", effort ? PivotEffort(effort) : "high");
  }

  // Structured output: output_config.format (GA) or output_format (beta).
  const cJSON* format = JsonObj(output_config, "format");
  if (!format) format = JsonObj(req, "output_format");
  if (Is(JsonStr(format, "type"), "json_schema")) {
    cJSON* rf = JsonAddObj(o, "response_format");
    JsonAddStr(rf, "type", "json_schema");
    cJSON* js = JsonAddObj(rf, "json_schema");
    JsonAddStr(js, "name", "output");
    CopyIf(js, "schema", format, "schema");
    JsonAddBool(js, "strict", true);
  }
  return out;
}

// ---- Pivot -> Anthropic request ------------------------------------------------

namespace {

// A pivot content part as an Anthropic block, or null when it has none.
JsonPtr PartToBlock(const cJSON* part) {
  const char* type = JsonStr(part, "type");
  JsonPtr b = JsonNewObj();
  if (Is(type, "text") || Is(type, "input_text") || Is(type, "refusal")) {
    const char* text = JsonStr(part, "text");
    if (!text) text = JsonStr(part, "refusal");
    if (!text || !*text) return nullptr;  // Anthropic rejects empty text blocks
    JsonAddStr(b.get(), "type", "text");
    JsonAddStr(b.get(), "text", text);
    CopyIf(b.get(), "cache_control", part, "cache_control");
    return b;
  }
  if (Is(type, "image_url")) {
    const cJSON* iu = JsonGet(part, "image_url");
    std::string url = cJSON_IsString(iu) ? iu->valuestring : JsonStrOr(iu, "url", "");
    std::string media, data;
    JsonAddStr(b.get(), "type", "image");
    cJSON* src = JsonAddObj(b.get(), "source");
    if (SplitDataUrl(url, &media, &data)) {
      JsonAddStr(src, "type", "base64");
      JsonAddStr(src, "media_type", media);
      JsonAddStr(src, "data", data);
    } else {
      JsonAddStr(src, "type", "url");
      JsonAddStr(src, "url", url);
    }
    CopyIf(b.get(), "cache_control", part, "cache_control");
    return b;
  }
  if (Is(type, "file")) {
    const cJSON* file = JsonObj(part, "file");
    std::string fd = JsonStrOr(file, "file_data", "");
    std::string media, data;
    JsonAddStr(b.get(), "type", "document");
    cJSON* src = JsonAddObj(b.get(), "source");
    if (SplitDataUrl(fd, &media, &data)) {
      JsonAddStr(src, "type", "base64");
      JsonAddStr(src, "media_type", media.empty() ? "application/pdf" : media);
      JsonAddStr(src, "data", data);
    } else if (fd.rfind("http://", 0) == 0 || fd.rfind("https://", 0) == 0) {
      JsonAddStr(src, "type", "url");
      JsonAddStr(src, "url", fd);
    } else {
      return nullptr;  // OpenAI file ids cannot be resolved here
    }
    if (const char* name = JsonStr(file, "filename")) JsonAddStr(b.get(), "title", name);
    return b;
  }
  return nullptr;  // input_audio and others have no Anthropic form
}

// Appends blocks for a pivot content value (string or parts).
void AddContentBlocks(cJSON* blocks, const cJSON* content) {
  if (cJSON_IsString(content)) {
    if (*content->valuestring) {
      cJSON* b = JsonAddObj(blocks, nullptr);
      JsonAddStr(b, "type", "text");
      JsonAddStr(b, "text", content->valuestring);
    }
    return;
  }
  const cJSON* p;
  cJSON_ArrayForEach(p, content) {
    if (JsonPtr b = PartToBlock(p)) cJSON_AddItemToArray(blocks, b.release());
  }
}

JsonPtr ToolResultBlock(const cJSON* m) {
  JsonPtr b = JsonNewObj();
  JsonAddStr(b.get(), "type", "tool_result");
  JsonAddStr(b.get(), "tool_use_id", AnthropicToolId(JsonStrOr(m, "tool_call_id", "")));
  const cJSON* content = JsonGet(m, "content");
  if (cJSON_IsArray(content)) {
    cJSON* arr = JsonAddArr(b.get(), "content");
    AddContentBlocks(arr, content);
  } else {
    JsonAddStr(b.get(), "content", cJSON_IsString(content) ? content->valuestring : "");
  }
  if (JsonBool(m, "is_error", false)) JsonAddBool(b.get(), "is_error", true);
  CopyIf(b.get(), "cache_control", m, "cache_control");
  return b;
}

}  // namespace

void ChatAssistantToAnthropic(cJSON* blocks, const cJSON* m) {
  // A thinking block is only valid with its signature; reasoning text from
  // providers that do not sign it (DeepSeek, o-series summaries) is dropped.
  const char* signature = JsonStr(m, "reasoning_signature");
  if (signature && *signature) {
    cJSON* b = JsonAddObj(blocks, nullptr);
    JsonAddStr(b, "type", "thinking");
    JsonAddStr(b, "thinking", JsonStrOr(m, "reasoning_content", ""));
    JsonAddStr(b, "signature", signature);
  }
  const cJSON* redacted = JsonGet(m, "redacted_reasoning");
  auto add_redacted = [&](const cJSON* r) {
    if (!cJSON_IsString(r)) return;
    cJSON* b = JsonAddObj(blocks, nullptr);
    JsonAddStr(b, "type", "redacted_thinking");
    JsonAddStr(b, "data", r->valuestring);
  };
  if (cJSON_IsArray(redacted)) {
    const cJSON* r;
    cJSON_ArrayForEach(r, redacted) add_redacted(r);
  } else {
    add_redacted(redacted);
  }
  AddContentBlocks(blocks, JsonGet(m, "content"));
  const cJSON* tc;
  cJSON_ArrayForEach(tc, JsonArr(m, "tool_calls")) {
    const cJSON* fn = JsonObj(tc, "function");
    cJSON* b = JsonAddObj(blocks, nullptr);
    JsonAddStr(b, "type", "tool_use");
    JsonAddStr(b, "id", AnthropicToolId(JsonStrOr(tc, "id", "")));
    JsonAddStr(b, "name", JsonStrOr(fn, "name", ""));
    // Anthropic wants an object; arguments that are not one become {}.
    auto args = ParseJson(JsonStrOr(fn, "arguments", ""));
    if (args.ok() && cJSON_IsObject(args->get())) cJSON_AddItemToObject(b, "input", args->release());
    else JsonAddObj(b, "input");
  }
}

namespace {

// Moves tool_result blocks to the front of a user turn (an API rule).
void ToolResultsFirst(cJSON* blocks) {
  JsonPtr results = JsonNewArr(), rest = JsonNewArr();
  while (cJSON_GetArraySize(blocks) > 0) {
    cJSON* b = cJSON_DetachItemFromArray(blocks, 0);
    cJSON_AddItemToArray(Is(JsonStr(b, "type"), "tool_result") ? results.get() : rest.get(), b);
  }
  for (cJSON* arr : {results.get(), rest.get()}) {
    while (cJSON_GetArraySize(arr) > 0) cJSON_AddItemToArray(blocks, cJSON_DetachItemFromArray(arr, 0));
  }
}

}  // namespace

namespace {

// The pivot's web_search_options as Anthropic's server-side web search
// tool. Anthropic runs the searches; the results and server_tool_use blocks
// come back in the answer and the translators drop them (the text, with what
// it learnt, stays). Skipped when a client tool already has the name.
void AddWebSearchTool(cJSON* req, const cJSON* ws) {
  cJSON* tools = cJSON_GetObjectItemCaseSensitive(req, "tools");
  const cJSON* t;
  cJSON_ArrayForEach(t, tools) {
    if (Is(JsonStr(t, "name"), "web_search")) return;
  }
  if (!tools) tools = JsonAddArr(req, "tools");
  cJSON* tool = JsonAddObj(tools, nullptr);
  JsonAddStr(tool, "type", "web_search_20250305");
  JsonAddStr(tool, "name", "web_search");
  if (const cJSON* domains = JsonArr(ws, "allowed_domains"); cJSON_GetArraySize(domains) > 0)
    JsonAddCopy(tool, "allowed_domains", domains);
  if (const cJSON* approx = JsonObj(JsonObj(ws, "user_location"), "approximate")) {
    cJSON* loc = JsonAddObj(tool, "user_location");
    JsonAddStr(loc, "type", "approximate");
    for (const char* k : {"city", "region", "country", "timezone"})
      if (const char* v = JsonStr(approx, k); v && *v) JsonAddStr(loc, k, v);
  }
}

}  // namespace

Result<JsonPtr> ChatRequestToAnthropic(const cJSON* chat) {
  const cJSON* in_messages = JsonArr(chat, "messages");
  if (!in_messages) return Status::Error("pivot request: messages: expected an array");
  JsonPtr out = JsonNewObj();
  cJSON* o = out.get();
  JsonAddStr(o, "model", JsonStrOr(chat, "model", ""));

  // System and developer messages, wherever they are, form the system prompt.
  JsonPtr system = JsonNewArr();
  bool system_plain = true;  // every system message was a plain string
  // Consecutive same-role turns are merged: Anthropic wants tool results of
  // one assistant turn in a single user message.
  JsonPtr messages = JsonNewArr();
  cJSON* last = nullptr;
  const char* last_role = nullptr;
  const cJSON* m;
  cJSON_ArrayForEach(m, in_messages) {
    const char* role = JsonStr(m, "role");
    const cJSON* content = JsonGet(m, "content");
    if (Is(role, "system") || Is(role, "developer")) {
      if (!cJSON_IsString(content)) system_plain = false;
      AddContentBlocks(system.get(), content);
      continue;
    }
    const char* arole = Is(role, "assistant") ? "assistant" : "user";
    JsonPtr blocks = JsonNewArr();
    if (Is(role, "tool")) cJSON_AddItemToArray(blocks.get(), ToolResultBlock(m).release());
    else if (Is(role, "assistant")) ChatAssistantToAnthropic(blocks.get(), m);
    else AddContentBlocks(blocks.get(), content);
    if (cJSON_GetArraySize(blocks.get()) == 0) continue;  // empty turns are rejected
    if (last && Is(last_role, arole)) {
      cJSON* dst = cJSON_GetObjectItemCaseSensitive(last, "content");
      while (cJSON_GetArraySize(blocks.get()) > 0) {
        cJSON_AddItemToArray(dst, cJSON_DetachItemFromArray(blocks.get(), 0));
      }
      continue;
    }
    last = JsonAddObj(messages.get(), nullptr);
    last_role = arole;
    JsonAddStr(last, "role", arole);
    cJSON_AddItemToObject(last, "content", blocks.release());
  }
  // A turn that is one plain text block reads better (and as the client
  // sent it) as a string.
  cJSON* msg;
  cJSON_ArrayForEach(msg, messages.get()) {
    cJSON* blocks = cJSON_GetObjectItemCaseSensitive(msg, "content");
    if (Is(JsonStr(msg, "role"), "user")) ToolResultsFirst(blocks);
    cJSON* first = cJSON_GetArrayItem(blocks, 0);
    if (cJSON_GetArraySize(blocks) == 1 && Is(JsonStr(first, "type"), "text") &&
        !JsonGet(first, "cache_control")) {
      cJSON_ReplaceItemInObjectCaseSensitive(msg, "content",
                                             cJSON_CreateString(JsonStrOr(first, "text", "").c_str()));
    }
  }
  int nsys = cJSON_GetArraySize(system.get());
  if (nsys == 1 && system_plain) {
    JsonAddStr(o, "system", JsonStrOr(cJSON_GetArrayItem(system.get(), 0), "text", ""));
  } else if (nsys > 0) {
    cJSON_AddItemToObject(o, "system", system.release());
  }
  cJSON_AddItemToObject(o, "messages", messages.release());

  double max_tokens = JsonNum(chat, "max_completion_tokens", JsonNum(chat, "max_tokens", kDefaultMaxTokens));

  // Tools: function tools only (OpenAI custom/grammar tools have no form here).
  int tool_count = 0;
  if (const cJSON* tools = JsonArr(chat, "tools")) {
    JsonPtr out_tools = JsonNewArr();
    const cJSON* t;
    cJSON_ArrayForEach(t, tools) {
      const cJSON* fn = JsonObj(t, "function");
      if (!Is(JsonStr(t, "type"), "function") || !JsonStr(fn, "name")) continue;
      cJSON* ot = JsonAddObj(out_tools.get(), nullptr);
      JsonAddStr(ot, "name", JsonStr(fn, "name"));
      CopyIf(ot, "description", fn, "description");
      if (const cJSON* params = JsonObj(fn, "parameters")) {
        JsonAddCopy(ot, "input_schema", params);
      } else {
        cJSON* schema = JsonAddObj(ot, "input_schema");
        JsonAddStr(schema, "type", "object");
        JsonAddObj(schema, "properties");
      }
      if (JsonBool(fn, "strict", false)) JsonAddBool(ot, "strict", true);
      ++tool_count;
    }
    if (tool_count > 0) cJSON_AddItemToObject(o, "tools", out_tools.release());
  }
  if (const cJSON* ws = JsonObj(chat, "web_search_options")) AddWebSearchTool(o, ws);
  if (tool_count > 0) {
    const cJSON* tc = JsonGet(chat, "tool_choice");
    bool parallel = JsonBool(chat, "parallel_tool_calls", true);
    JsonPtr choice;
    if (cJSON_IsString(tc)) {
      const char* s = tc->valuestring;
      choice = JsonNewObj();
      JsonAddStr(choice.get(), "type", Is(s, "required") ? "any" : Is(s, "none") ? "none" : "auto");
    } else if (const char* name = JsonStr(JsonObj(tc, "function"), "name")) {
      choice = JsonNewObj();
      JsonAddStr(choice.get(), "type", "tool");
      JsonAddStr(choice.get(), "name", name);
    } else if (!parallel) {
      choice = JsonNewObj();
      JsonAddStr(choice.get(), "type", "auto");
    }
    if (choice && !parallel && !Is(JsonStr(choice.get(), "type"), "none")) {
      JsonAddBool(choice.get(), "disable_parallel_tool_use", true);
    }
    if (choice) cJSON_AddItemToObject(o, "tool_choice", choice.release());
  }

  // Thinking: an explicit budget stays a budget; an effort alone becomes
  // adaptive thinking with that effort (budget_tokens is rejected by
  // Opus 4.7 and later and deprecated on 4.6).
  bool thinking = false;
  double budget = JsonNum(chat, "thinking_budget", -1);
  const char* effort = JsonStr(chat, "reasoning_effort");
  if (budget > 0) {
    if (budget < kMinThinkingBudget) budget = kMinThinkingBudget;
    // max_tokens covers thinking plus answer and must exceed the budget;
    // keep the room the client asked for the answer.
    if (max_tokens <= budget) max_tokens += budget;
    cJSON* t = JsonAddObj(o, "thinking");
    JsonAddStr(t, "type", "enabled");
    JsonAddNum(t, "budget_tokens", budget);
    thinking = true;
  } else if (effort && !Is(effort, "none")) {
    JsonAddStr(JsonAddObj(o, "thinking"), "type", "adaptive");
    JsonAddStr(JsonAddObj(o, "output_config"), "effort", PivotEffort(effort));
    thinking = true;
  }
  JsonAddNum(o, "max_tokens", max_tokens);

  // With thinking on, Anthropic rejects temperature != 1, top_k and
  // top_p < 0.95; they are dropped rather than failing the request. Newer
  // models also reject temperature together with top_p, so top_p yields.
  double temperature = JsonNum(chat, "temperature", -1);
  double top_p = JsonNum(chat, "top_p", -1);
  if (temperature >= 0 && (!thinking || temperature == 1)) {
    JsonAddNum(o, "temperature", temperature > 1 ? 1 : temperature);  // OpenAI allows up to 2
  }
  if (top_p >= 0 && temperature < 0 && (!thinking || top_p >= 0.95)) JsonAddNum(o, "top_p", top_p);
  if (!thinking) CopyIf(o, "top_k", chat, "top_k");

  const cJSON* stop = JsonGet(chat, "stop");
  if (cJSON_IsString(stop)) JsonAddStr(JsonAddArr(o, "stop_sequences"), nullptr, stop->valuestring);
  else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) JsonAddCopy(o, "stop_sequences", stop);
  if (JsonBool(chat, "stream", false)) JsonAddBool(o, "stream", true);
  if (const char* user = JsonStr(chat, "user")) JsonAddStr(JsonAddObj(o, "metadata"), "user_id", user);

  // Structured output: json_schema maps; json_object has no Anthropic form.
  const cJSON* rf = JsonObj(chat, "response_format");
  if (Is(JsonStr(rf, "type"), "json_schema")) {
    if (const cJSON* schema = JsonObj(JsonObj(rf, "json_schema"), "schema")) {
      cJSON* oc = cJSON_GetObjectItemCaseSensitive(o, "output_config");
      if (!oc) oc = JsonAddObj(o, "output_config");
      cJSON* f = JsonAddObj(oc, "format");
      JsonAddStr(f, "type", "json_schema");
      JsonAddCopy(f, "schema", schema);
    }
  }
  return out;
}

}  // namespace tether
