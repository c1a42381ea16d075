#include "hub/providers/provider_request.h"

#include "common/json.h"
#include "common/json_scan.h"
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
  static constexpr std::string_view kModel[] = {"model"};
  std::string_view raw[1];
  if (!ScanJson(json, kModel, raw).ok()) return json;
  return ReplaceModelField(json, raw[0], model);
}

std::string ReplaceModelField(const std::string& json, std::string_view model_raw, const std::string& model) {
  // A model that is not a string is left for the provider to refuse.
  if (model_raw.size() < 2 || model_raw.front() != '"') return json;
  std::string quoted = JsonQuote(model);
  if (model_raw == quoted) return json;
  size_t at = static_cast<size_t>(model_raw.data() - json.data());
  std::string out;
  out.reserve(json.size() - model_raw.size() + quoted.size());
  out.append(json, 0, at).append(quoted).append(json, at + model_raw.size(), std::string::npos);
  return out;
}

}  // namespace tether
