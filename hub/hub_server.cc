#include "hub/hub_server.h"

#include "common/json.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/version.h"
#include "hub/gateway.h"

namespace tether {

HubServer::HubServer(uv_loop_t* loop, HubConfig config)
    : loop_(loop),
      config_(std::make_shared<const HubConfig>(std::move(config))),
      request_ids_("hub_" + HexEncode(RandomBytes(4))) {
  started_ms_ = NowMs();
}

HubServer::~HubServer() { StopAccepting(); }

Status HubServer::Start() {
  TlsServerOptions o;
  o.cert_file = config_->tls_cert;
  o.key_file = config_->tls_key;
  o.client_ca_file = config_->client_ca;
  // With edge tokens configured too, a certificate is one way in, not the only one.
  o.client_cert_optional = !config_->edge_tokens.empty();
  auto ctx = TlsContext::NewServer(o);
  if (!ctx.ok()) return Status::Error("tls: " + ctx.status().message());
  tls_ = std::move(ctx.value());
  auto services = HubServices::Open(*config_);
  if (!services.ok()) return services.status();
  services_ = std::move(services.value());
  upstream_ = std::make_unique<UpstreamClient>(loop_);
  if (Status st = upstream_->Init(); !st.ok()) LogWarn("hub", st.message() + " (HTTPS providers will fail)");
  tls_listener_ = std::make_unique<Listener>(loop_, [this](uv_stream_t* s) { OnAccept(s, true); });
  if (Status st = tls_listener_->Listen(config_->listen_host, config_->listen_port); !st.ok()) return st;
  if (!config_->plain_host.empty()) {
    plain_listener_ = std::make_unique<Listener>(loop_, [this](uv_stream_t* s) { OnAccept(s, false); });
    if (Status st = plain_listener_->Listen(config_->plain_host, config_->plain_port); !st.ok()) return st;
  }
  return Status::Ok();
}

void HubServer::StopAccepting() {
  if (tls_listener_) tls_listener_->Close();
  if (plain_listener_) plain_listener_->Close();
}

void HubServer::Reload(HubConfig config) {
  if (services_) {
    if (config.data_dir != config_->data_dir) LogWarn("hub", "data_dir changes need a restart; keeping " + config_->data_dir);
    if (Status st = services_->Reload(config); !st.ok()) LogError("hub", "reload: client keys: " + st.message());
  }
  config_ = std::make_shared<const HubConfig>(std::move(config));
}

void HubServer::OnAccept(uv_stream_t* server, bool tls) {
  Stream* s = Stream::Accept(server, tls ? tls_.get() : nullptr, nullptr);
  if (!s) return;
  new HubConnection(this, s, tls);  // owns itself
}

std::string HubServer::InfoJson() {
  JsonPtr j = JsonNewObj();
  cJSON* r = j.get();
  JsonAddStr(r, "role", "hub");
  JsonAddStr(r, "version", kTetherVersion);
  JsonAddNum(r, "uptime_sec", static_cast<double>((NowMs() - started_ms_) / 1000));
  cJSON* cfg = JsonAddObj(r, "config");
  JsonAddStr(cfg, "listen", config_->listen_host + ":" + std::to_string(config_->listen_port));
  JsonAddBool(cfg, "mtls", !config_->client_ca.empty());
  JsonAddNum(cfg, "edge_tokens", static_cast<double>(config_->edge_tokens.size()));
  JsonAddNum(cfg, "client_keys", static_cast<double>(config_->keys.size()));
  JsonAddNum(cfg, "tenants", static_cast<double>(config_->tenants.size()));
  JsonAddNum(cfg, "combos", static_cast<double>(config_->combos.size()));
  JsonAddBool(cfg, "admin_api", !config_->admin_token.empty());
  cJSON* providers = JsonAddArr(r, "providers");
  for (const ProviderConfig& p : config_->providers) {
    cJSON* o = JsonAddObj(providers, nullptr);
    JsonAddStr(o, "id", p.id);
    JsonAddStr(o, "type", ProviderTypeName(p.type));
    JsonAddStr(o, "base_url", p.base_url);
    JsonAddNum(o, "accounts", static_cast<double>(p.accounts.size()));
    JsonAddNum(o, "models", static_cast<double>(p.models.size()));
  }
  cJSON* req = JsonAddObj(r, "requests");
  JsonAddNum(req, "total", static_cast<double>(stats_.requests_total));
  JsonAddNum(req, "in_flight", static_cast<double>(stats_.requests_in_flight));
  JsonAddNum(req, "2xx", static_cast<double>(stats_.responses_2xx));
  JsonAddNum(req, "4xx", static_cast<double>(stats_.responses_4xx));
  JsonAddNum(req, "5xx", static_cast<double>(stats_.responses_5xx));
  JsonAddNum(req, "rejected_unadmitted", static_cast<double>(stats_.rejected_unadmitted));
  cJSON* up = JsonAddObj(r, "upstream");
  JsonAddNum(up, "active_calls", upstream_ ? upstream_->active_calls() : 0);
  JsonAddNum(up, "idle_connections", upstream_ ? upstream_->idle_connections() : 0);
  JsonAddNum(up, "errors", static_cast<double>(stats_.upstream_errors));
  cJSON* conns = JsonAddObj(r, "connections");
  JsonAddNum(conns, "open", static_cast<double>(stats_.connections_open));
  JsonAddNum(conns, "edges", static_cast<double>(stats_.edge_connections));
  if (services_) services_->AddInfo(r);
  JsonAddNum(r, "rss_bytes", static_cast<double>(ResidentBytes()));
  return PrintJson(r);
}

std::string HubServer::MetricsText() {
  std::string out;
  AppendMetric(&out, "tether_hub_up", "gauge", "1 while the hub runs", 1);
  AppendMetric(&out, "tether_hub_requests_total", "counter", "Requests received", static_cast<double>(stats_.requests_total));
  AppendMetric(&out, "tether_hub_requests_in_flight", "gauge", "Requests in progress", static_cast<double>(stats_.requests_in_flight));
  AppendMetricHeader(&out, "tether_hub_responses_total", "counter", "Responses by status class");
  AppendSample(&out, "tether_hub_responses_total", static_cast<double>(stats_.responses_2xx), "class=\"2xx\"");
  AppendSample(&out, "tether_hub_responses_total", static_cast<double>(stats_.responses_4xx), "class=\"4xx\"");
  AppendSample(&out, "tether_hub_responses_total", static_cast<double>(stats_.responses_5xx), "class=\"5xx\"");
  AppendMetric(&out, "tether_hub_upstream_errors_total", "counter", "Provider calls that failed", static_cast<double>(stats_.upstream_errors));
  AppendMetric(&out, "tether_hub_connections_open", "gauge", "Open connections", static_cast<double>(stats_.connections_open));
  AppendMetric(&out, "tether_hub_edge_connections", "gauge", "Open connections from admitted edges", static_cast<double>(stats_.edge_connections));
  AppendMetric(&out, "tether_hub_rejected_total", "counter", "Requests refused for lack of edge credentials",
               static_cast<double>(stats_.rejected_unadmitted));
  AppendMetric(&out, "tether_hub_resident_bytes", "gauge", "Resident set size", static_cast<double>(ResidentBytes()));
  return out;
}

// ---- HubConnection ----------------------------------------------------------

HubConnection::HubConnection(HubServer* server, Stream* stream, bool via_edge_listener)
    : server_(server),
      stream_(stream),
      via_edge_listener_(via_edge_listener),
      parser_(HttpParser::Kind::kRequest, HttpLimits{},
              HttpParser::Callbacks{[this] { return OnHead(); }, [this](std::string_view d) { return OnBody(d); },
                                    [this] { OnComplete(); }}) {
  stream_->set_handler(this);
  ++server_->stats().connections_open;
}

HubConnection::~HubConnection() {
  --server_->stats().connections_open;
  if (admitted_edge_) --server_->stats().edge_connections;
}

void HubConnection::Write(std::string data) {
  server_->stats().bytes_out += data.size();
  stream_->Write(std::move(data));
}

void HubConnection::OnStreamData(Stream*, const char* data, size_t len) {
  server_->stats().bytes_in += len;
  if (via_edge_listener_ && !admitted_by_cert_ && !admitted_edge_) {
    // The handshake verified a client certificate when one is presented
    // (client_ca), so a present fingerprint means a certificate-admitted edge.
    TlsSession* tls = stream_->tls();
    if (tls && !server_->config().client_ca.empty() && tls->peer_verified()) {
      admitted_by_cert_ = true;
      admitted_edge_ = true;
      ++server_->stats().edge_connections;
    }
  }
  if (!held_input_.empty() || parser_.paused()) {
    held_input_.append(data, len);
    if (held_input_.size() > 1024 * 1024) stream_->PauseReading();
    return;
  }
  Feed(data, len);
}

void HubConnection::Feed(const char* data, size_t len) {
  size_t off = 0;
  while (off < len && !closed_) {
    off += parser_.Feed(data + off, len - off);
    if (parser_.error() != HttpParser::Error::kNone) {
      if (parser_.error() == HttpParser::Error::kBodyRejected) return;
      bool big = parser_.error() == HttpParser::Error::kHeadersTooLarge;
      Reject(big ? 431 : 400, big ? parser_.error_reason() : "malformed HTTP request: " + parser_.error_reason());
      return;
    }
    if (parser_.paused()) {
      if (off < len) held_input_.append(data + off, len - off);
      // Run the request outside llhttp's callbacks: it may finish at once
      // and resume the parser for the next one.
      if (ex_) ex_->Run();
      return;
    }
  }
}

void HubConnection::Reject(int status, const std::string& message) {
  ApiFormat f = ApiFormatForPath(parser_.request().Path());
  Write(SimpleResponse(status, "application/json", ApiErrorBody(f, status, message), nullptr, false));
  ex_.reset();
  stream_->Shutdown();
  closed_ = true;
}

bool HubConnection::OnHead() {
  const RequestHead& req = parser_.request();
  if (via_edge_listener_ && !admitted_by_cert_) {
    const std::string* token = req.headers.Get("X-Tether-Edge-Token");
    bool ok = false;
    if (token)
      for (const std::string& t : server_->config().edge_tokens) ok = ok || SecretEquals(*token, t);
    if (!ok) {
      ++server_->stats().rejected_unadmitted;
      LogWarn("hub", "refused a request from " + stream_->peer_address() + ": no valid edge credential");
      Reject(401, "this port admits Tether edges only (client certificate or edge token required)");
      return false;
    }
    if (!admitted_edge_) {
      admitted_edge_ = true;
      ++server_->stats().edge_connections;
    }
  }
  ++server_->stats().requests_total;
  ++server_->stats().requests_in_flight;
  ex_ = std::make_unique<GatewayExchange>(this, parser_.TakeRequest());
  return true;
}

bool HubConnection::OnBody(std::string_view data) { return ex_ && ex_->AddBody(data); }

void HubConnection::OnComplete() {}  // Feed() runs the exchange once the parser pauses

void HubConnection::ExchangeDone(bool close_connection) {
  --server_->stats().requests_in_flight;
  // The exchange may be inside its own callback; free it on the next turn.
  DeleteSoon(server_->loop(), ex_.release());
  if (close_connection || !parser_.keep_alive() || parser_.in_message()) {
    stream_->Shutdown();
    closed_ = true;
    return;
  }
  parser_.Resume();
  stream_->ResumeReading();
  if (!held_input_.empty()) {
    std::string input = std::move(held_input_);
    held_input_.clear();
    Feed(input.data(), input.size());
  }
}

void HubConnection::OnStreamDrained(Stream*) {
  if (ex_) ex_->OnClientDrained();
}

void HubConnection::OnStreamEof(Stream* s) {
  // An edge half-closing mid-request is gone; cancel and close.
  s->Close();
}

void HubConnection::OnStreamClosed(Stream*, const Status& why) {
  closed_ = true;
  if (ex_ && !ex_->finished()) {
    ex_->Cancel();
    --server_->stats().requests_in_flight;
  }
  ex_.reset();
  if (!why.ok()) LogDebug("hub", "connection from " + stream_->peer_address() + " closed: " + why.message());
  delete this;
}

}  // namespace tether
