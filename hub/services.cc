#include "hub/services.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/metrics.h"

namespace tether {

Status EnsureDir(const std::string& path) {
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::Error("mkdir " + cur + ": " + std::strerror(errno));
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::Error(path + ": not a directory");
  return Status::Ok();
}

uint64_t UnixMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

HubServices::HubServices() : rates_([] { return NowMs(); }), budget_([] { return UnixMs(); }) {}

HubServices::~HubServices() {
  if (ledger_) ledger_->Flush();
}

static bool SameAccounts(const std::vector<AccountConfig>& a, const std::vector<AccountConfig>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].key != b[i].key || a[i].priority != b[i].priority || a[i].weight != b[i].weight)
      return false;
  return true;
}

void HubServices::BuildPools(const HubConfig& config) {
  std::map<std::string, std::shared_ptr<AccountPool>> pools;
  std::map<std::string, std::vector<AccountConfig>> configs;
  for (const ProviderConfig& p : config.providers) {
    // A provider without credentials (Bedrock signs with its own, a local
    // Ollama needs none) still gets one account, so health and failover work
    // the same everywhere.
    std::vector<AccountConfig> accounts = p.accounts;
    if (accounts.empty()) accounts.push_back({"default", "", 0, 1});
    auto old = pools_.find(p.id);
    if (old != pools_.end() && SameAccounts(pool_configs_[p.id], accounts)) pools[p.id] = old->second;
    else pools[p.id] = std::make_shared<AccountPool>(accounts);
    configs[p.id] = std::move(accounts);
  }
  pools_ = std::move(pools);
  pool_configs_ = std::move(configs);
}

Result<std::unique_ptr<HubServices>> HubServices::Open(const HubConfig& config) {
  // SQLite's allocation statistics take a global mutex on every malloc; the
  // hub never reads them, and the ledger's writer allocates per row. Only
  // possible before SQLite's first use; later calls fail harmlessly.
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  std::unique_ptr<HubServices> s(new HubServices());
  s->data_dir_ = config.data_dir;
  s->booking_ = config.usage_booking;
  if (Status st = EnsureDir(config.data_dir); !st.ok()) return Status::Error("data_dir: " + st.message());
  s->static_keys_ = config.keys;
  auto keys = KeyStore::Open(config.data_dir, config.keys);
  if (!keys.ok()) return keys.status();
  s->keys_ = std::move(keys.value());
  s->keys_read_ms_ = NowMs();
  auto ledger = UsageLedger::Open(config.data_dir + "/usage.db");
  if (!ledger.ok()) return ledger.status();
  s->ledger_ = std::move(ledger.value());
  auto prices = PriceTable::Load(config.prices);
  if (prices.ok()) s->prices_ = std::move(prices.value());
  else LogWarn("hub", "prices: " + prices.status().message() + " (usage is booked with cost 0)");
  s->BuildPools(config);
  if (Status st = s->OpenRequestLog(config.request_log); !st.ok()) return st;
  // Budgets survive restarts: seed them with what the ledger already holds.
  // Only when some key has a budget: on a long ledger the month's scan costs
  // seconds of start-up that nothing would use.
  bool any_budget = false;
  for (const KeyPolicy& k : s->keys_->List()) any_budget = any_budget || k.daily_budget_usd > 0 || k.monthly_budget_usd > 0;
  if (!any_budget) return s;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  auto today = s->ledger_->Query(UsageGroup::kKey, static_cast<double>(UtcDayStart(now)));
  auto month = s->ledger_->Query(UsageGroup::kKey, static_cast<double>(UtcMonthStart(now)));
  if (today.ok() && month.ok()) {
    for (const UsageTotals& m : *month) {
      double day = 0;
      for (const UsageTotals& d : *today)
        if (d.group == m.group) day = d.cost_usd;
      s->budget_.Restore(m.group, day, m.cost_usd);
    }
  } else {
    LogWarn("hub", "usage ledger: could not read past spend, budgets start at 0");
  }
  return s;
}

Status HubServices::Reload(const HubConfig& config) {
  static_keys_ = config.keys;
  booking_ = config.usage_booking;
  Status st = RefreshKeys();
  BuildPools(config);
  if (config.request_log != (request_log_ ? request_log_->config() : RequestLogConfig())) {
    if (Status rl = OpenRequestLog(config.request_log); !rl.ok()) LogError("hub", "reload: " + rl.message() + " (request log off)");
  }
  if (auto prices = PriceTable::Load(config.prices); prices.ok()) prices_ = std::move(prices.value());
  return st;
}

Status HubServices::RefreshKeys() {
  keys_read_ms_ = NowMs();
  auto keys = KeyStore::Open(data_dir_, static_keys_);
  if (!keys.ok()) return keys.status();
  keys_ = std::move(keys.value());
  return Status::Ok();
}

std::shared_ptr<const KeyPolicy> HubServices::FindKey(std::string_view key) {
  // Known keys keep their hash in memory (never on disk), so a request
  // costs a map lookup instead of a SHA-256; the policy is still looked up
  // by hash each time, so revocation and reloads apply at once.
  if (auto hit = known_key_hashes_.find(std::string(key)); hit != known_key_hashes_.end())
    if (auto p = keys_->FindByHash(hit->second)) return p;
  std::string hash = HashClientKey(key);
  if (auto p = keys_->FindByHash(hash)) {
    if (known_key_hashes_.size() >= kMaxKnownKeyHashes) known_key_hashes_.clear();
    known_key_hashes_.emplace(key, std::move(hash));
    return p;
  }
  // Unknown: maybe created by the CLI since. Bounded, so a stream of bad
  // keys costs at most one small SQLite read per second.
  if (NowMs() - keys_read_ms_ < 1000) return nullptr;
  if (Status st = RefreshKeys(); !st.ok()) {
    LogWarn("hub", "re-reading client keys: " + st.message());
    return nullptr;
  }
  return keys_->FindByHash(hash);
}

Status HubServices::OpenRequestLog(const RequestLogConfig& config) {
  request_log_.reset();  // writes out what the old one holds
  if (config.dir.empty()) return Status::Ok();
  auto log = RequestLog::Open(config);
  if (!log.ok()) return log.status();
  request_log_ = std::move(log.value());
  LogWarn("hub", "request log on: request and response bodies go to " + config.dir + "/requests.jsonl");
  return Status::Ok();
}

std::shared_ptr<AccountPool> HubServices::pool(const std::string& provider_id) const {
  auto it = pools_.find(provider_id);
  return it == pools_.end() ? nullptr : it->second;
}

void HubServices::AddInfo(cJSON* root) const {
  uint64_t now = UnixMs();
  cJSON* pools = JsonAddObj(root, "accounts");
  for (const auto& [id, pool] : pools_) cJSON_AddItemToObject(pools, id.c_str(), pool->Snapshot(now).release());
  cJSON* keys = JsonAddObj(root, "keys");
  JsonAddNum(keys, "count", static_cast<double>(keys_->size()));
  UsageLedger::Stats st = ledger_->stats();
  cJSON* usage = JsonAddObj(root, "usage");
  JsonAddBool(usage, "booking", booking_);
  JsonAddNum(usage, "booked", static_cast<double>(st.booked));
  JsonAddNum(usage, "written", static_cast<double>(st.written));
  JsonAddNum(usage, "failed", static_cast<double>(st.failed));
  JsonAddNum(usage, "dropped", static_cast<double>(st.dropped));
  JsonAddNum(usage, "prices", static_cast<double>(prices_.size()));
  if (request_log_) {
    RequestLog::Stats rl = request_log_->stats();
    cJSON* r = JsonAddObj(root, "request_log");
    JsonAddNum(r, "recorded", static_cast<double>(rl.recorded));
    JsonAddNum(r, "written", static_cast<double>(rl.written));
    JsonAddNum(r, "failed", static_cast<double>(rl.failed));
    JsonAddNum(r, "dropped", static_cast<double>(rl.dropped));
    JsonAddNum(r, "rotations", static_cast<double>(rl.rotations));
  }
}

}  // namespace tether
