#include "hub/router.h"

namespace tether {

bool IsValidUid(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

bool IsApiRoot(std::string_view s) {
  static constexpr std::string_view kRoots[] = {"v1", "v1beta", "api", "claude", "openai", "gemini",
                                                "_tether", "debug", "metrics", "healthz", "admin"};
  for (auto r : kRoots)
    if (s == r) return true;
  return false;
}

static std::string_view FirstSegment(std::string_view path) {
  if (path.size() < 2 || path[0] != '/') return {};
  size_t end = path.find('/', 1);
  return path.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
}

Route ParseRoute(std::string_view method, std::string_view target) {
  Route r;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  std::string_view first = FirstSegment(path);
  if (!first.empty() && !IsApiRoot(first)) {
    if (IsValidUid(first)) {
      r.uid = std::string(first);
      path.remove_prefix(1 + first.size());
      if (path.empty()) path = "/";
    } else {
      r.bad_uid = true;
    }
  }
  bool gemini_openai = false;
  // Alias prefixes map onto the same handlers.
  for (std::string_view prefix : {"/openai", "/claude", "/api", "/gemini"}) {
    if (path.substr(0, prefix.size()) == prefix && (path.size() == prefix.size() || path[prefix.size()] == '/')) {
      path.remove_prefix(prefix.size());
      if (path.empty()) path = "/";
      break;
    }
  }
  // Gemini's OpenAI-compatible base URL (/v1beta/openai/) is the OpenAI API
  // under another root: clients configured with it reach the same handlers.
  constexpr std::string_view kGeminiOpenAi = "/v1beta/openai";
  if (path.substr(0, kGeminiOpenAi.size()) == kGeminiOpenAi &&
      (path.size() == kGeminiOpenAi.size() || path[kGeminiOpenAi.size()] == '/')) {
    path.remove_prefix(kGeminiOpenAi.size());
    if (path.empty()) path = "/";
    gemini_openai = true;
  }
  r.path = std::string(path);
  bool get = method == "GET" || method == "HEAD", post = method == "POST";
  if (r.uid.empty() && !gemini_openai) {
    if (path == "/" && get) r.endpoint = Endpoint::kRoot;
    else if (path == "/healthz" && get) r.endpoint = Endpoint::kHealthz;
    else if (path == "/debug/info" && get) r.endpoint = Endpoint::kDebugInfo;
    else if (path == "/metrics" && get) r.endpoint = Endpoint::kMetrics;
    else if (path == "/_tether/ping" && get) r.endpoint = Endpoint::kPing;
  }
  if (r.endpoint != Endpoint::kUnknown) return r;
  if (path == "/v1/chat/completions" || path == "/chat/completions") {
    r.endpoint = post ? Endpoint::kChatCompletions : Endpoint::kUnknown;
  } else if (path == "/v1/responses" || path == "/responses") {
    r.format = ApiFormat::kOpenAIResponses;
    r.endpoint = post ? Endpoint::kResponses : Endpoint::kUnknown;
  } else if (path == "/v1/responses/compact" || path == "/responses/compact") {
    r.format = ApiFormat::kOpenAIResponses;
    r.endpoint = post ? Endpoint::kResponsesCompact : Endpoint::kUnknown;
  } else if (path == "/v1/embeddings" || path == "/embeddings") {
    r.endpoint = post ? Endpoint::kEmbeddings : Endpoint::kUnknown;
  } else if (path == "/v1/models" || path == "/models") {
    r.endpoint = get ? Endpoint::kModels : Endpoint::kUnknown;
  } else if (path == "/v1/messages" || path == "/messages") {
    r.format = ApiFormat::kAnthropic;
    r.endpoint = post ? Endpoint::kMessages : Endpoint::kUnknown;
  } else if (path == "/v1/messages/count_tokens" || path == "/messages/count_tokens") {
    r.format = ApiFormat::kAnthropic;
    r.endpoint = post ? Endpoint::kCountTokens : Endpoint::kUnknown;
  } else if (path.substr(0, 8) == "/v1beta/" || path.substr(0, 4) == "/v1/") {
    std::string_view rest = path.substr(path.substr(0, 8) == "/v1beta/" ? 8 : 4);
    if (rest == "models" && get) {
      r.format = ApiFormat::kGemini;
      r.endpoint = Endpoint::kGeminiModels;
    } else if (rest.substr(0, 7) == "models/") {
      std::string_view spec = rest.substr(7);
      size_t colon = spec.rfind(':');
      if (colon != std::string_view::npos && post) {
        r.format = ApiFormat::kGemini;
        r.path_model = std::string(spec.substr(0, colon));
        std::string_view verb = spec.substr(colon + 1);
        if (verb == "generateContent") r.endpoint = Endpoint::kGeminiGenerate;
        else if (verb == "streamGenerateContent") r.endpoint = Endpoint::kGeminiStream;
        else if (verb == "countTokens") r.endpoint = Endpoint::kGeminiCountTokens;
        else if (verb == "embedContent" || verb == "batchEmbedContents") r.endpoint = Endpoint::kGeminiEmbed;
      }
    }
  }
  // The whole target, UID and alias included, as the edge reads it: both
  // must answer an unknown path's error in the same format.
  if (r.endpoint == Endpoint::kUnknown) r.format = ApiFormatForPath(target);
  return r;
}

std::string QueryParam(std::string_view query, std::string_view name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string_view pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return "";
}

}  // namespace tether
