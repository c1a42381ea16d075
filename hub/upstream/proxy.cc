#include "hub/upstream/proxy.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

namespace tether {
namespace {

// A proxy's CONNECT response head is a status line and a few headers; more
// than this is not a proxy we want to talk to.
constexpr size_t kMaxHttpResponseHead = 16 * 1024;

std::string Base64Encode(std::string_view in) {
  static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (in.size() - i == 1) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool IsIpv6Literal(const std::string& host) { return host.find(':') != std::string::npos; }

// host:port as it appears in a CONNECT request line (IPv6 in brackets).
std::string Authority(const std::string& host, int port) {
  return (IsIpv6Literal(host) ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

const char* SocksReplyMessage(uint8_t rep) {
  switch (rep) {
    case 1: return "general SOCKS server failure";
    case 2: return "connection not allowed by ruleset";
    case 3: return "network unreachable";
    case 4: return "host unreachable";
    case 5: return "connection refused";
    case 6: return "TTL expired";
    case 7: return "command not supported";
    case 8: return "address type not supported";
    default: return "unknown error";
  }
}

}  // namespace

Result<ProxyUrl> ParseProxyUrl(std::string_view url) {
  // Errors must not echo a password: URLs with userinfo are shown by scheme only.
  auto error = [&](const std::string& why) {
    size_t scheme_end = url.find("://");
    std::string shown = url.find('@') == std::string_view::npos ? std::string(url)
                        : scheme_end == std::string_view::npos ? std::string("…")
                                                               : std::string(url.substr(0, scheme_end + 3)) + "…";
    return Status::Error("proxy URL \"" + shown + "\": " + why);
  };
  ProxyUrl p;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return error("expected http://host:port or socks5://host:port");
  std::string scheme(url.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (scheme == "http") {
    p.kind = ProxyKind::kHttp;
    p.port = 80;
  } else if (scheme == "socks5" || scheme == "socks5h") {
    p.kind = ProxyKind::kSocks5;
    p.port = 1080;
  } else {
    return error("unsupported scheme \"" + scheme + "\" (http, socks5, socks5h)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#") != std::string_view::npos) return error("a proxy URL has no path");

  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = userinfo.find(':');
    std::string_view user = userinfo.substr(0, colon);
    std::string_view pass = colon == std::string_view::npos ? std::string_view() : userinfo.substr(colon + 1);
    if (!PercentDecode(user, &p.username) || !PercentDecode(pass, &p.password)) {
      return error("bad percent-escape in the credentials");
    }
    if (p.username.empty()) return error("empty user name before '@'");
  }

  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return error("unterminated IPv6 address");
    p.host.assign(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return error("expected ':' after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return error("empty port");
    }
  } else {
    size_t colon = rest.rfind(':');
    p.host.assign(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return error("empty port");
    }
    if (p.host.find(':') != std::string::npos) return error("IPv6 addresses go in brackets");
  }
  if (p.host.empty()) return error("missing host");
  if (!port_text.empty()) {
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
      return error("port must be 1-65535");
    }
    p.port = port;
  }
  return p;
}

std::string RedactedProxyUrl(const ProxyUrl& proxy) {
  std::string out = proxy.kind == ProxyKind::kHttp ? "http://" : "socks5://";
  if (!proxy.username.empty()) out += proxy.username + ":***@";
  return out + Authority(proxy.host, proxy.port);
}

ProxyHandshake::ProxyHandshake(ProxyUrl proxy, std::string target_host, int target_port)
    : proxy_(std::move(proxy)), target_host_(std::move(target_host)), target_port_(target_port) {}

std::string ProxyHandshake::Where() const { return "proxy " + Authority(proxy_.host, proxy_.port); }

ProxyHandshake::Step ProxyHandshake::Fail(std::string message) {
  state_ = State::kFailed;
  error_ = Status::Error(Where() + ": " + message);
  buffer_.clear();
  Step step;
  step.error = error_;
  return step;
}

ProxyHandshake::Step ProxyHandshake::Start() {
  if (state_ != State::kIdle) return Fail("handshake already started");
  if (target_host_.empty() || target_port_ < 1 || target_port_ > 65535) {
    return Fail("bad target " + Authority(target_host_, target_port_));
  }
  Step step;
  if (proxy_.kind == ProxyKind::kHttp) {
    std::string authority = Authority(target_host_, target_port_);
    step.send = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!proxy_.username.empty()) {
      step.send += "Proxy-Authorization: Basic " + Base64Encode(proxy_.username + ":" + proxy_.password) + "\r\n";
    }
    step.send += "\r\n";
    state_ = State::kHttpResponse;
    return step;
  }
  // RFC 1929 carries each credential in one length byte; RFC 1928 the
  // domain name too.
  if (proxy_.username.size() > 255 || proxy_.password.size() > 255) {
    return Fail("SOCKS5 user name and password are limited to 255 bytes");
  }
  if (target_host_.size() > 255) return Fail("SOCKS5 host names are limited to 255 bytes");
  // Offer no auth, plus user/password when configured: a proxy that needs
  // no credentials may pick 0x00 (RFC 1928 section 3).
  if (proxy_.username.empty()) {
    step.send = std::string("\x05\x01\x00", 3);
  } else {
    step.send = std::string("\x05\x02\x00\x02", 4);
  }
  state_ = State::kSocksMethod;
  return step;
}

ProxyHandshake::Step ProxyHandshake::Feed(std::string_view bytes) {
  switch (state_) {
    case State::kFailed: {
      Step step;
      step.error = error_;
      return step;
    }
    case State::kDone:
      return Fail("handshake already finished");
    case State::kIdle:
      return Fail("bytes before the handshake started");
    default:
      break;
  }
  buffer_.append(bytes);
  return proxy_.kind == ProxyKind::kHttp ? FeedHttp() : FeedSocks();
}

ProxyHandshake::Step ProxyHandshake::FeedHttp() {
  size_t end = buffer_.find("\r\n\r\n");
  size_t head_len = end == std::string::npos ? std::string::npos : end + 4;
  if (end == std::string::npos) {
    // Bare LF line endings, which some proxies send.
    size_t lf = buffer_.find("\n\n");
    if (lf != std::string::npos) head_len = lf + 2;
  }
  if (head_len == std::string::npos) {
    if (buffer_.size() > kMaxHttpResponseHead) return Fail("CONNECT response head over 16 KiB");
    return Step{};
  }
  std::string_view head(buffer_.data(), head_len);
  std::string_view line = head.substr(0, head.find('\n'));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // "HTTP/1.1 200 Connection established"
  int status = 0;
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ' ||
      std::from_chars(line.data() + 9, line.data() + 12, status).ptr != line.data() + 12 ||
      (line.size() > 12 && line[12] != ' ')) {
    return Fail("CONNECT " + Authority(target_host_, target_port_) + ": malformed response \"" +
                std::string(line.substr(0, 80)) + "\"");
  }
  if (status < 200 || status > 299) {
    // RFC 9110 9.3.6: any 2xx opens the tunnel; anything else is the
    // proxy's refusal (407 means the credentials are missing or wrong).
    std::string reason(line.size() > 13 ? line.substr(13, 80) : std::string_view());
    return Fail("CONNECT " + Authority(target_host_, target_port_) + " refused: " + std::to_string(status) +
                (reason.empty() ? "" : " " + reason));
  }
  Step step;
  step.done = true;
  step.leftover = buffer_.substr(head_len);
  buffer_.clear();
  state_ = State::kDone;
  return step;
}

std::string ProxyHandshake::SocksConnectRequest() const {
  std::string req("\x05\x01\x00", 3);
  unsigned char addr[16];
  if (inet_pton(AF_INET, target_host_.c_str(), addr) == 1) {
    req.push_back('\x01');
    req.append(reinterpret_cast<char*>(addr), 4);
  } else if (inet_pton(AF_INET6, target_host_.c_str(), addr) == 1) {
    req.push_back('\x04');
    req.append(reinterpret_cast<char*>(addr), 16);
  } else {
    req.push_back('\x03');
    req.push_back(static_cast<char>(target_host_.size()));
    req += target_host_;
  }
  req.push_back(static_cast<char>(target_port_ >> 8));
  req.push_back(static_cast<char>(target_port_ & 0xFF));
  return req;
}

ProxyHandshake::Step ProxyHandshake::FeedSocks() {
  Step step;
  while (true) {
    if (state_ == State::kSocksMethod) {
      if (buffer_.size() < 2) return step;
      uint8_t ver = static_cast<uint8_t>(buffer_[0]), method = static_cast<uint8_t>(buffer_[1]);
      buffer_.erase(0, 2);
      if (ver != 5) return Fail("not a SOCKS5 server (version byte " + std::to_string(ver) + ")");
      if (method == 0x00) {
        step.send += SocksConnectRequest();
        state_ = State::kSocksReply;
      } else if (method == 0x02 && !proxy_.username.empty()) {
        step.send.push_back('\x01');
        step.send.push_back(static_cast<char>(proxy_.username.size()));
        step.send += proxy_.username;
        step.send.push_back(static_cast<char>(proxy_.password.size()));
        step.send += proxy_.password;
        state_ = State::kSocksAuth;
      } else if (method == 0xFF) {
        return Fail(proxy_.username.empty()
                        ? "SOCKS5 proxy requires authentication (no acceptable method offered)"
                        : "SOCKS5 proxy accepts none of the offered authentication methods");
      } else {
        return Fail("SOCKS5 proxy chose authentication method " + std::to_string(method) + ", which was not offered");
      }
    } else if (state_ == State::kSocksAuth) {
      if (buffer_.size() < 2) return step;
      uint8_t ver = static_cast<uint8_t>(buffer_[0]), status = static_cast<uint8_t>(buffer_[1]);
      buffer_.erase(0, 2);
      if (ver != 1) return Fail("bad SOCKS5 authentication reply version " + std::to_string(ver));
      if (status != 0) return Fail("SOCKS5 authentication failed for user \"" + proxy_.username + "\"");
      step.send += SocksConnectRequest();
      state_ = State::kSocksReply;
    } else if (state_ == State::kSocksReply) {
      // VER REP RSV ATYP BND.ADDR BND.PORT. A refusal is reported as soon as
      // REP arrives: some proxies close right after it.
      if (buffer_.size() < 2) return step;
      uint8_t ver = static_cast<uint8_t>(buffer_[0]), rep = static_cast<uint8_t>(buffer_[1]);
      if (ver != 5) return Fail("bad SOCKS5 reply version " + std::to_string(ver));
      if (rep != 0) {
        return Fail("SOCKS5 CONNECT " + Authority(target_host_, target_port_) + " failed: " + SocksReplyMessage(rep) +
                    " (" + std::to_string(rep) + ")");
      }
      if (buffer_.size() < 5) return step;  // through ATYP and a domain's length byte
      size_t len;
      switch (static_cast<uint8_t>(buffer_[3])) {
        case 1: len = 4 + 4 + 2; break;
        case 4: len = 4 + 16 + 2; break;
        case 3: len = 4 + 1 + static_cast<uint8_t>(buffer_[4]) + 2; break;
        default:
          return Fail("SOCKS5 reply with unknown address type " + std::to_string(static_cast<uint8_t>(buffer_[3])));
      }
      if (buffer_.size() < len) return step;
      step.done = true;
      step.leftover = buffer_.substr(len);
      buffer_.clear();
      state_ = State::kDone;
      return step;
    } else {
      return step;
    }
  }
}

}  // namespace tether
