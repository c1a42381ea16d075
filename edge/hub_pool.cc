#include "edge/hub_pool.h"

#include <algorithm>
#include <random>

#include "common/log.h"
#include "common/metrics.h"

namespace tether {
namespace {

constexpr uint64_t kTickMs = 250;
constexpr uint64_t kPingTimeoutMs = 10000;
constexpr uint64_t kMaxBackoffMs = 30000;

uint64_t BackoffMs(int failures) {
  // 250 ms doubling to 30 s, with up to 25% jitter so many edges do not
  // reconnect to a recovering hub in lockstep.
  uint64_t base = 250ull << std::min(failures - 1, 7);
  base = std::min(base, kMaxBackoffMs);
  static std::minstd_rand rng(static_cast<unsigned>(NowMs()));
  return base + rng() % (base / 4 + 1);
}

}  // namespace

HubLink::HubLink(HubPool* pool, int hub_index) : pool_(pool), hub_index_(hub_index) {
  created_ms_ = NowMs();
}

void HubLink::OnStreamOpen(Stream*) { pool_->LinkOpened(this); }

void HubLink::OnStreamData(Stream*, const char* data, size_t len) {
  if (state_ == State::kBusy && user_) {
    user_->OnLinkData(this, data, len);
    return;
  }
  if (state_ == State::kPinging && ping_parser_) {
    size_t used = ping_parser_->Feed(data, len);
    if (ping_parser_->error() != HttpParser::Error::kNone || (ping_parser_->paused() && used < len)) {
      stream_->CloseWithError(Status::Error("bad ping response"));
      return;
    }
    if (ping_parser_->paused()) OnPingResponse();
    return;
  }
  // Bytes on an idle link mean the hub is confused; do not reuse it.
  stream_->CloseWithError(Status::Error("unexpected bytes on an idle hub link"));
}

void HubLink::OnStreamDrained(Stream*) {
  if (state_ == State::kBusy && user_) user_->OnLinkDrained(this);
}

void HubLink::OnStreamEof(Stream* s) { s->CloseWithError(Status::Error("hub closed the connection")); }

void HubLink::OnStreamClosed(Stream*, const Status& why) {
  State was = state_;
  state_ = State::kClosed;
  stream_ = nullptr;
  if (was == State::kConnecting && pool_) pool_->LinkFailed(this, why);
  if (user_) {
    LinkUser* u = user_;
    user_ = nullptr;
    u->OnLinkClosed(this, why.ok() ? Status::Error("hub link closed") : why);
  }
  if (pool_) pool_->LinkClosed(this);
  delete this;
}

void HubLink::StartPing() {
  state_ = State::kPinging;
  ping_sent_ms_ = NowMs();
  ++uses_;
  if (!ping_parser_)
    ping_parser_ = std::make_unique<HttpParser>(HttpParser::Kind::kResponse, HttpLimits{}, HttpParser::Callbacks{});
  else
    ping_parser_->Reset();
  stream_->Write("GET /_tether/ping HTTP/1.1\r\nHost: hub\r\n" + pool_->edge_token_header() + "\r\n");
}

void HubLink::OnPingResponse() {
  int status = ping_parser_->response().status;
  bool keep = ping_parser_->keep_alive();
  if (status != 200 || !keep) {
    stream_->CloseWithError(Status::Error("hub answered ping with " + std::to_string(status)));
    return;
  }
  HubStatus& h = pool_->hubs_[hub_index_];
  h.last_rtt_ms = static_cast<double>(NowMs() - ping_sent_ms_);
  pool_->MakeIdle(this);
}

HubPool::HubPool(uv_loop_t* loop, const EdgeConfig& config) : loop_(loop), config_(config) {
  for (const HubAddress& a : config.hubs) {
    HubStatus s;
    s.address = a.host + ":" + std::to_string(a.port);
    hubs_.push_back(s);
  }
}

HubPool::~HubPool() { Stop(); }

Status HubPool::Start() {
  TlsClientOptions o;
  o.ca_file = config_.hub_ca;
  o.pin_sha256 = config_.hub_pin_sha256;
  o.cert_file = config_.hub_cert;
  o.key_file = config_.hub_key;
  o.insecure = config_.hub_insecure;
  o.fast_suites_only = true;  // a hub has them all
  auto ctx = TlsContext::NewClient(o);
  if (!ctx.ok()) return Status::Error("hub_tls: " + ctx.status().message());
  tls_ = std::move(ctx.value());
  timer_ = new uv_timer_t;
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_timer_start(timer_, OnTimer, kTickMs, kTickMs);
  Maintain();
  return Status::Ok();
}

void HubPool::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) noexcept {
      delete reinterpret_cast<uv_timer_t*>(h);
    });
    timer_ = nullptr;
  }
  // Links close asynchronously; detach them so their close callbacks never
  // reach a pool that may be destroyed by then.
  std::vector<HubLink*> links = std::move(links_);
  links_.clear();
  for (HubLink* l : links) {
    l->pool_ = nullptr;
    if (l->stream_) l->stream_->Close();
  }
  while (!waiters_.empty()) {
    LinkWaiter* w = waiters_.front().waiter;
    waiters_.pop_front();
    w->OnLinkUnavailable(Status::Error("edge is shutting down"));
  }
}

void HubPool::OnTimer(uv_timer_t* t) noexcept { static_cast<HubPool*>(t->data)->Maintain(); }

std::string HubPool::edge_token_header() const {
  if (config_.edge_token.empty()) return "";
  return "X-Tether-Edge-Token: " + config_.edge_token + "\r\n";
}

int HubPool::PreferredHub() const {
  // The first hub not in backoff; when all are backing off, the one whose
  // backoff ends first.
  uint64_t now = NowMs();
  int best = -1;
  for (size_t i = 0; i < hubs_.size(); ++i) {
    if (hubs_[i].next_attempt_ms <= now) return static_cast<int>(i);
    if (best < 0 || hubs_[i].next_attempt_ms < hubs_[best].next_attempt_ms) best = static_cast<int>(i);
  }
  return best;
}

int HubPool::idle_count() const {
  return static_cast<int>(std::count_if(links_.begin(), links_.end(),
                                        [](HubLink* l) { return l->state_ == HubLink::State::kIdle; }));
}
int HubPool::busy_count() const {
  return static_cast<int>(std::count_if(links_.begin(), links_.end(),
                                        [](HubLink* l) { return l->state_ == HubLink::State::kBusy; }));
}
int HubPool::connecting_count() const {
  return static_cast<int>(std::count_if(links_.begin(), links_.end(),
                                        [](HubLink* l) { return l->state_ == HubLink::State::kConnecting; }));
}

bool HubPool::healthy() const {
  for (HubLink* l : links_)
    if (l->state_ == HubLink::State::kIdle || l->state_ == HubLink::State::kBusy ||
        l->state_ == HubLink::State::kPinging)
      return true;
  return false;
}

void HubPool::Connect(int hub_index) {
  const HubAddress& a = config_.hubs[hub_index];
  auto* link = new HubLink(this, hub_index);
  links_.push_back(link);
  link->stream_ = Stream::Connect(loop_, a.host, a.port, tls_.get(), a.server_name, link);
}

void HubPool::Maintain() {
  if (stopped_) return;
  uint64_t now = NowMs();
  for (HubLink* l : std::vector<HubLink*>(links_)) {
    if (!l->stream_) continue;
    if (l->state_ == HubLink::State::kConnecting &&
        now - l->created_ms_ > static_cast<uint64_t>(config_.connect_timeout_sec) * 1000) {
      l->stream_->CloseWithError(Status::Error("connect timed out after " +
                                               std::to_string(config_.connect_timeout_sec) + " s"));
    } else if (l->state_ == HubLink::State::kPinging && now - l->ping_sent_ms_ > kPingTimeoutMs) {
      l->stream_->CloseWithError(Status::Error("ping unanswered for 10 s"));
    } else if (l->state_ == HubLink::State::kIdle &&
               now - l->idle_since_ms_ >= static_cast<uint64_t>(config_.ping_interval_sec) * 1000) {
      l->StartPing();
    }
  }
  ExpireWaiters(now);
  Refill();
}

bool HubPool::AllLinksBusy() const {
  if (static_cast<int>(links_.size()) < config_.pool_max) return false;
  return std::any_of(links_.begin(), links_.end(), [](HubLink* l) {
    return l->state_ == HubLink::State::kBusy || l->state_ == HubLink::State::kPinging;
  });
}

void HubPool::ExpireWaiters(uint64_t now) {
  if (waiters_.empty()) return;
  // A burst above pool_max queues: busy links come back as their requests
  // end, so such a wait is bounded by the queue timeout, not by the connect
  // timeout, which is about reaching a hub. When links go instead of coming
  // back (hub lost), the pool has room again and the connect timeout counts
  // from then. Both deadlines grow with since_ms, and the queue stays in
  // since_ms order (waiters join at the back), so the front expires first.
  bool all_busy = AllLinksBusy();
  if (all_busy) all_busy_ms_ = now;
  uint64_t queue_ms = static_cast<uint64_t>(config_.pool_queue_timeout_sec) * 1000;
  uint64_t connect_ms = static_cast<uint64_t>(config_.connect_timeout_sec) * 1000;
  while (!waiters_.empty()) {
    const Waiter& front = waiters_.front();
    Status why;
    if (all_busy) {
      if (now - front.since_ms <= queue_ms) break;
      why = Status::Error("all " + std::to_string(links_.size()) + " hub links (pool.max) stayed busy for " +
                          std::to_string(config_.pool_queue_timeout_sec) + " s");
    } else {
      if (now - std::max(front.since_ms, all_busy_ms_) <= connect_ms) break;
      const HubStatus& h = hubs_[std::max(PreferredHub(), 0)];
      why = Status::Error("no hub reachable" + (h.last_error.empty() ? "" : ": " + h.last_error));
    }
    LinkWaiter* w = front.waiter;
    waiters_.pop_front();
    w->OnLinkUnavailable(why);
  }
}

void HubPool::Refill() {
  if (stopped_) return;
  uint64_t now = NowMs();
  // Demand is filled on the first hub that is healthy (or untried) and not
  // backing off; hubs before it that are failing get one probe connection
  // at a time, so a dead primary is retried without starving the secondary.
  int fill = -1;
  for (size_t i = 0; i < hubs_.size(); ++i) {
    if (hubs_[i].consecutive_failures == 0 && hubs_[i].next_attempt_ms <= now) {
      fill = static_cast<int>(i);
      break;
    }
  }
  int room = config_.pool_max - static_cast<int>(links_.size());
  if (room <= 0) MakeRoomForFreshWaiter();
  for (int i = 0; i < static_cast<int>(hubs_.size()) && (fill < 0 || i < fill) && room > 0; ++i) {
    if (hubs_[i].next_attempt_ms <= now && ConnectingTo(i) == 0) {
      Connect(i);
      --room;
    }
  }
  if (fill < 0) return;
  // Once a better hub is back, idle links to later ones are let go (over a
  // copy: closing may remove a link from links_).
  if (hubs_[fill].up && std::any_of(links_.begin(), links_.end(), [fill](HubLink* l) { return l->hub_index_ > fill; }))
    for (HubLink* l : std::vector<HubLink*>(links_))
      if (l->state_ == HubLink::State::kIdle && l->hub_index_ > fill && l->stream_) l->stream_->Close();
  int want = config_.pool_min_idle + static_cast<int>(waiters_.size()) - IdleOn(fill) - ConnectingTo(fill);
  for (int i = 0; i < want && room > 0; ++i, --room) Connect(fill);
}

void HubPool::MakeRoomForFreshWaiter() {
  // A retry waits for a newly connected link, which a full pool cannot open;
  // the links that come back are reused ones, so they sit idle (the waiters
  // ahead took what they could). Let one go so a fresh link can be opened.
  // One at a time: not while a link is connecting or one let go is still
  // closing (kClosed until its close callback removes it).
  if (std::none_of(waiters_.begin(), waiters_.end(), [](const Waiter& w) { return w.fresh; })) return;
  if (std::any_of(links_.begin(), links_.end(), [](HubLink* l) {
        return l->state_ == HubLink::State::kConnecting || l->state_ == HubLink::State::kClosed;
      }))
    return;
  for (HubLink* l : links_) {
    if (l->state_ == HubLink::State::kIdle && l->stream_) {
      l->state_ = HubLink::State::kClosed;  // never granted while closing
      l->stream_->Close();                  // LinkClosed() refills into the freed slot
      return;
    }
  }
}

int HubPool::ConnectingTo(int hub) const {
  return static_cast<int>(std::count_if(links_.begin(), links_.end(), [hub](HubLink* l) {
    return l->hub_index_ == hub && l->state_ == HubLink::State::kConnecting;
  }));
}

int HubPool::IdleOn(int hub) const {
  return static_cast<int>(std::count_if(links_.begin(), links_.end(), [hub](HubLink* l) {
    return l->hub_index_ == hub && l->state_ == HubLink::State::kIdle;
  }));
}

void HubPool::LinkOpened(HubLink* link) {
  HubStatus& h = hubs_[link->hub_index_];
  h.cipher_suite = link->stream_->tls()->cipher_suite();
  h.fast_records = link->stream_->tls()->fast_records();
  if (!h.up) LogInfo("edge", "hub " + h.address + " is up (" + h.cipher_suite + ")");
  h.up = true;
  h.consecutive_failures = 0;
  h.next_attempt_ms = 0;
  h.last_error.clear();
  ++links_opened_;
  MakeIdle(link);
  Refill();
}

void HubPool::LinkFailed(HubLink* link, const Status& why) {
  HubStatus& h = hubs_[link->hub_index_];
  ++link_failures_;
  ++h.consecutive_failures;
  h.next_attempt_ms = NowMs() + BackoffMs(h.consecutive_failures);
  if (h.up || h.consecutive_failures == 1 || h.last_error != why.message())
    LogWarn("edge", "hub " + h.address + ": " + why.message());
  h.up = false;
  h.last_error = why.message();
}

void HubPool::LinkClosed(HubLink* link) {
  std::erase(links_, link);
  if (!stopped_) {
    int open = 0;
    for (HubLink* l : links_) open += l->hub_index_ == link->hub_index_ && l->state_ != HubLink::State::kConnecting;
    if (open == 0 && link->state_ != HubLink::State::kConnecting && link->uses_ > 0 && hubs_[link->hub_index_].up) {
      // Every link to this hub is gone: treat as down until a connect works.
      hubs_[link->hub_index_].up = false;
    }
    Maintain();
  }
}

bool HubPool::GrantTo(HubLink* link) {
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->fresh && link->uses_ > 0) continue;
    LinkWaiter* w = it->waiter;
    waiters_.erase(it);
    link->state_ = HubLink::State::kBusy;
    ++link->uses_;
    w->OnLinkGranted(link);
    return true;
  }
  return false;
}

void HubPool::MakeIdle(HubLink* link) {
  link->state_ = HubLink::State::kIdle;
  link->user_ = nullptr;
  link->idle_since_ms_ = NowMs();
  if (GrantTo(link)) return;
}

HubLink* HubPool::Acquire(LinkWaiter* waiter, bool fresh) {
  if (!fresh) {
    // Prefer the highest-priority hub, and among its links the most recently
    // used (its NAT mapping and TCP window are warmest).
    HubLink* best = nullptr;
    for (HubLink* l : links_) {
      if (l->state_ != HubLink::State::kIdle) continue;
      if (!best || l->hub_index_ < best->hub_index_ ||
          (l->hub_index_ == best->hub_index_ && l->idle_since_ms_ > best->idle_since_ms_))
        best = l;
    }
    if (best) {
      best->state_ = HubLink::State::kBusy;
      ++best->uses_;
      Refill();  // in the background right away
      return best;
    }
  }
  waiters_.push_back({waiter, fresh, NowMs()});
  Refill();
  return nullptr;
}

void HubPool::CancelWait(LinkWaiter* waiter) {
  std::erase_if(waiters_, [&](const Waiter& w) { return w.waiter == waiter; });
}

void HubPool::Attach(HubLink* link, LinkUser* user) { link->user_ = user; }

void HubPool::Release(HubLink* link, bool reusable) {
  link->user_ = nullptr;
  if (!link->stream_) return;
  if (!reusable || stopped_) {
    link->stream_->Close();
    return;
  }
  link->stream_->ResumeReading();
  MakeIdle(link);
  // Still idle with waiters queued: they all want a fresh link, which a full
  // pool has to make room for.
  if (link->state_ == HubLink::State::kIdle && !waiters_.empty()) Refill();
}

}  // namespace tether
