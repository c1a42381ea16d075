// The edge process: the client listener, the hub pool, counters, and the
// local endpoints (/, /healthz, /debug/info, /metrics). Everything else is
// relayed to the hub by a ClientConnection.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/http.h"
#include "common/log.h"
#include "common/net.h"
#include "edge/edge_config.h"
#include "edge/hub_pool.h"

namespace tether {

struct EdgeStats {
  uint64_t connections_total = 0;
  uint64_t connections_open = 0;
  uint64_t requests_total = 0;
  uint64_t requests_in_flight = 0;
  uint64_t requests_failed = 0;  // answered by the edge with an error status
  uint64_t retries = 0;
  uint64_t bytes_from_clients = 0;
  uint64_t bytes_to_clients = 0;
};

class EdgeServer {
 public:
  // REQUIRES: loop and config outlive the server.
  EdgeServer(uv_loop_t* loop, const EdgeConfig& config);
  ~EdgeServer();
  Status Start();
  // Stops accepting; existing exchanges finish.
  void StopAccepting();
  void Stop();

  const EdgeConfig& config() const { return config_; }
  HubPool& pool() { return *pool_; }
  EdgeStats& stats() { return stats_; }
  uv_loop_t* loop() const { return loop_; }
  int bound_port() const { return listener_ ? listener_->bound_port() : 0; }

  // A complete local response for GET/HEAD of a local path, or "" when the
  // path is not local (it is relayed).
  std::string LocalResponse(const RequestHead& head, const std::string& peer_ip);
  std::string NewRequestId();

  // Per-source-IP connection accounting (limits.max_connections_per_ip).
  bool AdmitConnection(const std::string& ip);
  void ReleaseConnection(const std::string& ip);

 private:
  void OnAccept(uv_stream_t* server);
  std::string InfoJson();
  std::string MetricsText();

  uv_loop_t* loop_;
  const EdgeConfig& config_;
  std::unique_ptr<HubPool> pool_;
  std::unique_ptr<Listener> listener_;
  std::unique_ptr<TlsContext> client_tls_;
  EdgeStats stats_;
  uint64_t started_ms_ = 0;
  RequestIds request_ids_;
  std::unordered_map<std::string, int> per_ip_;
};

}  // namespace tether
