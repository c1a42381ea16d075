#include "hub/gateway.h"

#include <cstdio>
#include <ctime>

#include "common/json_scan.h"
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

GatewayExchange::GatewayExchange(HubConnection* conn, RequestHead head)
    : conn_(conn), config_(conn->server()->config_ref()), services_(&conn->server()->services()), head_(std::move(head)) {
  started_ms_ = attempt_started_ms_ = NowMs();
  started_unix_ms_ = UnixMs();
  route_ = ParseRoute(head_.method, head_.target);
  client_format_ = route_.format;
  const std::string* rid = head_.headers.Get("X-Request-Id");
  request_id_ = rid && conn->trusted_edge() ? *rid : conn->server()->NewRequestId();
  if (RequestLog* rl = services_->request_log()) response_log_.set_limit(rl->config().max_body_bytes);
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
  if (RequestLog* rl = services_->request_log()) RecordRequestLog(rl);
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

const cJSON* GatewayExchange::RequestJson() {
  if (!json_parsed_) {
    json_parsed_ = true;
    if (IsJsonEndpoint(route_.endpoint)) {
      auto parsed = ParseJson(body_);
      if (parsed.ok()) json_ = std::move(parsed.value());
    }
  }
  return json_.get();
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
  if (IsLocalEndpoint(route_.endpoint)) {
    RunLocal();
    return;
  }
  if (route_.endpoint == Endpoint::kUnknown) {
    if (route_.bad_uid) SendError(404, "unknown path " + route_.path + ": the first segment is neither an API root nor a valid tenant id");
    else if (head_.method == "GET" && route_.path == "/v1/responses")
      SendError(426, "WebSocket transport is not supported here; use HTTP POST /v1/responses");
    else SendError(404, "no such endpoint: " + head_.method + " " + route_.path);
    return;
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
    static constexpr std::string_view kKeys[kBodyMembers] = {"model", "stream", "metadata", "prompt_cache_key"};
    Status scanned = ScanJson(body_, kKeys, body_member_);
    if (!scanned.ok()) {
      SendError(400, "request body is not valid JSON: " + scanned.message());
      return;
    }
    if (body_[body_.find_first_not_of(" \t\r\n")] != '{') {
      SendError(400, "request body must be a JSON object");
      return;
    }
  }
  RunModel();
}

void GatewayExchange::RunModel() {
  if (route_.endpoint == Endpoint::kGeminiGenerate || route_.endpoint == Endpoint::kGeminiStream ||
      route_.endpoint == Endpoint::kGeminiCountTokens || route_.endpoint == Endpoint::kGeminiEmbed) {
    requested_model_ = route_.path_model;
    if (requested_model_.rfind("models/", 0) == 0) requested_model_ = requested_model_.substr(7);
  } else {
    if (!JsonUnquote(body_member_[kBodyModel], &requested_model_)) requested_model_.clear();
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
  else stream_ = body_member_[kBodyStream] == "true";
  gemini_sse_ = QueryParam(route_.query, "alt") == "sse";
  request_bytes_ = body_.size();
  HeaderList session_headers;
  for (std::string_view name : kSessionHeaders)
    if (const std::string* v = head_.headers.Get(name)) session_headers.emplace_back(std::string(name), *v);
  session_key_ = SessionKeyFromRequest(session_headers, body_member_[kBodyMetadata], body_member_[kBodyPromptCacheKey]);

  if (!PickNext(true)) {
    // Every account of every candidate is disabled.
    SendError(503, "no usable account for provider " + config_->providers[provider_].id +
                       ": every account is disabled (see /debug/info)");
    return;
  }
  StartAttempt();
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
        if (!EventMayCarryUsage(e.data)) return;  // most events: no JSON parse at all
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
      if (usage_decoder_ && EventMayCarryUsage(item.event.data)) {
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
  if (!client_head_sent_) {
    // Before any event the exception stands for the HTTP status it maps to,
    // as with any provider's error status: it judges the account (a
    // throttlingException cools it with the pool's own backoff, since
    // Bedrock gives no Retry-After) and another account may take over.
    awaiting_first_event_ = false;
    ReportAccount(status, status == 401 || status == 403 ? text : "");
    if (RetryEligible(status) && PickNext(false)) {
      ResetAttempt();
      StartAttempt();
      return;
    }
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
      response_log_.Append(upstream_body_);
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
    // Only the usage member is read: the body itself went out untouched.
    std::string_view usage = FindTopLevelMember(usage_body_, ResponseUsageMember(provider_format_));
    if (!usage.empty())
      if (auto parsed = ParseJson(usage); parsed.ok()) MergeChatUsage(UsageToChat(provider_format_, parsed->get()).get(), &tokens_);
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
  auto out = FromChatResponse(client_format_, chat->get(), requested_model_, RequestJson());
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
  response_log_.Append(data);
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
  response_log_.Append(body);
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
  // The answer is whole: put it on the wire before the bookkeeping below.
  conn_->FlushWrites();
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
