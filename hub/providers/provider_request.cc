#include "hub/providers/provider_request.h"

#include "common/json.h"
#include "hub/providers/bedrock.h"

namespace tether {

static std::string StripKeyParam(const std::string& query) {
  std::string out;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string pair = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!pair.empty() && pair.rfind("key=", 0) != 0 && pair != "key") {
      if (!out.empty()) out.push_back('&');
      out += pair;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

std::string ProviderPath(const ProviderConfig& p, Endpoint endpoint, const std::string& model, bool stream,
                         const std::string& client_query) {
  std::string path = p.path_prefix;
  std::string query = StripKeyParam(client_query);
  switch (p.type) {
    case ProviderType::kOpenAI:
      path += endpoint == Endpoint::kEmbeddings ? "/embeddings" : endpoint == Endpoint::kModels ? "/models" : "/chat/completions";
      break;
    case ProviderType::kOpenAIResponses:
      path += endpoint == Endpoint::kResponsesCompact ? "/responses/compact" : "/responses";
      break;
    case ProviderType::kAnthropic:
      path += endpoint == Endpoint::kCountTokens ? "/v1/messages/count_tokens" : "/v1/messages";
      break;
    case ProviderType::kGemini: {
      path += "/v1beta/models/" + model;
      if (endpoint == Endpoint::kGeminiCountTokens) path += ":countTokens";
      else if (endpoint == Endpoint::kGeminiEmbed) path += ":embedContent";
      else if (stream) {
        path += ":streamGenerateContent";
        // Always SSE from the provider: one parser for every stream.
        query = "alt=sse";
      } else path += ":generateContent";
      break;
    }
    case ProviderType::kBedrock:
      // The model is a path segment and every endpoint is a Messages call.
      return BedrockPath(model, stream);
  }
  return query.empty() ? path : path + "?" + query;
}

static bool DropClientHeader(std::string_view name) {
  static constexpr std::string_view kDrop[] = {
      "host", "content-length", "authorization", "x-api-key", "x-goog-api-key", "x-forwarded-for",
      "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "x-tether-edge-token", "accept-encoding",
      "expect", "forwarded", "cookie"};
  if (IsHopByHopHeader(name)) return true;
  for (auto d : kDrop)
    if (EqualsIgnoreCase(name, d)) return true;
  return false;
}

RequestHead BuildProviderHead(const ProviderConfig& p, const RequestHead& client, const std::string& path_and_query,
                              size_t body_size, bool stream, const std::string& request_id,
                              const std::string& key) {
  RequestHead h;
  h.method = client.method == "GET" ? "GET" : "POST";
  h.target = path_and_query;
  bool default_port = (p.tls && p.port == 443) || (!p.tls && p.port == 80);
  h.headers.Add("Host", default_port ? p.host : p.host + ":" + std::to_string(p.port));
  for (const auto& [k, v] : client.headers.list()) {
    if (DropClientHeader(k) || EqualsIgnoreCase(k, "content-type") || EqualsIgnoreCase(k, "accept")) continue;
    if (EqualsIgnoreCase(k, "x-request-id")) continue;
    h.headers.Add(k, v);
  }
  h.headers.Add("Content-Type", "application/json");
  h.headers.Add("Accept", stream ? "text/event-stream" : "application/json");
  h.headers.Add("X-Request-Id", request_id);
  switch (p.type) {
    case ProviderType::kOpenAI:
    case ProviderType::kOpenAIResponses:
      if (!key.empty()) h.headers.Add("Authorization", "Bearer " + key);
      break;
    case ProviderType::kAnthropic:
      if (!key.empty()) h.headers.Add("x-api-key", key);
      if (!h.headers.Get("anthropic-version")) h.headers.Add("anthropic-version", "2023-06-01");
      break;
    case ProviderType::kGemini:
      if (!key.empty()) h.headers.Add("x-goog-api-key", key);
      break;
    case ProviderType::kBedrock:
      break;  // signed per request: BuildBedrockProviderRequest
  }
  for (const auto& [k, v] : p.headers) h.headers.Set(k, v);
  if (h.method == "POST") h.headers.Add("Content-Length", std::to_string(body_size));
  return h;
}

static std::string HostHeader(const ProviderConfig& p) {
  bool default_port = (p.tls && p.port == 443) || (!p.tls && p.port == 80);
  std::string host = p.host.find(':') != std::string::npos ? "[" + p.host + "]" : p.host;
  return default_port ? host : host + ":" + std::to_string(p.port);
}

Result<std::string> BuildBedrockProviderRequest(const ProviderConfig& p, const RequestHead& client,
                                                const std::string& model_id, std::string_view anthropic_body,
                                                bool stream, time_t now) {
  BedrockAuth auth;
  auth.api_key = p.api_key;
  auth.aws = {p.aws_access_key_id, p.aws_secret_access_key, p.aws_session_token};
  BedrockTarget target;
  target.region = p.region;
  target.model_id = model_id;
  target.stream = stream;
  // The Host header is signed, so it is exactly what goes on the wire.
  target.host = HostHeader(p);
  std::string beta;
  for (const auto& [k, v] : client.headers.list())
    if (EqualsIgnoreCase(k, "anthropic-beta")) beta += (beta.empty() ? "" : ",") + v;
  auto req = BuildBedrockRequest(auth, target, anthropic_body, beta, now);
  if (!req.ok()) return req.status();
  RequestHead h;
  h.method = req->method;
  h.target = req->path;
  for (auto& [k, v] : req->headers) h.headers.Add(k, v);
  for (const auto& [k, v] : p.headers)
    if (!h.headers.Get(k)) h.headers.Add(k, v);
  h.headers.Add("Content-Length", std::to_string(req->body.size()));
  std::string out = SerializeRequestHead(h);
  out += req->body;
  return out;
}

std::string ReplaceModelField(const std::string& json, const std::string& model) {
  // Walk the top-level object, skipping nested values and strings, to find
  // the "model" key at depth 1.
  int depth = 0;
  bool in_string = false;
  size_t string_start = 0;
  bool expect_key = false;
  std::string last_key;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 1 && expect_key) {
          last_key = json.substr(string_start + 1, i - string_start - 1);
          expect_key = false;
        }
      }
      continue;
    }
    switch (c) {
      case '"':
        if (depth == 1 && !expect_key && last_key == "model") {
          // The value string: find its end and replace it.
          size_t end = i + 1;
          while (end < json.size() && json[end] != '"') end += json[end] == '\\' ? 2 : 1;
          if (end >= json.size()) return json;
          std::string current = json.substr(i + 1, end - i - 1);
          if (current == model) return json;
          return json.substr(0, i) + JsonQuote(model) + json.substr(end + 1);
        }
        in_string = true;
        string_start = i;
        break;
      case '{':
      case '[':
        ++depth;
        if (depth == 1 && c == '{') expect_key = true;
        break;
      case '}':
      case ']':
        --depth;
        break;
      case ',':
        if (depth == 1) {
          expect_key = true;
          last_key.clear();
        }
        break;
      case ':':
        break;
      default:
        if (depth == 1 && !expect_key && last_key == "model" && c != ' ' && c != '\n' && c != '\t' && c != '\r')
          last_key.clear();  // model is not a string; leave it
        break;
    }
  }
  return json;
}

}  // namespace tether
