// GatewayExchange, front door: who may call (keys, tenants, limits, admin)
// and what the hub answers itself (local endpoints, model lists, token
// estimates).
#include "hub/gateway.h"

#include <cstdio>
#include <ctime>

#include "common/log.h"
#include "common/metrics.h"
#include "common/tls.h"
#include "hub/accounts.h"
#include "hub/admin.h"
#include "hub/hub_server.h"
#include "hub/model_resolver.h"
#include "hub/providers/provider_request.h"
#include "hub/services.h"

namespace tether {

bool GatewayExchange::Authenticate() {
  std::string key;
  if (const std::string* auth = head_.headers.Get("Authorization")) {
    std::string_view v = *auth;
    if (v.size() > 7 && EqualsIgnoreCase(v.substr(0, 7), "Bearer ")) key = std::string(v.substr(7));
  }
  if (key.empty())
    if (const std::string* k = head_.headers.Get("x-api-key")) key = *k;
  if (key.empty())
    if (const std::string* k = head_.headers.Get("x-goog-api-key")) key = *k;
  if (key.empty()) key = QueryParam(route_.query, "key");
  if (services_->open()) {
    client_key_name_ = "open";
    tenant_ = route_.uid;
    tenant_cfg_ = FindTenant(*config_, tenant_);
    return true;  // no keys configured: open hub (warned at start)
  }
  if (key.empty()) {
    SendError(401, "missing API key: send it as Authorization: Bearer, x-api-key or x-goog-api-key");
    return false;
  }
  key_ = services_->FindKey(key);
  if (!key_) {
    SendError(401, "invalid API key " + MaskSecret(key));
    return false;
  }
  client_key_name_ = key_->name;
  KeyContext ctx;
  ctx.now = static_cast<int64_t>(started_unix_ms_ / 1000);
  ctx.tenant_of_path = route_.uid;
  ctx.user_agent = std::string(head_.headers.GetOr("User-Agent", ""));
  KeyDecision d = EvaluateKey(*key_, ctx);
  if (!d.allow) {
    SendError(d.status, d.message);
    return false;
  }
  // A key bound to a tenant used on a root path acts for its tenant.
  tenant_ = route_.uid.empty() ? key_->tenant : route_.uid;
  tenant_cfg_ = FindTenant(*config_, tenant_);
  return true;
}

void GatewayExchange::RunAdmin() {
  // The admin API is off without a token, and answers only on the plain
  // listener, or through an admitted edge when the operator allows it;
  // everywhere else it does not exist.
  bool reachable = !config_->admin_token.empty() &&
                   (!conn_->via_edge_listener() || (config_->admin_via_edge && conn_->trusted_edge()));
  if (!reachable) {
    SendError(404, "no such endpoint: " + head_.method + " " + route_.path);
    return;
  }
  const std::string* auth = head_.headers.Get("Authorization");
  if (!AdminTokenMatches(auth ? *auth : std::string(), config_->admin_token)) {
    Headers extra;
    extra.Add("WWW-Authenticate", "Bearer");
    SendJson(401, "{\"error\":{\"message\":\"admin API: missing or wrong Authorization: Bearer token\",\"type\":\"authentication_error\"}}", &extra);
    return;
  }
  AdminReply r = HandleAdmin(*services_, head_.method, head_.target, body_);
  SendJson(r.status, r.body);
}

bool GatewayExchange::AdmitLimits() {
  if (!key_) return true;
  RateLimiter& rates = services_->rates();
  LimitDecision d = rates.Admit(key_->name, key_->rpm, key_->tpm);
  bool key_taken = d.allow, tenant_taken = false;
  const std::string tenant_bucket = tenant_cfg_ ? "tenant:" + tenant_cfg_->id : std::string();
  if (d.allow && tenant_cfg_ && (tenant_cfg_->rpm || tenant_cfg_->tpm)) {
    // Named as the tenant in the message: the client never sees the
    // internal bucket name.
    d = rates.Admit(tenant_bucket, tenant_cfg_->rpm, tenant_cfg_->tpm, "tenant " + tenant_cfg_->id);
    tenant_taken = d.allow;
  }
  if (d.allow) d = services_->budget().Check(key_->name, key_->daily_budget_usd, key_->monthly_budget_usd);
  if (d.allow) slot_ = services_->concurrency().AcquireSlot(key_->name, key_->max_concurrent, &d);
  if (d.allow) return true;
  // A request refused by a later check gives back what the earlier ones took.
  if (key_taken) rates.Refund(key_->name, key_->rpm);
  if (tenant_taken) rates.Refund(tenant_bucket, tenant_cfg_->rpm);
  DenyLimit(d);
  return false;
}

void GatewayExchange::DenyLimit(const LimitDecision& d) {
  Headers extra;
  extra.Add("Retry-After", std::to_string(std::max(1, d.retry_after_sec)));
  SendError(d.status, d.message, &extra);
}

void GatewayExchange::RunLocal() {
  HubServer* s = conn_->server();
  switch (route_.endpoint) {
    case Endpoint::kPing:
      SendJson(200, "{\"pong\":true}");
      return;
    case Endpoint::kRoot:
      SendJson(200, std::string("{\"ok\":true,\"role\":\"hub\",\"version\":\"") + "0.1.0" + "\"}");
      return;
    case Endpoint::kHealthz:
      SendJson(200, "{\"ok\":true}");
      return;
    default:
      break;
  }
  // Debug and metrics: from allowed networks, or through an admitted edge
  // only when the edge's client address is allowed too.
  std::string peer = conn_->peer_address();
  if (conn_->trusted_edge())
    if (const std::string* real = head_.headers.Get("X-Real-IP")) peer = *real;
  if (!config_->debug_allow.Contains(peer)) {
    SendError(403, "this endpoint is not available from your address");
    return;
  }
  if (route_.endpoint == Endpoint::kMetrics) {
    Headers h;
    std::string body = s->MetricsText();
    conn_->Write(SimpleResponse(200, "text/plain; version=0.0.4", body));
    status_sent_ = 200;
    Finish(false);
    return;
  }
  SendJson(200, s->InfoJson());
}

void GatewayExchange::ListModels() {
  bool anthropic = head_.headers.Get("anthropic-version") != nullptr;
  bool gemini = route_.endpoint == Endpoint::kGeminiModels;
  JsonPtr out = JsonNewObj();
  cJSON* list = gemini ? JsonAddArr(out.get(), "models") : JsonAddArr(out.get(), "data");
  if (!gemini && !anthropic) JsonAddStr(out.get(), "object", "list");
  std::vector<std::string> seen;
  // Only what this caller could use: the same two checks a model request
  // meets (the key's model globs, the tenant's providers).
  for (const ProviderConfig& p : config_->providers) {
    if (!TenantAllowsProvider(tenant_cfg_, p.id)) continue;
    for (const ModelEntry& m : p.models) {
      for (const std::string& name : {m.name, m.alias}) {
        if (name.empty() || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
        if (key_ && !KeyAllowsModel(*key_, name)) continue;
        seen.push_back(name);
        cJSON* o = JsonAddObj(list, nullptr);
        if (gemini) {
          JsonAddStr(o, "name", "models/" + name);
          JsonAddStr(o, "displayName", name);
          cJSON* methods = JsonAddArr(o, "supportedGenerationMethods");
          JsonAddStr(methods, nullptr, "generateContent");
          JsonAddStr(methods, nullptr, "streamGenerateContent");
          JsonAddStr(methods, nullptr, "countTokens");
        } else if (anthropic) {
          JsonAddStr(o, "type", "model");
          JsonAddStr(o, "id", name);
          JsonAddStr(o, "display_name", name);
          JsonAddStr(o, "created_at", "2025-01-01T00:00:00Z");
        } else {
          JsonAddStr(o, "id", name);
          JsonAddStr(o, "object", "model");
          JsonAddNum(o, "created", 1735689600);
          JsonAddStr(o, "owned_by", p.id);
        }
      }
    }
  }
  if (anthropic) {
    JsonAddBool(out.get(), "has_more", false);
    if (!seen.empty()) {
      JsonAddStr(out.get(), "first_id", seen.front());
      JsonAddStr(out.get(), "last_id", seen.back());
    }
  }
  SendJson(200, PrintJson(out.get()));
}

void GatewayExchange::CountTokensLocally() {
  // Estimate: about four bytes of JSON text per token. Fast enough for the
  // dozens of calls per second an IDE integration makes, and close enough
  // for context-window bookkeeping; providers that count exactly are asked.
  size_t text_bytes = 0;
  for (const char* key : {"system", "messages", "tools", "contents", "systemInstruction", "input", "instructions"})
    if (const cJSON* v = JsonGet(RequestJson(), key)) text_bytes += PrintJson(v).size();
  long tokens = static_cast<long>((text_bytes + 3) / 4);
  if (route_.endpoint == Endpoint::kGeminiCountTokens)
    SendJson(200, "{\"totalTokens\":" + std::to_string(tokens) + "}");
  else
    SendJson(200, "{\"input_tokens\":" + std::to_string(tokens) + "}");
}

}  // namespace tether
