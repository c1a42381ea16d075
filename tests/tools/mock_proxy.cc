// mock_proxy: an outbound proxy for end-to-end tests, on one loopback port:
// HTTP CONNECT (RFC 9110 section 9.3.6) and SOCKS5 (RFC 1928, CONNECT only,
// user/password per RFC 1929), told apart by the first byte (SOCKS5 starts
// with 0x05). It counts the tunnels it opened so a test can prove traffic
// went through it.
//
//   mock_proxy --port N [--host 127.0.0.1] [--user U --pass P]
//
// With --user/--pass, CONNECT needs `Proxy-Authorization: Basic` (else 407)
// and SOCKS5 needs method 0x02 with those credentials.
// GET /_proxy/stats (a plain request, not CONNECT) answers
// {"http_tunnels","socks_tunnels","refused","connections"}.
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/http.h"
#include "common/json.h"
#include "common/net.h"

using namespace tether;

namespace {

struct Stats {
  int http_tunnels = 0;
  int socks_tunnels = 0;
  int refused = 0;
  int connections = 0;
};

std::string Base64(std::string_view in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t k = 0; k < in.size(); k += 3) {
    auto byte = [&](size_t i) { return i < in.size() ? static_cast<uint32_t>(static_cast<unsigned char>(in[i])) : 0u; };
    uint32_t n = byte(k) << 16 | byte(k + 1) << 8 | byte(k + 2);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += k + 1 < in.size() ? kAlphabet[n >> 6 & 63] : '=';
    out += k + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

class ProxyServer;

// One client connection: the handshake, then a byte relay to the target.
// Owns both streams; frees itself once both have reported OnStreamClosed.
class ProxyConn {
 public:
  ProxyConn(ProxyServer* server, Stream* client);

 private:
  // Routes one stream's events to the connection, knowing which side it is.
  class Side : public StreamHandler {
   public:
    Side(ProxyConn* conn, bool client) : conn_(conn), client_(client) {}
    void OnStreamOpen(Stream* s) override { conn_->OnOpen(s, client_); }
    void OnStreamData(Stream*, const char* d, size_t n) override { conn_->OnData(client_, std::string_view(d, n)); }
    void OnStreamDrained(Stream*) override { conn_->OnDrained(client_); }
    void OnStreamEof(Stream*) override { conn_->OnEof(client_); }
    void OnStreamClosed(Stream*, const Status&) override { conn_->OnClosed(client_); }

   private:
    ProxyConn* conn_;
    bool client_;
  };
  enum class Mode { kDetect, kHttp, kSocksGreeting, kSocksAuth, kSocksRequest, kConnecting, kRelay, kDone };

  void OnOpen(Stream* s, bool client);
  void OnData(bool client, std::string_view data);
  void OnDrained(bool client);
  void OnEof(bool client);
  void OnClosed(bool client);
  void Handshake();
  void HandleHttp(size_t head_end);
  void HandleSocks();
  void ConnectTarget(const std::string& host, int port);
  void Refuse(std::string reply);
  void CloseBoth();

  ProxyServer* server_;
  Side client_side_{this, true}, target_side_{this, false};
  Stream* client_;
  Stream* target_ = nullptr;
  bool client_closed_ = false, target_closed_ = true;
  bool client_eof_ = false, target_eof_ = false;
  Mode mode_ = Mode::kDetect;
  bool socks_ = false;
  std::string buffer_;  // handshake bytes, then client bytes read before the target is open
};

class ProxyServer {
 public:
  ProxyServer(uv_loop_t* loop, std::string user, std::string pass)
      : loop_(loop), user_(std::move(user)), pass_(std::move(pass)) {}
  Status Start(const std::string& host, int port) {
    listener_ = std::make_unique<Listener>(loop_, [this](uv_stream_t* server) {
      if (Stream* s = Stream::Accept(server, nullptr, nullptr)) new ProxyConn(this, s);
    });
    return listener_->Listen(host, port);
  }
  int port() const { return listener_->bound_port(); }
  uv_loop_t* loop() const { return loop_; }
  const std::string& user() const { return user_; }
  const std::string& pass() const { return pass_; }
  Stats stats;

 private:
  uv_loop_t* loop_;
  std::string user_, pass_;
  std::unique_ptr<Listener> listener_;
};

ProxyConn::ProxyConn(ProxyServer* server, Stream* client) : server_(server), client_(client) {
  client_->set_handler(&client_side_);
  ++server_->stats.connections;
}

void ProxyConn::OnOpen(Stream*, bool client) {
  if (client || mode_ != Mode::kConnecting) return;
  mode_ = Mode::kRelay;
  if (socks_) {
    ++server_->stats.socks_tunnels;
    // Succeeded; BND.ADDR 0.0.0.0:0 (clients ignore it for CONNECT).
    client_->Write(std::string("\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10));
  } else {
    ++server_->stats.http_tunnels;
    client_->Write("HTTP/1.1 200 Connection established\r\n\r\n");
  }
  if (!buffer_.empty()) target_->Write(std::move(buffer_));
  buffer_.clear();
}

void ProxyConn::OnData(bool client, std::string_view data) {
  if (mode_ == Mode::kDone) return;
  Stream* to = client ? target_ : client_;
  if (mode_ == Mode::kRelay) {
    to->Write(std::string(data));
    // Backpressure: stop reading this side while the other is backed up.
    if (to->over_high_water()) (client ? client_ : target_)->PauseReading();
    return;
  }
  if (!client) return;
  buffer_.append(data);
  if (mode_ != Mode::kConnecting) Handshake();
}

void ProxyConn::OnDrained(bool client) {
  if (mode_ != Mode::kRelay) return;
  (client ? target_ : client_)->ResumeReading();
}

void ProxyConn::OnEof(bool client) {
  // Half-close passes through; when both sides are done, close.
  (client ? client_eof_ : target_eof_) = true;
  Stream* other = client ? target_ : client_;
  if (mode_ != Mode::kRelay || !other || (client_eof_ && target_eof_)) {
    CloseBoth();
    return;
  }
  other->Shutdown();
}

void ProxyConn::OnClosed(bool client) {
  if (client) {
    client_closed_ = true;
    client_ = nullptr;
  } else {
    target_closed_ = true;
    target_ = nullptr;
    if (mode_ == Mode::kConnecting) {  // the target refused or is unreachable
      ++server_->stats.refused;
      if (client_) {
        client_->Write(socks_ ? std::string("\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10)
                              : std::string("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"));
        client_->Close();
      }
    }
  }
  mode_ = Mode::kDone;
  CloseBoth();
  if (client_closed_ && target_closed_) delete this;
}

void ProxyConn::CloseBoth() {
  mode_ = Mode::kDone;
  if (client_) client_->Close();
  if (target_) target_->Close();
}

void ProxyConn::Refuse(std::string reply) {
  ++server_->stats.refused;
  client_->Write(std::move(reply));
  mode_ = Mode::kDone;
  client_->Close();  // a local close still sends what was written
}

void ProxyConn::Handshake() {
  if (mode_ == Mode::kDetect) {
    if (buffer_.empty()) return;
    socks_ = buffer_[0] == '\x05';
    mode_ = socks_ ? Mode::kSocksGreeting : Mode::kHttp;
  }
  if (!socks_) {
    size_t end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) HandleHttp(end + 4);
    else if (buffer_.size() > 16384) Refuse("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  HandleSocks();
}

void ProxyConn::HandleHttp(size_t head_end) {
  std::string head = buffer_.substr(0, head_end);
  buffer_.erase(0, head_end);
  std::string line = head.substr(0, head.find("\r\n"));
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  std::string method = line.substr(0, sp1);
  std::string target = sp1 == std::string::npos || sp2 <= sp1 ? "" : line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (method == "GET" && target == "/_proxy/stats") {
    JsonPtr o = JsonNewObj();
    JsonAddNum(o.get(), "http_tunnels", server_->stats.http_tunnels);
    JsonAddNum(o.get(), "socks_tunnels", server_->stats.socks_tunnels);
    JsonAddNum(o.get(), "refused", server_->stats.refused);
    JsonAddNum(o.get(), "connections", server_->stats.connections);
    std::string body = PrintJson(o.get());
    client_->Write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body);
    mode_ = Mode::kDone;
    client_->Close();
    return;
  }
  if (method != "CONNECT") {
    Refuse("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  if (!server_->user().empty()) {
    std::string lower;
    for (char c : head) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    // Base64 is case-sensitive: the credentials are read from the head as sent.
    size_t at = lower.find("\r\nproxy-authorization:");
    std::string value = at == std::string::npos ? "" : head.substr(at + 2, head.find("\r\n", at + 2) - at - 2);
    if (value.empty() || value.substr(value.rfind(' ') + 1) != Base64(server_->user() + ":" + server_->pass())) {
      Refuse("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"mock\"\r\n"
             "Content-Length: 0\r\n\r\n");
      return;
    }
  }
  size_t colon = target.rfind(':');
  if (colon == std::string::npos) {
    Refuse("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  std::string host = target.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  ConnectTarget(host, std::atoi(target.c_str() + colon + 1));
}

void ProxyConn::HandleSocks() {
  for (;;) {
    if (mode_ == Mode::kSocksGreeting) {
      if (buffer_.size() < 2 || buffer_.size() < 2u + static_cast<unsigned char>(buffer_[1])) return;
      std::string methods = buffer_.substr(2, static_cast<unsigned char>(buffer_[1]));
      buffer_.erase(0, 2 + methods.size());
      char want = server_->user().empty() ? '\x00' : '\x02';
      if (methods.find(want) == std::string::npos) {
        Refuse(std::string("\x05\xff", 2));
        return;
      }
      client_->Write(std::string("\x05") + want);
      mode_ = want == '\x02' ? Mode::kSocksAuth : Mode::kSocksRequest;
    } else if (mode_ == Mode::kSocksAuth) {
      if (buffer_.size() < 2) return;
      size_t ulen = static_cast<unsigned char>(buffer_[1]);
      if (buffer_.size() < 3 + ulen) return;
      size_t plen = static_cast<unsigned char>(buffer_[2 + ulen]);
      if (buffer_.size() < 3 + ulen + plen) return;
      std::string user = buffer_.substr(2, ulen), pass = buffer_.substr(3 + ulen, plen);
      buffer_.erase(0, 3 + ulen + plen);
      if (user != server_->user() || pass != server_->pass()) {
        Refuse(std::string("\x01\x01", 2));
        return;
      }
      client_->Write(std::string("\x01\x00", 2));
      mode_ = Mode::kSocksRequest;
    } else if (mode_ == Mode::kSocksRequest) {
      if (buffer_.size() < 5) return;
      unsigned char atyp = static_cast<unsigned char>(buffer_[3]);
      size_t addr_len = atyp == 1 ? 4 : atyp == 4 ? 16 : atyp == 3 ? 1 + static_cast<unsigned char>(buffer_[4]) : 0;
      if (buffer_[1] != '\x01' || addr_len == 0) {
        Refuse(std::string("\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00", 10));
        return;
      }
      if (buffer_.size() < 4 + addr_len + 2) return;
      std::string host;
      if (atyp == 3) {
        host = buffer_.substr(5, addr_len - 1);
      } else {
        char ip[64] = {0};
        uv_inet_ntop(atyp == 1 ? AF_INET : AF_INET6, buffer_.data() + 4, ip, sizeof ip);
        host = ip;
      }
      int port = static_cast<unsigned char>(buffer_[4 + addr_len]) << 8 | static_cast<unsigned char>(buffer_[5 + addr_len]);
      buffer_.erase(0, 4 + addr_len + 2);
      ConnectTarget(host, port);
      return;
    } else {
      return;
    }
  }
}

void ProxyConn::ConnectTarget(const std::string& host, int port) {
  mode_ = Mode::kConnecting;
  target_closed_ = false;
  target_ = Stream::Connect(server_->loop(), host, port, nullptr, host, &target_side_);
}

void Usage() { std::fprintf(stderr, "usage: mock_proxy --port N [--host 127.0.0.1] [--user U --pass P]\n"); }

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", user, pass;
  int port = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--port") port = std::atoi(next().c_str());
    else if (a == "--host") host = next();
    else if (a == "--user") user = next();
    else if (a == "--pass") pass = next();
    else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::fprintf(stderr, "mock_proxy: unknown argument %s\n", a.c_str());
      Usage();
      return 2;
    }
  }
  if (port < 0) {
    Usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  ProxyServer server(loop, user, pass);
  if (Status st = server.Start(host, port); !st.ok()) {
    std::fprintf(stderr, "mock_proxy: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("listening on %s:%d\n", host.c_str(), server.port());
  std::fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
