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
#include "hub/accounts.h"
#include "hub/keys.h"
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
  // Credentials, tried by AccountPool (priority, weight, health). Legacy
  // "keys": ["k1", "k2"] become accounts "acct0", "acct1".
  std::vector<AccountConfig> accounts;
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

// A tenant (UID in the path): which providers it may use, its own model
// names (applied before the global model_map) and its shared rate limits.
struct TenantConfig {
  std::string id;
  std::vector<std::string> providers;  // provider ids allowed; empty: all
  std::map<std::string, std::string> model_map;
  int rpm = 0, tpm = 0;  // for all keys of the tenant together; 0: unlimited
};

// Opt-in request log (hub/request_log.h): one JSON line per API request with
// bodies, secrets masked. dir empty: off.
struct RequestLogConfig {
  std::string dir;
  size_t max_body_bytes = 64 * 1024;  // per body (request, response); longer ones are cut and marked
  uint64_t max_file_bytes = 10 * 1024 * 1024;
  int max_files = 5;  // requests.jsonl plus rotated requests.1.jsonl …
  bool operator==(const RequestLogConfig&) const = default;
};

struct HubConfig {
  std::string listen_host = "0.0.0.0";
  int listen_port = 8443;
  std::string tls_cert, tls_key, client_ca;
  std::vector<std::string> edge_tokens;
  std::string plain_host;  // empty: no plain listener
  int plain_port = 0;
  // Static client keys: "keys" entries plus legacy "client_keys" strings
  // (named "key0", "key1", …). Keys created at run time live in data_dir.
  std::vector<KeyPolicy> keys;
  std::string data_dir = "run/data";      // keys.db and usage.db
  std::string prices = "etc/prices.json";  // missing file: costs are 0
  // false: no usage rows are written (the ledger keeps what it has). Budgets
  // are enforced from booked spend, so a key with a budget is refused then.
  bool usage_booking = true;
  int upstream_timeout_sec = 300;
  size_t max_body_bytes = 32 * 1024 * 1024;
  std::vector<ProviderConfig> providers;
  std::map<std::string, std::string> model_map;  // from → to ("provider/model" allowed)
  std::vector<TenantConfig> tenants;  // known UIDs; empty accepts any well-formed UID
  // A model name that stands for an ordered list of "provider/model": each
  // is tried in turn on 429, 5xx or a transport error before the first byte.
  std::map<std::string, std::vector<std::string>> combos;
  RequestLogConfig request_log;
  std::string admin_token;  // Bearer token for /admin/; empty: admin API off
  bool admin_via_edge = false;  // also answer /admin/ through admitted edges
  NetworkList debug_allow;
  bool debug_log = false;
};

Result<HubConfig> LoadHubConfig(const std::string& path);

// The tenant with this id, or nullptr.
const TenantConfig* FindTenant(const HubConfig& config, const std::string& id);
// Whether a tenant may use a provider; a null tenant (none, or not listed)
// or one without a provider list may use every provider.
bool TenantAllowsProvider(const TenantConfig* tenant, const std::string& provider_id);

struct ParsedUrl {
  bool tls = false;
  std::string host;
  int port = 0;
  std::string path;  // without trailing slash
};
Result<ParsedUrl> ParseBaseUrl(const std::string& url);

}  // namespace tether
