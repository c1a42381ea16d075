// Per-key admission limits: requests and tokens per minute, requests in
// flight, and daily/monthly spend. Pure bookkeeping over an injected clock,
// so tests drive time by hand. All classes are thread-safe (one mutex each,
// uncontended on the hub's single loop thread).
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tether {

// Milliseconds; RateLimiter only needs a monotonic clock, BudgetTracker needs
// unix time (calendar boundaries), so give it wall-clock milliseconds.
using NowMsFn = std::function<uint64_t()>;

struct LimitDecision {
  bool allow = true;
  int status = 200;         // 429 (rate, concurrency) or 402 (budget) when denied
  int retry_after_sec = 0;  // for Retry-After; at least 1 when denied
  std::string message;
};

// Token buckets, one pair per key. The request bucket holds up to `rpm`
// requests and refills continuously at rpm/60 per second, so a key may burst
// its whole minute at once and then proceeds at the steady rate; Retry-After
// is the exact time until one request's worth has refilled. The token bucket
// works the same way, except that a request's tokens are known only when it
// ends: admission needs a positive balance, RecordTokens() then debits the
// actual count and may drive it negative, and the key waits until it refills.
// Chosen over a sliding window because state is O(1) per key and the
// Retry-After value is exact rather than estimated.
class RateLimiter {
 public:
  explicit RateLimiter(NowMsFn now_ms);
  // Admits one request for `key` under rpm/tpm (0 = unlimited) and takes one
  // request from its bucket. A changed limit applies from the next call.
  // `subject` names who is limited in the message ("tenant u1"); empty:
  // "key <key>".
  LimitDecision Admit(const std::string& key, int rpm, int tpm, const std::string& subject = "");
  // Gives back the request Admit() took, for a request a later check denied
  // (another limit, a budget), so denied retries do not use up the quota.
  void Refund(const std::string& key, int rpm);
  // Debits the tokens a request used (input + output) from key's TPM bucket.
  void RecordTokens(const std::string& key, int tpm, uint64_t tokens);
  void Forget(const std::string& key);  // drop state, e.g. for a deleted key

 private:
  struct Bucket {
    int64_t level = 0;  // in units of 1/60000 request (or token): one minute's
                        // refill of `limit` per minute is limit*60000 units,
                        // so every refill step is an exact integer
    uint64_t last_ms = 0;
    int limit = 0;
    bool primed = false;
  };
  void Refill(Bucket* b, int limit, uint64_t now);

  NowMsFn now_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> requests_;
  std::unordered_map<std::string, Bucket> tokens_;
};

// Requests in flight per key. Acquire() before calling the provider,
// Release() exactly once when the exchange ends (or hold a Slot). Time plays
// no part: a slot frees when its request ends, not after a period, so the
// Retry-After it suggests is a nominal 1 s.
class ConcurrencyLimiter {
 public:
  LimitDecision Acquire(const std::string& key, int max_concurrent);  // 0 = unlimited (still counted)
  void Release(const std::string& key);
  int InFlight(const std::string& key) const;

  // Releases on destruction. REQUIRES: the limiter outlives the slot.
  class Slot {
   public:
    Slot() = default;
    Slot(ConcurrencyLimiter* limiter, std::string key) : limiter_(limiter), key_(std::move(key)) {}
    Slot(Slot&& o) noexcept : limiter_(o.limiter_), key_(std::move(o.key_)) { o.limiter_ = nullptr; }
    Slot& operator=(Slot&& o) noexcept;
    ~Slot() { Reset(); }
    void Reset();
    bool held() const { return limiter_ != nullptr; }

   private:
    ConcurrencyLimiter* limiter_ = nullptr;
    std::string key_;
  };
  // Acquire() that returns a Slot; *decision receives the verdict.
  Slot AcquireSlot(const std::string& key, int max_concurrent, LimitDecision* decision);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> in_flight_;
};

// Spend per key for the current UTC day and month. Check() before a request,
// Add() its cost when it ends; Restore() seeds the totals at start-up from the
// usage ledger. A request that starts under budget may finish over it: the
// budget stops the next request, it does not cut a stream.
class BudgetTracker {
 public:
  explicit BudgetTracker(NowMsFn unix_ms);
  // 0 budgets are unlimited. Denied: 402 naming the key, the budget and when
  // it resets, with retry_after_sec until then.
  LimitDecision Check(const std::string& key, double daily_usd, double monthly_usd);
  void Add(const std::string& key, double usd);
  void Restore(const std::string& key, double spent_today_usd, double spent_this_month_usd);
  double SpentToday(const std::string& key);
  double SpentThisMonth(const std::string& key);

 private:
  struct Spend {
    int64_t day = -1;    // days since 1970-01-01 (UTC)
    int64_t month = -1;  // year * 12 + month - 1
    double day_usd = 0, month_usd = 0;
  };
  Spend& Current(const std::string& key, uint64_t now_ms);  // REQUIRES: mu_ held

  NowMsFn unix_ms_;
  std::mutex mu_;
  std::unordered_map<std::string, Spend> spend_;
};

// Calendar helpers (UTC), exposed for the ledger queries that seed budgets.
int64_t UtcDayStart(int64_t unix_s);
int64_t UtcMonthStart(int64_t unix_s);
int64_t UtcNextMonthStart(int64_t unix_s);

}  // namespace tether
