#include "edge/client_connection.h"

#include "common/log.h"
#include "common/metrics.h"
#include "edge/edge_server.h"

namespace tether {
namespace {

// A request whose pooled link dies before any response byte is retried once;
// that needs its bytes, so small requests are kept until the response starts.
constexpr size_t kRetainLimit = 4 * 1024 * 1024;
// Body bytes buffered while no link is attached, before the client is paused.
constexpr size_t kPendingLimit = 1024 * 1024;
constexpr uint64_t kTimerSlackMs = 50;

HttpLimits LimitsFrom(const EdgeConfig& c) {
  HttpLimits l;
  l.max_header_bytes = c.max_header_bytes;
  return l;
}

}  // namespace

ClientConnection::ClientConnection(EdgeServer* server, Stream* stream)
    : server_(server),
      client_(stream),
      parser_(HttpParser::Kind::kRequest, LimitsFrom(server->config()),
              HttpParser::Callbacks{[this] { return OnRequestHead(); },
                                    [this](std::string_view d) { return OnRequestBody(d); },
                                    [this] { OnRequestComplete(); }}) {
  client_->set_handler(this);
  uv_timer_init(server_->loop(), &timer_);
  timer_.data = this;
  last_activity_ms_ = NowMs();
  ++server_->stats().connections_total;
  ++server_->stats().connections_open;
  ArmTimer(static_cast<uint64_t>(server_->config().header_timeout_sec) * 1000);
}

ClientConnection::~ClientConnection() { --server_->stats().connections_open; }

void ClientConnection::ArmTimer(uint64_t ms) { uv_timer_start(&timer_, OnTimer, ms + kTimerSlackMs, 0); }

void ClientConnection::OnTimer(uv_timer_t* t) noexcept { static_cast<ClientConnection*>(t->data)->OnTimeout(); }

void ClientConnection::OnTimeout() {
  if (client_closed_) return;
  const EdgeConfig& c = server_->config();
  uint64_t now = NowMs();
  if (!ex_) {
    // Between requests, or waiting for a head: idle or header timeout.
    uint64_t limit = static_cast<uint64_t>(parser_.in_message() ? c.header_timeout_sec : c.client_idle_timeout_sec) * 1000;
    if (requests_on_connection_ == 0) limit = static_cast<uint64_t>(c.header_timeout_sec) * 1000;
    if (now - last_activity_ms_ + kTimerSlackMs >= limit) {
      if (parser_.in_message()) FailRequest(408, "request header not received in time", true);
      else client_->Close();
      return;
    }
    ArmTimer(limit - (now - last_activity_ms_));
    return;
  }
  EdgeExchange& x = *ex_;
  if (x.local || x.response_done) return;
  if (!x.response_started) {
    uint64_t limit = static_cast<uint64_t>(c.first_byte_timeout_sec) * 1000;
    if (now - x.started_ms + kTimerSlackMs >= limit) {
      DropLink(false);
      server_->pool().CancelWait(this);
      FailRequest(504, "the hub sent no response within " + std::to_string(c.first_byte_timeout_sec) + " s", true);
      return;
    }
    ArmTimer(limit - (now - x.started_ms));
    return;
  }
  uint64_t limit = static_cast<uint64_t>(c.upstream_idle_timeout_sec) * 1000;
  if (now - x.last_upstream_ms + kTimerSlackMs >= limit) {
    LogWarn("edge", "request " + x.request_id + ": upstream idle for " + std::to_string(c.upstream_idle_timeout_sec) + " s, closing");
    DropLink(false);
    client_->Close();
    return;
  }
  ArmTimer(limit - (now - x.last_upstream_ms));
}

void ClientConnection::OnStreamData(Stream*, const char* data, size_t len) {
  server_->stats().bytes_from_clients += len;
  last_activity_ms_ = NowMs();
  if (!held_input_.empty() || parser_.paused()) {
    held_input_.append(data, len);
    // A client that pipelines without waiting is paused, not buffered without bound.
    if (held_input_.size() > kPendingLimit) client_->PauseReading();
    return;
  }
  Feed(data, len);
}

void ClientConnection::Feed(const char* data, size_t len) {
  size_t off = 0;
  while (off < len && !client_closed_ && !client_->closing()) {
    size_t n = parser_.Feed(data + off, len - off);
    off += n;
    if (parser_.error() != HttpParser::Error::kNone) {
      if (parser_.error() == HttpParser::Error::kBodyRejected) return;  // already answered
      if (ex_ && ex_->response_head_sent) {
        client_->Close();
        return;
      }
      ex_.reset();
      bool too_large = parser_.error() == HttpParser::Error::kHeadersTooLarge;
      FailRequest(too_large ? 431 : 400,
                  too_large ? parser_.error_reason() : "malformed HTTP request: " + parser_.error_reason(), true);
      return;
    }
    if (parser_.paused()) {
      if (off < len) {
        held_input_.append(data + off, len - off);
        if (held_input_.size() > kPendingLimit) client_->PauseReading();
      }
      AfterRequestComplete();
      return;
    }
  }
}

bool ClientConnection::OnRequestHead() {
  const RequestHead& req = parser_.request();
  const EdgeConfig& c = server_->config();
  ex_ = std::make_unique<EdgeExchange>();
  EdgeExchange& x = *ex_;
  ++requests_on_connection_;
  x.started_ms = NowMs();
  x.format = ApiFormatForPath(req.Path());
  const std::string* rid = req.headers.Get("X-Request-Id");
  x.request_id = rid && !rid->empty() && rid->size() <= 200 && !HasForbiddenHeaderBytes(*rid) ? *rid : server_->NewRequestId();
  // Local answers (/debug/info among them) are built before this request
  // counts as in flight, so an idle edge reports 0, not itself.
  std::string local = server_->LocalResponse(req, client_->peer_address());
  ++server_->stats().requests_total;
  ++server_->stats().requests_in_flight;
  if (!local.empty()) {
    x.local = true;
    x.local_response = std::move(local);
    return true;
  }
  for (const auto& [k, v] : req.headers.list()) {
    if (HasForbiddenHeaderBytes(v)) {
      FailRequest(400, "header " + k + " contains a forbidden character", true);
      return false;
    }
  }
  if (parser_.framing() == BodyFraming::kLength && parser_.content_length() > c.max_body_bytes) {
    FailRequest(413, "request body of " + std::to_string(parser_.content_length()) + " bytes exceeds the limit of " +
                         std::to_string(c.max_body_bytes) + " bytes", true);
    return false;
  }
  // The hub-bound head, written straight into its bytes: the client's
  // headers unchanged but for hop-by-hop ones, plus forwarding headers per
  // the design, the edge token last.
  std::string& head = x.head_bytes;
  head.reserve(256 + req.target.size() + req.headers.size() * 64);
  head.append(req.method).append(" ").append(req.target).append(" HTTP/1.1\r\n");
  auto add = [&head](std::string_view k, std::string_view v) { head.append(k).append(": ").append(v).append("\r\n"); };
  std::string forwarded_for;
  bool expect_continue = false;
  for (const auto& [k, v] : req.headers.list()) {
    if (IsHopByHopHeader(k) || EqualsIgnoreCase(k, "Content-Length") || EqualsIgnoreCase(k, "X-Request-Id") ||
        EqualsIgnoreCase(k, "X-Real-IP") || EqualsIgnoreCase(k, "X-Forwarded-Proto") ||
        EqualsIgnoreCase(k, "X-Tether-Edge-Token"))
      continue;
    if (EqualsIgnoreCase(k, "Expect")) {
      expect_continue = EqualsIgnoreCase(v, "100-continue");
      continue;
    }
    if (EqualsIgnoreCase(k, "X-Forwarded-For")) {
      forwarded_for = forwarded_for.empty() ? v : forwarded_for + ", " + v;
      continue;
    }
    add(k, v);
  }
  const std::string& ip = client_->peer_address();
  add("X-Forwarded-For", forwarded_for.empty() ? ip : forwarded_for + ", " + ip);
  add("X-Real-IP", ip);
  add("X-Forwarded-Proto", c.tls_cert.empty() ? "http" : "https");
  add("X-Request-Id", x.request_id);
  if (parser_.framing() == BodyFraming::kChunked) {
    add("Transfer-Encoding", "chunked");
    x.request_chunked = true;
  } else if (parser_.framing() == BodyFraming::kLength) {
    add("Content-Length", std::to_string(parser_.content_length()));
  }
  head.append(server_->pool().edge_token_header());  // "X-Tether-Edge-Token: …\r\n" or empty
  head.append("\r\n");
  x.retained = x.head_bytes;
  if (expect_continue) client_->Write("HTTP/1.1 100 Continue\r\n\r\n");

  uv_timer_stop(&timer_);
  ArmTimer(static_cast<uint64_t>(c.first_byte_timeout_sec) * 1000);
  HubLink* link = server_->pool().Acquire(this);
  if (link) StartOnLink(link);
  else x.waiting = true;
  return true;
}

bool ClientConnection::OnRequestBody(std::string_view data) {
  if (!ex_ || ex_->local) return true;
  EdgeExchange& x = *ex_;
  x.body_bytes += data.size();
  if (x.body_bytes > server_->config().max_body_bytes) {
    if (x.response_head_sent) {
      client_->Close();
    } else {
      DropLink(false);
      server_->pool().CancelWait(this);
      FailRequest(413, "request body exceeds the limit of " + std::to_string(server_->config().max_body_bytes) + " bytes", true);
    }
    return false;
  }
  std::string framed;
  if (x.request_chunked) AppendChunk(&framed, data);
  else framed.assign(data);
  SendToLink(std::move(framed));
  return true;
}

void ClientConnection::OnRequestComplete() {
  if (!ex_) return;
  EdgeExchange& x = *ex_;
  x.request_done = true;
  if (!x.local && x.request_chunked) SendToLink(std::string(kLastChunk));
}

// Runs after Feed() returns from llhttp, never inside its callbacks, because
// finishing an exchange resumes the parser.
void ClientConnection::AfterRequestComplete() {
  if (!ex_) return;
  EdgeExchange& x = *ex_;
  if (x.local && !x.response_done) {
    server_->stats().bytes_to_clients += x.local_response.size();
    client_->Write(std::move(x.local_response));
    x.response_done = true;
  }
  FinishExchange();  // the hub may have answered before the request ended
}

void ClientConnection::SendToLink(std::string data) {
  EdgeExchange& x = *ex_;
  if (x.retain_ok && !x.response_started) {
    if (x.retained.size() + data.size() <= kRetainLimit) x.retained.append(data);
    else {
      x.retain_ok = false;
      x.retained.clear();
      x.retained.shrink_to_fit();
    }
  }
  if (x.link) {
    x.link->Write(std::move(data));
    if (x.link->over_high_water()) client_->PauseReading();
  } else {
    x.pending.append(data);
    if (x.pending.size() > kPendingLimit) client_->PauseReading();
  }
}

void ClientConnection::StartOnLink(HubLink* link) {
  EdgeExchange& x = *ex_;
  x.waiting = false;
  x.link = link;
  server_->pool().Attach(link, this);
  x.response_parser = std::make_unique<HttpParser>(
      HttpParser::Kind::kResponse, HttpLimits{},
      HttpParser::Callbacks{[this] { return OnResponseHead(); },
                            [this](std::string_view d) { return OnResponseBody(d); },
                            [this] { OnResponseComplete(); }});
  if (EqualsIgnoreCase(parser_.request().method, "HEAD")) x.response_parser->ExpectNoBody();
  if (x.retried) {
    link->Write(x.retained);
  } else {
    link->Write(x.head_bytes);
    if (!x.pending.empty()) link->Write(std::move(x.pending));
  }
  x.pending.clear();
  x.head_bytes.clear();
  if (!link->over_high_water()) client_->ResumeReading();
}

void ClientConnection::OnLinkGranted(HubLink* link) {
  if (!ex_ || client_closed_) {
    server_->pool().Release(link, true);
    return;
  }
  StartOnLink(link);
}

void ClientConnection::OnLinkUnavailable(const Status& why) {
  if (!ex_) return;
  ex_->waiting = false;
  LogWarn("edge", "request " + ex_->request_id + ": " + why.message());
  // The pool says which: no hub reachable, or every link (pool.max) busy
  // for pool.queue_timeout_sec.
  FailRequest(503, "the relay has no hub link for this request: " + why.message() + "; retry shortly", true);
}

void ClientConnection::OnLinkData(HubLink* link, const char* data, size_t len) {
  if (!ex_ || ex_->link != link) return;
  EdgeExchange& x = *ex_;
  x.response_started = true;
  x.last_upstream_ms = NowMs();
  if (x.retain_ok) {
    x.retain_ok = false;
    x.retained.clear();
    x.retained.shrink_to_fit();
  }
  HttpParser& p = *x.response_parser;
  size_t used = p.Feed(data, len);
  if (!ex_) return;
  if (p.error() != HttpParser::Error::kNone) {
    LogWarn("edge", "request " + x.request_id + ": bad response from hub: " + p.error_reason());
    DropLink(false);
    if (!x.response_head_sent) FailRequest(502, "the hub sent an invalid response", true);
    else client_->Close();
    return;
  }
  // Bytes after a complete response mean the link is out of step: drop it.
  if (x.response_done) AfterResponseComplete(p.keep_alive() && used == len);
}

bool ClientConnection::OnResponseHead() {
  EdgeExchange& x = *ex_;
  const ResponseHead& in = x.response_parser->response();
  if (in.status < 200) return true;  // 1xx interim: llhttp reports them; nothing to relay but 100 handled above
  ResponseHead out;
  out.status = in.status;
  out.reason = in.reason;
  x.status = in.status;
  bool has_request_id = false;
  for (const auto& [k, v] : in.headers.list()) {
    if (IsHopByHopHeader(k) || EqualsIgnoreCase(k, "Content-Length")) continue;
    if (EqualsIgnoreCase(k, "X-Request-Id")) has_request_id = true;
    out.headers.Add(k, v);
  }
  if (!has_request_id) out.headers.Add("X-Request-Id", x.request_id);
  bool client_keep_alive = parser_.keep_alive();
  BodyFraming f = x.response_parser->framing();
  bool head_request = EqualsIgnoreCase(parser_.request().method, "HEAD");
  if (f == BodyFraming::kLength || (head_request && in.headers.Get("Content-Length"))) {
    out.headers.Add("Content-Length", head_request ? std::string(in.headers.GetOr("Content-Length", "0"))
                                                   : std::to_string(x.response_parser->content_length()));
  } else if (f == BodyFraming::kNone) {
    if (in.status != 204 && in.status != 304) out.headers.Add("Content-Length", "0");
  } else if (parser_.request().version_minor >= 1) {
    out.headers.Add("Transfer-Encoding", "chunked");
    x.response_chunked = true;
  } else {
    client_keep_alive = false;  // HTTP/1.0 client: the body ends at close
  }
  if (!client_keep_alive) out.headers.Add("Connection", "close");
  x.response_close = !client_keep_alive;
  std::string head = SerializeResponseHead(out);
  server_->stats().bytes_to_clients += head.size();
  client_->Write(std::move(head));
  x.response_head_sent = true;
  return true;
}

bool ClientConnection::OnResponseBody(std::string_view data) {
  EdgeExchange& x = *ex_;
  std::string framed;
  if (x.response_chunked) AppendChunk(&framed, data);
  else framed.assign(data);
  server_->stats().bytes_to_clients += framed.size();
  client_->Write(std::move(framed));
  // Slow client: stop reading from the hub until the client drains.
  if (client_->over_high_water() && x.link) x.link->PauseReading();
  return true;
}

// Inside llhttp's callback: only record completion. The exchange (and this
// parser with it) is finished by AfterResponseComplete once Feed() returns.
void ClientConnection::OnResponseComplete() {
  EdgeExchange& x = *ex_;
  if (x.response_parser->response().status < 200) {
    x.response_parser->Resume();  // an interim response; the real one follows
    return;
  }
  if (x.response_chunked) {
    client_->Write(std::string(kLastChunk));
    server_->stats().bytes_to_clients += kLastChunk.size();
  }
  x.response_done = true;
}

void ClientConnection::AfterResponseComplete(bool link_reusable) {
  EdgeExchange& x = *ex_;
  // The link is reusable only if the hub will keep it and it has read the
  // whole request.
  DropLink(link_reusable && x.request_done);
  if (!x.request_done) x.response_close = true;
  FinishExchange();
}

void ClientConnection::OnLinkDrained(HubLink*) {
  if (ex_ && !ex_->request_done) client_->ResumeReading();
}

void ClientConnection::OnStreamDrained(Stream*) {
  if (ex_ && ex_->link) ex_->link->ResumeReading();
}

void ClientConnection::OnLinkClosed(HubLink* link, const Status& why) {
  if (!ex_ || ex_->link != link) return;
  EdgeExchange& x = *ex_;
  x.link = nullptr;
  if (x.response_done) return;
  // A response cut short with read-until-close framing is complete at EOF.
  if (x.response_started && x.response_parser && x.response_parser->framing() == BodyFraming::kUntilClose &&
      x.response_head_sent) {
    x.response_parser->FeedEof();
    if (x.response_done) {
      AfterResponseComplete(false);
      return;
    }
  }
  if (!x.response_started && !x.retried && x.retain_ok && link->reused()) {
    // The pooled link died before answering: retry once on a fresh one.
    x.retried = true;
    ++server_->stats().retries;
    LogInfo("edge", "request " + x.request_id + ": hub link failed before response (" + why.message() +
                        "), retrying on a fresh connection");
    HubLink* fresh = server_->pool().Acquire(this, true);
    if (fresh) StartOnLink(fresh);
    else x.waiting = true;
    return;
  }
  LogWarn("edge", "request " + x.request_id + ": hub link lost: " + why.message());
  if (!x.response_head_sent) {
    FailRequest(502, "the connection to the hub was lost before a response arrived", true);
  } else {
    // Mid-stream: a chunked response without its last chunk tells the client
    // it was cut; nothing else can be said in-band at this layer.
    client_->Close();
  }
}

void ClientConnection::DropLink(bool reusable) {
  if (!ex_ || !ex_->link) return;
  HubLink* link = ex_->link;
  ex_->link = nullptr;
  server_->pool().Release(link, reusable);
}

void ClientConnection::FailRequest(int status, const std::string& message, bool close_after) {
  ++server_->stats().requests_failed;
  ApiFormat format = ex_ ? ex_->format : ApiFormat::kOpenAIChat;
  Headers extra;
  if (ex_) extra.Add("X-Request-Id", ex_->request_id);
  if (status == 503) extra.Add("Retry-After", "1");
  std::string body = ApiErrorBody(format, status, message);
  std::string resp = SimpleResponse(status, "application/json", body, &extra, !close_after);
  server_->stats().bytes_to_clients += resp.size();
  client_->Write(std::move(resp));
  if (ex_) {
    DropLink(false);
    if (ex_->waiting) server_->pool().CancelWait(this);
    ex_->response_done = true;
    ex_->response_close = close_after;
  }
  if (close_after) {
    if (ex_) {
      --server_->stats().requests_in_flight;
      ex_.reset();
    }
    client_->Shutdown();
    uv_timer_stop(&timer_);
    // Give the error a moment to flush, then close for good.
    uv_timer_start(&timer_, [](uv_timer_t* t) noexcept {
      auto* self = static_cast<ClientConnection*>(t->data);
      if (!self->client_closed_) self->client_->Close();
    }, 2000, 0);
    return;
  }
  FinishExchange();
}

void ClientConnection::FinishExchange() {
  if (!ex_ || !ex_->response_done || !ex_->request_done) return;
  bool close = ex_->response_close;
  --server_->stats().requests_in_flight;
  ex_.reset();
  if (close) {
    client_->Shutdown();
    return;
  }
  last_activity_ms_ = NowMs();
  uv_timer_stop(&timer_);
  ArmTimer(static_cast<uint64_t>(server_->config().client_idle_timeout_sec) * 1000);
  parser_.Resume();
  client_->ResumeReading();
  if (!held_input_.empty()) {
    std::string input = std::move(held_input_);
    held_input_.clear();
    Feed(input.data(), input.size());
  }
}

void ClientConnection::OnStreamEof(Stream* s) {
  // The client's FIN. HTTP clients close rather than half-close, and a
  // client that gives up on a slow answer (an IDE's stop button) must not
  // leave the provider generating, and billing, until it finishes: the
  // request is cancelled, like an abort mid-stream.
  s->Close();
}

void ClientConnection::OnStreamClosed(Stream*, const Status&) {
  client_closed_ = true;
  if (ex_) {
    // Client gone mid-exchange: cancel the hub request by closing its link.
    if (ex_->waiting) server_->pool().CancelWait(this);
    DropLink(false);
    --server_->stats().requests_in_flight;
    ex_.reset();
  }
  server_->ReleaseConnection(client_->peer_address());
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) noexcept {
    auto* self = static_cast<ClientConnection*>(h->data);
    self->timer_closed_ = true;
    self->MaybeFree();
  });
}

void ClientConnection::MaybeFree() {
  if (client_closed_ && timer_closed_) delete this;
}

}  // namespace tether
