#include "hub/upstream/upstream_client.h"

#include <algorithm>

#include "common/log.h"

namespace tether {

// Watches idle pooled connections: any byte or EOF retires them.
class UpstreamClient::IdleConn : public StreamHandler {
 public:
  explicit IdleConn(UpstreamClient* client) : client_(client) {}
  void OnStreamData(Stream* s, const char*, size_t) override { s->Close(); }
  void OnStreamEof(Stream* s) override { s->Close(); }
  void OnStreamClosed(Stream* s, const Status&) override {
    for (auto& [origin, list] : client_->idle_) std::erase(list, s);
  }

 private:
  UpstreamClient* client_;
};

constexpr size_t kMaxIdlePerOrigin = 64;

UpstreamCall::UpstreamCall(UpstreamClient* client, UpstreamTarget target, std::string request, bool head_request,
                           UpstreamHandler* handler)
    : client_(client),
      target_(std::move(target)),
      request_(std::move(request)),
      handler_(handler),
      head_request_(head_request),
      parser_(HttpParser::Kind::kResponse, HttpLimits{256 * 1024, 256},
              HttpParser::Callbacks{[this] {
                                      if (parser_.response().status < 200) return true;
                                      started_ = true;
                                      if (handler_) handler_->OnUpstreamHead(parser_.response());
                                      return !finished_;
                                    },
                                    [this](std::string_view d) {
                                      if (handler_) handler_->OnUpstreamBody(d);
                                      return !finished_;
                                    },
                                    [this] {}}) {}

std::string UpstreamTarget::PoolKey() const {
  if (!proxy) return Origin();
  const ProxyUrl& p = *proxy;
  return Origin() + " via " + (p.kind == ProxyKind::kHttp ? "http://" : "socks5://") + p.username + ":" + p.password +
         "@" + p.host + ":" + std::to_string(p.port);
}

void UpstreamCall::Begin(Stream* stream, bool reused, bool tunnel) {
  stream_ = stream;
  reused_ = reused;
  stream_->set_handler(this);
  parser_.Reset();
  if (head_request_) parser_.ExpectNoBody();
  if (reused) stream_->ResumeReading();
  if (tunnel) {
    // The request waits for the tunnel (and TLS through it).
    phase_ = Phase::kProxyConnect;
    handshake_ = std::make_unique<ProxyHandshake>(*target_.proxy, target_.host, target_.port);
    handshake_failed_ = false;
    return;
  }
  phase_ = Phase::kReady;
  stream_->Write(request_);
}

void UpstreamCall::OnStreamOpen(Stream* s) {
  if (phase_ == Phase::kTunnelTls) {  // TLS to the provider is up inside the tunnel
    phase_ = Phase::kReady;
    return;
  }
  if (phase_ != Phase::kProxyConnect) return;
  phase_ = Phase::kProxyHandshake;
  ProxyHandshake::Step step = handshake_->Start();
  if (!step.error.ok()) {
    handshake_failed_ = true;
    s->CloseWithError(step.error);
    return;
  }
  s->Write(std::move(step.send));
}

void UpstreamCall::OnStreamData(Stream* s, const char* data, size_t len) {
  if (phase_ == Phase::kProxyHandshake) OnTunnelData(s, data, len);
  else ParseResponse(s, data, len);
}

void UpstreamCall::OnTunnelData(Stream* s, const char* data, size_t len) {
  ProxyHandshake::Step step = handshake_->Feed(std::string_view(data, len));
  if (!step.error.ok()) {
    handshake_failed_ = true;
    s->CloseWithError(step.error);
    return;
  }
  if (!step.send.empty()) s->Write(std::move(step.send));
  if (!step.done) return;
  handshake_.reset();
  if (target_.tls) {
    if (!client_->tls_) {
      s->CloseWithError(Status::Error("no TLS context for " + target_.Origin()));
      return;
    }
    phase_ = Phase::kTunnelTls;
    if (Status st = s->StartTls(client_->tls_.get(), target_.host, std::move(step.leftover)); !st.ok()) {
      s->CloseWithError(st);
      return;
    }
    s->Write(request_);  // queued until the TLS handshake completes
    return;
  }
  phase_ = Phase::kReady;
  s->Write(request_);
  // A plain provider cannot answer before the request; parse anything anyway.
  if (!step.leftover.empty()) ParseResponse(s, step.leftover.data(), step.leftover.size());
}

void UpstreamCall::ParseResponse(Stream* s, const char* data, size_t len) {
  size_t off = 0;
  while (off < len) {
    size_t n = parser_.Feed(data + off, len - off);
    off += n;
    if (finished_) return;
    if (parser_.error() != HttpParser::Error::kNone) {
      s->CloseWithError(Status::Error("invalid HTTP response from " + target_.Origin() + ": " + parser_.error_reason()));
      return;
    }
    if (parser_.paused()) {
      if (parser_.response().status < 200) {  // interim response; the real one follows
        parser_.Reset();
        continue;
      }
      bool reusable = parser_.keep_alive() && off == len;
      Done(reusable);
      return;
    }
  }
}

void UpstreamCall::OnStreamEof(Stream* s) {
  if (phase_ == Phase::kProxyHandshake) {
    s->CloseWithError(Status::Error("the proxy closed the connection during the handshake"));
    return;
  }
  if (!finished_ && started_ && parser_.framing() == BodyFraming::kUntilClose) {
    parser_.FeedEof();
    Done(false);
    return;
  }
  s->CloseWithError(Status::Error(std::string("provider ") + target_.Origin() +
                                  (started_ ? " closed the connection mid-response" : " closed the connection without a response")));
}

void UpstreamCall::OnStreamClosed(Stream*, const Status& why) {
  stream_ = nullptr;
  if (finished_) return;
  if (!started_ && reused_ && !retried_) {
    // A pooled connection the provider had already closed: retry once.
    retried_ = true;
    reused_ = false;
    client_->Connect(this);
    return;
  }
  Status error = why.ok() ? Status::Error("connection to " + target_.Origin() + " closed") : why;
  if (target_.proxy && !started_ && !handshake_failed_) {
    // Name the route; the handshake's own errors already name the proxy.
    // The password never appears (RedactedProxyUrl).
    std::string via = RedactedProxyUrl(*target_.proxy);
    error = Status::Error(phase_ == Phase::kProxyConnect || phase_ == Phase::kProxyHandshake
                              ? "proxy " + via + ": " + error.message()
                              : target_.Origin() + " via proxy " + via + ": " + error.message());
  }
  Fail(error);
}

void UpstreamCall::Fail(const Status& why) {
  if (finished_) return;
  finished_ = true;
  UpstreamHandler* h = handler_;
  handler_ = nullptr;
  if (h) h->OnUpstreamError(why, started_);
  client_->Finished(this);
}

void UpstreamCall::Done(bool reusable) {
  if (finished_) return;
  finished_ = true;
  Stream* s = stream_;
  stream_ = nullptr;
  if (s) {
    if (reusable) client_->PutIdle(target_.PoolKey(), s);
    else {
      s->set_handler(nullptr);
      s->Close();
    }
  }
  UpstreamHandler* h = handler_;
  handler_ = nullptr;
  if (h) h->OnUpstreamComplete();
  client_->Finished(this);
}

void UpstreamCall::Cancel() {
  if (finished_) return;
  finished_ = true;
  handler_ = nullptr;
  if (stream_) {
    Stream* s = stream_;
    stream_ = nullptr;
    s->set_handler(nullptr);
    s->Close();
  }
  client_->Finished(this);
}

void UpstreamCall::PauseReading() {
  if (stream_) stream_->PauseReading();
}
void UpstreamCall::ResumeReading() {
  if (stream_) stream_->ResumeReading();
}

UpstreamClient::UpstreamClient(uv_loop_t* loop) : loop_(loop) { idle_handler_ = std::make_unique<IdleConn>(this); }

UpstreamClient::~UpstreamClient() {
  for (auto& [origin, list] : idle_)
    for (Stream* s : std::vector<Stream*>(list)) {
      s->set_handler(nullptr);
      s->Close();
    }
}

Status UpstreamClient::Init() {
  TlsClientOptions o;
  o.system_ca = true;
  auto ctx = TlsContext::NewClient(o);
  if (!ctx.ok()) return Status::Error("upstream TLS: " + ctx.status().message());
  tls_ = std::move(ctx.value());
  return Status::Ok();
}

int UpstreamClient::idle_connections() const {
  int n = 0;
  for (const auto& [o, l] : idle_) n += static_cast<int>(l.size());
  return n;
}

Stream* UpstreamClient::TakeIdle(const std::string& origin) {
  auto it = idle_.find(origin);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  Stream* s = it->second.back();  // most recently used first
  it->second.pop_back();
  return s;
}

void UpstreamClient::PutIdle(const std::string& origin, Stream* s) {
  auto& list = idle_[origin];
  if (list.size() >= kMaxIdlePerOrigin) {
    s->set_handler(nullptr);
    s->Close();
    return;
  }
  s->set_handler(idle_handler_.get());
  list.push_back(s);
}

UpstreamCall* UpstreamClient::Start(const UpstreamTarget& target, std::string request, bool head_request,
                                    UpstreamHandler* handler) {
  auto* call = new UpstreamCall(this, target, std::move(request), head_request, handler);
  ++active_;
  if (Stream* s = TakeIdle(target.PoolKey())) call->Begin(s, true, false);
  else Connect(call);
  return call;
}

void UpstreamClient::Connect(UpstreamCall* call) {
  const UpstreamTarget& t = call->target_;
  if (t.proxy) {
    // Plain TCP to the proxy; TLS to the provider starts once the tunnel is open.
    Stream* s = Stream::Connect(loop_, t.proxy->host, t.proxy->port, nullptr, t.proxy->host, call);
    call->Begin(s, false, true);
    return;
  }
  Stream* s = Stream::Connect(loop_, t.host, t.port, t.tls ? tls_.get() : nullptr, t.host, call);
  call->Begin(s, false, false);
}

void UpstreamClient::Finished(UpstreamCall* call) {
  --active_;
  // Deleted once the current callbacks return: we may be inside one of its own.
  DeleteSoon(loop_, call);
}

}  // namespace tether
