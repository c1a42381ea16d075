// The hub's shared state behind the request pipeline: client keys (static
// and run-time), per-key rate/concurrency/budget limits, one account pool per
// provider, the usage ledger and the price table. HubServer owns one; every
// GatewayExchange borrows it. Loop thread only, except what the member
// classes document as thread-safe.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "hub/accounts.h"
#include "hub/hub_config.h"
#include "hub/keys.h"
#include "hub/limits.h"
#include "hub/request_log.h"
#include "hub/usage.h"

namespace tether {

// mkdir -p; an existing directory is fine.
Status EnsureDir(const std::string& path);
uint64_t UnixMs();

class HubServices {
 public:
  // Creates config.data_dir if missing, opens keys.db and usage.db there,
  // loads the prices (a missing file is a warning: costs are then 0) and
  // seeds the budgets with today's and this month's spend from the ledger.
  static Result<std::unique_ptr<HubServices>> Open(const HubConfig& config);
  // Flushes the ledger.
  ~HubServices();
  HubServices(const HubServices&) = delete;
  HubServices& operator=(const HubServices&) = delete;

  // New static keys, the booking switch and account pools for providers
  // whose accounts changed (unchanged pools keep their health and sessions).
  // data_dir is fixed at start.
  Status Reload(const HubConfig& config);

  // The policy for a presented key. An unknown key re-reads keys.db first
  // (at most once per second), so keys made by `hub keys create` in another
  // process work without a reload.
  std::shared_ptr<const KeyPolicy> FindKey(std::string_view key);
  // True when no key is configured at all: an open hub.
  bool open() const { return keys_->size() == 0; }
  KeyStore& keys() { return *keys_; }
  // Re-reads keys.db now (after an admin change).
  Status RefreshKeys();

  RateLimiter& rates() { return rates_; }
  ConcurrencyLimiter& concurrency() { return concurrency_; }
  BudgetTracker& budget() { return budget_; }
  // The opt-in request log; null when hub.json has no request_log.
  RequestLog* request_log() { return request_log_.get(); }
  // The pool of a provider; shared so an exchange keeps the pool it picked
  // from across a reload. Never null for a configured provider.
  std::shared_ptr<AccountPool> pool(const std::string& provider_id) const;
  UsageLedger& ledger() { return *ledger_; }
  // Books a finished request in the ledger, unless usage_booking is off.
  void Book(const UsageRow& row) {
    if (booking_) ledger_->Book(row);
  }
  bool booking() const { return booking_; }
  // Provider ids with their current pools, for the admin API.
  const std::map<std::string, std::shared_ptr<AccountPool>>& pools() const { return pools_; }
  const PriceTable& prices() const { return prices_; }

  // Pools (no secrets) and ledger counters for /debug/info.
  void AddInfo(cJSON* root) const;

 private:
  HubServices();
  void BuildPools(const HubConfig& config);
  Status OpenRequestLog(const RequestLogConfig& config);  // replaces the current one

  std::string data_dir_;
  std::vector<KeyPolicy> static_keys_;
  std::unique_ptr<KeyStore> keys_;
  uint64_t keys_read_ms_ = 0;
  // Presented key -> its SHA-256 hex, for keys that matched (see FindKey).
  static constexpr size_t kMaxKnownKeyHashes = 4096;
  std::unordered_map<std::string, std::string> known_key_hashes_;
  RateLimiter rates_;
  ConcurrencyLimiter concurrency_;
  BudgetTracker budget_;
  std::map<std::string, std::shared_ptr<AccountPool>> pools_;
  std::map<std::string, std::vector<AccountConfig>> pool_configs_;
  std::unique_ptr<UsageLedger> ledger_;
  std::unique_ptr<RequestLog> request_log_;
  bool booking_ = true;  // HubConfig::usage_booking
  PriceTable prices_;
};

}  // namespace tether
