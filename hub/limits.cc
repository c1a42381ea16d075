#include "hub/limits.h"

#include <algorithm>
#include <cstdio>

namespace tether {
namespace {

constexpr int64_t kUnitsPerItem = 60000;  // one request/token in bucket units (ms per minute)

int SecondsCeil(uint64_t ms) { return static_cast<int>(std::max<uint64_t>(1, (ms + 999) / 1000)); }

// Howard Hinnant's days-from-civil and its inverse, proleptic Gregorian.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t DayIndex(int64_t unix_s) { return FloorDiv(unix_s, 86400); }

int64_t MonthIndex(int64_t unix_s) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(DayIndex(unix_s), &y, &m, &d);
  return y * 12 + (m - 1);
}

std::string Dollars(double usd) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "$%.2f", usd);
  return buf;
}

}  // namespace

int64_t UtcDayStart(int64_t unix_s) { return DayIndex(unix_s) * 86400; }

int64_t UtcMonthStart(int64_t unix_s) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(DayIndex(unix_s), &y, &m, &d);
  return DaysFromCivil(y, m, 1) * 86400;
}

int64_t UtcNextMonthStart(int64_t unix_s) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(DayIndex(unix_s), &y, &m, &d);
  if (m == 12) return DaysFromCivil(y + 1, 1, 1) * 86400;
  return DaysFromCivil(y, m + 1, 1) * 86400;
}

// ---- RateLimiter ----

RateLimiter::RateLimiter(NowMsFn now_ms) : now_ms_(std::move(now_ms)) {}

void RateLimiter::Refill(Bucket* b, int limit, uint64_t now) {
  const int64_t capacity = int64_t{limit} * kUnitsPerItem;
  if (!b->primed) {
    b->primed = true;
    b->level = capacity;  // a new key starts with a full minute
  } else if (now > b->last_ms) {
    // Clamp the gap so gap * limit cannot overflow (a key idle for a year);
    // two days refill even the largest debt RecordTokens allows (one day).
    const uint64_t gap = std::min<uint64_t>(now - b->last_ms, 2ull * 24 * 3600 * 1000);
    b->level = std::min(capacity, b->level + static_cast<int64_t>(gap) * limit);
  }
  b->level = std::min(b->level, capacity);  // a lowered limit caps the balance
  b->last_ms = std::max(b->last_ms, now);
  b->limit = limit;
}

LimitDecision RateLimiter::Admit(const std::string& key, int rpm, int tpm, const std::string& subject) {
  LimitDecision d;
  if (rpm <= 0 && tpm <= 0) return d;
  const std::string who = subject.empty() ? "key " + key : subject;
  const uint64_t now = now_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  if (tpm > 0) {
    Bucket& t = tokens_[key];
    Refill(&t, tpm, now);
    if (t.level <= 0) {
      // Positive again after floor(-level / tpm) + 1 ms.
      uint64_t wait = static_cast<uint64_t>(-t.level / tpm + 1);
      d.allow = false;
      d.status = 429;
      d.retry_after_sec = SecondsCeil(wait);
      d.message = "token rate limit of " + std::to_string(tpm) + " tokens per minute for " + who + " is used up; retry in " +
                  std::to_string(d.retry_after_sec) + " s";
      return d;
    }
  }
  if (rpm > 0) {
    Bucket& r = requests_[key];
    Refill(&r, rpm, now);
    if (r.level < kUnitsPerItem) {
      uint64_t wait = static_cast<uint64_t>((kUnitsPerItem - r.level + rpm - 1) / rpm);
      d.allow = false;
      d.status = 429;
      d.retry_after_sec = SecondsCeil(wait);
      d.message = "rate limit of " + std::to_string(rpm) + " requests per minute for " + who + " reached; retry in " +
                  std::to_string(d.retry_after_sec) + " s";
      return d;
    }
    r.level -= kUnitsPerItem;
  }
  return d;
}

void RateLimiter::Refund(const std::string& key, int rpm) {
  if (rpm <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = requests_.find(key);
  if (it == requests_.end()) return;
  it->second.level = std::min(int64_t{rpm} * kUnitsPerItem, it->second.level + kUnitsPerItem);
}

void RateLimiter::RecordTokens(const std::string& key, int tpm, uint64_t tokens) {
  if (tpm <= 0 || tokens == 0) return;
  const uint64_t now = now_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& t = tokens_[key];
  Refill(&t, tpm, now);
  // Cap the debt at a day's worth so one absurd count cannot lock a key out
  // for months (and the product cannot overflow).
  const int64_t max_debt = int64_t{tpm} * kUnitsPerItem * 60 * 24;
  int64_t debit = tokens > static_cast<uint64_t>(max_debt / kUnitsPerItem) ? max_debt
                                                                             : static_cast<int64_t>(tokens) * kUnitsPerItem;
  t.level = std::max(t.level - debit, -max_debt);
}

void RateLimiter::Forget(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_.erase(key);
  tokens_.erase(key);
}

// ---- ConcurrencyLimiter ----

LimitDecision ConcurrencyLimiter::Acquire(const std::string& key, int max_concurrent) {
  LimitDecision d;
  std::lock_guard<std::mutex> lock(mu_);
  int& n = in_flight_[key];
  if (max_concurrent > 0 && n >= max_concurrent) {
    d.allow = false;
    d.status = 429;
    d.retry_after_sec = 1;
    d.message = "key " + key + " already has " + std::to_string(n) + " requests in flight, its limit; retry when one finishes";
    return d;
  }
  ++n;
  return d;
}

void ConcurrencyLimiter::Release(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  if (--it->second <= 0) in_flight_.erase(it);
}

int ConcurrencyLimiter::InFlight(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(key);
  return it == in_flight_.end() ? 0 : it->second;
}

ConcurrencyLimiter::Slot& ConcurrencyLimiter::Slot::operator=(Slot&& o) noexcept {
  if (this != &o) {
    Reset();
    limiter_ = o.limiter_;
    key_ = std::move(o.key_);
    o.limiter_ = nullptr;
  }
  return *this;
}

void ConcurrencyLimiter::Slot::Reset() {
  if (limiter_) limiter_->Release(key_);
  limiter_ = nullptr;
}

ConcurrencyLimiter::Slot ConcurrencyLimiter::AcquireSlot(const std::string& key, int max_concurrent, LimitDecision* decision) {
  *decision = Acquire(key, max_concurrent);
  return decision->allow ? Slot(this, key) : Slot();
}

// ---- BudgetTracker ----

BudgetTracker::BudgetTracker(NowMsFn unix_ms) : unix_ms_(std::move(unix_ms)) {}

BudgetTracker::Spend& BudgetTracker::Current(const std::string& key, uint64_t now_ms) {
  const int64_t now_s = static_cast<int64_t>(now_ms / 1000);
  Spend& s = spend_[key];
  int64_t day = DayIndex(now_s), month = MonthIndex(now_s);
  if (s.day != day) {
    s.day = day;
    s.day_usd = 0;
  }
  if (s.month != month) {
    s.month = month;
    s.month_usd = 0;
  }
  return s;
}

LimitDecision BudgetTracker::Check(const std::string& key, double daily_usd, double monthly_usd) {
  LimitDecision d;
  if (daily_usd <= 0 && monthly_usd <= 0) return d;
  const uint64_t now_ms = unix_ms_();
  const int64_t now_s = static_cast<int64_t>(now_ms / 1000);
  std::lock_guard<std::mutex> lock(mu_);
  Spend& s = Current(key, now_ms);
  // The monthly budget first: when both are spent, the later reset is the
  // one that matters to the client.
  if (monthly_usd > 0 && s.month_usd >= monthly_usd) {
    int64_t next = UtcNextMonthStart(now_s);
    int64_t y;
    unsigned m, dd;
    CivilFromDays(DayIndex(next), &y, &m, &dd);
    char date[32];
    std::snprintf(date, sizeof date, "%04lld-%02u-01", static_cast<long long>(y), m);
    d.allow = false;
    d.status = 402;
    d.retry_after_sec = static_cast<int>(std::max<int64_t>(1, next - now_s));
    d.message = "monthly budget of " + Dollars(monthly_usd) + " for key " + key + " is spent; resets on " + date + " at 00:00 UTC";
    return d;
  }
  if (daily_usd > 0 && s.day_usd >= daily_usd) {
    d.allow = false;
    d.status = 402;
    d.retry_after_sec = static_cast<int>(std::max<int64_t>(1, UtcDayStart(now_s) + 86400 - now_s));
    d.message = "daily budget of " + Dollars(daily_usd) + " for key " + key + " is spent; resets at 00:00 UTC";
    return d;
  }
  return d;
}

void BudgetTracker::Add(const std::string& key, double usd) {
  if (!(usd > 0)) return;  // also drops NaN
  const uint64_t now_ms = unix_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  Spend& s = Current(key, now_ms);
  s.day_usd += usd;
  s.month_usd += usd;
}

void BudgetTracker::Restore(const std::string& key, double spent_today_usd, double spent_this_month_usd) {
  const uint64_t now_ms = unix_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  Spend& s = Current(key, now_ms);
  s.day_usd = spent_today_usd;
  s.month_usd = spent_this_month_usd;
}

double BudgetTracker::SpentToday(const std::string& key) {
  const uint64_t now_ms = unix_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  return Current(key, now_ms).day_usd;
}

double BudgetTracker::SpentThisMonth(const std::string& key) {
  const uint64_t now_ms = unix_ms_();
  std::lock_guard<std::mutex> lock(mu_);
  return Current(key, now_ms).month_usd;
}

}  // namespace tether
