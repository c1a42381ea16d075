// GatewayExchange, provider side: model candidates (combos), account
// selection and failover before the first byte, and usage booking.
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

std::vector<ResolvedModel> GatewayExchange::ResolveCandidates(std::string* denied_provider) const {
  std::string name = requested_model_;
  if (tenant_cfg_) {
    auto m = tenant_cfg_->model_map.find(name);
    if (m != tenant_cfg_->model_map.end()) name = m->second;
  }
  std::vector<std::string> entries;
  auto combo = config_->combos.find(name);
  if (combo != config_->combos.end()) entries = combo->second;
  else entries.push_back(name);
  auto allowed = [this](int provider) { return TenantAllowsProvider(tenant_cfg_, config_->providers[provider].id); };
  std::vector<ResolvedModel> out;
  for (const std::string& entry : entries) {
    ResolvedModel rm = ResolveModel(*config_, entry);
    if (rm.provider >= 0 && !allowed(rm.provider)) {
      // The first match is off limits; resolve again among the tenant's own
      // providers (rare, so the copy is acceptable).
      *denied_provider = config_->providers[rm.provider].id;
      HubConfig view;
      view.model_map = config_->model_map;
      std::vector<int> index;
      for (size_t i = 0; i < config_->providers.size(); ++i)
        if (allowed(static_cast<int>(i))) {
          view.providers.push_back(config_->providers[i]);
          index.push_back(static_cast<int>(i));
        }
      rm = ResolveModel(view, entry);
      if (rm.provider >= 0) rm.provider = index[rm.provider];
    }
    if (rm.provider >= 0) out.push_back(rm);
  }
  return out;
}

void GatewayExchange::UseCandidate(size_t i) {
  provider_ = candidates_[i].provider;
  upstream_model_ = candidates_[i].upstream_model;
  const ProviderConfig& p = config_->providers[provider_];
  provider_format_ = ProviderFormat(p.type);
  passthrough_ = provider_format_ == client_format_;
  bedrock_ = p.type == ProviderType::kBedrock;
}

bool GatewayExchange::PickNext(bool first) {
  uint64_t now = UnixMs();
  for (size_t c = first ? 0 : candidate_; c < candidates_.size(); ++c) {
    const std::string& pid = config_->providers[candidates_[c].provider].id;
    std::shared_ptr<AccountPool> pool = services_->pool(pid);
    if (!pool) continue;
    std::vector<int>& tried = tried_;
    if (c != candidate_ || first) tried.clear();
    int a = pool->Pick(session_key_, now);
    if (a >= 0 && std::find(tried.begin(), tried.end(), a) != tried.end()) {
      pool->Release(a);
      a = -1;
    }
    // The last candidate with every account cooling down: use the account
    // that recovers first rather than refuse. Providers limit per model and
    // per minute, so a cooldown earned on one request is a hint, not proof,
    // and the provider's own answer (with its Retry-After) is the truth.
    if (a < 0 && tried.empty() && c + 1 == candidates_.size()) {
      uint64_t wait = pool->NextAvailableMs(now);
      if (wait != UINT64_MAX) a = pool->Pick(session_key_, now + wait);
    }
    if (a < 0) continue;
    candidate_ = c;
    pool_ = std::move(pool);
    account_ = a;
    account_open_ = true;
    tried.push_back(a);
    UseCandidate(c);
    return true;
  }
  return false;
}

bool GatewayExchange::StartAttempt() {
  const ProviderConfig& p = config_->providers[provider_];
  ++attempts_;
  attempt_started_ms_ = NowMs();
  std::string body;
  if (passthrough_) {
    // Same format: the body goes through untouched but for the model name,
    // so cache_control, thinking signatures and unknown fields survive.
    body = client_format_ == ApiFormat::kGemini ? body_ : ReplaceModelField(body_, body_member_[kBodyModel], upstream_model_);
  } else {
    const cJSON* request = RequestJson();
    if (!request) {
      SendError(400, "request body is not valid JSON");
      return false;
    }
    auto chat = ToChatRequest(client_format_, request);
    if (!chat.ok()) {
      SendError(400, chat.status().message());
      return false;
    }
    cJSON* c = chat->get();
    cJSON_DeleteItemFromObjectCaseSensitive(c, "model");
    JsonAddStr(c, "model", upstream_model_);
    cJSON_DeleteItemFromObjectCaseSensitive(c, "stream");
    JsonAddBool(c, "stream", stream_);
    if (stream_ && provider_format_ == ApiFormat::kOpenAIChat) {
      cJSON_DeleteItemFromObjectCaseSensitive(c, "stream_options");
      cJSON* so = JsonAddObj(c, "stream_options");
      JsonAddBool(so, "include_usage", true);
    }
    auto out = FromChatRequest(provider_format_, c);
    if (!out.ok()) {
      SendError(400, out.status().message());
      return false;
    }
    body = PrintJson(out->get());
    if (stream_) {
      decoder_ = NewStreamDecoder(provider_format_);
      StreamOptions so;
      so.model = requested_model_;
      so.gemini_sse = gemini_sse_ || client_format_ != ApiFormat::kGemini;
      const cJSON* cso = JsonObj(request, "stream_options");
      so.include_usage = client_format_ != ApiFormat::kOpenAIChat || JsonBool(cso, "include_usage", false);
      so.client_request = request;
      encoder_ = NewStreamEncoder(client_format_, so);
    }
  }
  std::string path = ProviderPath(p, route_.endpoint, upstream_model_, stream_, passthrough_ ? route_.query : "");
  CallProvider(path, std::move(body), stream_);
  return true;
}

bool GatewayExchange::RetryEligible(int status) const {
  // 401/403 disable the account; 429, 5xx and transport errors cool it.
  // Either way another account or combo entry may well succeed.
  return !client_head_sent_ && !awaiting_first_event_ &&
         (status == 0 || status == 401 || status == 403 || status == 429 || status >= 500);
}

void GatewayExchange::ResetAttempt() {
  upstream_status_ = 0;
  upstream_headers_ = Headers();
  upstream_body_.clear();
  eventstream_.reset();
  sse_.reset();
  decoder_.reset();
  encoder_.reset();
  chunks_.clear();
  usage_sse_.reset();
  usage_decoder_.reset();
  usage_body_.clear();
  tokens_ = TokenCounts();
  awaiting_first_event_ = false;
}

void GatewayExchange::ReportAccount(int status, const std::string& detail) {
  if (!account_open_ || !pool_) return;
  account_open_ = false;
  std::string hint = CooldownHintFromHeaders(HeaderList(upstream_headers_.list().begin(), upstream_headers_.list().end()));
  pool_->ReportResult(account_, status, hint, UnixMs(), detail);
  if (status == 401 || status == 403)
    LogWarn("hub", "provider " + config_->providers[provider_].id + " account " + pool_->config(account_).id +
                       " disabled after " + std::to_string(status));
}

void GatewayExchange::BookUsage() {
  if (booked_ || attempts_ == 0 || provider_ < 0) return;
  booked_ = true;
  const ProviderConfig& p = config_->providers[provider_];
  UsageRow row;  // views this exchange's strings; Book copies them
  row.ts = static_cast<double>(started_unix_ms_) / 1000.0;
  row.request_id = request_id_;
  row.key_name = client_key_name_;
  row.tenant = tenant_;
  row.client_family = ClientFamily(head_.headers.GetOr("User-Agent", ""));
  row.model_requested = requested_model_;
  row.model_used = upstream_model_;
  row.provider = p.id;
  if (pool_ && account_ >= 0) row.account = pool_->config(account_).id;
  row.status = status_sent_;
  if (tokens_.reported) {
    ApplyTokenCounts(tokens_, &row);
  } else if (status_sent_ >= 200 && status_sent_ < 300) {
    // The provider reported nothing (or the stream was cut): about four
    // bytes of JSON per token, marked as an estimate.
    row.estimated = true;
    row.input_tokens = static_cast<int64_t>(request_bytes_ / 4);
    row.output_tokens = static_cast<int64_t>(bytes_out_ / 4);
  }
  uint64_t now = NowMs();
  row.ttfb_ms = first_byte_ms_ ? static_cast<int64_t>(first_byte_ms_ - started_ms_) : 0;
  row.duration_ms = static_cast<int64_t>(now - started_ms_);
  if (auto price = services_->prices().PriceFor(ProviderTypeName(p.type), upstream_model_)) row.cost_usd = CostUsd(row, *price);
  uint64_t tokens = static_cast<uint64_t>(row.input_tokens + row.output_tokens + row.cache_read_tokens + row.cache_write_tokens);
  if (key_) {
    services_->rates().RecordTokens(key_->name, key_->tpm, tokens);
    if (row.cost_usd > 0) services_->budget().Add(key_->name, row.cost_usd);
  }
  if (tenant_cfg_ && tenant_cfg_->tpm) services_->rates().RecordTokens("tenant:" + tenant_cfg_->id, tenant_cfg_->tpm, tokens);
  services_->Book(row);
}

void GatewayExchange::RecordRequestLog(RequestLog* log) {
  // The hub's own endpoints and the admin API (whose bodies carry new keys)
  // are not client traffic.
  if (IsLocalEndpoint(route_.endpoint)) return;
  if (IsAdminPath(head_.target)) return;
  const size_t max = log->config().max_body_bytes;
  RequestLogEntry e;
  e.unix_ms = started_unix_ms_;
  e.request_id = request_id_;
  e.key_name = client_key_name_;
  e.tenant = tenant_.empty() ? route_.uid : tenant_;
  e.client_family = ClientFamily(head_.headers.GetOr("User-Agent", ""));
  e.method = head_.method;
  e.target = head_.target;
  e.headers = head_.headers.list();
  e.status = status_sent_;
  e.model = requested_model_;
  if (provider_ >= 0) e.provider = config_->providers[provider_].id;
  if (pool_ && account_ >= 0) e.account = pool_->config(account_).id;
  e.stream = stream_;
  e.ttfb_ms = first_byte_ms_ ? static_cast<int64_t>(first_byte_ms_ - started_ms_) : -1;
  e.duration_ms = static_cast<int64_t>(NowMs() - started_ms_);
  e.request.size = body_.size();
  e.request.text = body_.substr(0, max);
  e.response = response_log_.Take();
  log->Record(std::move(e));
}

}  // namespace tether
