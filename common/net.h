// TCP streams on the libuv loop, with optional TLS. A Stream owns its
// uv_tcp_t (handle.data = this) and frees itself only in the close callback,
// after telling its handler once through OnStreamClosed.
#pragma once
#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "common/tls.h"

namespace tether {

class Stream;

// Receives a Stream's events on the loop thread. A handler may call Close()
// on the stream from any of these; the stream stays valid until
// OnStreamClosed returns.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // TCP connected and, with TLS, the handshake completed.
  virtual void OnStreamOpen(Stream* stream) { (void)stream; }
  // Plaintext bytes; `data` is only valid during the call.
  virtual void OnStreamData(Stream* stream, const char* data, size_t len) = 0;
  // The write queue fell under the low-water mark after being over it.
  virtual void OnStreamDrained(Stream* stream) { (void)stream; }
  // Peer sent EOF (or close_notify). The stream is still open for writing
  // until Close(); default closes it.
  virtual void OnStreamEof(Stream* stream);
  // Last call: the stream is gone after this returns. `why` is ok for a
  // local Close() and an error for resets, failed connects and TLS failures.
  virtual void OnStreamClosed(Stream* stream, const Status& why) = 0;
};

class Stream {
 public:
  // Wraps an accepted connection; TLS server side when tls is non-null.
  // Reading starts at once. Returns nullptr when accept failed.
  static Stream* Accept(uv_stream_t* listener, TlsContext* tls, StreamHandler* handler);
  // Resolves host (async getaddrinfo), connects, and handshakes when tls is
  // non-null; OnStreamOpen or OnStreamClosed(error) follows.
  static Stream* Connect(uv_loop_t* loop, const std::string& host, int port, TlsContext* tls,
                         const std::string& server_name, StreamHandler* handler);

  // Queues bytes (encrypted first with TLS). Safe to call before open: bytes
  // are sent once connected. Ignored after Close(). Everything written in
  // one loop iteration goes out together at the end of it (one TLS record,
  // one syscall), so a head, a body slice and a last chunk cost one write.
  void Write(std::string data);
  // Sends what was written so far now instead of at the end of the iteration.
  void Flush();
  size_t queued_bytes() const { return queued_bytes_; }
  // Over this many queued bytes callers should stop feeding (backpressure);
  // OnStreamDrained fires when the queue falls to half of it.
  static constexpr size_t kHighWater = 256 * 1024;
  bool over_high_water() const { return queued_bytes_ > kHighWater; }

  // Starts TLS (client side) on an open plain stream, e.g. once a proxy
  // tunnel is up. `leftover_ciphertext` is what the peer already sent past
  // the tunnel handshake. Writes made from now on are queued until the TLS
  // handshake completes; then OnStreamOpen fires again (or OnStreamClosed
  // with the handshake error). REQUIRES: open() and no TLS yet; tls outlives
  // the stream.
  Status StartTls(TlsContext* tls, const std::string& server_name, std::string leftover_ciphertext);

  void PauseReading();
  void ResumeReading();
  // Half-closes after queued bytes are written (sends close_notify first with TLS).
  void Shutdown();
  // Idempotent. Pending writes are dropped; the handler gets OnStreamClosed once.
  void Close();
  void CloseWithError(const Status& why);

  void set_handler(StreamHandler* handler) { handler_ = handler; }
  StreamHandler* handler() const { return handler_; }
  bool open() const { return state_ == State::kOpen; }
  bool closing() const { return state_ == State::kClosing; }
  const std::string& peer_address() const { return peer_address_; }  // IP only
  int peer_port() const { return peer_port_; }
  TlsSession* tls() const { return tls_.get(); }
  uv_loop_t* loop() const { return tcp_.loop; }
  void set_no_delay(bool on);
  void set_keepalive(bool on, unsigned delay_sec);
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

  // Opaque per-stream slot for owners (e.g. the pool entry owning it).
  void* user_data = nullptr;

 private:
  enum class State { kResolving, kConnecting, kHandshaking, kOpen, kClosing };
  Stream(uv_loop_t* loop, StreamHandler* handler);
  ~Stream();
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void OnWrite(uv_write_t* req, int status) noexcept;
  static void OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;
  static void OnConnect(uv_connect_t* req, int status) noexcept;
  static void OnClosed(uv_handle_t* h) noexcept;
  static void OnShutdown(uv_shutdown_t* req, int status) noexcept;
  void AddQueued(int64_t delta);  // keeps the thread's total in step
  void HandleRead(const char* data, size_t len);
  void HandleEof();
  void StartTls();
  void DriveHandshake();
  void BecomeOpen();
  void FlushTls();
  void SendRaw(std::string data);
  void StartWrite();
  void ConsumeWritten(size_t n);
  void AfterWriteProgress();
  void RecordPeer();

  uv_tcp_t tcp_;
  StreamHandler* handler_;
  State state_ = State::kConnecting;
  std::unique_ptr<TlsSession> tls_;
  std::string server_name_;
  bool tunnelled_tls_ = false;  // TLS started by StartTls on an open stream
  int connect_port_ = 0;
  uv_getaddrinfo_t* resolve_req_ = nullptr;
  std::string pending_plain_;  // written before open
  std::string corked_;         // written this loop iteration, not yet sent
  bool dirty_ = false;         // on the loop's flush list
  friend struct WriteCoalescer;
  std::deque<std::string> write_queue_;
  bool write_in_flight_ = false;
  size_t queued_bytes_ = 0;
  bool notify_drain_ = false;
  bool reading_ = false;
  bool paused_ = false;
  bool shutdown_requested_ = false;
  Status close_reason_;
  std::string peer_address_;
  int peer_port_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  std::string tls_plain_;  // scratch for decrypted bytes
};

// A listening TCP socket; every accepted connection goes to on_accept.
class Listener {
 public:
  using AcceptFn = std::function<void(uv_stream_t* server)>;
  Listener(uv_loop_t* loop, AcceptFn on_accept);
  ~Listener();
  Status Listen(const std::string& host, int port, int backlog = 1024);
  void Close();  // stops accepting; idempotent
  int bound_port() const;

 private:
  static void OnConnection(uv_stream_t* server, int status) noexcept;
  static void OnClosed(uv_handle_t* h) noexcept;
  uv_tcp_t* tcp_ = nullptr;
  AcceptFn on_accept_;
};

std::string UvError(int code);  // "ECONNREFUSED (connection refused)"

// Bytes written but not yet handed to the kernel, over all streams of this
// thread (a drain waits for zero before the loop stops).
uint64_t TotalQueuedBytes();

// Closes the per-loop write-coalescing handles; call before uv_loop_close()
// on a loop that had streams (tests). Idempotent.
void CloseWriteCoalescer(uv_loop_t* loop);

// Deletes `object` with `deleter` once the callback running now has
// returned: at the end of this loop phase (the check after poll, or the
// prepare before it), with no handle of its own and no extra loop turn. For
// objects that finish inside their own callbacks.
void DeleteAfterCallbacks(uv_loop_t* loop, void* object, void (*deleter)(void*));
template <typename T>
void DeleteSoon(uv_loop_t* loop, T* object) {
  DeleteAfterCallbacks(loop, object, [](void* p) { delete static_cast<T*>(p); });
}

// Turns on log-line batching (common/log.h) for this thread, flushed by the
// loop's write coalescer at the end of every iteration.
void BatchLogLinesOnLoop(uv_loop_t* loop);

}  // namespace tether
