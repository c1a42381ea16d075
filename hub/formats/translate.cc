// Dispatch over ApiFormat to the per-format translators. A switch keeps the
// four formats visible in one place; adding a format is one case per entry.
#include "hub/formats/translate.h"

#include <chrono>
#include <random>

#include "hub/formats/anthropic_internal.h"
#include "hub/formats/formats_internal.h"
#include "hub/formats/responses_internal.h"

namespace tether {

std::string RandomId(std::string_view prefix) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id(prefix);
  for (int i = 0; i < 24; ++i) id.push_back(kAlphabet[rng() % (sizeof kAlphabet - 1)]);
  return id;
}

JsonPtr PivotChunkSkeleton(const std::string& id, long long created, const std::string& model) {
  JsonPtr c = JsonNewObj();
  JsonAddStr(c.get(), "id", id);
  JsonAddStr(c.get(), "object", "chat.completion.chunk");
  JsonAddNum(c.get(), "created", static_cast<double>(created));
  JsonAddStr(c.get(), "model", model);
  return c;
}

JsonPtr PivotChunkWithDelta(const std::string& id, long long created, const std::string& model, bool* role_sent) {
  JsonPtr c = PivotChunkSkeleton(id, created, model);
  cJSON* choice = JsonAddObj(JsonAddArr(c.get(), "choices"), nullptr);
  JsonAddNum(choice, "index", 0);
  cJSON* delta = JsonAddObj(choice, "delta");
  if (!*role_sent) {
    JsonAddStr(delta, "role", "assistant");
    *role_sent = true;
  }
  cJSON_AddItemToObject(choice, "finish_reason", cJSON_CreateNull());
  return c;
}

long long UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {
Status NotAnObject(const char* what, ApiFormat f) {
  return Status::Error(std::string(ApiFormatName(f)) + " " + what + ": expected a JSON object");
}
}  // namespace

Result<JsonPtr> ToChatRequest(ApiFormat from, const cJSON* request) {
  if (!cJSON_IsObject(request)) return NotAnObject("request", from);
  switch (from) {
    case ApiFormat::kOpenAIChat: return ChatRequestFromClient(request);
    case ApiFormat::kAnthropic: return AnthropicRequestToChat(request);
    case ApiFormat::kGemini: return GeminiRequestToChat(request);
    case ApiFormat::kOpenAIResponses: return ResponsesRequestToChat(request);
  }
  return Status::Error("unknown API format");
}

Result<JsonPtr> FromChatRequest(ApiFormat to, const cJSON* chat) {
  if (!cJSON_IsObject(chat)) return NotAnObject("pivot request", to);
  switch (to) {
    case ApiFormat::kOpenAIChat: return ChatRequestForProvider(chat);
    case ApiFormat::kAnthropic: return ChatRequestToAnthropic(chat);
    case ApiFormat::kGemini: return ChatRequestToGemini(chat);
    case ApiFormat::kOpenAIResponses: return ChatRequestToResponses(chat);
  }
  return Status::Error("unknown API format");
}

Result<JsonPtr> ToChatResponse(ApiFormat from, const cJSON* response) {
  if (!cJSON_IsObject(response)) return NotAnObject("response", from);
  switch (from) {
    case ApiFormat::kOpenAIChat: return ChatResponseFromProvider(response);
    case ApiFormat::kAnthropic: return AnthropicResponseToChat(response);
    case ApiFormat::kGemini: return GeminiResponseToChat(response);
    case ApiFormat::kOpenAIResponses: return ResponsesResponseToChat(response);
  }
  return Status::Error("unknown API format");
}

const char* ResponseUsageMember(ApiFormat from) {
  return from == ApiFormat::kGemini ? "usageMetadata" : "usage";
}

JsonPtr UsageToChat(ApiFormat from, const cJSON* usage) {
  switch (from) {
    case ApiFormat::kOpenAIChat: return JsonPtr(cJSON_Duplicate(usage, true));
    case ApiFormat::kAnthropic: return AnthropicUsageToChat(usage);
    case ApiFormat::kGemini: return GeminiUsageToChat(usage);
    case ApiFormat::kOpenAIResponses: return ResponsesUsageToChat(usage);
  }
  return JsonNewObj();
}

Result<JsonPtr> FromChatResponse(ApiFormat to, const cJSON* chat, std::string_view model,
                                 const cJSON* client_request) {
  if (!cJSON_IsObject(chat)) return NotAnObject("pivot response", to);
  switch (to) {
    case ApiFormat::kOpenAIChat: return ChatResponseForClient(chat, model);
    case ApiFormat::kAnthropic: return ChatResponseToAnthropic(chat, model);
    case ApiFormat::kGemini: return ChatResponseToGemini(chat, model);
    case ApiFormat::kOpenAIResponses: return ChatResponseToResponses(chat, model, client_request);
  }
  return Status::Error("unknown API format");
}

std::unique_ptr<StreamDecoder> NewStreamDecoder(ApiFormat provider) {
  switch (provider) {
    case ApiFormat::kOpenAIChat: return NewChatStreamDecoder();
    case ApiFormat::kAnthropic: return NewAnthropicStreamDecoder();
    case ApiFormat::kGemini: return NewGeminiStreamDecoder();
    case ApiFormat::kOpenAIResponses: return NewResponsesStreamDecoder();
  }
  return nullptr;
}

std::unique_ptr<StreamEncoder> NewStreamEncoder(ApiFormat client, const StreamOptions& options) {
  switch (client) {
    case ApiFormat::kOpenAIChat: return NewChatStreamEncoder(options);
    case ApiFormat::kAnthropic: return NewAnthropicStreamEncoder(options);
    case ApiFormat::kGemini: return NewGeminiStreamEncoder(options);
    case ApiFormat::kOpenAIResponses: return NewResponsesStreamEncoder(options);
  }
  return nullptr;
}

}  // namespace tether
