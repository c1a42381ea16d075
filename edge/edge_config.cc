#include "edge/edge_config.h"

#include <cstdlib>

#include "common/json.h"

namespace tether {
namespace {

Status AddHub(EdgeConfig* c, const std::string& address, const std::string& server_name) {
  auto hp = ParseHostPort(address);
  if (!hp.ok()) return hp.status();
  c->hubs.push_back({hp->host, hp->port, server_name.empty() ? hp->host : server_name});
  return Status::Ok();
}

}  // namespace

Result<EdgeConfig> LoadEdgeConfig(const std::string& path) {
  EdgeConfig c;
  JsonPtr doc;
  std::string file = path.empty() ? "edge.json" : path;
  ConfigErrors errors(file);
  if (!path.empty()) {
    auto loaded = LoadConfigFile(path);
    if (!loaded.ok()) return loaded.status();
    doc = std::move(loaded.value());
  } else {
    doc = JsonNewObj();
  }
  ConfigNode root(doc.get(), "", &errors);
  root.CheckKeys({"listen", "tls", "hubs", "hub_tls", "edge_token", "pool", "limits", "debug_allow", "debug_log"});

  std::string listen = root.String("listen", "0.0.0.0:8000");
  if (auto hp = ParseHostPort(listen); hp.ok()) {
    c.listen_host = hp->host;
    c.listen_port = hp->port;
  } else {
    root.ErrorAt("listen", hp.status().message());
  }
  ConfigNode tls = root.Child("tls");
  tls.CheckKeys({"cert", "key"});
  c.tls_cert = tls.String("cert", "");
  c.tls_key = tls.String("key", "");
  if (c.tls_cert.empty() != c.tls_key.empty()) tls.Error("cert and key go together");

  ConfigNode hubs = root.Child("hubs");
  for (int i = 0, n = hubs.Size(); i < n; ++i) {
    ConfigNode h = hubs.At(i);
    if (h.IsString()) {
      if (Status st = AddHub(&c, h.AsString(), ""); !st.ok()) h.Error(st.message());
      continue;
    }
    h.CheckKeys({"address", "server_name"});
    std::string addr = h.RequiredString("address");
    if (!addr.empty())
      if (Status st = AddHub(&c, addr, h.String("server_name", "")); !st.ok()) h.ErrorAt("address", st.message());
  }
  ConfigNode ht = root.Child("hub_tls");
  ht.CheckKeys({"ca", "pin_sha256", "cert", "key", "insecure"});
  c.hub_ca = ht.String("ca", "");
  c.hub_pin_sha256 = ht.String("pin_sha256", "");
  c.hub_cert = ht.String("cert", "");
  c.hub_key = ht.String("key", "");
  c.hub_insecure = ht.Bool("insecure", false);
  if (c.hub_cert.empty() != c.hub_key.empty()) ht.Error("cert and key go together");
  c.edge_token = root.String("edge_token", "");

  ConfigNode pool = root.Child("pool");
  pool.CheckKeys({"min_idle", "max", "ping_interval_sec", "connect_timeout_sec", "queue_timeout_sec"});
  c.pool_min_idle = static_cast<int>(pool.Int("min_idle", c.pool_min_idle, 0, 256));
  c.pool_max = static_cast<int>(pool.Int("max", c.pool_max, 1, 65536));
  c.ping_interval_sec = static_cast<int>(pool.Int("ping_interval_sec", c.ping_interval_sec, 1, 3600));
  c.connect_timeout_sec = static_cast<int>(pool.Int("connect_timeout_sec", c.connect_timeout_sec, 1, 300));
  c.pool_queue_timeout_sec = static_cast<int>(pool.Int("queue_timeout_sec", c.pool_queue_timeout_sec, 1, 86400));

  ConfigNode lim = root.Child("limits");
  lim.CheckKeys({"max_header_bytes", "max_body_bytes", "client_idle_timeout_sec", "header_timeout_sec",
                 "upstream_first_byte_timeout_sec", "upstream_idle_timeout_sec", "max_connections_per_ip"});
  c.max_header_bytes = static_cast<size_t>(lim.Int("max_header_bytes", 64 * 1024, 1024, 1 << 24));
  c.max_body_bytes = static_cast<size_t>(lim.Int("max_body_bytes", 32 << 20, 0, 1LL << 34));
  c.client_idle_timeout_sec = static_cast<int>(lim.Int("client_idle_timeout_sec", 120, 1, 86400));
  c.header_timeout_sec = static_cast<int>(lim.Int("header_timeout_sec", 30, 1, 3600));
  c.first_byte_timeout_sec = static_cast<int>(lim.Int("upstream_first_byte_timeout_sec", 300, 1, 86400));
  c.upstream_idle_timeout_sec = static_cast<int>(lim.Int("upstream_idle_timeout_sec", 300, 1, 86400));
  c.max_connections_per_ip = static_cast<int>(lim.Int("max_connections_per_ip", 0, 0, 1 << 20));

  std::vector<std::string> allow = root.Has("debug_allow") ? root.Strings("debug_allow")
                                                           : std::vector<std::string>{"0.0.0.0/0", "::/0"};
  for (const std::string& a : allow)
    if (Status st = c.debug_allow.Add(a); !st.ok()) root.ErrorAt("debug_allow", st.message());
  c.debug_log = root.Bool("debug_log", false);

  // Environment overrides, for panels that only set env vars.
  if (const char* port = std::getenv("PORT")) {
    char* end = nullptr;
    long p = std::strtol(port, &end, 10);
    if (*end || p < 1 || p > 65535) errors.Add("env PORT", "expected a port from 1 to 65535");
    else c.listen_port = static_cast<int>(p);
  }
  if (const char* hub = std::getenv("TETHER_HUB")) {
    c.hubs.clear();
    std::string list = hub;
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string one = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!one.empty())
        if (Status st = AddHub(&c, one, ""); !st.ok()) errors.Add("env TETHER_HUB", st.message());
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (const char* token = std::getenv("TETHER_EDGE_TOKEN")) c.edge_token = token;
  if (const char* t = std::getenv("UPSTREAM_TIMEOUT_SEC")) {
    int v = std::atoi(t);
    if (v < 1) errors.Add("env UPSTREAM_TIMEOUT_SEC", "expected a positive number of seconds");
    else c.first_byte_timeout_sec = c.upstream_idle_timeout_sec = v;
  }
  if (const char* d = std::getenv("DEBUG_LOG")) c.debug_log = std::string(d) == "1" || std::string(d) == "true";

  if (c.hubs.empty()) errors.Add("hubs", "at least one hub address is required (or env TETHER_HUB)");
  if (!c.hub_insecure && c.hub_ca.empty() && c.hub_pin_sha256.empty())
    errors.Add("hub_tls", "set ca or pin_sha256 to verify the hub (or insecure: true to skip verification)");
  if (c.hub_cert.empty() && c.edge_token.empty())
    errors.Add("hub_tls", "the hub admits an edge by client certificate (hub_tls.cert/key) or edge_token; set one");
  if (!errors.ok()) return errors.ToStatus();
  return c;
}

std::string EdgeConfigSummaryJson(const EdgeConfig& c) {
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "listen", c.listen_host + ":" + std::to_string(c.listen_port));
  JsonAddBool(j.get(), "client_tls", !c.tls_cert.empty());
  JsonAddStr(j.get(), "hub_verify", c.hub_insecure ? "insecure" : !c.hub_pin_sha256.empty() ? "pin" : "ca");
  JsonAddBool(j.get(), "client_certificate", !c.hub_cert.empty());
  JsonAddBool(j.get(), "edge_token", !c.edge_token.empty());
  JsonAddNum(j.get(), "pool_min_idle", c.pool_min_idle);
  JsonAddNum(j.get(), "pool_max", c.pool_max);
  JsonAddNum(j.get(), "ping_interval_sec", c.ping_interval_sec);
  JsonAddNum(j.get(), "pool_queue_timeout_sec", c.pool_queue_timeout_sec);
  JsonAddNum(j.get(), "max_body_bytes", static_cast<double>(c.max_body_bytes));
  JsonAddNum(j.get(), "upstream_first_byte_timeout_sec", c.first_byte_timeout_sec);
  JsonAddNum(j.get(), "upstream_idle_timeout_sec", c.upstream_idle_timeout_sec);
  return PrintJson(j.get());
}

}  // namespace tether
