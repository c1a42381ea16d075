// Errors in the client's own API format. The edge and the hub both answer
// with these, so a client's SDK parses the error it expects.
#pragma once
#include <string>
#include <string_view>

namespace tether {

enum class ApiFormat { kOpenAIChat, kOpenAIResponses, kAnthropic, kGemini };

const char* ApiFormatName(ApiFormat f);  // "openai-chat", "openai-responses", "anthropic", "gemini"

// Guesses the client's format from a request path (UID prefix allowed):
// .../messages → Anthropic, /v1beta/... or :generateContent → Gemini,
// .../responses → Responses, anything else OpenAI.
ApiFormat ApiFormatForPath(std::string_view path);

// The error body for `status` in `format`:
//   OpenAI:    {"error":{"message","type","param":null,"code"}}
//   Anthropic: {"type":"error","error":{"type","message"}}
//   Gemini:    {"error":{"code","message","status"}}
// `type` is the OpenAI/Anthropic error type; empty picks one from the status.
std::string ApiErrorBody(ApiFormat format, int status, std::string_view message,
                         std::string_view type = {});

// Anthropic error type for a status: 400 invalid_request_error, 401
// authentication_error, 403 permission_error, 404 not_found_error, 413
// request_too_large, 429 rate_limit_error, 529 overloaded_error, 5xx api_error.
const char* AnthropicErrorType(int status);
// Gemini status string: INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED,
// NOT_FOUND, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED.
const char* GeminiErrorStatus(int status);

}  // namespace tether
