#include "hub/hub_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "common/json.h"

namespace tether {

ApiFormat ProviderFormat(ProviderType type) {
  switch (type) {
    case ProviderType::kOpenAI: return ApiFormat::kOpenAIChat;
    case ProviderType::kOpenAIResponses: return ApiFormat::kOpenAIResponses;
    case ProviderType::kAnthropic: return ApiFormat::kAnthropic;
    case ProviderType::kGemini: return ApiFormat::kGemini;
    case ProviderType::kBedrock: return ApiFormat::kAnthropic;
  }
  return ApiFormat::kOpenAIChat;
}

const char* ProviderTypeName(ProviderType type) {
  switch (type) {
    case ProviderType::kOpenAI: return "openai";
    case ProviderType::kOpenAIResponses: return "openai-responses";
    case ProviderType::kAnthropic: return "anthropic";
    case ProviderType::kGemini: return "gemini";
    case ProviderType::kBedrock: return "bedrock";
  }
  return "?";
}

Result<ParsedUrl> ParseBaseUrl(const std::string& url) {
  ParsedUrl u;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    u.tls = true;
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return Status::Error("expected a URL starting with http:// or https://");
  }
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  if (hostport.empty()) return Status::Error("expected a host in the URL");
  std::string port;
  if (hostport[0] == '[') {  // [v6]:port
    size_t close = hostport.find(']');
    if (close == std::string::npos) return Status::Error("unterminated [ in the URL host");
    u.host = hostport.substr(1, close - 1);
    if (close + 1 < hostport.size() && hostport[close + 1] == ':') port = hostport.substr(close + 2);
  } else {
    size_t colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    if (colon != std::string::npos) port = hostport.substr(colon + 1);
  }
  u.port = u.tls ? 443 : 80;
  if (!port.empty()) {
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (*end || p < 1 || p > 65535) return Status::Error("expected a port from 1 to 65535 in the URL");
    u.port = static_cast<int>(p);
  }
  if (u.host.empty()) return Status::Error("expected a host in the URL");
  return u;
}

// Bedrock's endpoint: "host", "host:port" or a URL without a path.
// Without one, the regional endpoint over HTTPS.
static void ReadBedrock(const ConfigNode& p, ProviderConfig* pc) {
  pc->region = p.RequiredString("region");
  pc->aws_access_key_id = p.String("aws_access_key_id", "");
  pc->aws_secret_access_key = p.String("aws_secret_access_key", "");
  pc->aws_session_token = p.String("aws_session_token", "");
  pc->api_key = p.String("api_key", "");
  for (char c : pc->region)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      p.ErrorAt("region", "expected an AWS region such as us-east-1");
      break;
    }
  if (pc->api_key.empty() && (pc->aws_access_key_id.empty() || pc->aws_secret_access_key.empty()))
    p.Error("bedrock needs aws_access_key_id and aws_secret_access_key, or api_key");
  if (p.Has("base_url")) p.ErrorAt("base_url", "not used by bedrock; set region (and endpoint to override the host)");
  std::string endpoint = p.String("endpoint", "");
  if (endpoint.empty()) endpoint = "https://bedrock-runtime." + pc->region + ".amazonaws.com";
  else if (endpoint.find("://") == std::string::npos) endpoint = "https://" + endpoint;
  auto u = ParseBaseUrl(endpoint);
  if (!u.ok()) {
    p.ErrorAt("endpoint", u.status().message());
    return;
  }
  if (!u->path.empty()) p.ErrorAt("endpoint", "expected a host or a URL without a path");
  pc->base_url = endpoint;
  pc->tls = u->tls;
  pc->host = u->host;
  pc->port = u->port;
}

static bool ParseProviderType(const std::string& s, ProviderType* out) {
  if (s == "openai") *out = ProviderType::kOpenAI;
  else if (s == "openai-responses") *out = ProviderType::kOpenAIResponses;
  else if (s == "anthropic") *out = ProviderType::kAnthropic;
  else if (s == "gemini") *out = ProviderType::kGemini;
  else if (s == "bedrock") *out = ProviderType::kBedrock;
  else return false;
  return true;
}

// Map of name → string under `key` (e.g. model_map).
static void ReadStringMap(const ConfigNode& node, std::map<std::string, std::string>* out) {
  if (node.IsObject()) {
    const cJSON* e;
    cJSON_ArrayForEach(e, node.raw()) {
      if (cJSON_IsString(e)) (*out)[e->string] = e->valuestring;
      else node.ErrorAt(e->string, "expected a model name");
    }
  } else if (!node.IsNull()) {
    node.Error("expected an object mapping model names");
  }
}

static void ReadClientKeys(const ConfigNode& root, HubConfig* c) {
  std::vector<std::string> legacy = root.Strings("client_keys");
  for (size_t i = 0; i < legacy.size(); ++i) {
    if (legacy[i].empty()) continue;
    KeyPolicy p;
    p.name = "key" + std::to_string(i);
    p.sha256 = HashClientKey(legacy[i]);
    c->keys.push_back(std::move(p));
  }
  ConfigNode keys = root.Child("keys");
  for (int i = 0, n = keys.IsNull() ? 0 : keys.Size(); i < n; ++i) {
    ConfigNode k = keys.At(i);
    if (!k.IsObject()) {
      k.Error("expected an object {name, key | sha256, tenant, …}");
      continue;
    }
    KeyPolicy p = ReadKeyPolicy(k);
    for (const KeyPolicy& other : c->keys) {
      if (!p.name.empty() && other.name == p.name) k.ErrorAt("name", "duplicate key name \"" + p.name + "\"");
      else if (!p.sha256.empty() && other.sha256 == p.sha256) k.ErrorAt("key", "the same key as \"" + other.name + "\"");
    }
    c->keys.push_back(std::move(p));
  }
}

static void ReadAccounts(const ConfigNode& p, ProviderConfig* pc) {
  std::vector<std::string> legacy = p.Strings("keys");
  for (size_t i = 0; i < legacy.size(); ++i) pc->accounts.push_back({"acct" + std::to_string(i), legacy[i], 0, 1});
  ConfigNode accounts = p.Child("accounts");
  for (int i = 0, n = accounts.IsNull() ? 0 : accounts.Size(); i < n; ++i) {
    ConfigNode a = accounts.At(i);
    if (!a.IsObject()) {
      a.Error("expected an object {id, key, priority, weight}");
      continue;
    }
    a.CheckKeys({"id", "key", "priority", "weight"});
    AccountConfig ac;
    ac.id = a.RequiredString("id");
    ac.key = a.String("key", "");
    ac.priority = static_cast<int>(a.Int("priority", 0, -1000000, 1000000));
    ac.weight = static_cast<int>(a.Int("weight", 1, 1, 1000000));
    for (const AccountConfig& other : pc->accounts)
      if (!ac.id.empty() && other.id == ac.id) a.ErrorAt("id", "duplicate account id \"" + ac.id + "\"");
    pc->accounts.push_back(std::move(ac));
  }
}

static bool ValidTenantId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char ch : id)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
  return true;
}

// After providers: tenant allow-lists name provider ids.
static void ReadTenants(const ConfigNode& root, HubConfig* c) {
  ConfigNode tenants = root.Child("tenants");
  for (int i = 0, n = tenants.IsNull() ? 0 : tenants.Size(); i < n; ++i) {
    ConfigNode t = tenants.At(i);
    TenantConfig tc;
    if (t.IsString()) {
      tc.id = t.AsString();
    } else if (t.IsObject()) {
      t.CheckKeys({"id", "providers", "model_map", "rpm", "tpm"});
      tc.id = t.RequiredString("id");
      tc.providers = t.Strings("providers");
      for (const std::string& pid : tc.providers) {
        bool known = false;
        for (const ProviderConfig& p : c->providers) known = known || p.id == pid;
        if (!known) t.ErrorAt("providers", "unknown provider id \"" + pid + "\"");
      }
      ReadStringMap(t.Child("model_map"), &tc.model_map);
      tc.rpm = static_cast<int>(t.Int("rpm", 0, 0, 1000000000));
      tc.tpm = static_cast<int>(t.Int("tpm", 0, 0, 2000000000));
    } else {
      t.Error("expected a tenant id or an object {id, providers, model_map, rpm, tpm}");
      continue;
    }
    if (!tc.id.empty() && !ValidTenantId(tc.id)) t.Error("expected a tenant id of 1-64 letters, digits, _ or -");
    for (const TenantConfig& other : c->tenants)
      if (other.id == tc.id && !tc.id.empty()) t.Error("duplicate tenant \"" + tc.id + "\"");
    c->tenants.push_back(std::move(tc));
  }
}

static void ReadCombos(const ConfigNode& root, HubConfig* c) {
  ConfigNode combos = root.Child("combos");
  if (combos.IsNull()) return;
  if (!combos.IsObject()) {
    combos.Error("expected an object of combo names to lists of \"provider/model\"");
    return;
  }
  const cJSON* e;
  cJSON_ArrayForEach(e, combos.raw()) {
    ConfigNode list = combos.Child(e->string);
    std::vector<std::string> entries;
    for (int i = 0, n = list.Size(); i < n; ++i) {
      ConfigNode item = list.At(i);
      std::string v = item.AsString();
      size_t slash = v.find('/');
      bool known = false;
      if (slash != std::string::npos)
        for (const ProviderConfig& p : c->providers) known = known || p.id == v.substr(0, slash);
      if (!v.empty() && !known) item.Error("expected \"provider/model\" with a configured provider id, got \"" + v + "\"");
      entries.push_back(v);
    }
    if (entries.empty()) list.Error("expected at least one \"provider/model\"");
    c->combos[e->string] = std::move(entries);
  }
}

// Absent or null: off. An object turns it on and must name its directory.
static void ReadRequestLog(const ConfigNode& n, RequestLogConfig* r) {
  if (n.IsNull()) return;
  if (!n.IsObject()) {
    n.Error("expected {dir, max_body_bytes, max_file_bytes, max_files}");
    return;
  }
  n.CheckKeys({"dir", "max_body_bytes", "max_file_bytes", "max_files"});
  r->dir = n.RequiredString("dir");
  if (n.Has("dir") && r->dir.empty()) n.ErrorAt("dir", "expected a directory");
  r->max_body_bytes = static_cast<size_t>(n.Int("max_body_bytes", 64 * 1024, 0, 64LL << 20));
  r->max_file_bytes = static_cast<uint64_t>(n.Int("max_file_bytes", 10 << 20, 4096, 1LL << 40));
  r->max_files = static_cast<int>(n.Int("max_files", 5, 1, 1000));
}

const TenantConfig* FindTenant(const HubConfig& config, const std::string& id) {
  for (const TenantConfig& t : config.tenants)
    if (t.id == id) return &t;
  return nullptr;
}

bool TenantAllowsProvider(const TenantConfig* tenant, const std::string& provider_id) {
  if (!tenant || tenant->providers.empty()) return true;
  return std::find(tenant->providers.begin(), tenant->providers.end(), provider_id) != tenant->providers.end();
}

Result<HubConfig> LoadHubConfig(const std::string& path) {
  HubConfig c;
  ConfigErrors errors(path.empty() ? "hub.json" : path);
  JsonPtr doc;
  if (!path.empty()) {
    auto loaded = LoadConfigFile(path);
    if (!loaded.ok()) return loaded.status();
    doc = std::move(loaded.value());
  } else {
    doc = JsonNewObj();
  }
  ConfigNode root(doc.get(), "", &errors);
  root.CheckKeys({"listen", "tls", "edge_tokens", "plain_listen", "client_keys", "keys", "data_dir", "prices",
                  "upstream_timeout_sec", "max_body_bytes", "providers", "model_map", "tenants", "combos", "usage_booking",
                  "admin_token", "admin_via_edge", "debug_allow", "debug_log", "request_log"});
  if (auto hp = ParseHostPort(root.String("listen", "0.0.0.0:8443")); hp.ok()) {
    c.listen_host = hp->host;
    c.listen_port = hp->port;
  } else {
    root.ErrorAt("listen", hp.status().message());
  }
  ConfigNode tls = root.Child("tls");
  tls.CheckKeys({"cert", "key", "client_ca"});
  c.tls_cert = tls.String("cert", "");
  c.tls_key = tls.String("key", "");
  c.client_ca = tls.String("client_ca", "");
  c.edge_tokens = root.Strings("edge_tokens");
  std::erase_if(c.edge_tokens, [](const std::string& t) { return t.empty(); });
  std::string plain = root.String("plain_listen", "");
  if (!plain.empty()) {
    if (auto hp = ParseHostPort(plain); hp.ok()) {
      c.plain_host = hp->host;
      c.plain_port = hp->port;
    } else {
      root.ErrorAt("plain_listen", hp.status().message());
    }
  }
  ReadClientKeys(root, &c);
  c.data_dir = root.String("data_dir", "run/data");
  if (c.data_dir.empty()) root.ErrorAt("data_dir", "expected a directory");
  c.prices = root.String("prices", "etc/prices.json");
  c.usage_booking = root.Bool("usage_booking", true);
  c.admin_token = root.String("admin_token", "");
  c.admin_via_edge = root.Bool("admin_via_edge", false);
  c.upstream_timeout_sec = static_cast<int>(root.Int("upstream_timeout_sec", 300, 1, 86400));
  c.max_body_bytes = static_cast<size_t>(root.Int("max_body_bytes", 32 << 20, 1024, 1LL << 32));

  ConfigNode providers = root.Child("providers");
  for (int i = 0, n = providers.Size(); i < n; ++i) {
    ConfigNode p = providers.At(i);
    ProviderConfig pc;
    pc.id = p.RequiredString("id");
    std::string type = p.RequiredString("type");
    if (!type.empty() && !ParseProviderType(type, &pc.type))
      p.ErrorAt("type", "expected openai, openai-responses, anthropic, gemini or bedrock, got \"" + type + "\"");
    if (pc.type == ProviderType::kBedrock) {
      p.CheckKeys({"id", "type", "base_url", "keys", "accounts", "headers", "models", "model_globs", "proxy", "region",
                   "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "api_key", "endpoint"});
      ReadBedrock(p, &pc);
    } else {
      p.CheckKeys({"id", "type", "base_url", "keys", "accounts", "headers", "models", "model_globs", "proxy"});
      pc.base_url = p.RequiredString("base_url");
    }
    if (pc.type != ProviderType::kBedrock && !pc.base_url.empty()) {
      auto u = ParseBaseUrl(pc.base_url);
      if (!u.ok()) p.ErrorAt("base_url", u.status().message());
      else {
        pc.tls = u->tls;
        pc.host = u->host;
        pc.port = u->port;
        pc.path_prefix = u->path;
      }
    }
    ReadAccounts(p, &pc);
    if (std::string proxy = p.String("proxy", ""); !proxy.empty()) {
      auto parsed = ParseProxyUrl(proxy);
      if (!parsed.ok()) p.ErrorAt("proxy", parsed.status().message());
      else pc.proxy = std::move(parsed.value());
    }
    ConfigNode headers = p.Child("headers");
    if (headers.IsObject()) {
      const cJSON* h;
      cJSON_ArrayForEach(h, headers.raw()) {
        if (cJSON_IsString(h)) pc.headers.emplace_back(h->string, h->valuestring);
        else headers.ErrorAt(h->string, "expected a string");
      }
    } else if (!headers.IsNull()) {
      headers.Error("expected an object of header names to values");
    }
    ConfigNode models = p.Child("models");
    for (int m = 0, mn = models.Size(); m < mn; ++m) {
      ConfigNode me = models.At(m);
      if (me.IsString()) {
        pc.models.push_back({me.AsString(), ""});
      } else {
        me.CheckKeys({"name", "alias"});
        pc.models.push_back({me.RequiredString("name"), me.String("alias", "")});
      }
    }
    pc.model_globs = p.Strings("model_globs");
    for (const ProviderConfig& other : c.providers)
      if (other.id == pc.id && !pc.id.empty()) p.ErrorAt("id", "duplicate provider id \"" + pc.id + "\"");
    c.providers.push_back(std::move(pc));
  }
  ReadStringMap(root.Child("model_map"), &c.model_map);
  ReadTenants(root, &c);
  ReadCombos(root, &c);
  ReadRequestLog(root.Child("request_log"), &c.request_log);
  if (!c.usage_booking)
    for (const KeyPolicy& k : c.keys)
      if (k.daily_budget_usd > 0 || k.monthly_budget_usd > 0)
        root.ErrorAt("usage_booking", "is false, but key \"" + k.name +
                                          "\" has a budget, which is enforced from booked spend; turn booking on or drop the budget");
  std::vector<std::string> allow = root.Has("debug_allow") ? root.Strings("debug_allow")
                                                           : std::vector<std::string>{"127.0.0.0/8", "::1/128"};
  for (const std::string& a : allow)
    if (Status st = c.debug_allow.Add(a); !st.ok()) root.ErrorAt("debug_allow", st.message());
  c.debug_log = root.Bool("debug_log", false);

  if (const char* port = std::getenv("PORT")) {
    int p = std::atoi(port);
    if (p < 1 || p > 65535) errors.Add("env PORT", "expected a port from 1 to 65535");
    else c.listen_port = p;
  }
  if (const char* token = std::getenv("TETHER_EDGE_TOKEN"); token && *token) c.edge_tokens.push_back(token);
  if (const char* t = std::getenv("UPSTREAM_TIMEOUT_SEC")) {
    int v = std::atoi(t);
    if (v < 1) errors.Add("env UPSTREAM_TIMEOUT_SEC", "expected a positive number of seconds");
    else c.upstream_timeout_sec = v;
  }
  if (const char* d = std::getenv("DEBUG_LOG")) c.debug_log = std::string(d) == "1" || std::string(d) == "true";

  if (c.tls_cert.empty() || c.tls_key.empty()) errors.Add("tls", "cert and key are required for the edge listener");
  if (c.client_ca.empty() && c.edge_tokens.empty())
    errors.Add("tls", "admit edges by client certificate (tls.client_ca) or edge_tokens; set at least one");
  if (!errors.ok()) return errors.ToStatus();
  return c;
}

}  // namespace tether
