// Per-format translators behind the dispatchers in translate.h. One pair of
// request functions, one pair of response functions and one stream decoder
// and encoder per API format; translate.cc switches over ApiFormat to pick
// them. Only translate.cc and the format files include this header.
#pragma once
#include <cjson/cJSON.h>

#include <memory>
#include <string>
#include <string_view>

#include "hub/formats/translate.h"

namespace tether {

// OpenAI Chat on either side is near-identity: legacy `functions` become
// tools on the way in; pivot-only extensions are stripped on the way out.
Result<JsonPtr> ChatRequestFromClient(const cJSON* request);
Result<JsonPtr> ChatRequestForProvider(const cJSON* chat);
Result<JsonPtr> ChatResponseFromProvider(const cJSON* response);
Result<JsonPtr> ChatResponseForClient(const cJSON* chat, std::string_view model);

// Requests: provider/client body <-> pivot (OpenAI chat) body.
Result<JsonPtr> AnthropicRequestToChat(const cJSON* request);
Result<JsonPtr> ChatRequestToAnthropic(const cJSON* chat);
Result<JsonPtr> GeminiRequestToChat(const cJSON* request);
Result<JsonPtr> ChatRequestToGemini(const cJSON* chat);
// Gemini usageMetadata -> pivot usage (completion counts thoughts too).
JsonPtr GeminiUsageToChat(const cJSON* usage_metadata);

Result<JsonPtr> ResponsesRequestToChat(const cJSON* request);
Result<JsonPtr> ChatRequestToResponses(const cJSON* chat);

// Non-streaming responses. `model` is echoed to the client.
Result<JsonPtr> AnthropicResponseToChat(const cJSON* response);
Result<JsonPtr> ChatResponseToAnthropic(const cJSON* chat, std::string_view model);
Result<JsonPtr> GeminiResponseToChat(const cJSON* response);
Result<JsonPtr> ChatResponseToGemini(const cJSON* chat, std::string_view model);
Result<JsonPtr> ResponsesResponseToChat(const cJSON* response);
// `client_request` (may be null) names the client's namespaced and custom
// tools, whose calls go back as namespaced function_call / custom_tool_call.
Result<JsonPtr> ChatResponseToResponses(const cJSON* chat, std::string_view model,
                                        const cJSON* client_request = nullptr);

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

// Helpers shared by the format files (defined in translate.cc).
// `prefix` followed by 24 random alphanumerics, e.g. RandomId("msg_").
std::string RandomId(std::string_view prefix);

// Pivot chunks for stream decoders: {"id","object":"chat.completion.chunk",
// "created","model"}; WithDelta adds choices[0] {index 0, delta, finish_reason
// null}, with role "assistant" in the first one (*role_sent tracks that).
JsonPtr PivotChunkSkeleton(const std::string& id, long long created, const std::string& model);
JsonPtr PivotChunkWithDelta(const std::string& id, long long created, const std::string& model, bool* role_sent);
// Seconds since the epoch, for "created" fields.
long long UnixNow();

}  // namespace tether
