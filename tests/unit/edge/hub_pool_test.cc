// The pool's state machine against a real in-process TLS hub on loopback:
// warm-up to min_idle, refill after acquire, pings measuring RTT, loss of the
// hub (links closed, waiters told), recovery, and a clean loop close.
#include "edge/hub_pool.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <functional>
#include <sys/stat.h>

#include <map>
#include <set>

#include "common/metrics.h"

namespace tether {
namespace {

// A fake hub: answers every request with 200 "ok" on keep-alive TLS.
class FakeHub : public StreamHandler {
 public:
  FakeHub(uv_loop_t* loop, TlsContext* tls) : loop_(loop), tls_(tls) {}
  Status Listen(int port) {
    listener_ = std::make_unique<Listener>(loop_, [this](uv_stream_t* s) {
      Stream* st = Stream::Accept(s, tls_, this);
      if (st) streams_.insert(st);
    });
    Status s = listener_->Listen("127.0.0.1", port);
    port_ = listener_->bound_port();
    return s;
  }
  void Shutdown() {
    if (listener_) listener_->Close();
    for (Stream* s : std::set<Stream*>(streams_)) s->Close();
  }
  void OnStreamData(Stream* s, const char* data, size_t len) override {
    std::string& buf = pending_[s];
    buf.append(data, len);
    size_t end;
    while ((end = buf.find("\r\n\r\n")) != std::string::npos) {
      ++requests;
      buf.erase(0, end + 4);
      s->Write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  }
  void OnStreamClosed(Stream* s, const Status&) override {
    streams_.erase(s);
    pending_.erase(s);
  }
  int port() const { return port_; }
  int open() const { return static_cast<int>(streams_.size()); }
  int requests = 0;

 private:
  uv_loop_t* loop_;
  TlsContext* tls_;
  std::unique_ptr<Listener> listener_;
  std::set<Stream*> streams_;
  std::map<Stream*, std::string> pending_;
  int port_ = 0;
};

class Waiter : public LinkWaiter {
 public:
  void OnLinkGranted(HubLink* l) override { granted = l; }
  void OnLinkUnavailable(const Status& why) override { unavailable = why.message(); }
  HubLink* granted = nullptr;
  std::string unavailable;
};

bool RunUntil(uv_loop_t* loop, const std::function<bool()>& done, uint64_t timeout_ms) {
  uint64_t deadline = NowMs() + timeout_ms;
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, [](uv_timer_t*) noexcept {}, 5, 5);
  bool ok = false;
  while (NowMs() < deadline) {
    if (done()) {
      ok = true;
      break;
    }
    uv_run(loop, UV_RUN_ONCE);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

class HubPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "pool_" + std::to_string(getpid());
    ::mkdir(dir_.c_str(), 0700);
    CertRequest ca;
    ca.common_name = "Test CA";
    ca.is_ca = true;
    ASSERT_TRUE(GenerateCa(ca, dir_ + "/ca.pem", dir_ + "/ca.key").ok());
    CertRequest hub;
    hub.common_name = "hub";
    hub.dns_names = "localhost";
    hub.ip_addresses = "127.0.0.1";
    ASSERT_TRUE(IssueCert(hub, dir_ + "/ca.pem", dir_ + "/ca.key", dir_ + "/hub.pem", dir_ + "/hub.key").ok());
    TlsServerOptions so;
    so.cert_file = dir_ + "/hub.pem";
    so.key_file = dir_ + "/hub.key";
    auto ctx = TlsContext::NewServer(so);
    ASSERT_TRUE(ctx.ok()) << ctx.status().message();
    server_tls_ = std::move(ctx.value());
    uv_loop_init(&loop_);
  }
  void TearDown() override {
    CloseWriteCoalescer(&loop_);
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }
  EdgeConfig Config(int port) {
    EdgeConfig c;
    c.hubs.push_back({"127.0.0.1", port, "localhost"});
    c.hub_ca = dir_ + "/ca.pem";
    c.edge_token = "t";
    c.pool_min_idle = 2;
    c.ping_interval_sec = 1;
    c.connect_timeout_sec = 1;
    return c;
  }
  std::string dir_;
  std::unique_ptr<TlsContext> server_tls_;
  uv_loop_t loop_;
};

TEST_F(HubPoolTest, WarmsRefillsPingsLosesAndRecovers) {
  FakeHub hub(&loop_, server_tls_.get());
  ASSERT_TRUE(hub.Listen(0).ok());
  EdgeConfig config = Config(hub.port());
  HubPool pool(&loop_, config);
  ASSERT_TRUE(pool.Start().ok());
  EXPECT_FALSE(pool.healthy());

  // Warm-up: min_idle links handshaken before any request.
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.idle_count() == 2; }, 5000));
  EXPECT_TRUE(pool.healthy());
  EXPECT_EQ(pool.hubs()[0].up, true);

  // Acquire takes a warm link at once and the pool refills in the background.
  Waiter w;
  HubLink* link = pool.Acquire(&w);
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(pool.busy_count(), 1);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.idle_count() == 2; }, 5000));
  pool.Release(link, true);
  EXPECT_EQ(pool.idle_count(), 3);
  EXPECT_EQ(pool.busy_count(), 0);

  // Idle links are pinged and the RTT recorded.
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.hubs()[0].last_rtt_ms >= 0; }, 4000));
  EXPECT_GE(hub.requests, 1);

  // The hub goes away: links close, health drops, a waiter is told.
  int port = hub.port();
  hub.Shutdown();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return !pool.healthy(); }, 5000));
  Waiter w2;
  EXPECT_EQ(pool.Acquire(&w2), nullptr);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return !w2.unavailable.empty() || w2.granted; }, 5000));
  EXPECT_EQ(w2.granted, nullptr);
  EXPECT_NE(w2.unavailable.find("no hub reachable"), std::string::npos) << w2.unavailable;
  EXPECT_GT(pool.link_failures(), 0u);

  // It comes back on the same port: the pool recovers by itself.
  FakeHub again(&loop_, server_tls_.get());
  ASSERT_TRUE(again.Listen(port).ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.idle_count() >= 2; }, 15000));
  EXPECT_TRUE(pool.healthy());

  pool.Stop();
  again.Shutdown();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return again.open() == 0 && hub.open() == 0; }, 2000));
}

TEST_F(HubPoolTest, WrongCaNeverBecomesHealthy) {
  FakeHub hub(&loop_, server_tls_.get());
  ASSERT_TRUE(hub.Listen(0).ok());
  std::string other = dir_ + "/other";
  ::mkdir(other.c_str(), 0700);
  CertRequest ca;
  ca.common_name = "Other CA";
  ca.is_ca = true;
  ASSERT_TRUE(GenerateCa(ca, other + "/ca.pem", other + "/ca.key").ok());
  EdgeConfig config = Config(hub.port());
  config.hub_ca = other + "/ca.pem";
  HubPool pool(&loop_, config);
  ASSERT_TRUE(pool.Start().ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.link_failures() >= 1; }, 5000));
  EXPECT_FALSE(pool.healthy());
  EXPECT_NE(pool.hubs()[0].last_error.find("verif"), std::string::npos) << pool.hubs()[0].last_error;
  pool.Stop();
  hub.Shutdown();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return hub.open() == 0; }, 2000));
}


TEST_F(HubPoolTest, FailsOverToTheSecondHubAndReturnsToTheFirst) {
  // Reserve a port for the first hub, then leave it closed.
  FakeHub probe(&loop_, server_tls_.get());
  ASSERT_TRUE(probe.Listen(0).ok());
  int first_port = probe.port();
  probe.Shutdown();
  FakeHub second(&loop_, server_tls_.get());
  ASSERT_TRUE(second.Listen(0).ok());

  EdgeConfig config = Config(first_port);
  config.hubs.push_back({"127.0.0.1", second.port(), "localhost"});
  HubPool pool(&loop_, config);
  ASSERT_TRUE(pool.Start().ok());
  // The first hub refuses; the pool fills from the second.
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.idle_count() >= 2 && second.open() >= 2; }, 5000));
  EXPECT_FALSE(pool.hubs()[0].up);
  EXPECT_TRUE(pool.hubs()[1].up);
  Waiter w;
  HubLink* link = pool.Acquire(&w);
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(link->hub_index(), 1);
  pool.Release(link, true);

  // The first hub comes back: the pool returns to it and lets the second go.
  FakeHub first(&loop_, server_tls_.get());
  ASSERT_TRUE(first.Listen(first_port).ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return first.open() >= 2 && second.open() == 0; }, 20000))
      << "first hub links: " << first.open() << ", second: " << second.open();
  EXPECT_TRUE(pool.hubs()[0].up);
  HubLink* again = pool.Acquire(&w);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->hub_index(), 0);
  pool.Release(again, true);

  pool.Stop();
  first.Shutdown();
  second.Shutdown();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return first.open() == 0 && second.open() == 0; }, 2000));
}

TEST_F(HubPoolTest, ABurstAbovePoolMaxQueuesUntilLinksComeBack) {
  FakeHub hub(&loop_, server_tls_.get());
  ASSERT_TRUE(hub.Listen(0).ok());
  EdgeConfig config = Config(hub.port());  // connect_timeout_sec 1
  config.pool_max = 2;
  config.pool_queue_timeout_sec = 3;
  HubPool pool(&loop_, config);
  ASSERT_TRUE(pool.Start().ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.idle_count() == 2; }, 5000));
  Waiter a, b, c;
  HubLink* la = pool.Acquire(&a);
  HubLink* lb = pool.Acquire(&b);
  ASSERT_NE(la, nullptr);
  ASSERT_NE(lb, nullptr);
  EXPECT_EQ(pool.Acquire(&c), nullptr);
  EXPECT_EQ(pool.waiting_count(), 1);

  // Twice the connect timeout later the third request is still queued (not
  // failed), and the pool has opened no link beyond pool.max.
  EXPECT_FALSE(RunUntil(&loop_, [&] { return c.granted || !c.unavailable.empty(); }, 2000));
  EXPECT_EQ(c.unavailable, "");
  EXPECT_EQ(pool.waiting_count(), 1);
  EXPECT_EQ(hub.open(), 2);
  EXPECT_EQ(pool.links_opened(), 2u);

  // A link comes back: the waiter gets it at once.
  pool.Release(la, true);
  EXPECT_EQ(c.granted, la);
  EXPECT_EQ(pool.waiting_count(), 0);

  // Waiters are served in the order they came.
  Waiter d, e;
  EXPECT_EQ(pool.Acquire(&d), nullptr);
  EXPECT_EQ(pool.Acquire(&e), nullptr);
  pool.Release(lb, true);
  EXPECT_EQ(d.granted, lb);
  EXPECT_EQ(e.granted, nullptr);
  pool.Release(c.granted, true);
  EXPECT_EQ(e.granted, la);

  // Nothing comes back within pool.queue_timeout_sec: the waiter is told why.
  Waiter f;
  uint64_t queued = NowMs();
  EXPECT_EQ(pool.Acquire(&f), nullptr);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return !f.unavailable.empty() || f.granted; }, 6000));
  EXPECT_EQ(f.granted, nullptr);
  EXPECT_GE(NowMs() - queued, 3000u);
  EXPECT_NE(f.unavailable.find("all 2 hub links (pool.max) stayed busy for 3 s"), std::string::npos) << f.unavailable;
  EXPECT_EQ(pool.links_opened(), 2u);

  pool.Release(d.granted, true);
  pool.Release(e.granted, true);
  pool.Stop();
  hub.Shutdown();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return hub.open() == 0; }, 2000));
}

TEST_F(HubPoolTest, AQueuedRequestStillFailsAfterTheConnectTimeoutWhenTheHubIsLost) {
  FakeHub hub(&loop_, server_tls_.get());
  ASSERT_TRUE(hub.Listen(0).ok());
  EdgeConfig config = Config(hub.port());  // connect_timeout_sec 1
  config.pool_min_idle = 1;
  config.pool_max = 1;
  config.pool_queue_timeout_sec = 60;
  HubPool pool(&loop_, config);
  ASSERT_TRUE(pool.Start().ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.idle_count() == 1; }, 5000));
  Waiter a, c;
  ASSERT_NE(pool.Acquire(&a), nullptr);  // dangles once the hub goes; never used
  EXPECT_EQ(pool.Acquire(&c), nullptr);
  EXPECT_FALSE(RunUntil(&loop_, [&] { return c.granted || !c.unavailable.empty(); }, 1500));

  // The busy link goes instead of coming back: the wait is for a connect now,
  // and the connect timeout, not the queue timeout, ends it.
  hub.Shutdown();
  uint64_t lost = NowMs();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return c.granted || !c.unavailable.empty(); }, 10000));
  EXPECT_EQ(c.granted, nullptr);
  EXPECT_LT(NowMs() - lost, 3000u);
  EXPECT_NE(c.unavailable.find("no hub reachable"), std::string::npos) << c.unavailable;

  // And a request arriving while the hub is down fails the same way.
  Waiter d;
  uint64_t asked = NowMs();
  EXPECT_EQ(pool.Acquire(&d), nullptr);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return d.granted || !d.unavailable.empty(); }, 10000));
  EXPECT_LT(NowMs() - asked, 3000u);
  EXPECT_NE(d.unavailable.find("no hub reachable"), std::string::npos) << d.unavailable;
  pool.Stop();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return hub.open() == 0; }, 2000));
}

TEST_F(HubPoolTest, ARetryGetsAFreshLinkInAFullPool) {
  FakeHub hub(&loop_, server_tls_.get());
  ASSERT_TRUE(hub.Listen(0).ok());
  EdgeConfig config = Config(hub.port());  // connect_timeout_sec 1
  config.pool_min_idle = 1;
  config.pool_max = 1;
  HubPool pool(&loop_, config);
  ASSERT_TRUE(pool.Start().ok());
  ASSERT_TRUE(RunUntil(&loop_, [&] { return pool.idle_count() == 1; }, 5000));
  Waiter a, f;
  HubLink* la = pool.Acquire(&a);
  ASSERT_NE(la, nullptr);
  EXPECT_EQ(pool.Acquire(&f, /*fresh=*/true), nullptr);
  // The link that comes back has carried a request: not for a retry. The
  // pool lets it go and opens a new one in its slot.
  pool.Release(la, true);
  EXPECT_EQ(f.granted, nullptr);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return f.granted || !f.unavailable.empty(); }, 5000));
  ASSERT_NE(f.granted, nullptr) << f.unavailable;
  EXPECT_EQ(pool.links_opened(), 2u);
  EXPECT_LE(hub.open(), 2);  // the old one may still be closing on the hub side
  pool.Release(f.granted, true);
  pool.Stop();
  hub.Shutdown();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return hub.open() == 0; }, 2000));
}

}  // namespace
}  // namespace tether
