// TlsSession pairs talk to each other in-process: ciphertext moves through a
// fake transport that stalls every other attempt and trickles bytes, so each
// side sees WANT_READ in the middle of records and handshake messages.
#include "common/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/aes_gcm.h"

namespace tether {
namespace {

namespace fs = std::filesystem;

// Certificates shared by every test, generated once with our own code.
struct Pki {
  std::string dir;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
};

Pki* g_pki = nullptr;

void MustOk(const Status& st) {
  if (!st.ok()) {
    std::fprintf(stderr, "PKI setup failed: %s\n", st.message().c_str());
    std::abort();
  }
}

// Designated initializers would trip -Wmissing-field-initializers.
CertRequest Req(const std::string& cn, const std::string& dns = "", const std::string& ips = "",
                bool client_auth = false) {
  CertRequest r;
  r.common_name = cn;
  r.dns_names = dns;
  r.ip_addresses = ips;
  r.client_auth = client_auth;
  return r;
}

class TlsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    char tmpl[] = "/tmp/tether_tls_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    g_pki = new Pki{tmpl};
    const Pki& p = *g_pki;
    CertRequest ca = Req("Tether Test CA");
    MustOk(GenerateCa(ca, p.Path("ca.pem"), p.Path("ca.key")));
    CertRequest hub = Req("hub", "localhost, hub.test", "127.0.0.1,::1");
    MustOk(IssueCert(hub, p.Path("ca.pem"), p.Path("ca.key"), p.Path("hub.pem"), p.Path("hub.key")));

    CertRequest client_ca = Req("Tether Edge CA");
    MustOk(GenerateCa(client_ca, p.Path("client_ca.pem"), p.Path("client_ca.key")));
    CertRequest edge = Req("edge-1", "", "", true);
    MustOk(IssueCert(edge, p.Path("client_ca.pem"), p.Path("client_ca.key"), p.Path("edge.pem"), p.Path("edge.key")));
    // Signed by the client CA but for serverAuth only: not a client certificate.
    CertRequest wrong_usage = Req("edge-serverauth");
    MustOk(IssueCert(wrong_usage, p.Path("client_ca.pem"), p.Path("client_ca.key"), p.Path("edge_srv.pem"),
                     p.Path("edge_srv.key")));

    CertRequest other_ca = Req("Someone Else CA");
    MustOk(GenerateCa(other_ca, p.Path("other_ca.pem"), p.Path("other_ca.key")));
    MustOk(IssueCert(hub, p.Path("other_ca.pem"), p.Path("other_ca.key"), p.Path("other_hub.pem"),
                     p.Path("other_hub.key")));
    CertRequest other_edge = Req("edge-impostor", "", "", true);
    MustOk(IssueCert(other_edge, p.Path("other_ca.pem"), p.Path("other_ca.key"), p.Path("other_edge.pem"),
                     p.Path("other_edge.key")));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(g_pki->dir, ec);
    delete g_pki;
    g_pki = nullptr;
  }
};

const auto* const g_env = ::testing::AddGlobalTestEnvironment(new TlsEnvironment);

std::string P(const std::string& name) { return g_pki->Path(name); }

std::unique_ptr<TlsContext> Server(TlsServerOptions o = {}) {
  if (o.cert_file.empty()) o.cert_file = P("hub.pem");
  if (o.key_file.empty()) o.key_file = P("hub.key");
  auto r = TlsContext::NewServer(o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r.value()) : nullptr;
}

std::unique_ptr<TlsContext> Client(const TlsClientOptions& o) {
  auto r = TlsContext::NewClient(o);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r.value()) : nullptr;
}

TlsClientOptions TrustCa() {
  TlsClientOptions o;
  o.ca_file = P("ca.pem");
  return o;
}

// One direction of the fake transport. Deliver() hands nothing to the
// receiver on every other attempt (so its next call returns WANT_READ) and at
// most `chunk` bytes otherwise.
class FlakyPipe {
 public:
  explicit FlakyPipe(size_t chunk) : chunk_(chunk) {}
  void Push(std::string bytes) {
    wire_bytes_ += bytes.size();
    pending_ += bytes;
  }
  void Deliver(TlsSession* to) {
    if (++attempts_ % 2 == 1 || pending_.empty()) return;
    size_t n = std::min(chunk_, pending_.size());
    to->PutCiphertext(pending_.data(), n);
    pending_.erase(0, n);
  }
  bool empty() const { return pending_.empty(); }
  size_t wire_bytes() const { return wire_bytes_; }
  void set_chunk(size_t chunk) { chunk_ = chunk; }

 private:
  size_t chunk_;
  std::string pending_;
  size_t attempts_ = 0;
  size_t wire_bytes_ = 0;
};

struct HandshakeResult {
  Status client;
  Status server;
  int client_stalls = 0;  // Handshake() calls that returned Ok, not done
  int server_stalls = 0;
  bool ok() const { return client.ok() && server.ok(); }
};

// A client and a server session joined by two flaky pipes.
struct Conn {
  TlsSession client;
  TlsSession server;
  FlakyPipe c2s;
  FlakyPipe s2c;
  Conn(TlsContext* cctx, TlsContext* sctx, const std::string& name, size_t chunk = 1)
      : client(cctx, name), server(sctx, ""), c2s(chunk), s2c(chunk) {}

  void Pump() {
    c2s.Push(client.TakeCiphertext());
    s2c.Push(server.TakeCiphertext());
    c2s.Deliver(&server);
    s2c.Deliver(&client);
  }

  // Drives both handshakes until both are done or one side fails; after a
  // failure keeps pumping a little so the peer can see the alert.
  HandshakeResult Handshake() {
    HandshakeResult r;
    bool cdone = false, sdone = false;
    int after_failure = 0;
    for (int i = 0; i < 200000; ++i) {
      Pump();
      if (!cdone && r.client.ok()) {
        r.client = client.Handshake(&cdone);
        if (r.client.ok() && !cdone) ++r.client_stalls;
      }
      if (!sdone && r.server.ok()) {
        r.server = server.Handshake(&sdone);
        if (r.server.ok() && !sdone) ++r.server_stalls;
      }
      if (cdone && sdone && c2s.empty() && s2c.empty() && !client.HasCiphertext() && !server.HasCiphertext())
        return r;
      if (!r.ok() && ++after_failure > 4000) return r;
    }
    if (r.ok()) r.client = Status::Error("handshake did not finish");
    return r;
  }

  // Sends `data` from one side and reads until it all arrived on the other.
  std::string Transfer(TlsSession* from, TlsSession* to, FlakyPipe* pipe, const std::string& data) {
    EXPECT_TRUE(from->Write(data).ok());
    pipe->Push(from->TakeCiphertext());
    std::string got;
    for (int i = 0; i < 1000000 && got.size() < data.size(); ++i) {
      pipe->Deliver(to);
      bool closed = false;
      Status st = to->Read(&got, &closed);
      EXPECT_TRUE(st.ok()) << st.message();
      EXPECT_FALSE(closed);
      if (!st.ok()) break;
    }
    return got;
  }
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  return s;
}

TEST(TlsTest, HandshakeAndDataThroughFlakyTransport) {
  auto sctx = Server();
  auto cctx = Client(TrustCa());
  ASSERT_TRUE(sctx && cctx);
  EXPECT_TRUE(sctx->is_server());
  EXPECT_FALSE(cctx->is_server());
  Conn c(cctx.get(), sctx.get(), "localhost", /*chunk=*/1);
  HandshakeResult r = c.Handshake();
  ASSERT_TRUE(r.ok()) << r.client.message() << " / " << r.server.message();
  // The transport really did starve both sides, many times.
  EXPECT_GT(r.client_stalls, 100);
  EXPECT_GT(r.server_stalls, 100);
  EXPECT_TRUE(c.client.handshake_done());
  EXPECT_TRUE(c.server.handshake_done());
  EXPECT_FALSE(c.client.resumed());
  EXPECT_FALSE(c.server.resumed());
  std::string suite = c.client.cipher_suite();
  EXPECT_EQ(suite, c.server.cipher_suite());
  EXPECT_NE(suite.find("ECDHE-ECDSA"), std::string::npos) << suite;
  EXPECT_TRUE(suite.find("GCM") != std::string::npos || suite.find("CHACHA20-POLY1305") != std::string::npos)
      << suite;
  EXPECT_TRUE(c.client.peer_verified());
  EXPECT_FALSE(c.server.peer_verified());  // no client_ca: no client certificate asked
  EXPECT_EQ(c.server.PeerCertSha256(), "");
  EXPECT_EQ(c.client.PeerCommonName(), "hub");

  // Small messages both ways, one byte per delivery.
  EXPECT_EQ(c.Transfer(&c.client, &c.server, &c.c2s, "GET /_tether/ping HTTP/1.1\r\n\r\n"),
            "GET /_tether/ping HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.Transfer(&c.server, &c.client, &c.s2c, "pong"), "pong");

  // 100 KB each way: several 16 KiB records, delivered in odd-sized pieces
  // that split record headers and bodies.
  c.c2s.set_chunk(997);
  c.s2c.set_chunk(997);
  std::string big = Pattern(100 * 1024);
  std::string up = c.Transfer(&c.client, &c.server, &c.c2s, big);
  EXPECT_EQ(up.size(), big.size());
  EXPECT_TRUE(up == big);
  std::string down = c.Transfer(&c.server, &c.client, &c.s2c, big);
  EXPECT_TRUE(down == big);

  // Several records fed at once are all drained by a single Read().
  std::string several = "one" + Pattern(40000) + "tail";
  ASSERT_TRUE(c.client.Write("one").ok());
  ASSERT_TRUE(c.client.Write(Pattern(40000)).ok());
  ASSERT_TRUE(c.client.Write("tail").ok());
  std::string wire = c.client.TakeCiphertext();
  EXPECT_FALSE(c.client.HasCiphertext());
  c.server.PutCiphertext(wire.data(), wire.size());
  std::string got;
  bool closed = false;
  ASSERT_TRUE(c.server.Read(&got, &closed).ok());
  EXPECT_FALSE(closed);
  EXPECT_TRUE(got == several);

  // close_notify.
  c.client.SendCloseNotify();
  EXPECT_TRUE(c.client.HasCiphertext());
  std::string alert = c.client.TakeCiphertext();
  EXPECT_FALSE(c.client.HasCiphertext());
  c.server.PutCiphertext(alert.data(), alert.size());
  got.clear();
  ASSERT_TRUE(c.server.Read(&got, &closed).ok());
  EXPECT_TRUE(closed);
  EXPECT_TRUE(got.empty());
}

TEST(TlsTest, ReadWithDataAndCloseNotifyInOneDelivery) {
  auto sctx = Server();
  auto cctx = Client(TrustCa());
  Conn c(cctx.get(), sctx.get(), "localhost", 4096);
  ASSERT_TRUE(c.Handshake().ok());
  ASSERT_TRUE(c.server.Write("last words").ok());
  c.server.SendCloseNotify();
  std::string wire = c.server.TakeCiphertext();
  c.client.PutCiphertext(wire.data(), wire.size());
  std::string got;
  bool closed = false;
  ASSERT_TRUE(c.client.Read(&got, &closed).ok());
  EXPECT_EQ(got, "last words");
  EXPECT_TRUE(closed);
}

// Records sealed by our ChaCha20-Poly1305 and AES-GCM must open in mbedTLS
// and the other way round, after full and abbreviated handshakes alike: the
// key block split, the nonces (GCM's explicit part in each record) and the
// sequence numbers carried over from the handshake all have to match what a
// standard TLS 1.2 peer does. Without AES-NI, GCM suites stay in mbedTLS.
TEST(TlsTest, FastRecordsInteroperateWithMbedtlsRecords) {
  struct Side {
    bool client_fast, server_fast;
  };
  for (const char* suite : {"TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256", "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
                            "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"}) {
    for (Side side : {Side{true, false}, Side{false, true}, Side{true, true}}) {
      SCOPED_TRACE(std::string(suite) + (side.client_fast ? " client:fast" : " client:mbedtls") +
                   (side.server_fast ? " server:fast" : " server:mbedtls"));
      const bool ours = std::string(suite).find("CHACHA20") != std::string::npos || AesGcmAvailable();
      TlsServerOptions so;
      so.fast_records = side.server_fast;
      so.only_cipher_suite = suite;
      auto sctx = Server(so);
      TlsClientOptions co = TrustCa();
      co.fast_records = side.client_fast;
      auto cctx = Client(co);
      ASSERT_TRUE(sctx && cctx);
      for (int round = 0; round < 2; ++round) {  // the second handshake resumes the session
        Conn c(cctx.get(), sctx.get(), "localhost", 701);
        HandshakeResult r = c.Handshake();
        ASSERT_TRUE(r.ok()) << r.client.message() << " / " << r.server.message();
        EXPECT_EQ(c.client.resumed(), round == 1);
        EXPECT_EQ(c.client.cipher_suite(), suite);
        EXPECT_EQ(c.client.fast_records(), side.client_fast && ours);
        EXPECT_EQ(c.server.fast_records(), side.server_fast && ours);
        for (size_t n : {size_t{1}, size_t{16384}, size_t{16385}, size_t{100 * 1024}}) {
          std::string data = Pattern(n);
          EXPECT_TRUE(c.Transfer(&c.client, &c.server, &c.c2s, data) == data) << n;
          EXPECT_TRUE(c.Transfer(&c.server, &c.client, &c.s2c, data) == data) << n;
        }
        c.server.SendCloseNotify();
        std::string alert = c.server.TakeCiphertext();
        c.client.PutCiphertext(alert.data(), alert.size());
        std::string got;
        bool closed = false;
        ASSERT_TRUE(c.client.Read(&got, &closed).ok());
        EXPECT_TRUE(closed);
      }
    }
  }
}

TEST(TlsTest, TamperedFastRecordFailsTheSession) {
  std::vector<std::string> suites = {"TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"};
  if (AesGcmAvailable()) {
    suites.push_back("TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
    suites.push_back("TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384");
  }
  for (const std::string& suite : suites) {
    SCOPED_TRACE(suite);
    TlsServerOptions so;
    so.only_cipher_suite = suite;
    auto sctx = Server(so);
    auto cctx = Client(TrustCa());
    // A flipped bit in the middle of the ciphertext, and (GCM) in the
    // explicit nonce right after the record header.
    for (size_t where : {size_t{0}, size_t{6}}) {
      Conn c(cctx.get(), sctx.get(), "localhost", 4096);
      ASSERT_TRUE(c.Handshake().ok());
      ASSERT_TRUE(c.client.fast_records());
      ASSERT_TRUE(c.client.Write("authentic").ok());
      std::string wire = c.client.TakeCiphertext();
      wire[where ? where : wire.size() / 2] ^= 1;
      c.server.PutCiphertext(wire.data(), wire.size());
      std::string got;
      bool closed = false;
      Status st = c.server.Read(&got, &closed);
      EXPECT_FALSE(st.ok());
      EXPECT_NE(st.message().find("bad_record_mac"), std::string::npos) << st.message();
      EXPECT_TRUE(got.empty());
      // The session stays failed: nothing more is accepted or sent.
      EXPECT_FALSE(c.server.Read(&got, &closed).ok());
      EXPECT_FALSE(c.server.Write("x").ok());
    }
    // A replayed record (right bytes, wrong sequence number) fails as well.
    Conn d(cctx.get(), sctx.get(), "localhost", 4096);
    ASSERT_TRUE(d.Handshake().ok());
    ASSERT_TRUE(d.client.Write("once").ok());
    std::string record = d.client.TakeCiphertext();
    std::string got;
    bool closed = false;
    d.server.PutCiphertext(record.data(), record.size());
    ASSERT_TRUE(d.server.Read(&got, &closed).ok());
    d.server.PutCiphertext(record.data(), record.size());
    EXPECT_FALSE(d.server.Read(&got, &closed).ok());
  }
}

TEST(TlsTest, ReadAndWriteBeforeHandshakeFail) {
  auto sctx = Server();
  auto cctx = Client(TrustCa());
  TlsSession s(cctx.get(), "localhost");
  std::string out;
  bool closed = false;
  EXPECT_FALSE(s.Read(&out, &closed).ok());
  EXPECT_FALSE(s.Write("x").ok());
  EXPECT_EQ(s.cipher_suite(), "");
  EXPECT_EQ(s.PeerCertSha256(), "");
}

TEST(TlsTest, ClientWithCaNeedsAServerName) {
  auto cctx = Client(TrustCa());
  TlsSession s(cctx.get(), "");
  bool done = true;
  Status st = s.Handshake(&done);
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(done);
  EXPECT_NE(st.message().find("server name"), std::string::npos) << st.message();
  EXPECT_FALSE(s.HasCiphertext());  // nothing was sent
}

TEST(TlsTest, GarbageFailsTheServerHandshake) {
  auto sctx = Server();
  TlsSession s(sctx.get(), "");
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  s.PutCiphertext(junk.data(), junk.size());
  bool done = true;
  Status st = s.Handshake(&done);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(done);
  EXPECT_FALSE(st.message().empty());
  // The failure is sticky.
  EXPECT_FALSE(s.Handshake(&done).ok());
}

TEST(TlsTest, WrongServerNameFails) {
  auto sctx = Server();
  auto cctx = Client(TrustCa());
  Conn c(cctx.get(), sctx.get(), "api.example.com");
  HandshakeResult r = c.Handshake();
  ASSERT_FALSE(r.client.ok());
  EXPECT_NE(r.client.message().find("certificate verification failed"), std::string::npos) << r.client.message();
  EXPECT_NE(r.client.message().find("CN"), std::string::npos) << r.client.message();
  // The server learns through the alert.
  EXPECT_FALSE(r.server.ok());
  EXPECT_FALSE(c.server.handshake_done());
}

TEST(TlsTest, SecondDnsNameInSanMatches) {
  auto sctx = Server();
  auto cctx = Client(TrustCa());
  Conn c(cctx.get(), sctx.get(), "hub.test", 512);
  HandshakeResult r = c.Handshake();
  EXPECT_TRUE(r.ok()) << r.client.message();
}

TEST(TlsTest, IpServerNameIsCheckedAgainstIpSan) {
  auto sctx = Server();
  auto cctx = Client(TrustCa());
  {
    Conn c(cctx.get(), sctx.get(), "127.0.0.1", 512);
    HandshakeResult r = c.Handshake();
    EXPECT_TRUE(r.ok()) << r.client.message();
  }
  {
    Conn c(cctx.get(), sctx.get(), "::1", 512);
    HandshakeResult r = c.Handshake();
    EXPECT_TRUE(r.ok()) << r.client.message();
  }
  {
    Conn c(cctx.get(), sctx.get(), "127.0.0.2", 512);
    HandshakeResult r = c.Handshake();
    ASSERT_FALSE(r.client.ok());
    EXPECT_NE(r.client.message().find("verification failed"), std::string::npos) << r.client.message();
  }
}

TEST(TlsTest, CertificateFromAnotherCaFails) {
  TlsServerOptions so;
  so.cert_file = P("other_hub.pem");
  so.key_file = P("other_hub.key");
  auto sctx = Server(so);
  auto cctx = Client(TrustCa());
  Conn c(cctx.get(), sctx.get(), "localhost");
  HandshakeResult r = c.Handshake();
  ASSERT_FALSE(r.client.ok());
  EXPECT_NE(r.client.message().find("verif"), std::string::npos) << r.client.message();
  EXPECT_NE(r.client.message().find("not correctly signed"), std::string::npos) << r.client.message();
}

TEST(TlsTest, InsecureClientSkipsVerification) {
  TlsServerOptions so;
  so.cert_file = P("other_hub.pem");
  so.key_file = P("other_hub.key");
  auto sctx = Server(so);
  TlsClientOptions o;
  o.insecure = true;
  auto cctx = Client(o);
  Conn c(cctx.get(), sctx.get(), "wrong.name", 256);
  ASSERT_TRUE(c.Handshake().ok());
  EXPECT_FALSE(c.client.peer_verified());
  EXPECT_EQ(c.client.PeerCertSha256(), CertFileSha256(P("other_hub.pem")).value());
}

TEST(TlsTest, PinMatchSucceedsWithoutCa) {
  auto sctx = Server();
  TlsClientOptions o;
  auto pin = CertFileSha256(P("hub.pem"));
  ASSERT_TRUE(pin.ok());
  // Upper case with colons is accepted too.
  std::string fancy;
  for (size_t i = 0; i < pin->size(); i += 2) {
    if (i) fancy += ':';
    fancy += static_cast<char>(std::toupper((*pin)[i]));
    fancy += static_cast<char>(std::toupper((*pin)[i + 1]));
  }
  o.pin_sha256 = fancy;
  auto cctx = Client(o);
  // Pin-only verification ignores the name.
  Conn c(cctx.get(), sctx.get(), "10.9.8.7", 64);
  HandshakeResult r = c.Handshake();
  ASSERT_TRUE(r.ok()) << r.client.message();
  EXPECT_TRUE(c.client.peer_verified());
  EXPECT_EQ(c.client.PeerCertSha256(), *pin);
}

TEST(TlsTest, PinMismatchFails) {
  auto sctx = Server();
  TlsClientOptions o;
  o.pin_sha256 = CertFileSha256(P("other_hub.pem")).value();
  auto cctx = Client(o);
  Conn c(cctx.get(), sctx.get(), "localhost", 64);
  HandshakeResult r = c.Handshake();
  ASSERT_FALSE(r.client.ok());
  EXPECT_NE(r.client.message().find("pin mismatch"), std::string::npos) << r.client.message();
  EXPECT_NE(r.client.message().find(CertFileSha256(P("hub.pem")).value()), std::string::npos);
  EXPECT_FALSE(r.server.ok());
}

TEST(TlsTest, PinAndCaMustBothPass) {
  auto sctx = Server();
  {
    TlsClientOptions o = TrustCa();
    o.pin_sha256 = CertFileSha256(P("hub.pem")).value();
    auto cctx = Client(o);
    Conn c(cctx.get(), sctx.get(), "localhost", 64);
    EXPECT_TRUE(c.Handshake().ok());
  }
  {
    TlsClientOptions o = TrustCa();
    o.pin_sha256 = CertFileSha256(P("other_hub.pem")).value();
    auto cctx = Client(o);
    Conn c(cctx.get(), sctx.get(), "localhost", 64);
    HandshakeResult r = c.Handshake();
    ASSERT_FALSE(r.client.ok());
    EXPECT_NE(r.client.message().find("pin mismatch"), std::string::npos) << r.client.message();
  }
  {
    // The pin matches but the CA does not sign this certificate.
    TlsServerOptions so;
    so.cert_file = P("other_hub.pem");
    so.key_file = P("other_hub.key");
    auto other = Server(so);
    TlsClientOptions o = TrustCa();
    o.pin_sha256 = CertFileSha256(P("other_hub.pem")).value();
    auto cctx = Client(o);
    Conn c(cctx.get(), other.get(), "localhost", 64);
    HandshakeResult r = c.Handshake();
    ASSERT_FALSE(r.client.ok());
    EXPECT_NE(r.client.message().find("verification failed"), std::string::npos) << r.client.message();
  }
  {
    // The pin matches, the CA signs, but the name is wrong.
    TlsClientOptions o = TrustCa();
    o.pin_sha256 = CertFileSha256(P("hub.pem")).value();
    auto cctx = Client(o);
    Conn c(cctx.get(), sctx.get(), "evil.example", 64);
    EXPECT_FALSE(c.Handshake().client.ok());
  }
}

TlsServerOptions MtlsServer(bool optional) {
  TlsServerOptions so;
  so.client_ca_file = P("client_ca.pem");
  so.client_cert_optional = optional;
  return so;
}

TlsClientOptions WithClientCert(const std::string& name) {
  TlsClientOptions o = TrustCa();
  o.cert_file = P(name + ".pem");
  o.key_file = P(name + ".key");
  return o;
}

TEST(TlsTest, MutualTlsRequiredRejectsClientWithoutCert) {
  auto sctx = Server(MtlsServer(false));
  auto cctx = Client(TrustCa());
  Conn c(cctx.get(), sctx.get(), "localhost", 128);
  HandshakeResult r = c.Handshake();
  ASSERT_FALSE(r.server.ok());
  EXPECT_NE(r.server.message().find("client certificate required"), std::string::npos) << r.server.message();
  EXPECT_FALSE(r.client.ok());
  EXPECT_NE(r.client.message().find("alert"), std::string::npos) << r.client.message();
}

TEST(TlsTest, MutualTlsRejectsCertFromForeignCa) {
  auto sctx = Server(MtlsServer(false));
  auto cctx = Client(WithClientCert("other_edge"));
  Conn c(cctx.get(), sctx.get(), "localhost", 128);
  HandshakeResult r = c.Handshake();
  ASSERT_FALSE(r.server.ok());
  EXPECT_NE(r.server.message().find("verif"), std::string::npos) << r.server.message();
  EXPECT_FALSE(r.client.ok());
}

TEST(TlsTest, MutualTlsRejectsCertWithoutClientAuthUsage) {
  for (bool optional : {false, true}) {
    auto sctx = Server(MtlsServer(optional));
    auto cctx = Client(WithClientCert("edge_srv"));
    Conn c(cctx.get(), sctx.get(), "localhost", 512);
    HandshakeResult r = c.Handshake();
    ASSERT_FALSE(r.server.ok()) << "optional=" << optional;
    EXPECT_NE(r.server.message().find("extendedKeyUsage"), std::string::npos) << r.server.message();
    EXPECT_FALSE(c.server.peer_verified());
    // The client learns through an alert, during the handshake or (under
    // OPTIONAL, where mbedTLS completes it) on its first read.
    if (r.client.ok()) {
      ASSERT_TRUE(c.client.handshake_done());
      for (int i = 0; i < 10000 && !c.s2c.empty(); ++i) c.Pump();
      std::string got;
      bool closed = false;
      Status st = c.client.Read(&got, &closed);
      EXPECT_FALSE(st.ok());
      EXPECT_NE(st.message().find("alert"), std::string::npos) << st.message();
    }
  }
}

TEST(TlsTest, MutualTlsAcceptsCertFromClientCa) {
  auto sctx = Server(MtlsServer(false));
  auto cctx = Client(WithClientCert("edge"));
  Conn c(cctx.get(), sctx.get(), "localhost", 128);
  HandshakeResult r = c.Handshake();
  ASSERT_TRUE(r.ok()) << r.client.message() << " / " << r.server.message();
  EXPECT_EQ(c.server.PeerCommonName(), "edge-1");
  EXPECT_TRUE(c.server.peer_verified());
  EXPECT_EQ(c.server.PeerCertSha256(), CertFileSha256(P("edge.pem")).value());
  EXPECT_EQ(c.Transfer(&c.client, &c.server, &c.c2s, "hi"), "hi");
}

TEST(TlsTest, OptionalClientCert) {
  auto sctx = Server(MtlsServer(true));
  {
    auto cctx = Client(TrustCa());
    Conn c(cctx.get(), sctx.get(), "localhost", 128);
    ASSERT_TRUE(c.Handshake().ok());
    EXPECT_FALSE(c.server.peer_verified());
    EXPECT_EQ(c.server.PeerCommonName(), "");
    EXPECT_EQ(c.server.PeerCertSha256(), "");
  }
  {
    auto cctx = Client(WithClientCert("edge"));
    Conn c(cctx.get(), sctx.get(), "localhost", 128);
    ASSERT_TRUE(c.Handshake().ok());
    EXPECT_TRUE(c.server.peer_verified());
    EXPECT_EQ(c.server.PeerCommonName(), "edge-1");
  }
  {
    // A certificate that is sent must verify, even when one is optional.
    auto cctx = Client(WithClientCert("other_edge"));
    Conn c(cctx.get(), sctx.get(), "localhost", 128);
    HandshakeResult r = c.Handshake();
    ASSERT_FALSE(r.server.ok());
    EXPECT_NE(r.server.message().find("client certificate verification failed"), std::string::npos)
        << r.server.message();
  }
}

TEST(TlsTest, SessionResumption) {
  auto sctx = Server(MtlsServer(false));
  TlsClientOptions o = WithClientCert("edge");
  auto cctx = Client(o);
  size_t full_bytes = 0;
  std::string first_suite;
  {
    Conn c(cctx.get(), sctx.get(), "localhost", 256);
    ASSERT_TRUE(c.Handshake().ok());
    EXPECT_FALSE(c.client.resumed());
    EXPECT_FALSE(c.server.resumed());
    full_bytes = c.s2c.wire_bytes();
    first_suite = c.client.cipher_suite();
  }
  for (int i = 0; i < 2; ++i) {
    Conn c(cctx.get(), sctx.get(), "localhost", 256);
    HandshakeResult r = c.Handshake();
    ASSERT_TRUE(r.ok()) << r.client.message() << " / " << r.server.message();
    EXPECT_TRUE(c.client.resumed());
    EXPECT_TRUE(c.server.resumed());
    // Independent evidence of an abbreviated handshake: no certificate or key
    // exchange from the server.
    EXPECT_LT(c.s2c.wire_bytes() * 3, full_bytes);
    EXPECT_EQ(c.client.cipher_suite(), first_suite);
    // Identity survives resumption on both ends.
    EXPECT_EQ(c.client.PeerCertSha256(), CertFileSha256(P("hub.pem")).value());
    EXPECT_EQ(c.server.PeerCommonName(), "edge-1");
    EXPECT_TRUE(c.server.peer_verified());
    EXPECT_TRUE(c.client.peer_verified());
    EXPECT_EQ(c.Transfer(&c.client, &c.server, &c.c2s, "after resume"), "after resume");
    EXPECT_EQ(c.Transfer(&c.server, &c.client, &c.s2c, "ok"), "ok");
  }
  {
    // Sessions are kept per server name.
    Conn c(cctx.get(), sctx.get(), "127.0.0.1", 256);
    ASSERT_TRUE(c.Handshake().ok());
    EXPECT_FALSE(c.client.resumed());
  }
  {
    // A fresh server context has different ticket keys: full handshake.
    auto sctx2 = Server(MtlsServer(false));
    Conn c(cctx.get(), sctx2.get(), "localhost", 256);
    HandshakeResult r = c.Handshake();
    ASSERT_TRUE(r.ok()) << r.client.message();
    EXPECT_FALSE(c.client.resumed());
    EXPECT_FALSE(c.server.resumed());
  }
}

TEST(TlsTest, NoResumptionWhenDisabled) {
  {
    auto sctx = Server();
    TlsClientOptions o = TrustCa();
    o.resume_sessions = false;
    auto cctx = Client(o);
    for (int i = 0; i < 2; ++i) {
      Conn c(cctx.get(), sctx.get(), "localhost", 512);
      ASSERT_TRUE(c.Handshake().ok());
      EXPECT_FALSE(c.client.resumed());
    }
  }
  {
    TlsServerOptions so;
    so.session_tickets = false;
    auto sctx = Server(so);
    auto cctx = Client(TrustCa());
    for (int i = 0; i < 2; ++i) {
      Conn c(cctx.get(), sctx.get(), "localhost", 512);
      ASSERT_TRUE(c.Handshake().ok());
      EXPECT_FALSE(c.client.resumed());
      EXPECT_FALSE(c.server.resumed());
    }
  }
}

TEST(TlsTest, ContextErrorsNameTheProblem) {
  TlsServerOptions so;
  so.cert_file = P("missing.pem");
  so.key_file = P("hub.key");
  auto s = TlsContext::NewServer(so);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("missing.pem"), std::string::npos) << s.status().message();

  so.cert_file = P("hub.pem");
  so.key_file = P("edge.key");
  s = TlsContext::NewServer(so);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("does not match"), std::string::npos) << s.status().message();

  TlsClientOptions o;
  auto c = TlsContext::NewClient(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("insecure"), std::string::npos);

  o.pin_sha256 = "abcd";
  c = TlsContext::NewClient(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("pin_sha256"), std::string::npos);

  o = TrustCa();
  o.cert_file = P("edge.pem");
  c = TlsContext::NewClient(o);
  EXPECT_FALSE(c.ok());
}

TEST(TlsTest, SystemCaBundleLoads) {
  if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) != 0) GTEST_SKIP() << "no system CA bundle";
  TlsClientOptions o;
  o.system_ca = true;
  auto c = TlsContext::NewClient(o);
  EXPECT_TRUE(c.ok()) << c.status().message();
  // Our private hub is not signed by a public CA.
  auto sctx = Server();
  Conn conn(c.value().get(), sctx.get(), "localhost", 4096);
  EXPECT_FALSE(conn.Handshake().client.ok());
}

TEST(TlsTest, GeneratedFiles) {
  struct stat st {};
  ASSERT_EQ(stat(P("hub.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(P("ca.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Each certificate is distinct (random keys and serials).
  EXPECT_NE(CertFileSha256(P("hub.pem")).value(), CertFileSha256(P("other_hub.pem")).value());

  // A leaf is not a CA: a certificate "issued" by the hub certificate does
  // not verify even though its issuer chains up to the trusted root.
  CertRequest leaf = Req("sub", "localhost");
  ASSERT_TRUE(IssueCert(leaf, P("hub.pem"), P("hub.key"), P("sub.pem"), P("sub.key")).ok());
  std::string chain = P("sub_chain.pem");
  ASSERT_EQ(std::system(("cat " + P("sub.pem") + " " + P("hub.pem") + " > " + chain).c_str()), 0);
  TlsServerOptions so;
  so.cert_file = chain;
  so.key_file = P("sub.key");
  auto sctx = Server(so);
  auto cctx = Client(TrustCa());
  Conn c(cctx.get(), sctx.get(), "localhost", 4096);
  HandshakeResult r = c.Handshake();
  ASSERT_FALSE(r.client.ok());
  EXPECT_NE(r.client.message().find("verification failed"), std::string::npos) << r.client.message();

  // Bad requests are refused with a reason.
  CertRequest bad_ip = Req("x", "", "300.1.1.1");
  Status s = IssueCert(bad_ip, P("ca.pem"), P("ca.key"), P("x.pem"), P("x.key"));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("300.1.1.1"), std::string::npos);
  EXPECT_FALSE(IssueCert(leaf, P("ca.pem"), P("hub.key"), P("x.pem"), P("x.key")).ok());  // key mismatch
  CertRequest no_days = Req("x");
  no_days.days = 0;
  EXPECT_FALSE(GenerateCa(no_days, P("x.pem"), P("x.key")).ok());
}

TEST(TlsTest, CertFileSha256MatchesWhatTheClientSees) {
  auto sctx = Server();
  auto cctx = Client(TrustCa());
  Conn c(cctx.get(), sctx.get(), "localhost", 4096);
  ASSERT_TRUE(c.Handshake().ok());
  auto file_hash = CertFileSha256(P("hub.pem"));
  ASSERT_TRUE(file_hash.ok());
  EXPECT_EQ(file_hash->size(), 64u);
  EXPECT_EQ(c.client.PeerCertSha256(), *file_hash);
  EXPECT_FALSE(CertFileSha256(P("nope.pem")).ok());
  EXPECT_FALSE(CertFileSha256(P("hub.key")).ok());  // a key, not a certificate
}

TEST(TlsTest, SecretEquals) {
  EXPECT_TRUE(SecretEquals("", ""));
  EXPECT_TRUE(SecretEquals("sk-edge-123", "sk-edge-123"));
  EXPECT_FALSE(SecretEquals("sk-edge-123", "sk-edge-124"));
  EXPECT_FALSE(SecretEquals("sk-edge-123", "xk-edge-123"));
  EXPECT_FALSE(SecretEquals("sk-edge-123", "sk-edge-12"));
  EXPECT_FALSE(SecretEquals("sk", ""));
  EXPECT_TRUE(SecretEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(SecretEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(TlsTest, Sha256Hex) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TlsTest, RandomBytes) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  std::string a = RandomBytes(32);
  std::string b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  // Larger than one ctr_drbg request.
  std::string big = RandomBytes(5000);
  EXPECT_EQ(big.size(), 5000u);
  EXPECT_NE(big.substr(0, 1024), big.substr(1024, 1024));
}

}  // namespace
}  // namespace tether
