// Proxy URL parsing and the HTTP CONNECT / SOCKS5 handshakes against scripted
// proxy bytes, whole and split at every position.
#include "hub/upstream/proxy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tether {
namespace {

std::string B(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

ProxyUrl Url(const std::string& text) {
  auto r = ParseProxyUrl(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? *r : ProxyUrl{};
}

TEST(ProxyUrl, Parses) {
  ProxyUrl p = Url("http://proxy.corp:3128");
  EXPECT_EQ(p.kind, ProxyKind::kHttp);
  EXPECT_EQ(p.host, "proxy.corp");
  EXPECT_EQ(p.port, 3128);
  EXPECT_EQ(p.username, "");

  p = Url("http://al%40ice:p%3Ass:w@10.0.0.5:8080/");
  EXPECT_EQ(p.username, "al@ice");
  EXPECT_EQ(p.password, "p:ss:w");
  EXPECT_EQ(p.host, "10.0.0.5");
  EXPECT_EQ(p.port, 8080);

  p = Url("SOCKS5h://u:@[2001:db8::1]:1081");
  EXPECT_EQ(p.kind, ProxyKind::kSocks5);
  EXPECT_EQ(p.host, "2001:db8::1");
  EXPECT_EQ(p.port, 1081);
  EXPECT_EQ(p.username, "u");
  EXPECT_EQ(p.password, "");

  EXPECT_EQ(Url("socks5://localhost").port, 1080);
  EXPECT_EQ(Url("http://localhost").port, 80);
  EXPECT_EQ(RedactedProxyUrl(Url("http://bob:secret@h:1")), "http://bob:***@h:1");
  EXPECT_EQ(RedactedProxyUrl(Url("socks5://[::1]:9")), "socks5://[::1]:9");
}

TEST(ProxyUrl, RejectsAndNeverEchoesPasswords) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"proxy:3128", "expected http://host:port or socks5://host:port"},
      {"https://p:1", "unsupported scheme \"https\" (http, socks5, socks5h)"},
      {"socks4://p:1", "unsupported scheme \"socks4\" (http, socks5, socks5h)"},
      {"http://p:0", "port must be 1-65535"},
      {"http://p:65536", "port must be 1-65535"},
      {"http://p:12x", "port must be 1-65535"},
      {"http://p:", "empty port"},
      {"http://:80", "missing host"},
      {"http://p:1/path", "a proxy URL has no path"},
      {"http://[::1", "unterminated IPv6 address"},
      {"http://::1:80", "IPv6 addresses go in brackets"},
      {"http://:pw@p:1", "empty user name before '@'"},
      {"http://u:%zz@p:1", "bad percent-escape in the credentials"},
  };
  for (const auto& [url, why] : bad) {
    auto r = ParseProxyUrl(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << url << " → " << r.status().message();
    EXPECT_EQ(r.status().message().find("pw"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find("%zz"), std::string::npos) << r.status().message();
  }
}

// Runs a handshake: `script` is what the proxy sends, in order, each entry
// after the client's previous send. Feeds every response split at `split`
// (0 = whole). Returns the bytes the client sent and the last step.
struct Exchange {
  std::string sent;
  ProxyHandshake::Step last;
};

Exchange Drive(const ProxyUrl& proxy, const std::string& host, int port, const std::string& proxy_bytes, size_t split) {
  ProxyHandshake h(proxy, host, port);
  Exchange run;
  run.last = h.Start();
  run.sent = run.last.send;
  std::vector<std::string> pieces;
  if (split == 0 || split >= proxy_bytes.size()) {
    pieces = {proxy_bytes};
  } else {
    pieces = {proxy_bytes.substr(0, split), proxy_bytes.substr(split)};
  }
  bool done = false;
  for (const std::string& p : pieces) {
    if (done) {
      run.last.leftover += p;  // the owner hands later bytes straight to the tunnel
      continue;
    }
    run.last = h.Feed(p);
    run.sent += run.last.send;
    if (!run.last.error.ok()) break;
    done = run.last.done;
  }
  return run;
}

TEST(HttpConnect, EstablishesWithBasicAuthUnderEverySplit) {
  const std::string response = "HTTP/1.1 200 Connection established\r\nProxy-Agent: squid\r\n\r\n\x16\x03\x03";
  for (size_t split = 0; split < response.size(); ++split) {
    Exchange r = Drive(Url("http://Aladdin:open%20sesame@proxy:3128"), "api.openai.com", 443, response, split);
    ASSERT_TRUE(r.last.error.ok()) << split << ": " << r.last.error.message();
    ASSERT_TRUE(r.last.done) << split;
    EXPECT_EQ(r.last.leftover, "\x16\x03\x03") << split;
    // RFC 7617's example credentials.
    EXPECT_EQ(r.sent,
              "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n"
              "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
  }
}

TEST(HttpConnect, NoAuthIpv6TargetAndBareLf) {
  Exchange r = Drive(Url("http://proxy:8080"), "2001:db8::5", 8443, "HTTP/1.0 200 OK\n\n", 0);
  ASSERT_TRUE(r.last.done) << r.last.error.message();
  EXPECT_EQ(r.sent, "CONNECT [2001:db8::5]:8443 HTTP/1.1\r\nHost: [2001:db8::5]:8443\r\n\r\n");
  EXPECT_EQ(r.last.leftover, "");
}

TEST(HttpConnect, FailuresNameTheStatus) {
  Exchange r = Drive(Url("http://proxy:3128"), "api.anthropic.com", 443,
                "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n", 0);
  EXPECT_FALSE(r.last.done);
  EXPECT_EQ(r.last.error.message(),
            "proxy proxy:3128: CONNECT api.anthropic.com:443 refused: 407 Proxy Authentication Required");
  r = Drive(Url("http://proxy:3128"), "h", 443, "HTTP/1.1 502\r\n\r\n", 0);
  EXPECT_EQ(r.last.error.message(), "proxy proxy:3128: CONNECT h:443 refused: 502");
  r = Drive(Url("http://proxy:3128"), "h", 443, "SSH-2.0-OpenSSH_9.6\r\n\r\n", 0);
  EXPECT_NE(r.last.error.message().find("malformed response \"SSH-2.0-OpenSSH_9.6\""), std::string::npos)
      << r.last.error.message();
  r = Drive(Url("http://proxy:3128"), "h", 443, "HTTP/1.1 2000 OK\r\n\r\n", 0);
  EXPECT_NE(r.last.error.message().find("malformed response"), std::string::npos) << r.last.error.message();
}

TEST(HttpConnect, OversizedHeadAndStateErrors) {
  ProxyHandshake h(Url("http://proxy:3128"), "h", 443);
  h.Start();
  ProxyHandshake::Step s = h.Feed("HTTP/1.1 200 OK\r\n" + std::string(17 * 1024, 'x'));
  EXPECT_EQ(s.error.message(), "proxy proxy:3128: CONNECT response head over 16 KiB");
  EXPECT_EQ(h.Feed("\r\n\r\n").error.message(), s.error.message());  // sticky

  ProxyHandshake early(Url("http://proxy:3128"), "h", 443);
  EXPECT_FALSE(early.Feed("HTTP/1.1 200 OK\r\n\r\n").error.ok());
  ProxyHandshake bad_target(Url("http://proxy:3128"), "h", 0);
  EXPECT_EQ(bad_target.Start().error.message(), "proxy proxy:3128: bad target h:0");
}

// ---- SOCKS5 ------------------------------------------------------------------

const std::string kConnectDomain = B({5, 1, 0, 3, 14}) + "api.openai.com" + B({0x01, 0xBB});

TEST(Socks5, NoAuthDomainConnectUnderEverySplit) {
  // method 00; reply with an IPv4 bound address; then tunnel bytes.
  const std::string proxy = B({5, 0}) + B({5, 0, 0, 1, 10, 0, 0, 1, 0x1F, 0x90}) + "tunnel";
  for (size_t split = 0; split < proxy.size(); ++split) {
    ProxyHandshake h(Url("socks5://127.0.0.1:1080"), "api.openai.com", 443);
    std::string sent = h.Start().send;
    EXPECT_EQ(sent, B({5, 1, 0}));
    // Byte at a time up to the split, then the rest in one piece.
    ProxyHandshake::Step last;
    std::string tunnel;
    for (size_t i = 0; i < proxy.size(); i = i < split ? i + 1 : proxy.size()) {
      std::string piece = i < split ? proxy.substr(i, 1) : proxy.substr(i);
      if (last.done) {
        tunnel += piece;
        continue;
      }
      last = h.Feed(piece);
      sent += last.send;
      tunnel += last.leftover;
      ASSERT_TRUE(last.error.ok()) << split << ": " << last.error.message();
    }
    ASSERT_TRUE(last.done) << split;
    EXPECT_TRUE(h.done());
    EXPECT_EQ(sent, B({5, 1, 0}) + kConnectDomain) << split;
    // Bytes past the reply belong to the tunnel, wherever the split fell.
    EXPECT_EQ(tunnel, "tunnel") << split;
  }
}

TEST(Socks5, UserPasswordAuthAndDomainBoundAddress) {
  const std::string proxy = B({5, 2}) + B({1, 0}) + B({5, 0, 0, 3, 5}) + "bound" + B({0, 80});
  for (size_t split = 0; split < proxy.size(); ++split) {
    Exchange r = Drive(Url("socks5://user:pa55@proxy:1080"), "api.openai.com", 443, proxy, split);
    ASSERT_TRUE(r.last.error.ok()) << split << ": " << r.last.error.message();
    ASSERT_TRUE(r.last.done) << split;
    EXPECT_EQ(r.sent, B({5, 2, 0, 2}) + B({1, 4}) + "user" + B({4}) + "pa55" + kConnectDomain) << split;
    EXPECT_EQ(r.last.leftover, "");
  }
}

TEST(Socks5, ProxyNeedingNoAuthMayPickIt) {
  Exchange r = Drive(Url("socks5://user:pw@proxy:1080"), "example.com", 80,
                B({5, 0}) + B({5, 0, 0, 4}) + std::string(16, '\0') + B({0, 0}), 0);
  ASSERT_TRUE(r.last.done) << r.last.error.message();
  EXPECT_EQ(r.sent, B({5, 2, 0, 2}) + B({5, 1, 0, 3, 11}) + "example.com" + B({0, 80}));
}

TEST(Socks5, IpLiteralTargets) {
  Exchange r = Drive(Url("socks5://proxy:1080"), "192.0.2.7", 443, B({5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0}), 0);
  ASSERT_TRUE(r.last.done) << r.last.error.message();
  EXPECT_EQ(r.sent, B({5, 1, 0}) + B({5, 1, 0, 1, 192, 0, 2, 7, 1, 0xBB}));
  r = Drive(Url("socks5://proxy:1080"), "::1", 443, B({5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0}), 0);
  ASSERT_TRUE(r.last.done) << r.last.error.message();
  EXPECT_EQ(r.sent, B({5, 1, 0}) + B({5, 1, 0, 4}) + std::string(15, '\0') + B({1, 1, 0xBB}));
}

TEST(Socks5, Failures) {
  struct Case {
    std::string url, proxy_bytes, message;
  };
  const std::vector<Case> cases = {
      {"socks5://proxy:1080", B({5, 0xFF}),
       "proxy proxy:1080: SOCKS5 proxy requires authentication (no acceptable method offered)"},
      {"socks5://u:p@proxy:1080", B({5, 0xFF}),
       "proxy proxy:1080: SOCKS5 proxy accepts none of the offered authentication methods"},
      {"socks5://proxy:1080", B({5, 2}),
       "proxy proxy:1080: SOCKS5 proxy chose authentication method 2, which was not offered"},
      {"socks5://u:p@proxy:1080", B({5, 2, 1, 1}), "proxy proxy:1080: SOCKS5 authentication failed for user \"u\""},
      {"socks5://proxy:1080", B({4, 0}), "proxy proxy:1080: not a SOCKS5 server (version byte 4)"},
      {"socks5://proxy:1080", "HTTP/1.1 400 Bad Request\r\n",
       "proxy proxy:1080: not a SOCKS5 server (version byte 72)"},
      {"socks5://proxy:1080", B({5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0}),
       "proxy proxy:1080: SOCKS5 CONNECT api.openai.com:443 failed: connection refused (5)"},
      {"socks5://proxy:1080", B({5, 0, 5, 2, 0, 1}),
       "proxy proxy:1080: SOCKS5 CONNECT api.openai.com:443 failed: connection not allowed by ruleset (2)"},
      {"socks5://proxy:1080", B({5, 0, 5, 4, 0, 1}),
       "proxy proxy:1080: SOCKS5 CONNECT api.openai.com:443 failed: host unreachable (4)"},
      {"socks5://proxy:1080", B({5, 0, 5, 0, 0, 9, 0}),
       "proxy proxy:1080: SOCKS5 reply with unknown address type 9"},
  };
  for (const Case& c : cases) {
    for (size_t split = 0; split < c.proxy_bytes.size(); ++split) {
      Exchange r = Drive(Url(c.url), "api.openai.com", 443, c.proxy_bytes, split);
      EXPECT_FALSE(r.last.done) << c.message;
      EXPECT_EQ(r.last.error.message(), c.message) << split;
    }
  }
}

TEST(Socks5, LimitsAreCheckedBeforeSending) {
  ProxyUrl p = Url("socks5://proxy:1080");
  p.username = std::string(256, 'u');
  EXPECT_EQ(ProxyHandshake(p, "h", 1).Start().error.message(),
            "proxy proxy:1080: SOCKS5 user name and password are limited to 255 bytes");
  EXPECT_EQ(ProxyHandshake(Url("socks5://proxy:1080"), std::string(256, 'h'), 1).Start().error.message(),
            "proxy proxy:1080: SOCKS5 host names are limited to 255 bytes");
}

}  // namespace
}  // namespace tether
