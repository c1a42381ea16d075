// Request routing, pure: strips a tenant UID and alias prefixes (/openai,
// /claude, /api, /gemini) and names the endpoint and the client's API format.
#pragma once
#include <string>
#include <string_view>

#include "common/api_error.h"

namespace tether {

enum class Endpoint {
  kUnknown,
  kRoot, kHealthz, kDebugInfo, kMetrics, kPing,
  kChatCompletions, kResponses, kResponsesCompact, kEmbeddings, kModels,
  kMessages, kCountTokens,
  kGeminiGenerate, kGeminiStream, kGeminiCountTokens, kGeminiEmbed, kGeminiModels,
};

// The hub's own endpoints (/, /healthz, /debug/info, /metrics, ping),
// answered locally rather than sent to a provider.
inline bool IsLocalEndpoint(Endpoint e) {
  return e == Endpoint::kRoot || e == Endpoint::kHealthz || e == Endpoint::kDebugInfo || e == Endpoint::kMetrics ||
         e == Endpoint::kPing;
}

struct Route {
  std::string uid;           // tenant from the first path segment, or empty
  std::string path;          // API path after the UID and alias prefix, without query
  std::string query;         // after '?', or empty
  Endpoint endpoint = Endpoint::kUnknown;
  ApiFormat format = ApiFormat::kOpenAIChat;
  std::string path_model;    // Gemini: the model named in the path
  bool bad_uid = false;      // first segment looks like neither an API root nor a UID
};

// True for a segment that may name a tenant: [A-Za-z0-9_-]{1,64}.
bool IsValidUid(std::string_view segment);
// True for first segments that are API roots, never UIDs.
bool IsApiRoot(std::string_view segment);

Route ParseRoute(std::string_view method, std::string_view target);

// Value of a query parameter (first occurrence, percent-decoding not applied).
std::string QueryParam(std::string_view query, std::string_view name);

}  // namespace tether
