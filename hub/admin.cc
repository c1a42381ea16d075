#include "hub/admin.h"

#include <cstdlib>
#include <ctime>

#include "common/config.h"
#include "common/json.h"
#include "common/tls.h"
#include "hub/router.h"
#include "hub/services.h"

namespace tether {
namespace {

std::string ErrorJson(const std::string& message) {
  JsonPtr o = JsonNewObj();
  cJSON* e = JsonAddObj(o.get(), "error");
  JsonAddStr(e, "message", message);
  return PrintJson(o.get());
}

AdminReply Error(int status, const std::string& message) { return {status, ErrorJson(message)}; }

// Every provider's accounts with their health; the pool's snapshot minus
// even the masked key, since an operator names accounts by id.
std::string AccountsJson(HubServices& s) {
  uint64_t now = UnixMs();
  JsonPtr o = JsonNewObj();
  cJSON* providers = JsonAddObj(o.get(), "providers");
  for (const auto& [id, pool] : s.pools()) {
    JsonPtr snap = pool->Snapshot(now);
    cJSON* accounts = cJSON_GetObjectItemCaseSensitive(snap.get(), "accounts");
    cJSON* a = nullptr;
    cJSON_ArrayForEach(a, accounts) cJSON_DeleteItemFromObjectCaseSensitive(a, "key");
    cJSON_AddItemToObject(providers, id.c_str(), snap.release());
  }
  return PrintJson(o.get());
}

// The operator's answer to a 401/403 that disabled an account (a rotated
// provider key, a settled bill): clears the disable and any cooldown.
AdminReply EnableAccount(HubServices& s, const std::string& provider, const std::string& account) {
  std::shared_ptr<AccountPool> pool = s.pool(provider);
  if (!pool) return Error(404, "no provider \"" + provider + "\"");
  for (size_t i = 0; i < pool->size(); ++i) {
    if (pool->config(static_cast<int>(i)).id != account) continue;
    pool->Enable(static_cast<int>(i));
    JsonPtr o = JsonNewObj();
    JsonAddStr(o.get(), "provider", provider);
    JsonAddStr(o.get(), "enabled", account);
    return {200, PrintJson(o.get())};
  }
  return Error(404, "provider \"" + provider + "\" has no account \"" + account + "\"");
}

}  // namespace

bool IsAdminPath(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return path == "/admin" || path.rfind("/admin/", 0) == 0;
}

bool AdminTokenMatches(const std::string& authorization, const std::string& token) {
  if (token.empty() || authorization.size() < 7) return false;
  std::string_view scheme(authorization.data(), 7);
  if (scheme != "Bearer " && scheme != "bearer ") return false;
  return SecretEquals(std::string_view(authorization).substr(7), token);
}

Result<KeyPolicy> KeyPolicyFromJson(const cJSON* object) {
  if (!cJSON_IsObject(object)) return Status::Error("expected a JSON object");
  // ReadKeyPolicy wants key text or a hash; give it a placeholder hash,
  // which KeyStore::Create replaces.
  JsonPtr copy(cJSON_Duplicate(object, true));
  cJSON_DeleteItemFromObjectCaseSensitive(copy.get(), "key");
  cJSON_DeleteItemFromObjectCaseSensitive(copy.get(), "sha256");
  JsonAddStr(copy.get(), "sha256", std::string(64, '0'));
  ConfigErrors errors("request");
  KeyPolicy p = ReadKeyPolicy(ConfigNode(copy.get(), "", &errors));
  if (!errors.ok()) return errors.ToStatus();
  return p;
}

Result<double> ParseSince(std::string_view text, double now) {
  if (text.empty()) return now - 30 * 86400.0;
  std::string s(text);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0) return Status::Error("since: expected 7d, 24h, 30m, 90s or unix seconds, got \"" + s + "\"");
  std::string unit(end);
  if (unit.empty()) return v;
  if (unit == "d") return now - v * 86400;
  if (unit == "h") return now - v * 3600;
  if (unit == "m") return now - v * 60;
  if (unit == "s") return now - v;
  return Status::Error("since: unknown unit \"" + unit + "\"; expected d, h, m or s");
}

Result<UsageGroup> ParseUsageGroup(std::string_view t) {
  if (t.empty() || t == "key") return UsageGroup::kKey;
  if (t == "tenant") return UsageGroup::kTenant;
  if (t == "model") return UsageGroup::kModel;
  if (t == "provider") return UsageGroup::kProvider;
  return Status::Error("by: expected key, tenant, model or provider");
}

std::string UsageTotalsJson(const std::vector<UsageTotals>& rows, std::string_view by, double since) {
  JsonPtr o = JsonNewObj();
  JsonAddStr(o.get(), "by", std::string(by.empty() ? "key" : by));
  JsonAddNum(o.get(), "since", since);
  cJSON* list = JsonAddArr(o.get(), "rows");
  for (const UsageTotals& r : rows) {
    cJSON* e = JsonAddObj(list, nullptr);
    JsonAddStr(e, "group", r.group);
    JsonAddNum(e, "requests", static_cast<double>(r.requests));
    JsonAddNum(e, "input_tokens", static_cast<double>(r.input_tokens));
    JsonAddNum(e, "output_tokens", static_cast<double>(r.output_tokens));
    JsonAddNum(e, "cache_read_tokens", static_cast<double>(r.cache_read_tokens));
    JsonAddNum(e, "cache_write_tokens", static_cast<double>(r.cache_write_tokens));
    JsonAddNum(e, "reasoning_tokens", static_cast<double>(r.reasoning_tokens));
    JsonAddNum(e, "cost_usd", r.cost_usd);
  }
  return PrintJson(o.get());
}

AdminReply HandleAdmin(HubServices& s, const std::string& method, const std::string& target, const std::string& body) {
  size_t q = target.find('?');
  std::string path = target.substr(0, q);
  std::string query = q == std::string::npos ? "" : target.substr(q + 1);
  if (path == "/admin/keys" && method == "GET") {
    std::string out = "{\"keys\":[";
    bool first = true;
    for (const KeyPolicy& p : s.keys().List()) {
      out += (first ? "" : ",") + KeyPolicyToJson(p);
      first = false;
    }
    return {200, out + "]}"};
  }
  if (path == "/admin/keys" && method == "POST") {
    auto parsed = ParseJson(body);
    if (!parsed.ok()) return Error(400, "body: " + parsed.status().message());
    auto policy = KeyPolicyFromJson(parsed->get());
    if (!policy.ok()) return Error(400, policy.status().message());
    if (!s.booking() && (policy->daily_budget_usd > 0 || policy->monthly_budget_usd > 0))
      return Error(400, "usage_booking is off in the hub config, so a budget could not be enforced; create the key without one");
    std::string name = policy->name;
    auto key = s.keys().Create(std::move(policy.value()));
    if (!key.ok()) return Error(409, key.status().message());
    JsonPtr o = JsonNewObj();
    JsonAddStr(o.get(), "name", name);
    JsonAddStr(o.get(), "key", *key);
    return {201, PrintJson(o.get())};
  }
  if (path.rfind("/admin/keys/", 0) == 0 && method == "DELETE") {
    std::string name = path.substr(12);
    if (Status st = s.keys().Revoke(name); !st.ok()) return Error(404, st.message());
    JsonPtr o = JsonNewObj();
    JsonAddStr(o.get(), "revoked", name);
    return {200, PrintJson(o.get())};
  }
  if (path == "/admin/accounts" && method == "GET") return {200, AccountsJson(s)};
  if (path.rfind("/admin/accounts/", 0) == 0) {
    // /admin/accounts/PROVIDER/ACCOUNT/enable
    std::string_view rest = std::string_view(path).substr(16);
    constexpr std::string_view kEnable = "/enable";
    size_t slash = rest.find('/');
    if (rest.size() <= kEnable.size() || rest.substr(rest.size() - kEnable.size()) != kEnable || slash == 0 ||
        slash >= rest.size() - kEnable.size())
      return Error(404, "no such admin endpoint: " + method + " " + path + " (expected /admin/accounts/PROVIDER/ACCOUNT/enable)");
    if (method != "POST") return Error(405, "use POST to enable an account");
    return EnableAccount(s, std::string(rest.substr(0, slash)),
                         std::string(rest.substr(slash + 1, rest.size() - kEnable.size() - slash - 1)));
  }
  if (path == "/admin/usage" && method == "GET") {
    std::string by = QueryParam(query, "by");
    auto group = ParseUsageGroup(by);
    if (!group.ok()) return Error(400, group.status().message());
    auto since = ParseSince(QueryParam(query, "since"), static_cast<double>(std::time(nullptr)));
    if (!since.ok()) return Error(400, since.status().message());
    s.ledger().Flush();  // include rows still queued
    auto rows = s.ledger().Query(*group, *since);
    if (!rows.ok()) return Error(500, rows.status().message());
    return {200, UsageTotalsJson(*rows, by, *since)};
  }
  return Error(404, "no such admin endpoint: " + method + " " + path);
}

}  // namespace tether
