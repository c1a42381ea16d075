#include "hub/gateway.h"

#include <cstdio>
#include <ctime>

#include "common/log.h"
#include "common/metrics.h"
#include "common/tls.h"
#include "hub/hub_server.h"
#include "hub/model_resolver.h"
#include "hub/providers/provider_request.h"

namespace tether {
namespace {

// Upstream silence on a stream longer than this gets a keep-alive the client
// tolerates, so proxies and SDK read timeouts do not cut a thinking model.
constexpr uint64_t kKeepAliveMs = 15000;
constexpr size_t kMaxErrorBody = 64 * 1024;
constexpr size_t kMaxNonStreamBody = 64 * 1024 * 1024;

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
    : conn_(conn), config_(conn->server()->config_ref()), head_(head) {
  started_ms_ = NowMs();
  route_ = ParseRoute(head_.method, head_.target);
  client_format_ = route_.format;
  const std::string* rid = head_.headers.Get("X-Request-Id");
  request_id_ = rid && conn->trusted_edge() ? *rid : "hub_" + Sha256Hex(RandomBytes(8)).substr(0, 16);
}

GatewayExchange::~GatewayExchange() {
  if (call_) call_->Cancel();
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
  LogRequest(" outcome=client_closed");
}

void GatewayExchange::LogRequest(const char* outcome) {
  if (route_.endpoint == Endpoint::kPing) return;
  uint64_t now = NowMs();
  auto or_dash = [](const std::string& v) { return v.empty() ? std::string("-") : v; };
  std::string line;
  line.reserve(256);
  line.append("id=").append(request_id_);
  line.append(" tenant=").append(or_dash(route_.uid));
  line.append(" key=").append(or_dash(client_key_name_));
  line.append(" model=").append(or_dash(requested_model_));
  line.append(" provider=").append(provider_ >= 0 ? config_->providers[provider_].id : "-");
  line.append(" status=").append(std::to_string(status_sent_));
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
    bool known = false;
    for (const std::string& t : config_->tenants) known = known || t == route_.uid;
    if (!known) {
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
  if (config_->client_keys.empty()) {
    client_key_name_ = "open";
    return true;  // no keys configured: open hub (warned at start)
  }
  if (key.empty()) {
    SendError(401, "missing API key: send it as Authorization: Bearer, x-api-key or x-goog-api-key");
    return false;
  }
  for (size_t i = 0; i < config_->client_keys.size(); ++i) {
    if (SecretEquals(key, config_->client_keys[i])) {
      client_key_name_ = "key" + std::to_string(i) + ":" + MaskSecret(key);
      return true;
    }
  }
  SendError(401, "invalid API key " + MaskSecret(key));
  return false;
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
  ResolvedModel rm = ResolveModel(*config_, requested_model_);
  if (rm.provider < 0) {
    SendError(404, "model \"" + requested_model_ + "\" is not served by this relay; GET /v1/models lists the models available to your key");
    return;
  }
  provider_ = rm.provider;
  upstream_model_ = rm.upstream_model;
  const ProviderConfig& p = config_->providers[provider_];
  provider_format_ = ProviderFormat(p.type);
  passthrough_ = provider_format_ == client_format_;
  bedrock_ = p.type == ProviderType::kBedrock;

  switch (route_.endpoint) {
    case Endpoint::kCountTokens:
    case Endpoint::kGeminiCountTokens:
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

  if (route_.endpoint == Endpoint::kGeminiStream) stream_ = true;
  else if (route_.endpoint == Endpoint::kGeminiGenerate) stream_ = false;
  else stream_ = JsonBool(json_.get(), "stream", false);
  gemini_sse_ = QueryParam(route_.query, "alt") == "sse";

  std::string body;
  if (passthrough_) {
    // Same format: the body goes through untouched but for the model name,
    // so cache_control, thinking signatures and unknown fields survive.
    body = client_format_ == ApiFormat::kGemini ? std::move(body_) : ReplaceModelField(body_, upstream_model_);
  } else {
    auto chat = ToChatRequest(client_format_, json_.get());
    if (!chat.ok()) {
      SendError(400, chat.status().message());
      return;
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
      return;
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
  json_.reset();
  body_.clear();
  std::string path = ProviderPath(p, route_.endpoint, upstream_model_, stream_, passthrough_ ? route_.query : "");
  CallProvider(path, std::move(body), stream_);
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
    RequestHead req = BuildProviderHead(p, head_, path_and_query, body.size(), stream, request_id_);
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
    if (now - started_ms_ >= limit) {
      if (call_) call_->Cancel();
      call_ = nullptr;
      ++conn_->server()->stats().upstream_errors;
      SendError(504, "the provider sent no response within " + std::to_string(config_->upstream_timeout_sec) + " s");
      return;
    }
    ArmTimer(limit - (now - started_ms_));
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
  if (head.status >= 300) return;  // error body is collected, then translated
  if (stream_ && bedrock_) {
    // application/vnd.amazon.eventstream, whatever the head says.
    eventstream_ = std::make_unique<EventStreamDecoder>();
    awaiting_first_event_ = true;
    ArmTimer(kKeepAliveMs);
  } else if (stream_) {
    StartStreamResponse();
    if (!passthrough_) {
      sse_ = std::make_unique<SseParser>([this](const SseEvent& e) { HandleStreamEvent(e); });
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
    if (passthrough_) WriteChunk(FormatSse(item.event.event, item.event.data));
    else HandleStreamEvent(item.event);
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
  for (const JsonPtr& c : chunks_) out += encoder_->Encode(c.get());
  chunks_.clear();
  WriteChunk(out);
}

void GatewayExchange::OnUpstreamComplete() {
  call_ = nullptr;
  if (finished_) return;
  if (upstream_status_ >= 300) {
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
  HubStats& st = conn_->server()->stats();
  if (status_sent_ >= 500) ++st.responses_5xx;
  else if (status_sent_ >= 400) ++st.responses_4xx;
  else ++st.responses_2xx;
  LogRequest("");
  conn_->ExchangeDone(close_connection);
}

}  // namespace tether
