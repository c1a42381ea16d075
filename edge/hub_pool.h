// The tunnel: persistent TLS connections from the edge to one or more hubs,
// handshaken ahead of demand so that no request waits for a handshake while
// the pool is healthy. One request at a time per connection (HTTP/1.1
// keep-alive). Idle links are pinged to keep NATs open, to find dead links and
// to measure RTT. Hubs are tried in order; a later hub is used only while the
// earlier ones fail, and traffic returns when they recover.
#pragma once
#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "common/http.h"
#include "common/net.h"
#include "common/tls.h"
#include "edge/edge_config.h"

namespace tether {

class HubPool;
class HubLink;

// The request currently holding a link receives its events.
class LinkUser {
 public:
  virtual ~LinkUser() = default;
  virtual void OnLinkData(HubLink* link, const char* data, size_t len) = 0;
  // The link is gone (reset, EOF or local close). The user must drop its pointer.
  virtual void OnLinkClosed(HubLink* link, const Status& why) = 0;
  virtual void OnLinkDrained(HubLink* link) { (void)link; }
};

// Someone waiting for a link; Granted is called once, or never after Cancel.
class LinkWaiter {
 public:
  virtual ~LinkWaiter() = default;
  virtual void OnLinkGranted(HubLink* link) = 0;
  // The pool could not provide a link: no hub reachable within
  // connect_timeout_sec, or every link busy for pool_queue_timeout_sec.
  virtual void OnLinkUnavailable(const Status& why) = 0;
};

class HubLink : public StreamHandler {
 public:
  enum class State { kConnecting, kIdle, kBusy, kPinging, kClosed };

  // Sends bytes to the hub (the user's request).
  void Write(std::string data) { stream_->Write(std::move(data)); }
  bool over_high_water() const { return stream_->over_high_water(); }
  void PauseReading() { stream_->PauseReading(); }
  void ResumeReading() { stream_->ResumeReading(); }
  int hub_index() const { return hub_index_; }
  State state() const { return state_; }
  // True when this link has already carried a request or a ping, i.e. it has
  // been idle in the pool and may have died unnoticed.
  bool reused() const { return uses_ > 0; }

  // StreamHandler
  void OnStreamOpen(Stream* s) override;
  void OnStreamData(Stream* s, const char* data, size_t len) override;
  void OnStreamDrained(Stream* s) override;
  void OnStreamEof(Stream* s) override;
  void OnStreamClosed(Stream* s, const Status& why) override;

 private:
  friend class HubPool;
  HubLink(HubPool* pool, int hub_index);
  void StartPing();
  void OnPingResponse();

  HubPool* pool_;
  int hub_index_;
  Stream* stream_ = nullptr;
  State state_ = State::kConnecting;
  LinkUser* user_ = nullptr;
  uint64_t created_ms_ = 0;
  uint64_t idle_since_ms_ = 0;
  uint64_t ping_sent_ms_ = 0;
  int uses_ = 0;
  std::unique_ptr<HttpParser> ping_parser_;
};

struct HubStatus {
  std::string address;
  bool up = false;  // a link to it opened and none has failed since
  int consecutive_failures = 0;
  uint64_t next_attempt_ms = 0;  // backoff
  double last_rtt_ms = -1;
  std::string last_error;
  int open_links = 0;
  // The last link's TLS suite, and whether its records bypass mbedTLS
  // (common/tls_record.h): what an operator checks when tuning throughput.
  std::string cipher_suite;
  bool fast_records = false;
};

class HubPool {
 public:
  // REQUIRES: config and loop outlive the pool.
  HubPool(uv_loop_t* loop, const EdgeConfig& config);
  ~HubPool();
  Status Start();  // builds the TLS context and begins filling the pool
  void Stop();     // closes every link and stops timers

  // Grants an idle link now (returns it) or queues the waiter and returns
  // nullptr. Waiters are served in order as links open or come back; one
  // waits up to pool_queue_timeout_sec while all pool_max links are busy
  // (they come back as requests finish), else up to connect_timeout_sec for
  // a connect. With fresh=true only a newly connected link is granted (used
  // to retry a request whose pooled link turned out dead).
  HubLink* Acquire(LinkWaiter* waiter, bool fresh = false);
  void CancelWait(LinkWaiter* waiter);
  // Attaches the user that will receive the link's events.
  void Attach(HubLink* link, LinkUser* user);
  // Returns a link after a complete exchange (reusable) or closes it.
  void Release(HubLink* link, bool reusable);

  bool healthy() const;  // at least one open link to some hub
  const std::vector<HubStatus>& hubs() const { return hubs_; }
  int idle_count() const;
  int busy_count() const;
  int connecting_count() const;
  int waiting_count() const { return static_cast<int>(waiters_.size()); }
  uint64_t links_opened() const { return links_opened_; }
  uint64_t link_failures() const { return link_failures_; }
  std::string edge_token_header() const;  // "X-Tether-Edge-Token: …\r\n" or ""

 private:
  friend class HubLink;
  struct Waiter {
    LinkWaiter* waiter;
    bool fresh;
    uint64_t since_ms;  // queued at
  };
  // Timer tick: link timeouts, idle pings, waiter timeouts, then Refill().
  void Maintain();
  // Fails the waiters that waited too long (see Acquire).
  void ExpireWaiters(uint64_t now);
  // True when the pool is at pool_max with requests or pings on its open
  // links: a waiter then waits for one to come back, not for a connect.
  bool AllLinksBusy() const;
  // Demand only (after a link is taken, opened or closed): connects what the
  // pool needs and lets go of idle links to a worse hub. O(links), no timers.
  void Refill();
  void MakeRoomForFreshWaiter();
  void Connect(int hub_index);
  int PreferredHub() const;
  int ConnectingTo(int hub) const;
  int IdleOn(int hub) const;
  void LinkOpened(HubLink* link);
  void LinkFailed(HubLink* link, const Status& why);
  void LinkClosed(HubLink* link);
  void MakeIdle(HubLink* link);
  bool GrantTo(HubLink* link);
  static void OnTimer(uv_timer_t* t) noexcept;

  uv_loop_t* loop_;
  const EdgeConfig& config_;
  std::unique_ptr<TlsContext> tls_;
  std::vector<HubStatus> hubs_;
  std::vector<HubLink*> links_;
  std::deque<Waiter> waiters_;
  uv_timer_t* timer_ = nullptr;
  bool stopped_ = false;
  // Last time AllLinksBusy() was seen true: a waiter's connect timeout counts
  // from the later of this and its queueing.
  uint64_t all_busy_ms_ = 0;
  uint64_t links_opened_ = 0;
  uint64_t link_failures_ = 0;
};

}  // namespace tether
