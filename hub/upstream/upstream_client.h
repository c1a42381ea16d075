// HTTP/1.1 client for provider calls: HTTPS verified against the system CA
// bundle (or plain HTTP for local providers), with keep-alive connections
// reused per origin and proxy. A call whose pooled connection turns out dead
// before any response byte is retried once on a new connection. With an
// outbound proxy, a new connection is plain TCP to the proxy, a CONNECT or
// SOCKS5 handshake (hub/upstream/proxy.h), then TLS to the provider on the
// same socket.
#pragma once
#include <uv.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http.h"
#include "common/net.h"
#include "common/tls.h"
#include "hub/upstream/proxy.h"

namespace tether {

struct UpstreamTarget {
  bool tls = false;
  std::string host;
  int port = 0;
  std::optional<ProxyUrl> proxy;  // tunnel through this proxy; none: connect directly
  std::string Origin() const { return (tls ? "https://" : "http://") + host + ":" + std::to_string(port); }
  // Idle-pool key: the origin plus the whole proxy (credentials included, as
  // two identities are two tunnels), so pooled connections never mix routes.
  // Never logged.
  std::string PoolKey() const;
};

class UpstreamHandler {
 public:
  virtual ~UpstreamHandler() = default;
  virtual void OnUpstreamHead(const ResponseHead& head) = 0;
  virtual void OnUpstreamBody(std::string_view data) = 0;
  virtual void OnUpstreamComplete() = 0;
  // Failure at any point; `started` tells whether a response head arrived.
  // The call is finished after this.
  virtual void OnUpstreamError(const Status& why, bool started) = 0;
};

class UpstreamClient;

// One request/response exchange. Owned by the client; the handler may call
// Cancel() at any time, after which it gets no more callbacks.
class UpstreamCall : public StreamHandler {
 public:
  void Cancel();
  void PauseReading();
  void ResumeReading();

  void OnStreamOpen(Stream* s) override;
  void OnStreamData(Stream* s, const char* data, size_t len) override;
  void OnStreamEof(Stream* s) override;
  void OnStreamClosed(Stream* s, const Status& why) override;

 private:
  friend class UpstreamClient;
  UpstreamCall(UpstreamClient* client, UpstreamTarget target, std::string request, bool head_request,
               UpstreamHandler* handler);
  // Where a new connection through a proxy is; direct connections are kReady.
  enum class Phase { kReady, kProxyConnect, kProxyHandshake, kTunnelTls };

  // `tunnel`: `stream` is a new connection to target_.proxy.
  void Begin(Stream* stream, bool reused, bool tunnel);
  void OnTunnelData(Stream* s, const char* data, size_t len);
  void ParseResponse(Stream* s, const char* data, size_t len);
  void Fail(const Status& why);
  void Done(bool reusable);

  UpstreamClient* client_;
  UpstreamTarget target_;
  std::string request_;
  UpstreamHandler* handler_;
  Stream* stream_ = nullptr;
  bool reused_ = false;
  bool retried_ = false;
  bool started_ = false;
  bool finished_ = false;
  bool head_request_ = false;
  Phase phase_ = Phase::kReady;
  std::unique_ptr<ProxyHandshake> handshake_;
  bool handshake_failed_ = false;  // the close carries the handshake's own message
  HttpParser parser_;
};

class UpstreamClient {
 public:
  // REQUIRES: loop outlives the client.
  explicit UpstreamClient(uv_loop_t* loop);
  ~UpstreamClient();
  Status Init();  // loads the system CA bundle

  // Starts a call; `request` is the whole serialised request (head + body).
  UpstreamCall* Start(const UpstreamTarget& target, std::string request, bool head_request, UpstreamHandler* handler);

  int idle_connections() const;
  int active_calls() const { return active_; }

 private:
  friend class UpstreamCall;
  class IdleConn;
  Stream* TakeIdle(const std::string& origin);
  void PutIdle(const std::string& origin, Stream* stream);
  void Connect(UpstreamCall* call);
  void Finished(UpstreamCall* call);

  uv_loop_t* loop_;
  std::unique_ptr<TlsContext> tls_;
  std::map<std::string, std::vector<Stream*>> idle_;
  std::unique_ptr<StreamHandler> idle_handler_;
  int active_ = 0;
};

}  // namespace tether
