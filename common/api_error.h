// Errors in the client's own API format. The edge and the hub both answer
// with these, so a client's SDK parses the error it expects.
#pragma once
#include <string>
#include <string_view>

namespace tether {

enum class ApiFormat { kOpenAIChat, kOpenAIResponses, kAnthropic, kGemini };

const char* ApiFormatName(ApiFormat f);  // "openai-chat", "openai-responses", "anthropic", "gemini"

// The client's format from a request target, read as hub/router.cc reads it
// ([/UID][/openai|/claude|/api|/gemini][/v1|/v1beta]/endpoint, query
// ignored): /messages → Anthropic, /responses → Responses, /chat, /embeddings
// and /models → OpenAI, models/NAME:generateContent and the rest of /v1beta
// → Gemini, but /v1beta/openai/... (Gemini's OpenAI-compatible API) → OpenAI.
// Any other path takes its alias's format (/claude → Anthropic, /gemini →
// Gemini), else OpenAI. The router uses it for every path no endpoint
// claims, so the edge and the hub answer errors in the same shape.
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
