#include "edge/edge_server.h"

#include <cstdio>

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "edge/client_connection.h"

namespace tether {

EdgeServer::EdgeServer(uv_loop_t* loop, const EdgeConfig& config)
    : loop_(loop), config_(config), request_ids_("req_" + HexEncode(RandomBytes(4))) {
  started_ms_ = NowMs();
}

EdgeServer::~EdgeServer() { Stop(); }

Status EdgeServer::Start() {
  if (!config_.tls_cert.empty()) {
    TlsServerOptions o;
    o.cert_file = config_.tls_cert;
    o.key_file = config_.tls_key;
    auto ctx = TlsContext::NewServer(o);
    if (!ctx.ok()) return Status::Error("tls: " + ctx.status().message());
    client_tls_ = std::move(ctx.value());
  }
  pool_ = std::make_unique<HubPool>(loop_, config_);
  if (Status st = pool_->Start(); !st.ok()) return st;
  listener_ = std::make_unique<Listener>(loop_, [this](uv_stream_t* s) { OnAccept(s); });
  return listener_->Listen(config_.listen_host, config_.listen_port);
}

void EdgeServer::StopAccepting() {
  if (listener_) listener_->Close();
}

void EdgeServer::Stop() {
  StopAccepting();
  if (pool_) pool_->Stop();
}

void EdgeServer::OnAccept(uv_stream_t* server) {
  Stream* s = Stream::Accept(server, client_tls_.get(), nullptr);
  if (!s) return;
  if (!AdmitConnection(s->peer_address())) {
    s->Close();
    return;
  }
  new ClientConnection(this, s);  // owns itself; freed after its stream closes
}

bool EdgeServer::AdmitConnection(const std::string& ip) {
  int& n = per_ip_[ip];
  if (config_.max_connections_per_ip > 0 && n >= config_.max_connections_per_ip) {
    if (n == 0) per_ip_.erase(ip);
    return false;
  }
  ++n;
  return true;
}

void EdgeServer::ReleaseConnection(const std::string& ip) {
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;
  if (--it->second <= 0) per_ip_.erase(it);
}

std::string EdgeServer::NewRequestId() { return request_ids_.Next(); }

std::string EdgeServer::LocalResponse(const RequestHead& head, const std::string& peer_ip) {
  bool get = head.method == "GET", is_head = head.method == "HEAD";
  if (!get && !is_head) return "";
  std::string_view path = head.Path();
  std::string body, type = "application/json";
  int status = 200;
  if (path == "/") {
    JsonPtr j = JsonNewObj();
    JsonAddBool(j.get(), "ok", true);
    JsonAddStr(j.get(), "role", "edge");
    JsonAddStr(j.get(), "version", kTetherVersion);
    JsonAddStr(j.get(), "hub", pool_->healthy() ? "up" : "down");
    body = PrintJson(j.get());
  } else if (path == "/healthz") {
    bool up = pool_->healthy();
    status = up ? 200 : 503;
    body = up ? "{\"ok\":true,\"hub\":\"up\"}" : "{\"ok\":false,\"hub\":\"down\"}";
  } else if (path == "/debug/info" || path == "/metrics") {
    if (!config_.debug_allow.Contains(peer_ip)) {
      status = 403;
      body = ApiErrorBody(ApiFormat::kOpenAIChat, 403, "this endpoint is not available from your address");
    } else if (path == "/metrics") {
      body = MetricsText();
      type = "text/plain; version=0.0.4";
    } else {
      body = InfoJson();
    }
  } else {
    return "";
  }
  Headers extra;
  extra.Add("Cache-Control", "no-store");
  std::string resp = SimpleResponse(status, type, body, &extra);
  if (is_head) resp.resize(resp.size() - body.size());
  return resp;
}

std::string EdgeServer::InfoJson() {
  JsonPtr j = JsonNewObj();
  cJSON* r = j.get();
  JsonAddStr(r, "role", "edge");
  JsonAddStr(r, "version", kTetherVersion);
  JsonAddNum(r, "uptime_sec", static_cast<double>((NowMs() - started_ms_) / 1000));
  auto cfg = ParseJson(EdgeConfigSummaryJson(config_));
  if (cfg.ok()) cJSON_AddItemToObject(r, "config", cfg->release());
  cJSON* hubs = JsonAddArr(r, "hubs");
  for (const HubStatus& h : pool_->hubs()) {
    cJSON* o = JsonAddObj(hubs, nullptr);
    JsonAddStr(o, "address", h.address);
    JsonAddStr(o, "state", h.up ? "up" : "down");
    if (h.last_rtt_ms >= 0) JsonAddNum(o, "last_ping_rtt_ms", h.last_rtt_ms);
    else cJSON_AddNullToObject(o, "last_ping_rtt_ms");
    JsonAddNum(o, "consecutive_failures", h.consecutive_failures);
    if (!h.last_error.empty()) JsonAddStr(o, "last_error", h.last_error);
    if (!h.cipher_suite.empty()) {
      JsonAddStr(o, "cipher_suite", h.cipher_suite);
      JsonAddBool(o, "fast_records", h.fast_records);
    }
  }
  cJSON* pool = JsonAddObj(r, "pool");
  int idle = pool_->idle_count(), busy = pool_->busy_count(), conn = pool_->connecting_count();
  JsonAddNum(pool, "size", idle + busy + conn);
  JsonAddNum(pool, "idle", idle);
  JsonAddNum(pool, "in_use", busy);
  JsonAddNum(pool, "connecting", conn);
  JsonAddNum(pool, "waiting_requests", pool_->waiting_count());
  JsonAddNum(pool, "links_opened", static_cast<double>(pool_->links_opened()));
  JsonAddNum(pool, "link_failures", static_cast<double>(pool_->link_failures()));
  cJSON* req = JsonAddObj(r, "requests");
  JsonAddNum(req, "served", static_cast<double>(stats_.requests_total));
  JsonAddNum(req, "in_flight", static_cast<double>(stats_.requests_in_flight));
  JsonAddNum(req, "failed", static_cast<double>(stats_.requests_failed));
  JsonAddNum(req, "retried", static_cast<double>(stats_.retries));
  cJSON* conns = JsonAddObj(r, "connections");
  JsonAddNum(conns, "open", static_cast<double>(stats_.connections_open));
  JsonAddNum(conns, "total", static_cast<double>(stats_.connections_total));
  cJSON* bytes = JsonAddObj(r, "bytes");
  JsonAddNum(bytes, "in", static_cast<double>(stats_.bytes_from_clients));
  JsonAddNum(bytes, "out", static_cast<double>(stats_.bytes_to_clients));
  JsonAddNum(r, "rss_bytes", static_cast<double>(ResidentBytes()));
  return PrintJson(r);
}

std::string EdgeServer::MetricsText() {
  std::string out;
  AppendMetric(&out, "tether_edge_up", "gauge", "1 while the edge runs", 1);
  AppendMetric(&out, "tether_edge_hub_up", "gauge", "1 when at least one hub link is open", pool_->healthy() ? 1 : 0);
  AppendMetric(&out, "tether_edge_requests_total", "counter", "Requests received", static_cast<double>(stats_.requests_total));
  AppendMetric(&out, "tether_edge_requests_in_flight", "gauge", "Requests being relayed", static_cast<double>(stats_.requests_in_flight));
  AppendMetric(&out, "tether_edge_requests_failed_total", "counter", "Requests the edge answered with an error",
               static_cast<double>(stats_.requests_failed));
  AppendMetric(&out, "tether_edge_retries_total", "counter", "Requests retried on a fresh hub link", static_cast<double>(stats_.retries));
  AppendMetric(&out, "tether_edge_connections_open", "gauge", "Open client connections", static_cast<double>(stats_.connections_open));
  AppendMetric(&out, "tether_edge_bytes_received_total", "counter", "Bytes from clients", static_cast<double>(stats_.bytes_from_clients));
  AppendMetric(&out, "tether_edge_bytes_sent_total", "counter", "Bytes to clients", static_cast<double>(stats_.bytes_to_clients));
  AppendMetric(&out, "tether_edge_pool_links", "gauge", "Hub links by state", pool_->idle_count(), "state=\"idle\"");
  AppendSample(&out, "tether_edge_pool_links", pool_->busy_count(), "state=\"in_use\"");
  AppendSample(&out, "tether_edge_pool_links", pool_->connecting_count(), "state=\"connecting\"");
  AppendMetricHeader(&out, "tether_edge_hub_rtt_ms", "gauge", "Last ping round trip per hub (-1: none yet)");
  for (const HubStatus& h : pool_->hubs())
    AppendSample(&out, "tether_edge_hub_rtt_ms", h.last_rtt_ms, "hub=\"" + h.address + "\"");
  AppendMetric(&out, "tether_edge_resident_bytes", "gauge", "Resident set size", static_cast<double>(ResidentBytes()));
  return out;
}

}  // namespace tether
