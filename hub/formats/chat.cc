// OpenAI Chat Completions on either side of the pivot. The pivot *is* this
// shape, so the translators only normalise: legacy `functions` become tools,
// `reasoning` (OpenRouter/vLLM spelling) becomes reasoning_content, and the
// pivot's own extension fields are stripped before a request goes to an
// OpenAI-compatible provider, which may reject fields it does not know.
#include <cstring>
#include <string>
#include <vector>

#include "hub/formats/formats_internal.h"

namespace tether {
namespace {

void DeleteKey(cJSON* obj, const char* key) { cJSON_DeleteItemFromObjectCaseSensitive(obj, key); }

// Replaces in place, so the key keeps its position in the output.
void ReplaceStr(cJSON* obj, const char* key, std::string_view value) {
  if (JsonGet(obj, key)) {
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(std::string(value).c_str()));
  } else {
    JsonAddStr(obj, key, value);
  }
}

// Copies `reasoning` into `reasoning_content` when only the former is given.
void NormaliseReasoning(cJSON* obj) {
  if (!obj || JsonGet(obj, "reasoning_content")) return;
  const char* r = JsonStr(obj, "reasoning");
  if (r) {
    JsonAddStr(obj, "reasoning_content", r);
    DeleteKey(obj, "reasoning");
  }
}

// Legacy function calling (pre tools, still accepted by OpenAI): functions,
// function_call, assistant.function_call and role "function" messages. Ids
// are invented in order, since the legacy shape had none; a function result
// answers the oldest unanswered call of the same name.
void NormaliseLegacyFunctions(cJSON* req) {
  const cJSON* functions = JsonArr(req, "functions");
  if (functions && !JsonGet(req, "tools")) {
    cJSON* tools = JsonAddArr(req, "tools");
    const cJSON* f;
    cJSON_ArrayForEach(f, functions) {
      cJSON* t = JsonAddObj(tools, nullptr);
      JsonAddStr(t, "type", "function");
      JsonAddCopy(t, "function", f);
    }
  }
  DeleteKey(req, "functions");
  const cJSON* fc = JsonGet(req, "function_call");
  if (fc && !JsonGet(req, "tool_choice")) {
    if (cJSON_IsString(fc)) {
      JsonAddStr(req, "tool_choice", fc->valuestring);  // "auto" | "none"
    } else if (const char* name = JsonStr(fc, "name")) {
      cJSON* tc = JsonAddObj(req, "tool_choice");
      JsonAddStr(tc, "type", "function");
      JsonAddStr(JsonAddObj(tc, "function"), "name", name);
    }
  }
  DeleteKey(req, "function_call");

  cJSON* messages = cJSON_GetObjectItemCaseSensitive(req, "messages");
  if (!cJSON_IsArray(messages)) return;
  std::vector<std::pair<std::string, std::string>> pending;  // (name, id)
  int next = 0;
  cJSON* m;
  cJSON_ArrayForEach(m, messages) {
    const char* role = JsonStr(m, "role");
    if (!role) continue;
    const cJSON* call = JsonObj(m, "function_call");
    if (std::strcmp(role, "assistant") == 0 && call && !JsonGet(m, "tool_calls")) {
      std::string id = "call_legacy_" + std::to_string(next++);
      std::string name = JsonStrOr(call, "name", "");
      cJSON* tcs = JsonAddArr(m, "tool_calls");
      cJSON* tc = JsonAddObj(tcs, nullptr);
      JsonAddStr(tc, "id", id);
      JsonAddStr(tc, "type", "function");
      cJSON* fn = JsonAddObj(tc, "function");
      JsonAddStr(fn, "name", name);
      JsonAddStr(fn, "arguments", JsonStrOr(call, "arguments", "{}"));
      DeleteKey(m, "function_call");
      pending.emplace_back(name, id);
    } else if (std::strcmp(role, "function") == 0) {
      std::string name = JsonStrOr(m, "name", "");
      std::string id;
      for (auto it = pending.begin(); it != pending.end(); ++it) {
        if (it->first == name) {
          id = it->second;
          pending.erase(it);
          break;
        }
      }
      if (id.empty()) id = "call_legacy_" + std::to_string(next++);
      ReplaceStr(m, "role", "tool");
      JsonAddStr(m, "tool_call_id", id);
    }
  }
}

// Pivot-only fields that an OpenAI-compatible provider has no use for.
void StripPivotExtensions(cJSON* req) {
  DeleteKey(req, "thinking_budget");
  DeleteKey(req, "top_k");
  // Hosted search another client asked for: OpenAI chat takes it only on
  // search models, and other models refuse the whole request.
  DeleteKey(req, "web_search_options");
  cJSON* messages = cJSON_GetObjectItemCaseSensitive(req, "messages");
  cJSON* m;
  cJSON_ArrayForEach(m, messages) {
    DeleteKey(m, "reasoning_signature");
    DeleteKey(m, "redacted_reasoning");
    DeleteKey(m, "is_error");
  }
}

// Chat-shaped reasoning_effort for a thinking budget, when only the budget
// is known (the Anthropic client asked for `thinking.budget_tokens`).
const char* EffortForBudget(double budget) {
  if (budget < 4096) return "low";
  if (budget < 16384) return "medium";
  return "high";
}

}  // namespace

Result<JsonPtr> ChatRequestFromClient(const cJSON* request) {
  JsonPtr out(cJSON_Duplicate(request, true));
  if (!out) return Status::Error("openai-chat request: out of memory");
  NormaliseLegacyFunctions(out.get());
  cJSON* m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(out.get(), "messages")) NormaliseReasoning(m);
  if (!JsonGet(out.get(), "model")) JsonAddStr(out.get(), "model", "");
  return out;
}

Result<JsonPtr> ChatRequestForProvider(const cJSON* chat) {
  JsonPtr out(cJSON_Duplicate(chat, true));
  if (!out) return Status::Error("openai-chat request: out of memory");
  double budget = JsonNum(out.get(), "thinking_budget", -1);
  if (budget > 0 && !JsonGet(out.get(), "reasoning_effort")) {
    JsonAddStr(out.get(), "reasoning_effort", EffortForBudget(budget));
  }
  StripPivotExtensions(out.get());
  // OpenAI refuses a tool_choice without tools, which is what is left when
  // every tool the client offered was a hosted one.
  if (cJSON_GetArraySize(JsonArr(out.get(), "tools")) == 0) {
    DeleteKey(out.get(), "tools");
    DeleteKey(out.get(), "tool_choice");
    DeleteKey(out.get(), "parallel_tool_calls");
  }
  return out;
}

Result<JsonPtr> ChatResponseFromProvider(const cJSON* response) {
  JsonPtr out(cJSON_Duplicate(response, true));
  if (!out) return Status::Error("openai-chat response: out of memory");
  cJSON* choice;
  cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(out.get(), "choices")) {
    NormaliseReasoning(cJSON_GetObjectItemCaseSensitive(choice, "message"));
  }
  return out;
}

Result<JsonPtr> ChatResponseForClient(const cJSON* chat, std::string_view model) {
  JsonPtr out(cJSON_Duplicate(chat, true));
  if (!out) return Status::Error("openai-chat response: out of memory");
  if (!model.empty()) ReplaceStr(out.get(), "model", model);
  return out;
}

// ---- Streaming --------------------------------------------------------------

namespace {

// OpenAI SSE: `data: {chunk}` events ending with `data: [DONE]`. The chunks
// are already pivot chunks; only the reasoning spelling is normalised.
class ChatStreamDecoder : public StreamDecoder {
 public:
  void Decode(const SseEvent& event, std::vector<JsonPtr>* chunks) override {
    if (!event.has_data || done_) return;
    std::string_view data = event.data;
    if (data == "[DONE]") {
      done_ = true;
      return;
    }
    auto parsed = ParseJson(data);
    if (!parsed.ok() || !cJSON_IsObject(parsed->get())) return;  // tolerate junk lines
    cJSON* chunk = parsed->get();
    if (JsonGet(chunk, "error")) {
      done_ = errored_ = true;
      chunks->push_back(std::move(*parsed));
      return;
    }
    if (id_.empty()) {
      id_ = JsonStrOr(chunk, "id", "");
      model_ = JsonStrOr(chunk, "model", "");
    }
    cJSON* choice;
    cJSON_ArrayForEach(choice, cJSON_GetObjectItemCaseSensitive(chunk, "choices")) {
      cJSON* delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
      NormaliseReasoning(delta);
      if (JsonArr(delta, "tool_calls")) saw_tool_calls_ = true;
      if (JsonStr(choice, "finish_reason")) finished_ = true;
    }
    chunks->push_back(std::move(*parsed));
  }

  void Finish(std::vector<JsonPtr>* chunks) override {
    if (finished_ || errored_) return;
    finished_ = true;
    JsonPtr c = JsonNewObj();
    JsonAddStr(c.get(), "id", id_.empty() ? RandomId("chatcmpl-") : id_);
    JsonAddStr(c.get(), "object", "chat.completion.chunk");
    JsonAddNum(c.get(), "created", static_cast<double>(UnixNow()));
    JsonAddStr(c.get(), "model", model_);
    cJSON* choice = JsonAddObj(JsonAddArr(c.get(), "choices"), nullptr);
    JsonAddNum(choice, "index", 0);
    JsonAddObj(choice, "delta");
    JsonAddStr(choice, "finish_reason", saw_tool_calls_ ? "tool_calls" : "stop");
    chunks->push_back(std::move(c));
  }

 private:
  std::string id_, model_;
  bool done_ = false, finished_ = false, errored_ = false, saw_tool_calls_ = false;
};

class ChatStreamEncoder : public StreamEncoder {
 public:
  explicit ChatStreamEncoder(const StreamOptions& options) : options_(options) {}

  std::string Encode(const cJSON* chunk) override {
    if (finished_ || !cJSON_IsObject(chunk)) return "";
    if (const cJSON* err = JsonObj(chunk, "error")) {
      finished_ = true;  // the OpenAI SDK throws on an error event; no [DONE]
      JsonPtr body = JsonNewObj();
      JsonAddCopy(body.get(), "error", err);
      return FormatSseData(PrintJson(body.get()));
    }
    const cJSON* choices = JsonArr(chunk, "choices");
    bool has_choices = choices && cJSON_GetArraySize(choices) > 0;
    bool has_usage = cJSON_IsObject(JsonGet(chunk, "usage"));
    if (!has_choices && !(has_usage && options_.include_usage)) return "";
    JsonPtr out(cJSON_Duplicate(chunk, true));
    if (!options_.include_usage) DeleteKey(out.get(), "usage");
    if (!JsonStr(out.get(), "id")) JsonAddStr(out.get(), "id", id_);
    if (!JsonStr(out.get(), "object")) JsonAddStr(out.get(), "object", "chat.completion.chunk");
    if (!JsonGet(out.get(), "created")) JsonAddNum(out.get(), "created", static_cast<double>(created_));
    if (!choices) JsonAddArr(out.get(), "choices");
    ReplaceStr(out.get(), "model", options_.model);
    return FormatSseData(PrintJson(out.get()));
  }

  std::string Finish() override {
    if (finished_) return "";
    finished_ = true;
    return FormatSseData("[DONE]");
  }

  std::string Error(int status, std::string_view message) override {
    if (finished_) return "";
    finished_ = true;
    return FormatSseData(ApiErrorBody(ApiFormat::kOpenAIChat, status, message));
  }

  // An SSE comment: ignored by every SSE client, keeps proxies from timing out.
  std::string KeepAlive() override { return finished_ ? "" : ": keep-alive\n\n"; }

 private:
  StreamOptions options_;
  std::string id_ = RandomId("chatcmpl-");
  long long created_ = UnixNow();
  bool finished_ = false;
};

}  // namespace

std::unique_ptr<StreamDecoder> NewChatStreamDecoder() { return std::make_unique<ChatStreamDecoder>(); }

std::unique_ptr<StreamEncoder> NewChatStreamEncoder(const StreamOptions& options) {
  return std::make_unique<ChatStreamEncoder>(options);
}

}  // namespace tether
