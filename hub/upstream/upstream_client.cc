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

void UpstreamCall::Begin(Stream* stream, bool reused) {
  stream_ = stream;
  reused_ = reused;
  stream_->set_handler(this);
  parser_.Reset();
  if (head_request_) parser_.ExpectNoBody();
  if (reused) stream_->ResumeReading();
  stream_->Write(request_);
}

void UpstreamCall::OnStreamOpen(Stream*) {}

void UpstreamCall::OnStreamData(Stream* s, const char* data, size_t len) {
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
  Fail(why.ok() ? Status::Error("connection to " + target_.Origin() + " closed") : why);
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
    if (reusable) client_->PutIdle(target_.Origin(), s);
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
  if (Stream* s = TakeIdle(target.Origin())) call->Begin(s, true);
  else Connect(call);
  return call;
}

void UpstreamClient::Connect(UpstreamCall* call) {
  const UpstreamTarget& t = call->target_;
  Stream* s = Stream::Connect(loop_, t.host, t.port, t.tls ? tls_.get() : nullptr, t.host, call);
  call->Begin(s, false);
}

void UpstreamClient::Finished(UpstreamCall* call) {
  --active_;
  // Deleted on the next loop turn: we may be inside one of its callbacks.
  auto* idle = new uv_idle_t;
  idle->data = call;
  uv_idle_init(loop_, idle);
  uv_idle_start(idle, [](uv_idle_t* h) noexcept {
    delete static_cast<UpstreamCall*>(h->data);
    uv_idle_stop(h);
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* x) noexcept { delete reinterpret_cast<uv_idle_t*>(x); });
  });
}

}  // namespace tether
