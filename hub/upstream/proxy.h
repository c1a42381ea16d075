// Outbound proxy handshakes as pure state machines over bytes: HTTP CONNECT
// (RFC 9110 section 9.3.6, optional Basic proxy auth) and SOCKS5 (RFC 1928,
// user/password auth per RFC 1929, CONNECT by domain name so the proxy
// resolves it). The owner moves bytes between the socket and the handshake;
// once it reports done, the connection is a tunnel to the target and TLS to
// the provider starts on it.
#pragma once
#include <string>
#include <string_view>

#include "common/status.h"

namespace tether {

enum class ProxyKind { kHttp, kSocks5 };

struct ProxyUrl {
  ProxyKind kind = ProxyKind::kHttp;
  std::string host;  // name or IP literal (IPv6 without brackets)
  int port = 0;
  std::string username, password;  // percent-decoded; empty username: no auth
};

// Parses "http://[user:pass@]host[:port]" (port defaults to 80) and
// "socks5://…" / "socks5h://…" (default 1080; both resolve names at the
// proxy). IPv6 hosts in brackets. A trailing "/" is allowed, a path is not.
Result<ProxyUrl> ParseProxyUrl(std::string_view url);

// "http://user:***@host:port" — for logs; the password never appears.
std::string RedactedProxyUrl(const ProxyUrl& proxy);

// One handshake through `proxy` to target_host:target_port. Not reusable.
class ProxyHandshake {
 public:
  struct Step {
    Status error;          // set: the handshake failed; close the connection
    bool done = false;     // the tunnel is open
    std::string send;      // bytes to write to the proxy now
    std::string leftover;  // done: bytes read past the handshake, the tunnel's first bytes
  };

  ProxyHandshake(ProxyUrl proxy, std::string target_host, int target_port);

  // The opening bytes (the CONNECT request, or the SOCKS5 greeting).
  Step Start();
  // Bytes read from the proxy, split anywhere. After done or an error, further
  // calls return the same error or an error saying the handshake is over.
  Step Feed(std::string_view bytes);

  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kIdle, kHttpResponse, kSocksMethod, kSocksAuth, kSocksReply, kDone, kFailed };
  Step Fail(std::string message);
  Step FeedHttp();
  Step FeedSocks();
  std::string SocksConnectRequest() const;
  std::string Where() const;  // "proxy host:port"

  ProxyUrl proxy_;
  std::string target_host_;
  int target_port_;
  State state_ = State::kIdle;
  std::string buffer_;  // proxy bytes not yet consumed
  Status error_;
};

}  // namespace tether
