// The edge's configuration: edge.json plus environment overrides (PORT,
// TETHER_HUB, TETHER_EDGE_TOKEN, UPSTREAM_TIMEOUT_SEC, DEBUG_LOG) so a panel
// that only sets env vars can run it.
#pragma once
#include <string>
#include <vector>

#include "common/config.h"
#include "common/netmask.h"
#include "common/status.h"

namespace tether {

struct HubAddress {
  std::string host;
  int port = 0;
  std::string server_name;  // TLS name to verify; defaults to host
};

struct EdgeConfig {
  std::string listen_host = "0.0.0.0";
  int listen_port = 8000;
  std::string tls_cert, tls_key;  // optional HTTPS for clients

  std::vector<HubAddress> hubs;
  std::string hub_ca, hub_pin_sha256, hub_cert, hub_key;
  bool hub_insecure = false;
  std::string edge_token;

  int pool_min_idle = 4;
  int pool_max = 512;
  int ping_interval_sec = 15;
  int connect_timeout_sec = 10;
  // How long a request may queue for a link while all pool_max links are
  // busy (connect_timeout_sec bounds only waits on connecting).
  int pool_queue_timeout_sec = 60;

  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 32 * 1024 * 1024;
  int client_idle_timeout_sec = 120;
  int header_timeout_sec = 30;
  int first_byte_timeout_sec = 300;
  int upstream_idle_timeout_sec = 300;
  int max_connections_per_ip = 0;  // 0: unlimited

  NetworkList debug_allow;
  bool debug_log = false;
};

// Reads edge.json (path may be empty: defaults + env only) and applies env.
Result<EdgeConfig> LoadEdgeConfig(const std::string& path);
// What /debug/info shows: everything but secrets.
std::string EdgeConfigSummaryJson(const EdgeConfig& config);

}  // namespace tether
