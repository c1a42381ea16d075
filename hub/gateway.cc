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
namespace {

// Upstream silence on a stream longer than this gets a keep-alive the client
// tolerates, so proxies and SDK read timeouts do not cut a thinking model.
constexpr uint64_t kKeepAliveMs = 15000;
constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr size_t kMaxNonStreamBody = 64 * 1024 * 1024;
// Passthrough non-stream bodies are copied up to this size to read their
// usage; a larger answer is booked with estimated tokens.
constexpr size_t kMaxUsageBody = 8 * 1024 * 1024;

bool IsJsonEndpoint(Endpoint e) {
  switch (e) {
    case Endpoint::kChatCompletions:
    case Endpoint::kResponses:
    case Endpoint::kResponsesCompact:
    case Endpoint::kEmbeddings:
    case Endpoint::kMessages:
    case Endpoint::kCountTokens:
    case Endpoint::kGeminiGenerate:
    case Endpoint::kGeminiStream:
    case Endpoint::kGeminiCountTokens:
    case Endpoint::kGeminiEmbed:
      return true;
    default:
      return false;
  }
}

}  // namespace

GatewayExchange::GatewayExchange(HubConnection* conn, const RequestHead& head)
    : conn_(conn), config_(conn->server()->config_ref()), services_(&conn->server()->services()), head_(head) {
  started_ms_ = attempt_started_ms_ = NowMs();
  started_unix_ms_ = UnixMs();
  route_ = ParseRoute(head_.method, head_.target);
  client_format_ = route_.format;
  const std::string* rid = head_.headers.Get("X-Request-Id");
  request_id_ = rid && conn->trusted_edge() ? *rid : "hub_" + Sha256Hex(RandomBytes(8)).substr(0, 16);
}

GatewayExchange::~GatewayExchange() {
  if (call_) call_->Cancel();
  if (account_open_ && pool_) pool_->Release(account_);
  if (timer_) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
  }
}

bool GatewayExchange::AddBody(std::string_view data) {
  if (finished_) return false;
  if (body_.size() + data.size() > config_->max_body_bytes) {
    SendError(413, "request body exceeds the limit of " + std::to_string(config_->max_body_bytes) + " bytes");
    return false;
  }
  body_.append(data);
  return true;
}

void GatewayExchange::Cancel() {
  if (finished_) return;
  finished_ = true;
  if (call_) {
    call_->Cancel();
    call_ = nullptr;
  }
  // The client (or its edge link) went away first; still one log line, with
  // nginx's 499 convention when nothing had been answered yet.
  if (!status_sent_) status_sent_ = 499;
  if (account_open_) {
    pool_->Release(account_);
    account_open_ = false;
  }
  BookUsage();
  slot_.Reset();
  LogRequest(" outcome=client_closed");
}

void GatewayExchange::LogRequest(const char* outcome) {
  if (route_.endpoint == Endpoint::kPing) return;
  uint64_t now = NowMs();
  auto or_dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
  std::string line;
  line.reserve(256);
  line.append("id=").append(request_id_);
  line.append(" tenant=").append(or_dash(tenant_.empty() ? route_.uid : tenant_));
  line.append(" key=").append(or_dash(client_key_name_));
  line.append(" model=").append(or_dash(requested_model_));
  line.append(" provider=").append(provider_ >= 0 ? config_->providers[provider_].id : "-");
  if (account_ >= 0 && pool_) line.append(" account=").append(pool_->config(account_).id);
  line.append(" status=").append(std::to_string(status_sent_));
  if (attempts_ > 1) line.append(" attempts=").append(std::to_string(attempts_));
  if (tokens_.reported) line.append(" tokens=").append(std::to_string(tokens_.input)).append("+").append(std::to_string(tokens_.output));
  line.append(" bytes=").append(std::to_string(bytes_out_));
  line.append(" ttfb_ms=").append(first_byte_ms_ ? std::to_string(first_byte_ms_ - started_ms_) : "-");
  line.append(" total_ms=").append(std::to_string(now - started_ms_));
  line.append(outcome);
  LogInfo("request", line);
}

void GatewayExchange::OnClientDrained() {
  if (call_) call_->ResumeReading();
}

void GatewayExchange::Run() {
  if (finished_) return;
  if (IsAdminPath(head_.target)) {
    RunAdmin();
    return;
  }
  switch (route_.endpoint) {
    case Endpoint::kRoot:
    case Endpoint::kHealthz:
    case Endpoint::kDebugInfo:
    case Endpoint::kMetrics:
    case Endpoint::kPing:
      RunLocal();
      return;
    case Endpoint::kUnknown:
      if (route_.bad_uid) SendError(404, "unknown path " + route_.path + ": the first segment is neither an API root nor a valid tenant id");
      else if (head_.method == "GET" && route_.path == "/v1/responses")
        SendError(426, "WebSocket transport is not supported here; use HTTP POST /v1/responses");
      else SendError(404, "no such endpoint: " + head_.method + " " + route_.path);
      return;
    default:
      break;
  }
  if (!route_.uid.empty() && !config_->tenants.empty()) {
    if (!FindTenant(*config_, route_.uid)) {
      SendError(404, "unknown tenant \"" + route_.uid + "\"");
      return;
    }
  }
  if (!Authenticate()) return;
  if (route_.endpoint == Endpoint::kModels || route_.endpoint == Endpoint::kGeminiModels) {
    ListModels();
    return;
  }
  if (IsJsonEndpoint(route_.endpoint)) {
    auto parsed = ParseJson(body_);
    if (!parsed.ok()) {
      SendError(400, "request body is not valid JSON: " + parsed.status().message());
      return;
    }
    json_ = std::move(parsed.value());
    if (!cJSON_IsObject(json_.get())) {
      SendError(400, "request body must be a JSON object");
      return;
    }
  }
  RunModel();
}

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
  LimitDecision d = services_->rates().Admit(key_->name, key_->rpm, key_->tpm);
  if (d.allow && tenant_cfg_ && (tenant_cfg_->rpm || tenant_cfg_->tpm)) {
    d = services_->rates().Admit("tenant:" + tenant_cfg_->id, tenant_cfg_->rpm, tenant_cfg_->tpm);
    if (!d.allow) d.message = "tenant " + tenant_cfg_->id + ": " + d.message;
  }
  if (d.allow) d = services_->budget().Check(key_->name, key_->daily_budget_usd, key_->monthly_budget_usd);
  if (d.allow) slot_ = services_->concurrency().AcquireSlot(key_->name, key_->max_concurrent, &d);
  if (d.allow) return true;
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
  for (const ProviderConfig& p : config_->providers) {
    for (const ModelEntry& m : p.models) {
      for (const std::string& name : {m.name, m.alias}) {
        if (name.empty() || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
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
    if (const cJSON* v = JsonGet(json_.get(), key)) text_bytes += PrintJson(v).size();
  long tokens = static_cast<long>((text_bytes + 3) / 4);
  if (route_.endpoint == Endpoint::kGeminiCountTokens)
    SendJson(200, "{\"totalTokens\":" + std::to_string(tokens) + "}");
  else
    SendJson(200, "{\"input_tokens\":" + std::to_string(tokens) + "}");
}

void GatewayExchange::RunModel() {
  if (route_.endpoint == Endpoint::kGeminiGenerate || route_.endpoint == Endpoint::kGeminiStream ||
      route_.endpoint == Endpoint::kGeminiCountTokens || route_.endpoint == Endpoint::kGeminiEmbed) {
    requested_model_ = route_.path_model;
    if (requested_model_.rfind("models/", 0) == 0) requested_model_ = requested_model_.substr(7);
  } else {
    requested_model_ = JsonStrOr(json_.get(), "model", "");
  }
  if (requested_model_.empty()) {
    SendError(400, "the request names no model");
    return;
  }
  if (key_ && !KeyAllowsModel(*key_, requested_model_)) {
    SendError(403, "key " + key_->name + " may not use model \"" + requested_model_ + "\"");
    return;
  }
  std::string denied_provider;
  candidates_ = ResolveCandidates(&denied_provider);
  if (candidates_.empty()) {
    if (!denied_provider.empty())
      SendError(403, "tenant " + tenant_ + " may not use provider " + denied_provider + " (model \"" + requested_model_ + "\")");
    else
      SendError(404, "model \"" + requested_model_ + "\" is not served by this relay; GET /v1/models lists the models available to your key");
    return;
  }
  UseCandidate(0);
  const ProviderConfig& p = config_->providers[provider_];
  bool counting = false;
  switch (route_.endpoint) {
    case Endpoint::kCountTokens:
    case Endpoint::kGeminiCountTokens:
      counting = true;
      // Bedrock's InvokeModel has no count_tokens route.
      if (!passthrough_ || bedrock_) {
        CountTokensLocally();
        return;
      }
      break;
    case Endpoint::kEmbeddings:
    case Endpoint::kGeminiEmbed:
    case Endpoint::kResponsesCompact:
      if (!passthrough_) {
        SendError(400, "provider \"" + p.id + "\" (" + ProviderTypeName(p.type) + ") cannot serve this endpoint for model \"" +
                           requested_model_ + "\"");
        return;
      }
      break;
    default:
      break;
  }
  // count_tokens is bookkeeping an IDE does many times a second, not a
  // generation: it does not spend the key's request budget.
  if (!counting && !AdmitLimits()) return;

  if (route_.endpoint == Endpoint::kGeminiStream) stream_ = true;
  else if (route_.endpoint == Endpoint::kGeminiGenerate) stream_ = false;
  else stream_ = JsonBool(json_.get(), "stream", false);
  gemini_sse_ = QueryParam(route_.query, "alt") == "sse";
  request_bytes_ = body_.size();
  HeaderList headers(head_.headers.list().begin(), head_.headers.list().end());
  session_key_ = SessionKeyFromRequest(headers, json_.get());

  if (!PickNext(true)) {
    // Every account of every candidate is disabled.
    SendError(503, "no usable account for provider " + config_->providers[provider_].id +
                       ": every account is disabled (see /debug/info)");
    return;
  }
  StartAttempt();
}

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
  auto allowed = [this](int provider) {
    if (!tenant_cfg_ || tenant_cfg_->providers.empty()) return true;
    const std::string& id = config_->providers[provider].id;
    return std::find(tenant_cfg_->providers.begin(), tenant_cfg_->providers.end(), id) != tenant_cfg_->providers.end();
  };
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
    body = client_format_ == ApiFormat::kGemini ? body_ : ReplaceModelField(body_, upstream_model_);
  } else {
    auto chat = ToChatRequest(client_format_, json_.get());
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
      const cJSON* cso = JsonObj(json_.get(), "stream_options");
      so.include_usage = client_format_ != ApiFormat::kOpenAIChat || JsonBool(cso, "include_usage", false);
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
  UsageRow row;
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
  services_->ledger().Book(std::move(row));
}

void GatewayExchange::CallProvider(const std::string& path_and_query, std::string body, bool stream) {
  const ProviderConfig& p = config_->providers[provider_];
  std::string bytes;
  if (bedrock_) {
    auto built = BuildBedrockProviderRequest(p, head_, upstream_model_, body, stream, std::time(nullptr));
    if (!built.ok()) {
      SendError(500, "provider " + p.id + ": " + built.status().message());
      return;
    }
    bytes = std::move(built.value());
  } else {
    const std::string& key = pool_ && account_ >= 0 ? pool_->config(account_).key : std::string();
    RequestHead req = BuildProviderHead(p, head_, path_and_query, body.size(), stream, request_id_, key);
    bytes = SerializeRequestHead(req);
    bytes.append(body);
  }
  UpstreamTarget t{p.tls, p.host, p.port, p.proxy};
  ArmTimer(static_cast<uint64_t>(config_->upstream_timeout_sec) * 1000);
  call_ = conn_->server()->upstream().Start(t, std::move(bytes), false, this);
}

void GatewayExchange::ArmTimer(uint64_t ms) {
  if (!timer_) {
    timer_ = new uv_timer_t;
    uv_timer_init(conn_->server()->loop(), timer_);
    timer_->data = this;
  }
  uv_timer_start(timer_, OnTimer, ms, 0);
}

void GatewayExchange::OnTimer(uv_timer_t* t) noexcept { static_cast<GatewayExchange*>(t->data)->OnTimeout(); }

void GatewayExchange::OnTimeout() {
  if (finished_) return;
  uint64_t now = NowMs();
  uint64_t limit = static_cast<uint64_t>(config_->upstream_timeout_sec) * 1000;
  if (upstream_status_ == 0) {
    if (now - attempt_started_ms_ >= limit) {
      if (call_) call_->Cancel();
      call_ = nullptr;
      ReportAccount(0, "no response within the upstream timeout");
      ++conn_->server()->stats().upstream_errors;
      SendError(504, "the provider sent no response within " + std::to_string(config_->upstream_timeout_sec) + " s");
      return;
    }
    ArmTimer(limit - (now - attempt_started_ms_));
    return;
  }
  uint64_t silent = now - last_upstream_ms_;
  if (silent >= limit) {
    if (call_) call_->Cancel();
    call_ = nullptr;
    OnUpstreamError(Status::Error("the provider went silent for " + std::to_string(config_->upstream_timeout_sec) + " s"), true);
    return;
  }
  if (awaiting_first_event_ && silent >= kKeepAliveMs) StartStreamResponse();
  if (client_head_sent_ && stream_ && silent >= kKeepAliveMs) {
    if (encoder_) WriteChunk(encoder_->KeepAlive());
    else if (client_format_ == ApiFormat::kAnthropic) WriteChunk("event: ping\ndata: {\"type\": \"ping\"}\n\n");
    // The genai SDK expects every SSE event to start with "data:", so Gemini
    // streams get a bare line break instead of a comment.
    else if (client_format_ == ApiFormat::kGemini) WriteChunk(gemini_sse_ ? "\r\n" : "");
    else WriteChunk(": keep-alive\n\n");
    ArmTimer(kKeepAliveMs);
    return;
  }
  ArmTimer(std::min(limit - silent, stream_ && (client_head_sent_ || awaiting_first_event_) ? kKeepAliveMs - std::min(silent, kKeepAliveMs) + 1 : limit - silent));
}

void GatewayExchange::OnUpstreamHead(const ResponseHead& head) {
  upstream_status_ = head.status;
  upstream_headers_ = head.headers;
  first_byte_ms_ = last_upstream_ms_ = NowMs();
  // Errors judge the account now (a retry must not pick it again); a success
  // is reported when the response ends, so in-flight counts stay true.
  if (head.status >= 300) {
    if (head.status != 401 && head.status != 403) ReportAccount(head.status, "");
    return;  // error body is collected, then translated
  }
  if (stream_ && bedrock_) {
    // application/vnd.amazon.eventstream, whatever the head says.
    eventstream_ = std::make_unique<EventStreamDecoder>();
    if (passthrough_) usage_decoder_ = NewStreamDecoder(ApiFormat::kAnthropic);
    awaiting_first_event_ = true;
    ArmTimer(kKeepAliveMs);
  } else if (stream_) {
    StartStreamResponse();
    if (!passthrough_) {
      sse_ = std::make_unique<SseParser>([this](const SseEvent& e) { HandleStreamEvent(e); });
    } else {
      // The bytes go through untouched; a second decoder reads the same
      // events only for their usage.
      usage_decoder_ = NewStreamDecoder(provider_format_);
      usage_sse_ = std::make_unique<SseParser>([this](const SseEvent& e) {
        std::vector<JsonPtr> chunks;
        usage_decoder_->Decode(e, &chunks);
        for (const JsonPtr& c : chunks) NoteUsage(c.get());
      });
    }
    ArmTimer(kKeepAliveMs);
  } else if (passthrough_) {
    StartClientStream(std::string(head.headers.GetOr("Content-Type", "application/json")).c_str());
  }
}

void GatewayExchange::OnUpstreamBody(std::string_view data) {
  if (finished_) return;
  last_upstream_ms_ = NowMs();
  if (upstream_status_ >= 300) {
    if (upstream_body_.size() < kMaxErrorBody) upstream_body_.append(data.substr(0, kMaxErrorBody - upstream_body_.size()));
    return;
  }
  if (eventstream_) {
    FeedBedrockStream(data);
  } else if (passthrough_) {
    WriteChunk(data);
    if (usage_sse_) usage_sse_->Feed(data);
    else if (!stream_ && usage_body_.size() + data.size() <= kMaxUsageBody) usage_body_.append(data);
  } else if (stream_) {
    sse_->Feed(data);
    EmitChunks();
  } else {
    if (upstream_body_.size() + data.size() > kMaxNonStreamBody) {
      call_->Cancel();
      call_ = nullptr;
      SendError(502, "the provider's response exceeds " + std::to_string(kMaxNonStreamBody) + " bytes");
      return;
    }
    upstream_body_.append(data);
  }
  if (call_ && conn_->over_high_water()) call_->PauseReading();
}

void GatewayExchange::FeedBedrockStream(std::string_view data) {
  std::vector<EventStreamMessage> messages;
  Status decoded = eventstream_->Feed(data, &messages);
  for (const EventStreamMessage& m : messages) {
    BedrockStreamItem item = BedrockFrameToItem(m);
    if (item.kind == BedrockStreamItem::Kind::kIgnored) continue;
    if (item.kind == BedrockStreamItem::Kind::kError) {
      EmitChunks();
      BedrockStreamError(item.status, item.error_type + ": " + item.error_message);
      return;
    }
    if (awaiting_first_event_) StartStreamResponse();
    // The frames carry Anthropic's own events: an Anthropic client gets them
    // as SSE unchanged, others through the Anthropic stream decoder.
    if (passthrough_) {
      WriteChunk(FormatSse(item.event.event, item.event.data));
      if (usage_decoder_) {
        std::vector<JsonPtr> chunks;
        usage_decoder_->Decode(item.event, &chunks);
        for (const JsonPtr& c : chunks) NoteUsage(c.get());
      }
    } else {
      HandleStreamEvent(item.event);
    }
  }
  if (!passthrough_) EmitChunks();
  if (!decoded.ok()) {
    if (call_) call_->Cancel();
    OnUpstreamError(Status::Error("bedrock event stream: " + decoded.message()), true);
  }
}

void GatewayExchange::BedrockStreamError(int status, const std::string& message) {
  if (call_) call_->Cancel();
  call_ = nullptr;
  ++conn_->server()->stats().upstream_errors;
  std::string text = "provider " + config_->providers[provider_].id + ": " + message;
  LogWarn("hub", "request " + request_id_ + ": " + text);
  if (!client_head_sent_) {  // before any event: a real HTTP error
    awaiting_first_event_ = false;
    SendError(status, text);
    return;
  }
  if (encoder_) WriteChunk(encoder_->Error(status, text));
  else WriteChunk(FormatSse("error", ApiErrorBody(ApiFormat::kAnthropic, status, text)));
  EndClientStream();
}

void GatewayExchange::HandleStreamEvent(const SseEvent& event) {
  if (decoder_) decoder_->Decode(event, &chunks_);
}

void GatewayExchange::EmitChunks() {
  if (chunks_.empty()) return;
  std::string out;
  for (const JsonPtr& c : chunks_) {
    NoteUsage(c.get());
    out += encoder_->Encode(c.get());
  }
  chunks_.clear();
  WriteChunk(out);
}

void GatewayExchange::OnUpstreamComplete() {
  call_ = nullptr;
  if (finished_) return;
  if (upstream_status_ >= 300) {
    if (upstream_status_ == 401 || upstream_status_ == 403) ReportAccount(upstream_status_, ProviderErrorMessage());
    if (RetryEligible(upstream_status_) && PickNext(false)) {
      LogInfo("hub", "request " + request_id_ + ": provider answered " + std::to_string(upstream_status_) +
                         ", trying " + config_->providers[candidates_[candidate_].provider].id + " account " +
                         pool_->config(account_).id);
      ResetAttempt();
      StartAttempt();
      return;
    }
    Headers extra;
    if (const std::string* ra = upstream_headers_.Get("Retry-After")) extra.Add("Retry-After", *ra);
    int status = upstream_status_;
    if (passthrough_ && !bedrock_) {  // Bedrock errors are AWS JSON, not Anthropic
      std::string type(upstream_headers_.GetOr("Content-Type", "application/json"));
      if (const std::string* rid = head_.headers.Get("X-Request-Id")) (void)rid;
      conn_->Write(SimpleResponse(status, type, upstream_body_, &extra));
      status_sent_ = status;
      Finish(false);
    } else {
      SendError(status, ProviderErrorMessage(), &extra);
    }
    return;
  }
  if (eventstream_ && !eventstream_->at_boundary()) {
    OnUpstreamError(Status::Error("the Bedrock event stream ended inside a frame"), true);
    return;
  }
  ReportAccount(upstream_status_, "");
  if (usage_sse_) {
    usage_sse_->Finish();
    std::vector<JsonPtr> chunks;
    usage_decoder_->Finish(&chunks);
    for (const JsonPtr& c : chunks) NoteUsage(c.get());
  }
  if (!stream_ && passthrough_ && !usage_body_.empty()) {
    if (auto parsed = ParseJson(usage_body_); parsed.ok())
      if (auto chat = ToChatResponse(provider_format_, parsed->get()); chat.ok()) NoteUsage(chat->get());
    usage_body_.clear();
  }
  if (awaiting_first_event_) StartStreamResponse();
  if (stream_) {
    if (!passthrough_) {
      if (sse_) sse_->Finish();
      decoder_->Finish(&chunks_);
      EmitChunks();
      WriteChunk(encoder_->Finish());
    }
    EndClientStream();
    return;
  }
  if (passthrough_) {
    EndClientStream();
    return;
  }
  FinishNonStream();
}

void GatewayExchange::FinishNonStream() {
  auto parsed = ParseJson(upstream_body_);
  if (!parsed.ok()) {
    ++conn_->server()->stats().upstream_errors;
    SendError(502, "the provider returned a response that is not valid JSON (" + parsed.status().message() + ")");
    return;
  }
  auto chat = ToChatResponse(provider_format_, parsed->get());
  if (!chat.ok()) {
    SendError(502, "the provider's response could not be read: " + chat.status().message());
    return;
  }
  NoteUsage(chat->get());
  auto out = FromChatResponse(client_format_, chat->get(), requested_model_);
  if (!out.ok()) {
    SendError(502, "the provider's response could not be translated: " + out.status().message());
    return;
  }
  SendJson(200, PrintJson(out->get()));
}

std::string GatewayExchange::ProviderErrorMessage() const {
  auto parsed = ParseJson(upstream_body_);
  std::string message;
  if (parsed.ok()) {
    const cJSON* err = JsonGet(parsed->get(), "error");
    if (cJSON_IsObject(err)) message = JsonStrOr(err, "message", "");
    else if (cJSON_IsString(err)) message = err->valuestring;
    if (message.empty()) message = JsonStrOr(parsed->get(), "message", "");
  }
  if (message.empty()) message = upstream_body_.substr(0, 300);
  // Bedrock names the exception in a header: "ThrottlingException:http://…".
  if (const std::string* type = upstream_headers_.Get("x-amzn-ErrorType"))
    message = type->substr(0, type->find(':')) + (message.empty() ? "" : ": " + message);
  return "provider " + config_->providers[provider_].id + " answered " + std::to_string(upstream_status_) +
         (message.empty() ? "" : ": " + message);
}

void GatewayExchange::OnUpstreamError(const Status& why, bool started) {
  call_ = nullptr;
  if (finished_) return;
  ++conn_->server()->stats().upstream_errors;
  LogWarn("hub", "request " + request_id_ + ": provider " + config_->providers[provider_].id + ": " + why.message());
  ReportAccount(0, why.message());
  if (RetryEligible(0) && PickNext(false)) {
    ResetAttempt();
    StartAttempt();
    return;
  }
  if (!client_head_sent_) {
    SendError(502, "the provider could not be reached: " + why.message());
    return;
  }
  (void)started;
  std::string msg = "the provider stream failed: " + why.message();
  if (encoder_) {
    WriteChunk(encoder_->Error(502, msg));
  } else if (stream_) {
    // Passthrough stream: an error event in the client's own format.
    std::string body = ApiErrorBody(client_format_, 502, msg);
    if (client_format_ == ApiFormat::kAnthropic) WriteChunk(FormatSse("error", body));
    else if (client_format_ == ApiFormat::kGemini && !gemini_sse_) WriteChunk("," + body + "]");
    else WriteChunk(FormatSseData(body));
  }
  EndClientStream();
}

void GatewayExchange::StartStreamResponse() {
  awaiting_first_event_ = false;
  if (client_format_ == ApiFormat::kGemini && !gemini_sse_) StartClientStream("application/json");
  else StartClientStream("text/event-stream");
}

void GatewayExchange::StartClientStream(const char* content_type) {
  ResponseHead h;
  h.status = 200;
  h.headers.Add("Content-Type", content_type);
  if (stream_) {
    h.headers.Add("Cache-Control", "no-cache");
    h.headers.Add("X-Accel-Buffering", "no");
  }
  h.headers.Add("X-Request-Id", request_id_);
  h.headers.Add("Transfer-Encoding", "chunked");
  client_chunked_ = true;
  client_head_sent_ = true;
  status_sent_ = 200;
  conn_->Write(SerializeResponseHead(h));
}

void GatewayExchange::WriteChunk(std::string_view data) {
  if (data.empty() || finished_) return;
  std::string framed;
  AppendChunk(&framed, data);
  bytes_out_ += data.size();
  conn_->Write(std::move(framed));
}

void GatewayExchange::EndClientStream() {
  if (client_chunked_) conn_->Write(std::string(kLastChunk));
  Finish(false);
}

void GatewayExchange::SendJson(int status, const std::string& body, const Headers* extra) {
  if (finished_) return;
  Headers h;
  if (extra) h = *extra;
  h.Add("X-Request-Id", request_id_);
  bytes_out_ += body.size();
  conn_->Write(SimpleResponse(status, "application/json", body, &h));
  status_sent_ = status;
  Finish(false);
}

void GatewayExchange::SendError(int status, const std::string& message, const Headers* extra) {
  if (finished_) return;
  if (client_head_sent_) {  // too late for a status; end the stream with an error event
    OnUpstreamError(Status::Error(message), true);
    return;
  }
  SendJson(status, ApiErrorBody(client_format_, status, message), extra);
}

void GatewayExchange::Finish(bool close_connection) {
  if (finished_) return;
  finished_ = true;
  if (timer_) uv_timer_stop(timer_);
  if (account_open_) {
    pool_->Release(account_);
    account_open_ = false;
  }
  BookUsage();
  slot_.Reset();
  HubStats& st = conn_->server()->stats();
  if (status_sent_ >= 500) ++st.responses_5xx;
  else if (status_sent_ >= 400) ++st.responses_4xx;
  else ++st.responses_2xx;
  LogRequest("");
  conn_->ExchangeDone(close_connection);
}

}  // namespace tether
