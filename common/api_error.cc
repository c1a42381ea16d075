#include "common/api_error.h"

#include <optional>

#include "common/json.h"

namespace tether {

const char* ApiFormatName(ApiFormat f) {
  switch (f) {
    case ApiFormat::kOpenAIChat: return "openai-chat";
    case ApiFormat::kOpenAIResponses: return "openai-responses";
    case ApiFormat::kAnthropic: return "anthropic";
    case ApiFormat::kGemini: return "gemini";
  }
  return "?";
}

namespace {

// "a" for "/a/b" and "/a"; empty for "/" or "".
std::string_view FirstSegment(std::string_view path) {
  if (path.size() < 2 || path[0] != '/') return {};
  return path.substr(1, path.find('/', 1) - 1);
}

// Drops the leading "/" + first segment.
void DropFirstSegment(std::string_view* path, std::string_view segment) { path->remove_prefix(1 + segment.size()); }

// The first segments hub/router.cc (IsApiRoot) never reads as a tenant UID.
bool IsApiRootSegment(std::string_view s) {
  return s == "v1" || s == "v1beta" || s == "api" || s == "claude" || s == "openai" || s == "gemini" ||
         s == "_tether" || s == "debug" || s == "metrics" || s == "healthz" || s == "admin";
}

// models/NAME:VERB with a verb the hub serves. A bare colon is not enough:
// OpenAI's fine-tuned model ids have them (/v1/models/ft:gpt-4o:org::id).
bool EndsWithGeminiVerb(std::string_view path) {
  size_t colon = path.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view verb = path.substr(colon + 1);
  return verb == "generateContent" || verb == "streamGenerateContent" || verb == "countTokens" ||
         verb == "embedContent" || verb == "batchEmbedContents";
}

}  // namespace

ApiFormat ApiFormatForPath(std::string_view path) {
  path = path.substr(0, path.find('?'));
  // Read the path the way hub/router.cc does, so the edge and the hub answer
  // in the same shape: [/UID][/alias][/v1 | /v1beta | /v1beta/openai]/endpoint.
  // A handful of segment comparisons, no allocation: this runs per request.
  std::string_view seg = FirstSegment(path);
  if (!seg.empty() && !IsApiRootSegment(seg)) {  // tenant UID
    DropFirstSegment(&path, seg);
    seg = FirstSegment(path);
  }
  // An alias prefix only names the format of paths no endpoint claims:
  // /claude/v1/chat/completions is still the Chat Completions handler.
  std::optional<ApiFormat> alias;
  if (seg == "claude") alias = ApiFormat::kAnthropic;
  else if (seg == "gemini") alias = ApiFormat::kGemini;
  else if (seg == "openai" || seg == "api") alias = ApiFormat::kOpenAIChat;
  if (alias) {
    DropFirstSegment(&path, seg);
    seg = FirstSegment(path);
  }
  if (seg == "v1") {
    DropFirstSegment(&path, seg);
  } else if (seg == "v1beta") {
    DropFirstSegment(&path, seg);
    seg = FirstSegment(path);
    // Gemini's OpenAI-compatible API (/v1beta/openai/chat/completions, ...)
    // speaks OpenAI, errors included; the rest of /v1beta is Gemini's.
    if (seg != "openai") return seg == "models" || !alias ? ApiFormat::kGemini : *alias;
    DropFirstSegment(&path, seg);
    alias = ApiFormat::kOpenAIChat;
  }
  seg = FirstSegment(path);
  // The endpoints the router knows, and their sub-resources
  // (/v1/messages/batches, /v1/responses/{id}).
  if (seg == "messages") return ApiFormat::kAnthropic;
  if (seg == "responses") return ApiFormat::kOpenAIResponses;
  if (seg == "chat" || seg == "embeddings" || seg == "completions") return ApiFormat::kOpenAIChat;
  if (seg == "models") {
    // /v1/models lists models in OpenAI's shape (Anthropic's by header);
    // models/NAME:generateContent is Gemini's, with or without /v1beta.
    if (EndsWithGeminiVerb(path)) return ApiFormat::kGemini;
    if (path.size() == 7) return ApiFormat::kOpenAIChat;  // "/models"
  }
  return alias.value_or(ApiFormat::kOpenAIChat);
}

const char* AnthropicErrorType(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 504: return "timeout_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

const char* GeminiErrorStatus(int status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 402: return "RESOURCE_EXHAUSTED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 413: return "INVALID_ARGUMENT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

static const char* OpenAIErrorType(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

std::string ApiErrorBody(ApiFormat format, int status, std::string_view message, std::string_view type) {
  std::string msg = JsonQuote(message);
  switch (format) {
    case ApiFormat::kAnthropic: {
      std::string t(type.empty() ? AnthropicErrorType(status) : type);
      return "{\"type\":\"error\",\"error\":{\"type\":" + JsonQuote(t) + ",\"message\":" + msg + "}}";
    }
    case ApiFormat::kGemini:
      return "{\"error\":{\"code\":" + std::to_string(status) + ",\"message\":" + msg +
             ",\"status\":\"" + GeminiErrorStatus(status) + "\"}}";
    case ApiFormat::kOpenAIChat:
    case ApiFormat::kOpenAIResponses:
    default: {
      std::string t(type.empty() ? OpenAIErrorType(status) : type);
      return "{\"error\":{\"message\":" + msg + ",\"type\":" + JsonQuote(t) +
             ",\"param\":null,\"code\":" + JsonQuote(t) + "}}";
    }
  }
}

}  // namespace tether
