// Per-format translators behind the dispatchers in translate.h. One pair of
// request functions, one pair of response functions and one stream decoder
// and encoder per API format; translate.cc switches over ApiFormat to pick
// them. Only translate.cc and the format files include this header.
#pragma once
#include <cjson/cJSON.h>

#include <memory>
#include <string_view>

#include "hub/formats/translate.h"

namespace tether {

// Requests: provider/client body <-> pivot (OpenAI chat) body.
Result<JsonPtr> AnthropicRequestToChat(const cJSON* request);
Result<JsonPtr> ChatRequestToAnthropic(const cJSON* chat);
Result<JsonPtr> GeminiRequestToChat(const cJSON* request);
Result<JsonPtr> ChatRequestToGemini(const cJSON* chat);
Result<JsonPtr> ResponsesRequestToChat(const cJSON* request);
Result<JsonPtr> ChatRequestToResponses(const cJSON* chat);

// Non-streaming responses. `model` is echoed to the client.
Result<JsonPtr> AnthropicResponseToChat(const cJSON* response);
Result<JsonPtr> ChatResponseToAnthropic(const cJSON* chat, std::string_view model);
Result<JsonPtr> GeminiResponseToChat(const cJSON* response);
Result<JsonPtr> ChatResponseToGemini(const cJSON* chat, std::string_view model);
Result<JsonPtr> ResponsesResponseToChat(const cJSON* response);
Result<JsonPtr> ChatResponseToResponses(const cJSON* chat, std::string_view model);

// Stream decoders: provider SSE events -> pivot chunks.
std::unique_ptr<StreamDecoder> NewChatStreamDecoder();
std::unique_ptr<StreamDecoder> NewAnthropicStreamDecoder();
std::unique_ptr<StreamDecoder> NewGeminiStreamDecoder();
std::unique_ptr<StreamDecoder> NewResponsesStreamDecoder();

// Stream encoders: pivot chunks -> the client's stream bytes.
std::unique_ptr<StreamEncoder> NewChatStreamEncoder(const StreamOptions& options);
std::unique_ptr<StreamEncoder> NewAnthropicStreamEncoder(const StreamOptions& options);
std::unique_ptr<StreamEncoder> NewGeminiStreamEncoder(const StreamOptions& options);
std::unique_ptr<StreamEncoder> NewResponsesStreamEncoder(const StreamOptions& options);

}  // namespace tether
