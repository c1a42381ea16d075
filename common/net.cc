#include "common/net.h"

#include <cstring>

#include "common/log.h"

namespace tether {
namespace {

// One read buffer per loop thread: a read is handled to completion before the
// next is allocated, so connections need not carry 64 KiB each.
thread_local char g_read_buf[64 * 1024];
// Bytes queued on every open stream of this thread, for drain decisions.
thread_local uint64_t g_total_queued = 0;

struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

// Streams written to during this loop iteration. A prepare handle (before the
// loop blocks in poll) and a check handle (right after poll's callbacks)
// flush them, so writes from timers and from I/O callbacks alike leave in the
// same iteration, coalesced. One per thread, like the loop.
struct WriteCoalescer {
  uv_prepare_t prepare;
  uv_check_t check;
  std::vector<Stream*> dirty;
  std::vector<Stream*> flushing;
  // DeleteAfterCallbacks: run once the callback that queued them returned.
  std::vector<std::pair<void*, void (*)(void*)>> doomed, dooming;
  int handles_closed = 0;

  explicit WriteCoalescer(uv_loop_t* loop) {
    uv_prepare_init(loop, &prepare);
    uv_check_init(loop, &check);
    prepare.data = check.data = this;
    // Unreferenced: they never keep the loop alive on their own.
    uv_unref(reinterpret_cast<uv_handle_t*>(&prepare));
    uv_unref(reinterpret_cast<uv_handle_t*>(&check));
    uv_prepare_start(&prepare, [](uv_prepare_t* h) noexcept { static_cast<WriteCoalescer*>(h->data)->FlushAll(); });
    uv_check_start(&check, [](uv_check_t* h) noexcept { static_cast<WriteCoalescer*>(h->data)->FlushAll(); });
  }
  void FlushAll() {
    FlushLogLines();
    flushing.swap(dirty);
    for (Stream* s : flushing) {
      if (!s) continue;  // destroyed after being marked
      s->dirty_ = false;
      s->Flush();
    }
    flushing.clear();
    // Objects queued while these run wait for the next phase.
    dooming.swap(doomed);
    for (auto [object, deleter] : dooming) deleter(object);
    dooming.clear();
  }
  void Forget(Stream* s) {
    for (Stream*& d : dirty)
      if (d == s) d = nullptr;
    for (Stream*& d : flushing)
      if (d == s) d = nullptr;
  }
};

namespace {
thread_local WriteCoalescer* g_coalescer = nullptr;
thread_local uv_loop_t* g_coalescer_loop = nullptr;

}  // namespace

void CloseWriteCoalescer(uv_loop_t* loop) {
  if (g_coalescer_loop != loop || !g_coalescer) return;
  WriteCoalescer* c = g_coalescer;
  for (int i = 0; i < 8; ++i) {  // deletions may queue more
    c->FlushAll();
    if (c->doomed.empty()) break;
  }
  g_coalescer = nullptr;
  g_coalescer_loop = nullptr;
  // Freed after both handles are closed, in whichever order libuv runs the
  // close callbacks (it keeps closing handles on a stack).
  auto closed = [](uv_handle_t* h) noexcept {
    auto* coalescer = static_cast<WriteCoalescer*>(h->data);
    if (++coalescer->handles_closed == 2) delete coalescer;
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&c->prepare), closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->check), closed);
}

namespace {
WriteCoalescer* CoalescerFor(uv_loop_t* loop) {
  if (g_coalescer_loop != loop) {
    // A new loop on this thread (tests make several): the old handles belong
    // to a loop that has been closed, so the old coalescer is abandoned.
    g_coalescer = new WriteCoalescer(loop);
    g_coalescer_loop = loop;
  }
  return g_coalescer;
}
}  // namespace

void DeleteAfterCallbacks(uv_loop_t* loop, void* object, void (*deleter)(void*)) {
  CoalescerFor(loop)->doomed.emplace_back(object, deleter);
}

void BatchLogLinesOnLoop(uv_loop_t* loop) {
  CoalescerFor(loop);  // its prepare and check handles flush the lines
  BatchLogLines(true);
}

std::string UvError(int code) {
  return std::string(uv_err_name(code)) + " (" + uv_strerror(code) + ")";
}

void StreamHandler::OnStreamEof(Stream* stream) { stream->Close(); }

Stream::Stream(uv_loop_t* loop, StreamHandler* handler) : handler_(handler) {
  uv_tcp_init(loop, &tcp_);
  tcp_.data = this;
}

void Stream::AddQueued(int64_t delta) {
  queued_bytes_ = static_cast<size_t>(static_cast<int64_t>(queued_bytes_) + delta);
  g_total_queued = static_cast<uint64_t>(static_cast<int64_t>(g_total_queued) + delta);
}

uint64_t TotalQueuedBytes() { return g_total_queued; }

Stream::~Stream() {
  g_total_queued -= queued_bytes_;
  if (dirty_ && g_coalescer) g_coalescer->Forget(this);
}

Stream* Stream::Accept(uv_stream_t* listener, TlsContext* tls, StreamHandler* handler) {
  Stream* s = new Stream(listener->loop, handler);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&s->tcp_)) != 0) {
    s->state_ = State::kClosing;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp_), [](uv_handle_t* h) noexcept {
      delete static_cast<Stream*>(h->data);
    });
    return nullptr;
  }
  s->RecordPeer();
  uv_tcp_nodelay(&s->tcp_, 1);
  if (tls) {
    s->tls_ = std::make_unique<TlsSession>(tls, "");
    s->state_ = State::kHandshaking;
  } else {
    s->state_ = State::kOpen;
  }
  s->reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp_), OnAlloc, OnRead);
  return s;
}

Stream* Stream::Connect(uv_loop_t* loop, const std::string& host, int port, TlsContext* tls,
                        const std::string& server_name, StreamHandler* handler) {
  Stream* s = new Stream(loop, handler);
  s->connect_port_ = port;
  s->server_name_ = server_name.empty() ? host : server_name;
  if (tls) s->tls_ = std::make_unique<TlsSession>(tls, s->server_name_);
  s->state_ = State::kResolving;
  s->resolve_req_ = new uv_getaddrinfo_t;
  s->resolve_req_->data = s;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  std::string port_str = std::to_string(port);
  int rc = uv_getaddrinfo(loop, s->resolve_req_, OnResolved, host.c_str(), port_str.c_str(), &hints);
  if (rc != 0) {
    delete s->resolve_req_;
    s->resolve_req_ = nullptr;
    s->CloseWithError(Status::Error("resolve " + host + ": " + UvError(rc)));
  }
  return s;
}

void Stream::OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
  Stream* s = static_cast<Stream*>(req->data);
  delete req;
  if (!s) {  // the stream was closed while resolving
    uv_freeaddrinfo(res);
    return;
  }
  s->resolve_req_ = nullptr;
  if (s->state_ == State::kClosing) {
    uv_freeaddrinfo(res);
    return;
  }
  if (status != 0 || !res) {
    uv_freeaddrinfo(res);
    s->CloseWithError(Status::Error("resolve " + s->server_name_ + ": " + UvError(status)));
    return;
  }
  s->state_ = State::kConnecting;
  auto* creq = new uv_connect_t;
  creq->data = s;
  int rc = uv_tcp_connect(creq, &s->tcp_, res->ai_addr, OnConnect);
  uv_freeaddrinfo(res);
  if (rc != 0) {
    delete creq;
    s->CloseWithError(Status::Error("connect: " + UvError(rc)));
  }
}

void Stream::OnConnect(uv_connect_t* req, int status) noexcept {
  Stream* s = static_cast<Stream*>(req->data);
  delete req;
  if (status == UV_ECANCELED) return;  // closed while connecting; OnClosed handles the rest
  if (s->state_ == State::kClosing) return;
  if (status != 0) {
    s->CloseWithError(Status::Error("connect port " + std::to_string(s->connect_port_) + ": " + UvError(status)));
    return;
  }
  s->RecordPeer();
  uv_tcp_nodelay(&s->tcp_, 1);
  s->reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&s->tcp_), OnAlloc, OnRead);
  if (s->tls_) {
    s->state_ = State::kHandshaking;
    s->DriveHandshake();
  } else {
    s->BecomeOpen();
  }
}

void Stream::RecordPeer() {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
  char ip[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    uv_ip4_name(a, ip, sizeof ip);
    peer_port_ = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    uv_ip6_name(a, ip, sizeof ip);
    peer_port_ = ntohs(a->sin6_port);
  }
  peer_address_ = ip;
}

void Stream::DriveHandshake() {
  bool done = false;
  Status st = tls_->Handshake(&done);
  FlushTls();
  if (!st.ok()) {
    // Through a tunnel the peer address is the proxy's; name the server.
    const std::string& peer = peer_address_.empty() || tunnelled_tls_ ? server_name_ : peer_address_;
    CloseWithError(Status::Error("TLS handshake with " + peer + ": " + st.message()));
    return;
  }
  if (done) BecomeOpen();
}

void Stream::BecomeOpen() {
  state_ = State::kOpen;
  if (!pending_plain_.empty()) {
    std::string data = std::move(pending_plain_);
    pending_plain_.clear();
    AddQueued(-static_cast<int64_t>(data.size()));
    Write(std::move(data));
  }
  if (handler_) handler_->OnStreamOpen(this);
  // Application data may have arrived in the same read as the last handshake
  // record; deliver it now.
  if (state_ == State::kOpen && tls_) HandleRead(nullptr, 0);
}

Status Stream::StartTls(TlsContext* tls, const std::string& server_name, std::string leftover_ciphertext) {
  if (state_ != State::kOpen) return Status::Error("StartTls: the stream is not open");
  if (tls_) return Status::Error("StartTls: the stream already speaks TLS");
  if (!tls) return Status::Error("StartTls: no TLS context");
  Flush();  // plain bytes written so far (the proxy handshake) go out unencrypted
  server_name_ = server_name;
  tunnelled_tls_ = true;
  tls_ = std::make_unique<TlsSession>(tls, server_name_);
  state_ = State::kHandshaking;
  if (!leftover_ciphertext.empty()) tls_->PutCiphertext(leftover_ciphertext.data(), leftover_ciphertext.size());
  DriveHandshake();
  return Status::Ok();
}

void Stream::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) noexcept {
  buf->base = g_read_buf;
  buf->len = sizeof g_read_buf;
}

void Stream::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  Stream* s = static_cast<Stream*>(stream->data);
  if (nread > 0) {
    s->bytes_in_ += static_cast<uint64_t>(nread);
    s->HandleRead(buf->base, static_cast<size_t>(nread));
  } else if (nread == UV_EOF) {
    s->HandleEof();
  } else if (nread < 0) {
    s->CloseWithError(Status::Error("read: " + UvError(static_cast<int>(nread))));
  }
}

void Stream::HandleRead(const char* data, size_t len) {
  if (state_ == State::kClosing) return;
  if (!tls_) {
    if (handler_ && len) handler_->OnStreamData(this, data, len);
    return;
  }
  if (len) tls_->PutCiphertext(data, len);
  if (state_ == State::kHandshaking) {
    DriveHandshake();
    return;  // BecomeOpen re-enters for any application data
  }
  if (state_ != State::kOpen) return;
  tls_plain_.clear();
  bool peer_closed = false;
  Status st = tls_->Read(&tls_plain_, &peer_closed);
  FlushTls();
  if (!st.ok()) {
    CloseWithError(Status::Error("TLS read: " + st.message()));
    return;
  }
  if (!tls_plain_.empty() && handler_) {
    // Move out first: the handler may write, which reuses no shared state,
    // but it may also re-enter reads after resume.
    std::string plain;
    plain.swap(tls_plain_);
    handler_->OnStreamData(this, plain.data(), plain.size());
    // Hand the buffer back so its capacity serves the next read, unless a
    // nested read filled the scratch meanwhile.
    if (tls_plain_.empty()) {
      plain.clear();
      tls_plain_.swap(plain);
    }
  }
  if (peer_closed && state_ == State::kOpen) HandleEof();
}

void Stream::HandleEof() {
  if (state_ == State::kClosing) return;
  if (state_ != State::kOpen) {
    CloseWithError(Status::Error("connection closed by peer during " +
                                 std::string(state_ == State::kHandshaking ? "TLS handshake" : "connect")));
    return;
  }
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
  if (handler_) handler_->OnStreamEof(this);
  else Close();
}

void Stream::Write(std::string data) {
  if (state_ == State::kClosing || data.empty()) return;
  if (state_ != State::kOpen) {
    AddQueued(static_cast<int64_t>(data.size()));
    pending_plain_.append(data);
    return;
  }
  AddQueued(static_cast<int64_t>(data.size()));
  if (corked_.empty()) corked_ = std::move(data);
  else corked_.append(data);
  if (!dirty_) {
    dirty_ = true;
    CoalescerFor(tcp_.loop)->dirty.push_back(this);
  }
}

void Stream::Flush() {
  if (corked_.empty() || state_ != State::kOpen) return;
  std::string data = std::move(corked_);
  corked_.clear();
  AddQueued(-static_cast<int64_t>(data.size()));
  if (tls_) {
    Status st = tls_->Write(data);
    if (!st.ok()) {
      CloseWithError(Status::Error("TLS write: " + st.message()));
      return;
    }
    FlushTls();
  } else {
    SendRaw(std::move(data));
  }
}

void Stream::FlushTls() {
  if (tls_ && tls_->HasCiphertext()) SendRaw(tls_->TakeCiphertext());
}

void Stream::SendRaw(std::string data) {
  if (data.empty()) return;
  AddQueued(static_cast<int64_t>(data.size()));
  write_queue_.push_back(std::move(data));
  if (queued_bytes_ > kHighWater) notify_drain_ = true;
  StartWrite();
}

void Stream::StartWrite() {
  if (write_in_flight_ || write_queue_.empty() || state_ == State::kClosing) return;
  // Most writes complete at once: try that first, which spares libuv's write
  // request, its epoll interest change and the deferred callback.
  uv_buf_t bufs[16];
  unsigned count = 0;
  for (std::string& d : write_queue_) {
    if (count == 16) break;
    bufs[count++] = uv_buf_init(d.data(), static_cast<unsigned>(d.size()));
  }
  int rc = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs, count);
  if (rc > 0) {
    ConsumeWritten(static_cast<size_t>(rc));
  } else if (rc != UV_EAGAIN && rc != 0) {
    CloseWithError(Status::Error("write: " + UvError(rc)));
    return;
  }
  if (write_queue_.empty()) {
    AfterWriteProgress();
    return;
  }
  auto* w = new WriteReq;
  w->req.data = this;
  // Coalesce what is left into one write: TLS records are already framed,
  // so concatenation is safe.
  w->data = std::move(write_queue_.front());
  write_queue_.pop_front();
  while (!write_queue_.empty() && w->data.size() < 64 * 1024) {
    w->data.append(write_queue_.front());
    write_queue_.pop_front();
  }
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  write_in_flight_ = true;
  rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, OnWrite);
  if (rc != 0) {
    write_in_flight_ = false;
    delete w;
    CloseWithError(Status::Error("write: " + UvError(rc)));
  }
}

void Stream::ConsumeWritten(size_t n) {
  AddQueued(-static_cast<int64_t>(n));
  bytes_out_ += n;
  while (n > 0 && !write_queue_.empty()) {
    std::string& front = write_queue_.front();
    if (front.size() <= n) {
      n -= front.size();
      write_queue_.pop_front();
    } else {
      front.erase(0, n);
      n = 0;
    }
  }
}

void Stream::OnWrite(uv_write_t* req, int status) noexcept {
  auto* w = reinterpret_cast<WriteReq*>(req);
  Stream* s = static_cast<Stream*>(req->data);
  size_t n = w->data.size();
  delete w;
  s->write_in_flight_ = false;
  if (s->state_ == State::kClosing) return;
  s->AddQueued(-static_cast<int64_t>(n));
  s->bytes_out_ += n;
  if (status != 0) {
    s->CloseWithError(Status::Error("write: " + UvError(status)));
    return;
  }
  s->StartWrite();
  if (!s->write_in_flight_) s->AfterWriteProgress();
}

// Wakes a writer waiting on backpressure and finishes a requested shutdown
// once everything queued has been written.
void Stream::AfterWriteProgress() {
  if (state_ != State::kOpen) return;
  if (notify_drain_ && queued_bytes_ <= kHighWater / 2) {
    notify_drain_ = false;
    if (handler_) handler_->OnStreamDrained(this);
  }
  if (state_ == State::kOpen && shutdown_requested_ && write_queue_.empty() && !write_in_flight_) {
    shutdown_requested_ = false;
    auto* sreq = new uv_shutdown_t;
    sreq->data = this;
    if (uv_shutdown(sreq, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) delete sreq;
  }
}

void Stream::Shutdown() {
  if (state_ != State::kOpen) return;
  Flush();
  if (tls_) {
    tls_->SendCloseNotify();
    FlushTls();
  }
  shutdown_requested_ = true;
  if (!write_in_flight_ && write_queue_.empty()) {
    shutdown_requested_ = false;
    auto* sreq = new uv_shutdown_t;
    sreq->data = this;
    if (uv_shutdown(sreq, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) delete sreq;
  }
}

void Stream::OnShutdown(uv_shutdown_t* req, int) noexcept { delete req; }

void Stream::PauseReading() {
  if (paused_) return;
  paused_ = true;
  if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void Stream::ResumeReading() {
  if (!paused_) return;
  paused_ = false;
  if (state_ == State::kClosing || reading_) return;
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  reading_ = true;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
}

void Stream::set_no_delay(bool on) { uv_tcp_nodelay(&tcp_, on ? 1 : 0); }
void Stream::set_keepalive(bool on, unsigned delay_sec) { uv_tcp_keepalive(&tcp_, on ? 1 : 0, delay_sec); }

void Stream::Close() { CloseWithError(Status::Ok()); }

void Stream::CloseWithError(const Status& why) {
  if (state_ == State::kClosing) return;
  // A local close still sends what was written before it (best effort, as
  // an immediate write would have); an error close drops it.
  if (why.ok() && state_ == State::kOpen && !corked_.empty()) Flush();
  if (state_ == State::kClosing) return;
  state_ = State::kClosing;
  close_reason_ = why;
  if (resolve_req_) {
    // getaddrinfo cannot be cancelled once running; orphan it.
    uv_cancel(reinterpret_cast<uv_req_t*>(resolve_req_));
    resolve_req_->data = nullptr;
    resolve_req_ = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
}

void Stream::OnClosed(uv_handle_t* h) noexcept {
  Stream* s = static_cast<Stream*>(h->data);
  if (s->handler_) s->handler_->OnStreamClosed(s, s->close_reason_);
  delete s;
}

Listener::Listener(uv_loop_t* loop, AcceptFn on_accept) : on_accept_(std::move(on_accept)) {
  tcp_ = new uv_tcp_t;
  uv_tcp_init(loop, tcp_);
  tcp_->data = this;
}

Listener::~Listener() { Close(); }

Status Listener::Listen(const std::string& host, int port, int backlog) {
  sockaddr_storage addr{};
  int rc = host.find(':') != std::string::npos
               ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr))
               : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return Status::Error("listen " + host + ": not an IP address");
  rc = uv_tcp_bind(tcp_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp_), backlog, OnConnection);
  if (rc != 0) return Status::Error("listen " + host + ":" + std::to_string(port) + ": " + UvError(rc));
  return Status::Ok();
}

int Listener::bound_port() const {
  if (!tcp_) return 0;
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getsockname(tcp_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

void Listener::OnConnection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<Listener*>(server->data);
  if (status != 0 || !self) return;
  self->on_accept_(server);
}

void Listener::Close() {
  if (!tcp_) return;
  tcp_->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(tcp_), OnClosed);
  tcp_ = nullptr;
}

void Listener::OnClosed(uv_handle_t* h) noexcept { delete reinterpret_cast<uv_tcp_t*>(h); }

}  // namespace tether
