// The hub process: the TLS listener that admits edges (client certificate
// and/or edge token), the optional plain loopback listener, per-connection
// HTTP parsing, and the counters behind /debug/info and /metrics. Each
// request is handed to a GatewayExchange (gateway.h).
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/http.h"
#include "common/log.h"
#include "common/net.h"
#include "hub/hub_config.h"
#include "hub/services.h"
#include "hub/upstream/upstream_client.h"

namespace tether {

class GatewayExchange;

struct HubStats {
  uint64_t connections_open = 0;
  uint64_t edge_connections = 0;
  uint64_t requests_total = 0;
  uint64_t requests_in_flight = 0;
  uint64_t responses_2xx = 0, responses_4xx = 0, responses_5xx = 0;
  uint64_t rejected_unadmitted = 0;
  uint64_t upstream_errors = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
};

class HubServer {
 public:
  // REQUIRES: loop outlives the server.
  HubServer(uv_loop_t* loop, HubConfig config);
  ~HubServer();
  // Opens the services (data_dir, keys, ledger) and the listeners.
  Status Start();
  void StopAccepting();
  // Swaps in a new config for new requests; in-flight ones keep theirs.
  void Reload(HubConfig config);

  const HubConfig& config() const { return *config_; }
  std::shared_ptr<const HubConfig> config_ref() const { return config_; }
  UpstreamClient& upstream() { return *upstream_; }
  // REQUIRES: Start() succeeded.
  HubServices& services() { return *services_; }
  HubStats& stats() { return stats_; }
  uv_loop_t* loop() const { return loop_; }
  int tls_port() const { return tls_listener_ ? tls_listener_->bound_port() : 0; }
  int plain_port() const { return plain_listener_ ? plain_listener_->bound_port() : 0; }
  uint64_t started_ms() const { return started_ms_; }
  // An id for a request that came without a trusted one ("hub_…").
  std::string NewRequestId() { return request_ids_.Next(); }

  std::string InfoJson();
  std::string MetricsText();

 private:
  void OnAccept(uv_stream_t* server, bool tls);

  uv_loop_t* loop_;
  std::shared_ptr<const HubConfig> config_;
  std::unique_ptr<TlsContext> tls_;
  std::unique_ptr<Listener> tls_listener_;
  std::unique_ptr<Listener> plain_listener_;
  std::unique_ptr<UpstreamClient> upstream_;
  std::unique_ptr<HubServices> services_;
  HubStats stats_;
  RequestIds request_ids_;
  uint64_t started_ms_ = 0;
};

// One connection from an edge (TLS) or a same-host client (plain). Parses
// requests one at a time; owns the current exchange.
class HubConnection : public StreamHandler {
 public:
  HubConnection(HubServer* server, Stream* stream, bool via_edge_listener);

  void OnStreamData(Stream* s, const char* data, size_t len) override;
  void OnStreamDrained(Stream* s) override;
  void OnStreamEof(Stream* s) override;
  void OnStreamClosed(Stream* s, const Status& why) override;

  // Called by the exchange.
  void Write(std::string data);
  // Sends what was written so far now rather than at the end of the loop
  // iteration (the response is complete; bookkeeping can follow it).
  void FlushWrites() { stream_->Flush(); }
  bool over_high_water() const { return stream_->over_high_water(); }
  void ExchangeDone(bool close_connection);
  const std::string& peer_address() const { return stream_->peer_address(); }
  bool trusted_edge() const { return admitted_edge_; }
  bool via_edge_listener() const { return via_edge_listener_; }
  HubServer* server() const { return server_; }

 private:
  ~HubConnection() override;
  void Feed(const char* data, size_t len);
  bool OnHead();
  bool OnBody(std::string_view data);
  void OnComplete();
  void Reject(int status, const std::string& message);

  HubServer* server_;
  Stream* stream_;
  bool via_edge_listener_;
  bool admitted_by_cert_ = false;
  bool admitted_edge_ = false;
  HttpParser parser_;
  std::string held_input_;
  std::unique_ptr<GatewayExchange> ex_;
  bool closed_ = false;
};

}  // namespace tether
