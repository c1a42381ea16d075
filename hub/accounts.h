// Provider account pools: several credentials for one provider share the
// load and stand in for each other. Selection is priority first (lower value
// tried first), then smooth weighted round robin among the healthy accounts
// of the best priority present; a session sticks to its account while that
// account stays healthy, so provider-side prompt caches keep hitting.
// Health: 429, 5xx and transport errors cool an account down; 401/403
// disable it until an operator re-enables it. Pure: time is passed in.
#pragma once
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/json.h"

namespace tether {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct AccountConfig {
  std::string id;    // shown in logs and /debug/info
  std::string key;   // the provider credential; never logged or shown
  int priority = 0;  // lower is preferred; higher tiers are used only when
                     // every account of the lower ones is unavailable
  int weight = 1;    // share of picks within its tier (>= 1)
};

// Retry-After (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date in any of
// the three forms recipients must accept (IMF-fixdate, RFC 850, asctime).
// Returns the delay in ms from now_unix_ms (0 for a date in the past), or
// nullopt when the value is neither.
std::optional<uint64_t> ParseRetryAfter(std::string_view value, uint64_t now_unix_ms);
// Provider reset hints: an RFC 3339 timestamp (Anthropic's
// anthropic-ratelimit-*-reset), a Go-style duration ("1m30s", "250ms",
// OpenAI's x-ratelimit-reset-*) or plain seconds ("1.5"). Delay in ms.
std::optional<uint64_t> ParseResetHint(std::string_view value, uint64_t now_unix_ms);
// The value to give ReportResult from a provider's response headers:
// Retry-After, else retry-after-ms (as "<n>ms"), else the longest of the
// reset hints; empty when there is none.
std::string CooldownHintFromHeaders(const HeaderList& headers);

// The key that pins a conversation to one account: Claude Code's
// X-Claude-Code-Session-Id header or the session in metadata.user_id; Codex's
// session_id / session-id header or the body's prompt_cache_key. `metadata`
// and `prompt_cache_key` are the raw JSON text of those body members (empty
// when absent). Empty when the request carries none.
inline constexpr std::string_view kSessionHeaders[] = {"X-Claude-Code-Session-Id", "session_id", "session-id"};
std::string SessionKeyFromRequest(const HeaderList& headers, std::string_view metadata, std::string_view prompt_cache_key);

// One provider's accounts and their health. Not thread-safe: use it from the
// loop thread. Every Pick() that returns an account is followed by exactly
// one ReportResult() or Release() for it (that is what in-flight counts).
class AccountPool {
 public:
  explicit AccountPool(std::vector<AccountConfig> accounts, size_t max_sessions = 10000);

  // Index of the account to use, or -1 when none is available now.
  int Pick(std::string_view session_key, uint64_t now_ms);
  // ms until an account becomes available: 0 if one is now, UINT64_MAX when
  // every account is disabled. For the client's Retry-After when Pick fails.
  uint64_t NextAvailableMs(uint64_t now_ms) const;
  // The provider's answer. status 0 means a transport error (connect, TLS,
  // reset before a response). 2xx/3xx: success, clears the backoff. 429,
  // 5xx, 0: cooldown for the hint (ParseRetryAfter or ParseResetHint, capped
  // at 24 h) or else 1 s, 2 s, 4 s ... 120 s by consecutive failures. 401,
  // 403: disabled until Enable(), with `detail` (the provider's message,
  // scrubbed of the key) as the reason. Other 4xx say nothing about health.
  void ReportResult(int account, int status, std::string_view retry_after, uint64_t now_ms, std::string_view detail = {});
  // A picked request ended without a provider answer worth judging (the
  // client went away): only the in-flight count changes.
  void Release(int account);
  // Operator action: clear disabled and cooldown.
  void Enable(int account);

  bool Available(int account, uint64_t now_ms) const;
  const AccountConfig& config(int account) const { return accounts_[account].config; }
  size_t size() const { return accounts_.size(); }
  size_t session_count() const { return sessions_.size(); }
  // State for /debug/info; keys are masked to their last 4 characters.
  JsonPtr Snapshot(uint64_t now_ms) const;

 private:
  struct Account {
    AccountConfig config;
    int64_t current = 0;  // smooth weighted round robin state
    bool disabled = false;
    std::string disabled_reason;
    uint64_t cooldown_until = 0;
    int failures = 0;  // consecutive, for the backoff exponent
    int in_flight = 0;
    uint64_t requests = 0, errors = 0;
    int last_status = 0;
    std::vector<uint64_t> recent_errors;  // ring of error times, for errors_5m
    size_t recent_next = 0;
  };
  int PickWeighted(uint64_t now_ms);
  void Remember(std::string_view session_key, int account);

  std::vector<Account> accounts_;
  size_t max_sessions_;
  // LRU of session → account, most recent first.
  std::list<std::pair<std::string, int>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, int>>::iterator> sessions_;
};

}  // namespace tether
