// The admin API under /admin/ (keys and usage) and the pieces the `hub keys`
// and `hub usage` commands share with it. Requests reach HandleAdmin only
// after the gateway checked where they came from and the admin token.
//   GET    /admin/keys                    → {"keys":[policy…]} (no key text)
//   POST   /admin/keys  {name, tenant, …} → 201 {"name", "key"}: the only time the key is shown
//   DELETE /admin/keys/NAME               → {"revoked": NAME}
//   GET    /admin/usage?by=key|tenant|model|provider&since=7d
//   GET    /admin/accounts                → {"providers":{ID:{"accounts":[state…]}}} (no keys)
//   POST   /admin/accounts/PROVIDER/ACCOUNT/enable → {"provider", "enabled"}: clears a
//          disable (after 401/403) and any cooldown
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <cjson/cJSON.h>

#include "common/status.h"
#include "hub/keys.h"
#include "hub/usage.h"

namespace tether {

class HubServices;

bool IsAdminPath(std::string_view target);
// Constant-time comparison of "Bearer <token>" with the configured token.
bool AdminTokenMatches(const std::string& authorization, const std::string& token);

struct AdminReply {
  int status = 200;
  std::string body;  // JSON
};
AdminReply HandleAdmin(HubServices& services, const std::string& method, const std::string& target, const std::string& body);

// A new key's policy from a JSON object with the fields of a config "keys"
// entry, minus key/sha256 (the key is generated).
Result<KeyPolicy> KeyPolicyFromJson(const cJSON* object);
// "7d", "24h", "30m", "90s" before now, or absolute unix seconds.
Result<double> ParseSince(std::string_view text, double now_unix);
Result<UsageGroup> ParseUsageGroup(std::string_view text);
std::string UsageTotalsJson(const std::vector<UsageTotals>& rows, std::string_view by, double since);

}  // namespace tether
