#include "hub/accounts.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "common/json_scan.h"

namespace tether {
namespace {

constexpr uint64_t kBaseCooldownMs = 1000;
constexpr uint64_t kMaxBackoffMs = 120 * 1000;
constexpr uint64_t kMaxHintMs = 24ull * 3600 * 1000;  // a bogus far-future date must not park an account for years
constexpr size_t kRecentErrors = 64;
constexpr uint64_t kRecentWindowMs = 5 * 60 * 1000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

int MonthFromName(std::string_view m) {
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (m.size() == 3 && strncasecmp(m.data(), kMonths[i], 3) == 0) return i;
  return -1;
}

bool ValidTime(const struct tm& tm) {
  return tm.tm_mon >= 0 && tm.tm_mday >= 1 && tm.tm_mday <= 31 && tm.tm_hour >= 0 && tm.tm_hour <= 23 && tm.tm_min >= 0 &&
         tm.tm_min <= 59 && tm.tm_sec >= 0 && tm.tm_sec <= 60 && tm.tm_year >= 70;
}

uint64_t DelayUntil(int64_t unix_s, uint64_t now_ms) {
  int64_t target_ms = unix_s * 1000;
  return target_ms <= static_cast<int64_t>(now_ms) ? 0 : static_cast<uint64_t>(target_ms) - now_ms;
}

// HTTP-date (RFC 9110 §5.6.7) → unix seconds.
std::optional<int64_t> ParseHttpDate(std::string_view v) {
  std::string s(v);
  struct tm tm = {};
  char wday[16] = {}, mon[4] = {}, zone[4] = {};
  int day = 0, year = 0, h = 0, m = 0, sec = 0, n = 0;
  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  if (std::sscanf(s.c_str(), "%3[A-Za-z], %2d %3s %4d %2d:%2d:%2d %3s%n", wday, &day, mon, &year, &h, &m, &sec, zone, &n) == 8 &&
      static_cast<size_t>(n) == s.size()) {
    // fallthrough to build
  } else if (std::sscanf(s.c_str(), "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", wday, &day, mon, &year, &h, &m, &sec, zone, &n) == 8 &&
             static_cast<size_t>(n) == s.size()) {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT. Two-digit years: RFC 9110
    // says a year more than 50 years ahead means the past century; with
    // "now" in this century, 00-69 are 20xx.
    year += year < 70 ? 2000 : 1900;
  } else if (std::sscanf(s.c_str(), "%3[A-Za-z] %3s %d %2d:%2d:%2d %4d%n", wday, mon, &day, &h, &m, &sec, &year, &n) == 7 &&
             static_cast<size_t>(n) == s.size()) {
    // asctime: Sun Nov  6 08:49:37 1994 (no zone: GMT by definition)
    std::snprintf(zone, sizeof zone, "GMT");
  } else {
    return std::nullopt;
  }
  if (std::string_view(zone) != "GMT") return std::nullopt;
  tm.tm_mon = MonthFromName(mon);
  tm.tm_mday = day;
  tm.tm_year = year - 1900;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = sec;
  if (!ValidTime(tm)) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

// RFC 3339: 2026-11-21T22:30:00Z, fractions and numeric offsets allowed.
std::optional<int64_t> ParseRfc3339(std::string_view v) {
  std::string s(v);
  struct tm tm = {};
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &n) != 6)
    return std::nullopt;
  std::string_view rest = std::string_view(s).substr(static_cast<size_t>(n));
  double frac = 0;
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    double scale = 0.1;
    while (i < rest.size() && isdigit(static_cast<unsigned char>(rest[i]))) {
      frac += (rest[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    rest.remove_prefix(i);
  }
  int offset = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' && AllDigits(rest.substr(1, 2)) &&
             AllDigits(rest.substr(4, 2))) {
    offset = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600 + ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60;
    if (rest[0] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  if (!ValidTime(tm)) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) - offset + (frac > 0 ? 1 : 0);  // round a fraction up
}

// Go time.Duration text: "1h2m3.5s", "250ms", "10us".
std::optional<uint64_t> ParseDurationMs(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double value = std::strtod(std::string(s.substr(start, i - start)).c_str(), nullptr);
    size_t ustart = i;
    while (i < s.size() && isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    if (unit == "h") total_ms += value * 3600000;
    else if (unit == "m") total_ms += value * 60000;
    else if (unit == "s") total_ms += value * 1000;
    else if (unit == "ms") total_ms += value;
    else if (unit == "us" || unit == "µs") total_ms += value / 1000;
    else if (unit == "ns") total_ms += value / 1e6;
    else return std::nullopt;
  }
  return static_cast<uint64_t>(std::ceil(total_ms));
}

const std::string* FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), name.size()) == 0) return &v;
  return nullptr;
}

std::string MaskKey(std::string_view key) {
  if (key.size() <= 8) return "****";
  return "****" + std::string(key.substr(key.size() - 4));
}

std::string ScrubKey(std::string text, const std::string& key) {
  if (key.size() < 4) return text;
  for (size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), MaskKey(key));
  return text;
}

}  // namespace

std::optional<uint64_t> ParseRetryAfter(std::string_view value, uint64_t now_unix_ms) {
  value = Trim(value);
  if (AllDigits(value)) {
    if (value.size() > 9) return kMaxHintMs * 10;  // absurdly long; the caller caps it
    return std::stoull(std::string(value)) * 1000;
  }
  auto date = ParseHttpDate(value);
  if (!date) return std::nullopt;
  return DelayUntil(*date, now_unix_ms);
}

std::optional<uint64_t> ParseResetHint(std::string_view value, uint64_t now_unix_ms) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  if (auto t = ParseRfc3339(value)) return DelayUntil(*t, now_unix_ms);
  bool number = true;
  for (char c : value) number = number && (isdigit(static_cast<unsigned char>(c)) || c == '.');
  if (number) {
    double sec = std::strtod(std::string(value).c_str(), nullptr);
    if (sec > 1e9) sec = 1e9;
    return static_cast<uint64_t>(std::ceil(sec * 1000));
  }
  return ParseDurationMs(value);
}

std::string CooldownHintFromHeaders(const HeaderList& headers) {
  if (const std::string* v = FindHeader(headers, "Retry-After")) return *v;
  if (const std::string* v = FindHeader(headers, "retry-after-ms"))
    if (AllDigits(Trim(*v))) return std::string(Trim(*v)) + "ms";
  // Reset hints come per limit (requests, tokens, input/output tokens); the
  // account is usable again only when the last one resets. They are compared
  // relative to a common "now" so RFC 3339 and durations mix.
  static const char* kResets[] = {"anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
                                  "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset",
                                  "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens"};
  const uint64_t now = static_cast<uint64_t>(time(nullptr)) * 1000;
  std::string best;
  uint64_t best_ms = 0;
  for (const char* name : kResets) {
    const std::string* v = FindHeader(headers, name);
    if (!v) continue;
    auto ms = ParseResetHint(*v, now);
    if (ms && (best.empty() || *ms > best_ms)) {
      best = *v;
      best_ms = *ms;
    }
  }
  return best;
}

std::string SessionKeyFromRequest(const HeaderList& headers, std::string_view metadata, std::string_view prompt_cache_key) {
  for (std::string_view name : kSessionHeaders)
    if (const std::string* v = FindHeader(headers, name))
      if (!Trim(*v).empty()) return std::string(Trim(*v));
  if (!metadata.empty()) {
    // Claude Code's metadata.user_id: a JSON object text with session_id in
    // current versions ({"device_id":…,"session_id":…}); older ones used
    // "user_<hash>_account_<uuid>_session_<uuid>".
    static constexpr std::string_view kUserId[] = {"user_id"};
    std::string_view user_id_raw[1];
    std::string u;
    if (ScanJson(metadata, kUserId, user_id_raw).ok() && JsonUnquote(user_id_raw[0], &u) && !u.empty()) {
      if (u.front() == '{') {
        static constexpr std::string_view kSessionId[] = {"session_id"};
        std::string_view session_raw[1];
        std::string sid;
        if (ScanJson(u, kSessionId, session_raw).ok() && JsonUnquote(session_raw[0], &sid) && !sid.empty()) return sid;
      }
      size_t at = u.rfind("_session_");
      if (at != std::string::npos && at + 9 < u.size()) return u.substr(at + 9);
      return u;
    }
  }
  std::string key;
  if (JsonUnquote(prompt_cache_key, &key) && !key.empty()) return key;
  return "";
}

// ---- AccountPool ----

AccountPool::AccountPool(std::vector<AccountConfig> accounts, size_t max_sessions) : max_sessions_(std::max<size_t>(1, max_sessions)) {
  accounts_.reserve(accounts.size());
  for (AccountConfig& c : accounts) {
    Account a;
    c.weight = std::max(1, c.weight);
    a.config = std::move(c);
    a.recent_errors.assign(kRecentErrors, 0);
    accounts_.push_back(std::move(a));
  }
}

bool AccountPool::Available(int i, uint64_t now_ms) const {
  const Account& a = accounts_[i];
  return !a.disabled && a.cooldown_until <= now_ms;
}

int AccountPool::PickWeighted(uint64_t now_ms) {
  // Smooth weighted round robin (nginx): every candidate gains its weight,
  // the richest is chosen and pays the total. Over any run of sum(weights)
  // picks each account gets exactly its weight, interleaved, not in bursts.
  int best_priority = 0;
  bool any = false;
  for (size_t i = 0; i < accounts_.size(); ++i) {
    if (!Available(static_cast<int>(i), now_ms)) continue;
    if (!any || accounts_[i].config.priority < best_priority) best_priority = accounts_[i].config.priority;
    any = true;
  }
  if (!any) return -1;
  int64_t total = 0;
  int chosen = -1;
  for (size_t i = 0; i < accounts_.size(); ++i) {
    Account& a = accounts_[i];
    if (!Available(static_cast<int>(i), now_ms) || a.config.priority != best_priority) continue;
    a.current += a.config.weight;
    total += a.config.weight;
    if (chosen < 0 || a.current > accounts_[chosen].current) chosen = static_cast<int>(i);
  }
  accounts_[chosen].current -= total;
  return chosen;
}

void AccountPool::Remember(std::string_view session_key, int account) {
  std::string key(session_key);
  auto it = sessions_.find(key);
  if (it != sessions_.end()) {
    it->second->second = account;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(key, account);
  sessions_.emplace(std::move(key), lru_.begin());
  if (sessions_.size() > max_sessions_) {
    sessions_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

int AccountPool::Pick(std::string_view session_key, uint64_t now_ms) {
  int chosen = -1;
  if (!session_key.empty()) {
    auto it = sessions_.find(std::string(session_key));
    if (it != sessions_.end() && Available(it->second->second, now_ms)) {
      chosen = it->second->second;
      lru_.splice(lru_.begin(), lru_, it->second);
    }
  }
  if (chosen < 0) {
    chosen = PickWeighted(now_ms);
    if (chosen >= 0 && !session_key.empty()) Remember(session_key, chosen);
  }
  if (chosen >= 0) {
    ++accounts_[chosen].in_flight;
    ++accounts_[chosen].requests;
  }
  return chosen;
}

uint64_t AccountPool::NextAvailableMs(uint64_t now_ms) const {
  uint64_t best = UINT64_MAX;
  for (const Account& a : accounts_) {
    if (a.disabled) continue;
    best = std::min(best, a.cooldown_until <= now_ms ? 0 : a.cooldown_until - now_ms);
  }
  return best;
}

void AccountPool::ReportResult(int i, int status, std::string_view retry_after, uint64_t now_ms, std::string_view detail) {
  if (i < 0 || static_cast<size_t>(i) >= accounts_.size()) return;
  Account& a = accounts_[i];
  if (a.in_flight > 0) --a.in_flight;
  a.last_status = status;
  if (status >= 200 && status < 400) {
    a.failures = 0;
    return;
  }
  if (status == 401 || status == 403) {
    // The credential is wrong, revoked or out of credit: retrying it only
    // burns the client's time. An operator has to look.
    ++a.errors;
    a.recent_errors[a.recent_next++ % kRecentErrors] = now_ms;
    a.disabled = true;
    char when[32];
    time_t t = static_cast<time_t>(now_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string d = ScrubKey(std::string(detail.substr(0, 300)), a.config.key);
    a.disabled_reason = "provider answered " + std::to_string(status) + " at " + when + (d.empty() ? "" : ": " + d);
    return;
  }
  if (status != 0 && status != 429 && status < 500) return;  // the request's fault, not the account's
  ++a.errors;
  a.recent_errors[a.recent_next++ % kRecentErrors] = now_ms;
  ++a.failures;
  std::optional<uint64_t> hint;
  if (!retry_after.empty()) {
    hint = ParseRetryAfter(retry_after, now_ms);
    if (!hint) hint = ParseResetHint(retry_after, now_ms);
  }
  uint64_t wait;
  if (hint) {
    wait = std::min(*hint, kMaxHintMs);
  } else {
    int shift = std::min(a.failures - 1, 20);
    wait = std::min(kBaseCooldownMs << shift, kMaxBackoffMs);
  }
  a.cooldown_until = std::max(a.cooldown_until, now_ms + wait);
}

void AccountPool::Release(int i) {
  if (i < 0 || static_cast<size_t>(i) >= accounts_.size()) return;
  if (accounts_[i].in_flight > 0) --accounts_[i].in_flight;
}

void AccountPool::Enable(int i) {
  if (i < 0 || static_cast<size_t>(i) >= accounts_.size()) return;
  Account& a = accounts_[i];
  a.disabled = false;
  a.disabled_reason.clear();
  a.cooldown_until = 0;
  a.failures = 0;
}

JsonPtr AccountPool::Snapshot(uint64_t now_ms) const {
  JsonPtr out = JsonNewObj();
  cJSON* list = JsonAddArr(out.get(), "accounts");
  for (const Account& a : accounts_) {
    cJSON* o = JsonAddObj(list, nullptr);
    JsonAddStr(o, "id", a.config.id);
    JsonAddStr(o, "key", MaskKey(a.config.key));
    JsonAddNum(o, "priority", a.config.priority);
    JsonAddNum(o, "weight", a.config.weight);
    if (a.disabled) {
      JsonAddStr(o, "state", "disabled");
      JsonAddStr(o, "disabled_reason", a.disabled_reason);
    } else if (a.cooldown_until > now_ms) {
      JsonAddStr(o, "state", "cooldown");
      JsonAddNum(o, "cooldown_until_ms", static_cast<double>(a.cooldown_until));
      JsonAddNum(o, "cooldown_remaining_ms", static_cast<double>(a.cooldown_until - now_ms));
    } else {
      JsonAddStr(o, "state", "healthy");
    }
    JsonAddNum(o, "consecutive_failures", a.failures);
    JsonAddNum(o, "in_flight", a.in_flight);
    JsonAddNum(o, "requests", static_cast<double>(a.requests));
    JsonAddNum(o, "errors", static_cast<double>(a.errors));
    int recent = 0;
    for (uint64_t t : a.recent_errors) recent += t != 0 && t + kRecentWindowMs > now_ms;
    JsonAddNum(o, "errors_5m", recent);
    JsonAddNum(o, "last_status", a.last_status);
  }
  JsonAddNum(out.get(), "sticky_sessions", static_cast<double>(sessions_.size()));
  return out;
}

}  // namespace tether
