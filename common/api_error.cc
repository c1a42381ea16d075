#include "common/api_error.h"

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

ApiFormat ApiFormatForPath(std::string_view path) {
  size_t q = path.find('?');
  if (q != std::string_view::npos) path = path.substr(0, q);
  auto ends_with = [&](std::string_view s) {
    return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
  };
  if (ends_with("/messages") || ends_with("/messages/count_tokens") ||
      path.find("/claude/") != std::string_view::npos)
    return ApiFormat::kAnthropic;
  // Gemini's OpenAI-compatible endpoints (/v1beta/openai/chat/completions,
  // ...) speak OpenAI, errors included.
  bool gemini_openai = path.find("/v1beta/openai/") != std::string_view::npos;
  if (!gemini_openai && (path.find("/v1beta/") != std::string_view::npos ||
                         path.find(":generateContent") != std::string_view::npos ||
                         path.find(":streamGenerateContent") != std::string_view::npos ||
                         path.find("/gemini/") != std::string_view::npos))
    return ApiFormat::kGemini;
  if (ends_with("/responses") || ends_with("/responses/compact")) return ApiFormat::kOpenAIResponses;
  return ApiFormat::kOpenAIChat;
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
