// The hub's configuration (hub.json + env overrides PORT, TETHER_EDGE_TOKEN,
// UPSTREAM_TIMEOUT_SEC, DEBUG_LOG).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/api_error.h"
#include "common/config.h"
#include "common/netmask.h"
#include "common/status.h"
#include "hub/upstream/proxy.h"

namespace tether {

// kBedrock: Amazon Bedrock InvokeModel for Anthropic models (speaks the
// Anthropic Messages format; see hub/providers/bedrock.h).
enum class ProviderType { kOpenAI, kOpenAIResponses, kAnthropic, kGemini, kBedrock };

// The API format a provider type speaks.
ApiFormat ProviderFormat(ProviderType type);
const char* ProviderTypeName(ProviderType type);

struct ModelEntry {
  std::string name;   // the provider's model id
  std::string alias;  // what clients may call it instead (optional)
};

struct ProviderConfig {
  std::string id;
  ProviderType type = ProviderType::kOpenAI;
  std::string base_url;  // scheme://host[:port][/path], path without a trailing slash
  std::vector<std::string> keys;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers to send
  std::vector<ModelEntry> models;
  std::vector<std::string> model_globs;  // e.g. "claude-*": route matching names here
  // Outbound proxy ("http://[user:pass@]host:port" or "socks5://…"); log it
  // only through RedactedProxyUrl.
  std::optional<ProxyUrl> proxy;
  // Bedrock: region, then either SigV4 credentials or a Bedrock API key
  // (sent as Bearer). `endpoint` (host or URL) overrides
  // bedrock-runtime.{region}.amazonaws.com; base_url is not used.
  std::string region;
  std::string aws_access_key_id, aws_secret_access_key, aws_session_token;
  std::string api_key;
  // Parsed base_url (Bedrock: the endpoint).
  bool tls = false;
  std::string host;
  int port = 0;
  std::string path_prefix;
};

struct HubConfig {
  std::string listen_host = "0.0.0.0";
  int listen_port = 8443;
  std::string tls_cert, tls_key, client_ca;
  std::vector<std::string> edge_tokens;
  std::string plain_host;  // empty: no plain listener
  int plain_port = 0;
  std::vector<std::string> client_keys;
  int upstream_timeout_sec = 300;
  size_t max_body_bytes = 32 * 1024 * 1024;
  std::vector<ProviderConfig> providers;
  std::map<std::string, std::string> model_map;  // from → to ("provider/model" allowed)
  std::vector<std::string> tenants;  // known UIDs; empty accepts any well-formed UID
  NetworkList debug_allow;
  bool debug_log = false;
};

Result<HubConfig> LoadHubConfig(const std::string& path);

struct ParsedUrl {
  bool tls = false;
  std::string host;
  int port = 0;
  std::string path;  // without trailing slash
};
Result<ParsedUrl> ParseBaseUrl(const std::string& url);

}  // namespace tether
