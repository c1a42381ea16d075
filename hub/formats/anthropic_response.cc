// Anthropic Messages <-> pivot: non-streaming responses, and the stop
// reason, id and usage mappings the stream translators share.
#include <cstring>
#include <string>

#include "hub/formats/anthropic_internal.h"
#include "hub/formats/formats_internal.h"

namespace tether {
namespace {

bool Is(const char* s, const char* want) { return s && std::strcmp(s, want) == 0; }

}  // namespace

// ---- Non-streaming responses --------------------------------------------------

Result<JsonPtr> AnthropicResponseToChat(const cJSON* response) {
  if (Is(JsonStr(response, "type"), "error")) {
    return Status::Error("anthropic response is an error: " +
                         JsonStrOr(JsonObj(response, "error"), "message", ""));
  }
  JsonPtr out = JsonNewObj();
  cJSON* o = out.get();
  JsonAddStr(o, "id", JsonStrOr(response, "id", RandomId("msg_")));
  JsonAddStr(o, "object", "chat.completion");
  JsonAddNum(o, "created", static_cast<double>(UnixNow()));
  JsonAddStr(o, "model", JsonStrOr(response, "model", ""));
  cJSON* choice = JsonAddObj(JsonAddArr(o, "choices"), nullptr);
  JsonAddNum(choice, "index", 0);
  // Same block handling as an assistant turn in a request.
  JsonPtr tmp = JsonNewArr();
  JsonPtr no_content = JsonNewArr();
  const cJSON* content = JsonGet(response, "content");
  AnthropicAssistantToChat(tmp.get(), content ? content : no_content.get());
  cJSON_AddItemToObject(choice, "message", cJSON_DetachItemFromArray(tmp.get(), 0));
  JsonAddStr(choice, "finish_reason", ChatFinishReason(JsonStr(response, "stop_reason")));
  cJSON_AddItemToObject(o, "usage", AnthropicUsageToChat(JsonObj(response, "usage")).release());
  return out;
}

Result<JsonPtr> ChatResponseToAnthropic(const cJSON* chat, std::string_view model) {
  const cJSON* choice = cJSON_GetArrayItem(JsonArr(chat, "choices"), 0);
  const cJSON* message = JsonObj(choice, "message");
  JsonPtr out = JsonNewObj();
  cJSON* o = out.get();
  JsonAddStr(o, "id", AnthropicMessageId(JsonStrOr(chat, "id", "")));
  JsonAddStr(o, "type", "message");
  JsonAddStr(o, "role", "assistant");
  JsonAddStr(o, "model", model.empty() ? JsonStrOr(chat, "model", "") : std::string(model));
  cJSON* blocks = JsonAddArr(o, "content");
  if (message) {
    // Unlike a request, a response may carry reasoning text without a
    // signature (e.g. DeepSeek); the client still wants to see it.
    if (!JsonStr(message, "reasoning_signature")) {
      if (const char* r = JsonStr(message, "reasoning_content"); r && *r) {
        cJSON* b = JsonAddObj(blocks, nullptr);
        JsonAddStr(b, "type", "thinking");
        JsonAddStr(b, "thinking", r);
        JsonAddStr(b, "signature", "");
      }
    }
    ChatAssistantToAnthropic(blocks, message);
  }
  const char* finish = JsonStr(choice, "finish_reason");
  bool has_tools = false;
  const cJSON* b;
  cJSON_ArrayForEach(b, blocks) has_tools |= Is(JsonStr(b, "type"), "tool_use");
  JsonAddStr(o, "stop_reason", AnthropicStopReason(finish, has_tools));
  cJSON_AddNullToObject(o, "stop_sequence");
  cJSON_AddItemToObject(o, "usage", ChatUsageToAnthropic(JsonObj(chat, "usage")).release());
  return out;
}

// ---- Shared with the stream translators -------------------------------------

const char* ChatFinishReason(const char* stop_reason) {
  if (Is(stop_reason, "max_tokens") || Is(stop_reason, "model_context_window_exceeded")) return "length";
  if (Is(stop_reason, "tool_use")) return "tool_calls";
  if (Is(stop_reason, "refusal")) return "content_filter";
  return "stop";  // end_turn, stop_sequence, pause_turn
}

const char* AnthropicStopReason(const char* finish_reason, bool has_tool_use) {
  if (Is(finish_reason, "length")) return "max_tokens";
  if (Is(finish_reason, "tool_calls") || Is(finish_reason, "function_call")) return "tool_use";
  if (Is(finish_reason, "content_filter")) return "refusal";
  if (!finish_reason && has_tool_use) return "tool_use";
  return "end_turn";
}

std::string AnthropicToolId(std::string_view id) {
  if (id.empty()) return RandomId("toolu_");
  std::string out(id);
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::string AnthropicMessageId(std::string_view id) {
  if (id.rfind("msg_", 0) == 0) return std::string(id);
  if (id.rfind("chatcmpl-", 0) == 0) id.remove_prefix(9);
  if (id.empty()) return RandomId("msg_");
  return "msg_" + AnthropicToolId(id);
}

// input_tokens excludes cache reads and writes; the pivot's prompt_tokens
// counts all input, with the cached parts broken out.
JsonPtr AnthropicUsageToChat(const cJSON* usage) {
  double input = JsonNum(usage, "input_tokens", 0);
  double read = JsonNum(usage, "cache_read_input_tokens", 0);
  double write = JsonNum(usage, "cache_creation_input_tokens", 0);
  double output = JsonNum(usage, "output_tokens", 0);
  JsonPtr u = JsonNewObj();
  JsonAddNum(u.get(), "prompt_tokens", input + read + write);
  JsonAddNum(u.get(), "completion_tokens", output);
  JsonAddNum(u.get(), "total_tokens", input + read + write + output);
  cJSON* details = JsonAddObj(u.get(), "prompt_tokens_details");
  JsonAddNum(details, "cached_tokens", read);
  JsonAddNum(details, "cache_write_tokens", write);
  return u;
}

JsonPtr ChatUsageToAnthropic(const cJSON* usage) {
  const cJSON* details = JsonObj(usage, "prompt_tokens_details");
  double prompt = JsonNum(usage, "prompt_tokens", 0);
  double read = JsonNum(details, "cached_tokens", 0);
  double write = JsonNum(details, "cache_write_tokens", 0);
  double input = prompt - read - write;
  JsonPtr u = JsonNewObj();
  JsonAddNum(u.get(), "input_tokens", input < 0 ? 0 : input);
  JsonAddNum(u.get(), "cache_creation_input_tokens", write);
  JsonAddNum(u.get(), "cache_read_input_tokens", read);
  JsonAddNum(u.get(), "output_tokens", JsonNum(usage, "completion_tokens", 0));
  return u;
}

}  // namespace tether
