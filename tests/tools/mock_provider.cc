// mock_provider: a single-threaded libuv HTTP/1.1 server that impersonates
// OpenAI (chat/completions, responses, embeddings, models), Anthropic
// (messages, count_tokens), Gemini (generateContent,
// streamGenerateContent, countTokens, models) and Amazon Bedrock
// (POST /model/{id}/invoke and /invoke-with-response-stream, Anthropic
// bodies, AWS event-stream frames) for end-to-end tests and benchmarks. Reply contents and usage numbers are described in
// mock_formats.h.
//
//   mock_provider --port N [--host 127.0.0.1] [--key EXPECTED_KEY]
//
// Gemini paths work under /v1beta/ and /v1/ (@google/genai 3 defaults to v1).
// Any path prefix before /v1/ or /v1beta/ is accepted (base URLs such as
// http://127.0.0.1:9000/openai/v1 work). Behaviour controls come from
// request headers x-mock-NAME (hyphen or underscore) and from a model suffix
// after '@' ("gpt-4o-mini@chunks=20,interval=50"); headers win:
// Auth with --key: OpenAI `Authorization: Bearer`, Anthropic `x-api-key` (or
// Bearer, which its JS SDK 1.x sends), Gemini `x-goog-api-key` or `?key=`.
//   chunks=N       content deltas in a stream (default 3)
//   interval=MS    delay between deltas (uv timer)
//   status=CODE    answer CODE with an error body in the provider's format
//                  (429 adds Retry-After: 1)
//   fail_first=N   the first N requests with this exact model string get 429
//   reset_after=N  close the connection after the head and N deltas
//   stall_ms=MS    wait before the first response byte
//   garbage=1      200 application/json with a body that is not JSON
//   truncate=1     chunked body without its last chunk, then close
//   bytes=N        pad every delta to about N bytes
//   stamp=1        streamed steps sent by timer start with an SSE comment
//                  ": sent_us=T" (uv_hrtime in µs, the clock loadgen reads)
//   retry_after=S  Bedrock: error statuses carry Retry-After: S (Bedrock
//                  itself usually sends none, so by default there is none)
//   exception=TYPE Bedrock stream: after `exception_after` steps (default 0)
//                  send an exception frame of TYPE (e.g. throttlingException)
//                  and end the response
// Bedrock: the model id (percent-decoded from the path) carries the '@'
// suffix; requests need `Authorization: AWS4-HMAC-SHA256 Credential=…/
// bedrock/aws4_request, SignedHeaders=…, Signature=…` (the signature is not
// checked) or, with --key, `Bearer KEY`; the body must have
// anthropic_version and no model or stream. Errors are AWS JSON
// {"message"} with x-amzn-ErrorType.
// Replies carry the provider's own request id header (OpenAI x-request-id,
// Anthropic request-id), as the real APIs do.
// Test endpoints: GET /_mock/requests (the last 50 requests: method, path,
// headers as [name,value] pairs, body), DELETE /_mock/requests (clears them
// and the fail_first counters), GET /_mock/stats ->
// {"open_connections","requests","active_responses"} where open_connections
// excludes the connection asking and active_responses counts replies still
// being sent (streams in progress).
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "common/api_error.h"
#include "common/http.h"
#include "common/json.h"
#include "common/net.h"
#include "tests/tools/mock_formats.h"

using namespace tether;

namespace {

constexpr size_t kMaxLoggedRequests = 50;
constexpr size_t kMaxLoggedBody = 1 << 20;
constexpr size_t kMaxBody = 64 << 20;

struct Controls {
  int chunks = 3;
  int interval_ms = 0;
  int status = 0;
  int fail_first = 0;
  int reset_after = -1;
  int stall_ms = 0;
  bool garbage = false;
  bool truncate = false;
  int bytes = 0;
  std::string exception;  // Bedrock stream exception type
  int exception_after = 0;
  int retry_after = 0;  // Bedrock error statuses: Retry-After seconds, 0 = none
  bool stamp = false;   // each streamed step starts with ": sent_us=T" (uv_hrtime µs)

  void Set(std::string key, const std::string& value) {
    for (char& ch : key) {
      if (ch == '-') ch = '_';
      else if (ch >= 'A' && ch <= 'Z') ch += 32;
    }
    int v = std::atoi(value.c_str());
    if (key == "chunks") chunks = v;
    else if (key == "interval" || key == "interval_ms") interval_ms = v;
    else if (key == "status") status = v;
    else if (key == "fail_first") fail_first = v;
    else if (key == "reset_after") reset_after = v;
    else if (key == "stall_ms" || key == "stall") stall_ms = v;
    else if (key == "garbage") garbage = v != 0;
    else if (key == "truncate") truncate = v != 0;
    else if (key == "bytes") bytes = v;
    else if (key == "exception") exception = value;
    else if (key == "exception_after") exception_after = v;
    else if (key == "retry_after") retry_after = v;
    else if (key == "stamp") stamp = v != 0;
  }

  // "chunks=20,interval=50" (after the '@' of a model name).
  void ParseSuffix(const std::string& model) {
    size_t at = model.find('@');
    if (at == std::string::npos) return;
    std::string rest = model.substr(at + 1);
    size_t pos = 0;
    while (pos <= rest.size()) {
      size_t comma = rest.find(',', pos);
      if (comma == std::string::npos) comma = rest.size();
      std::string kv = rest.substr(pos, comma - pos);
      size_t eq = kv.find('=');
      if (eq != std::string::npos) Set(kv.substr(0, eq), kv.substr(eq + 1));
      pos = comma + 1;
    }
  }

  void ParseHeaders(const Headers& h) {
    for (const auto& [name, value] : h.list()) {
      if (name.size() > 7 && EqualsIgnoreCase(std::string_view(name).substr(0, 7), "x-mock-"))
        Set(name.substr(7), value);
    }
  }
};

enum class Api {
  kChat, kResponses, kEmbeddings, kOpenAIModels, kMessages, kCountTokens,
  kGeminiGenerate, kGeminiStream, kGeminiCount, kGeminiModels, kBedrockInvoke, kBedrockStream, kNotFound
};

bool IsBedrock(Api api) { return api == Api::kBedrockInvoke || api == Api::kBedrockStream; }

ApiFormat FormatOf(Api api) {
  switch (api) {
    case Api::kResponses: return ApiFormat::kOpenAIResponses;
    case Api::kMessages:
    case Api::kCountTokens:
    case Api::kBedrockInvoke:
    case Api::kBedrockStream: return ApiFormat::kAnthropic;
    case Api::kGeminiGenerate:
    case Api::kGeminiStream:
    case Api::kGeminiCount:
    case Api::kGeminiModels: return ApiFormat::kGemini;
    default: return ApiFormat::kOpenAIChat;
  }
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      char* end = nullptr;
      long v = std::strtol(hex, &end, 16);
      if (end == hex + 2) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string QueryParam(std::string_view query, std::string_view name) {
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view kv = query.substr(pos, amp - pos);
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos && kv.substr(0, eq) == name) return PercentDecode(kv.substr(eq + 1));
    pos = amp + 1;
  }
  return "";
}

// Gemini's "models/{model}:verb" (under /v1beta/ or, since @google/genai 3,
// /v1/); `rest` is what follows the version segment.
Api RouteGemini(const std::string& method, std::string_view rest, std::string* gemini_model) {
  if (rest.substr(0, 7) != "models/" || method != "POST") return Api::kNotFound;
  rest = rest.substr(7);
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return Api::kNotFound;
  *gemini_model = PercentDecode(rest.substr(0, colon));
  std::string_view verb = rest.substr(colon + 1);
  if (verb == "generateContent") return Api::kGeminiGenerate;
  if (verb == "streamGenerateContent") return Api::kGeminiStream;
  if (verb == "countTokens") return Api::kGeminiCount;
  return Api::kNotFound;
}

// Routes "<any prefix>/v1/<rest>" and "<any prefix>/v1beta/<rest>". GET
// /v1/models is Gemini's list when a Gemini key header or ?key= is present.
Api Route(const RequestHead& head, std::string* gemini_model) {
  const std::string& method = head.method;
  std::string_view path = head.Path();
  if (path.substr(0, 7) == "/model/") {  // Bedrock: /model/{id}/{verb}, id percent-encoded
    std::string_view rest = path.substr(7);
    size_t slash = rest.rfind('/');
    if (method != "POST" || slash == std::string_view::npos) return Api::kNotFound;
    *gemini_model = PercentDecode(rest.substr(0, slash));
    std::string_view verb = rest.substr(slash + 1);
    if (verb == "invoke") return Api::kBedrockInvoke;
    if (verb == "invoke-with-response-stream") return Api::kBedrockStream;
    return Api::kNotFound;
  }
  size_t p = path.find("/v1beta/");
  if (p != std::string_view::npos) {
    std::string_view rest = path.substr(p + 8);
    if (rest == "models" && method == "GET") return Api::kGeminiModels;
    return RouteGemini(method, rest, gemini_model);
  }
  p = path.find("/v1/");
  if (p == std::string_view::npos) return Api::kNotFound;
  std::string_view rest = path.substr(p + 4);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.substr(0, 7) == "models/" && rest.find(':') != std::string_view::npos)
    return RouteGemini(method, rest, gemini_model);
  if (method == "GET" && rest == "models") {
    bool gemini = head.headers.Get("x-goog-api-key") || !QueryParam(head.Query(), "key").empty();
    return gemini ? Api::kGeminiModels : Api::kOpenAIModels;
  }
  if (method != "POST") return Api::kNotFound;
  if (rest == "chat/completions") return Api::kChat;
  if (rest == "responses") return Api::kResponses;
  if (rest == "embeddings") return Api::kEmbeddings;
  if (rest == "messages") return Api::kMessages;
  if (rest == "messages/count_tokens") return Api::kCountTokens;
  return Api::kNotFound;
}

struct LoggedRequest {
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool body_truncated = false;
};

// A reply ready to send: either a complete body or a stream of steps (one
// HTTP chunk each; step 0 goes out with the head, the others `interval` apart).
struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  Headers headers;
  bool streamed = false;
  std::vector<std::string> steps;
  std::string body;
};

class MockServer;

class MockConnection : public StreamHandler {
 public:
  MockConnection(MockServer* server, Stream* stream);
  void OnStreamData(Stream* stream, const char* data, size_t len) override;
  void OnStreamEof(Stream* stream) override;
  void OnStreamClosed(Stream* stream, const Status& why) override;

 private:
  void Parse(const char* data, size_t len);
  void HandleRequest();
  void StartReply(Reply reply, const Controls& ctl);
  void SendHead();
  void SendNextStep();
  void FinishReply();
  void Abort();  // half-close after what is queued, then close
  enum class Next { kClose, kSendHead, kSendNextStep };
  void ArmTimer(int ms, Next next);
  static void OnTimer(uv_timer_t* t) noexcept;
  static void OnTimerClosed(uv_handle_t* h) noexcept;
  void MaybeDelete();

  MockServer* server_;
  Stream* stream_;
  HttpParser parser_;
  bool request_complete_ = false;
  bool responding_ = false;
  bool keep_alive_ = true;
  std::string pending_input_;  // pipelined bytes held while a reply is in progress
  std::string body_;
  bool body_too_large_ = false;
  Reply reply_;
  Controls ctl_;
  size_t next_step_ = 0;
  uv_timer_t timer_;
  Next timer_next_ = Next::kClose;
  bool stream_closed_ = false;
  bool timer_closed_ = false;
};

class MockServer {
 public:
  MockServer(uv_loop_t* loop, std::string key) : loop_(loop), key_(std::move(key)) {}
  Status Start(const std::string& host, int port) {
    listener_ = std::make_unique<Listener>(loop_, [this](uv_stream_t* server) {
      Stream* s = Stream::Accept(server, nullptr, nullptr);
      if (s) new MockConnection(this, s);  // frees itself when both handles are closed
    });
    return listener_->Listen(host, port);
  }
  int port() const { return listener_->bound_port(); }
  uv_loop_t* loop() const { return loop_; }

  // Builds the reply for one complete request (everything but timing).
  Reply Answer(const RequestHead& head, const std::string& body, Controls* ctl);

  int open_connections = 0;
  int active_responses = 0;
  uint64_t requests = 0;

 private:
  Reply MockEndpoint(const RequestHead& head);
  bool Authorized(Api api, const RequestHead& head) const;
  Reply Error(Api api, int status, const std::string& message);
  Reply Dispatch(Api api, const RequestHead& head, const std::string& body, const std::string& gemini_model,
                 Controls* ctl);
  Reply Generate(Api api, const RequestHead& head, const std::string& body, const cJSON* json,
                 const std::string& gemini_model, Controls* ctl);

  uv_loop_t* loop_;
  std::string key_;
  std::unique_ptr<Listener> listener_;
  std::deque<LoggedRequest> log_;
  std::map<std::string, int> fail_counts_;
  uint64_t seq_ = 0;
};

Reply JsonReply(int status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Reply MockServer::Error(Api api, int status, const std::string& message) {
  if (IsBedrock(api)) {
    JsonPtr body = JsonNewObj();
    JsonAddStr(body.get(), "message", message);
    Reply r = JsonReply(status, PrintJson(body.get()));
    r.headers.Add("x-amzn-ErrorType",
                  std::string(mock::BedrockErrorType(status)) + ":http://internal.amazon.com/coral/com.amazon.bedrock/");
    return r;
  }
  Reply r = JsonReply(status, ApiErrorBody(FormatOf(api), status, message));
  if (status == 429) r.headers.Add("Retry-After", "1");
  return r;
}

// The shape of a SigV4 Authorization header for Bedrock; the signature
// value itself is not checked (the mock has no secret).
bool LooksLikeSigV4(std::string_view auth) {
  if (auth.substr(0, 17) != "AWS4-HMAC-SHA256 ") return false;
  size_t cred = auth.find("Credential=");
  size_t scope = auth.find("/bedrock/aws4_request");
  size_t signed_headers = auth.find("SignedHeaders=");
  size_t sig = auth.find("Signature=");
  return cred != std::string_view::npos && scope != std::string_view::npos && cred < scope &&
         signed_headers != std::string_view::npos && sig != std::string_view::npos &&
         auth.size() >= sig + 10 + 64;
}

bool MockServer::Authorized(Api api, const RequestHead& head) const {
  const Headers& h = head.headers;
  std::string_view auth = h.GetOr("authorization", "");
  if (IsBedrock(api)) {
    if (LooksLikeSigV4(auth)) return h.Get("x-amz-date") != nullptr;
    return auth.size() > 7 && EqualsIgnoreCase(auth.substr(0, 7), "Bearer ") && (key_.empty() || auth.substr(7) == key_);
  }
  if (key_.empty()) return true;
  bool bearer_ok = auth.size() > 7 && EqualsIgnoreCase(auth.substr(0, 7), "Bearer ") && auth.substr(7) == key_;
  switch (FormatOf(api)) {
    case ApiFormat::kAnthropic:
      // Anthropic takes x-api-key; its JS SDK 1.x sends the key as a Bearer token.
      return h.GetOr("x-api-key", "") == key_ || bearer_ok;
    case ApiFormat::kGemini:
      return h.GetOr("x-goog-api-key", "") == key_ || QueryParam(head.Query(), "key") == key_;
    default: {
      if (api == Api::kOpenAIModels && h.Get("x-api-key")) return h.GetOr("x-api-key", "") == key_;
      return bearer_ok;
    }
  }
}

Reply MockServer::MockEndpoint(const RequestHead& head) {
  std::string_view path = head.Path();
  if (path == "/_mock/requests" && head.method == "DELETE") {
    log_.clear();
    fail_counts_.clear();
    return JsonReply(200, "{\"ok\":true}");
  }
  if (path == "/_mock/requests") {
    JsonPtr arr = JsonNewArr();
    for (const LoggedRequest& r : log_) {
      cJSON* o = JsonAddObj(arr.get(), nullptr);
      JsonAddStr(o, "method", r.method);
      JsonAddStr(o, "path", r.target);
      cJSON* hs = JsonAddArr(o, "headers");
      for (const auto& [k, v] : r.headers) {
        cJSON* pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(k.c_str()));
        cJSON_AddItemToArray(pair, cJSON_CreateString(v.c_str()));
        cJSON_AddItemToArray(hs, pair);
      }
      JsonAddStr(o, "body", r.body);
      if (r.body_truncated) JsonAddBool(o, "body_truncated", true);
    }
    return JsonReply(200, PrintJson(arr.get()));
  }
  if (path == "/_mock/stats") {
    JsonPtr o = JsonNewObj();
    JsonAddNum(o.get(), "open_connections", open_connections - 1);  // not counting the asker
    JsonAddNum(o.get(), "requests", static_cast<double>(requests));
    JsonAddNum(o.get(), "active_responses", active_responses);
    return JsonReply(200, PrintJson(o.get()));
  }
  return JsonReply(404, ApiErrorBody(ApiFormat::kOpenAIChat, 404, "no such mock endpoint"));
}

Reply OpenAIModels() {
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "object", "list");
  cJSON* data = JsonAddArr(j.get(), "data");
  for (const char* id : {"gpt-4o-mini", "gpt-4o", "mock-model"}) {
    cJSON* m = JsonAddObj(data, nullptr);
    JsonAddStr(m, "id", id);
    JsonAddStr(m, "object", "model");
    JsonAddNum(m, "created", 1700000000);
    JsonAddStr(m, "owned_by", "mock");
  }
  return JsonReply(200, PrintJson(j.get()));
}

Reply AnthropicModels() {
  JsonPtr j = JsonNewObj();
  cJSON* data = JsonAddArr(j.get(), "data");
  for (const char* id : {"claude-sonnet-4-6", "claude-haiku-4-5"}) {
    cJSON* m = JsonAddObj(data, nullptr);
    JsonAddStr(m, "type", "model");
    JsonAddStr(m, "id", id);
    JsonAddStr(m, "display_name", id);
    JsonAddStr(m, "created_at", "2025-01-01T00:00:00Z");
  }
  JsonAddBool(j.get(), "has_more", false);
  JsonAddStr(j.get(), "first_id", "claude-sonnet-4-6");
  JsonAddStr(j.get(), "last_id", "claude-haiku-4-5");
  return JsonReply(200, PrintJson(j.get()));
}

Reply GeminiModels() {
  JsonPtr j = JsonNewObj();
  cJSON* models = JsonAddArr(j.get(), "models");
  for (const char* id : {"gemini-2.5-flash", "gemini-2.5-pro"}) {
    cJSON* m = JsonAddObj(models, nullptr);
    JsonAddStr(m, "name", std::string("models/") + id);
    JsonAddStr(m, "version", "001");
    JsonAddStr(m, "displayName", id);
    JsonAddNum(m, "inputTokenLimit", 1048576);
    JsonAddNum(m, "outputTokenLimit", 65536);
    cJSON* methods = JsonAddArr(m, "supportedGenerationMethods");
    for (const char* g : {"generateContent", "countTokens", "streamGenerateContent"})
      cJSON_AddItemToArray(methods, cJSON_CreateString(g));
  }
  return JsonReply(200, PrintJson(j.get()));
}

// Deterministic 8-dimensional vectors; base64 float32 when asked (the
// openai SDK asks for base64 by default and decodes it).
Reply Embeddings(const cJSON* req, size_t body_bytes) {
  std::vector<std::string> inputs;
  const cJSON* input = JsonGet(req, "input");
  if (cJSON_IsString(input)) inputs.push_back(input->valuestring);
  const cJSON* it;
  if (cJSON_IsArray(input)) cJSON_ArrayForEach(it, input) inputs.push_back(cJSON_IsString(it) ? it->valuestring : "");
  bool b64 = JsonStrOr(req, "encoding_format", "float") == "base64";
  JsonPtr j = JsonNewObj();
  JsonAddStr(j.get(), "object", "list");
  cJSON* data = JsonAddArr(j.get(), "data");
  for (size_t i = 0; i < inputs.size(); ++i) {
    float v[8];
    for (int d = 0; d < 8; ++d) v[d] = static_cast<float>((inputs[i].size() % 97) + d) / 100.0f;
    cJSON* e = JsonAddObj(data, nullptr);
    JsonAddStr(e, "object", "embedding");
    JsonAddNum(e, "index", static_cast<double>(i));
    if (b64) {
      static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      const unsigned char* p = reinterpret_cast<const unsigned char*>(v);
      std::string out;
      for (size_t k = 0; k < sizeof v; k += 3) {
        uint32_t n = p[k] << 16 | (k + 1 < sizeof v ? p[k + 1] << 8 : 0) | (k + 2 < sizeof v ? p[k + 2] : 0);
        out += kAlphabet[n >> 18 & 63];
        out += kAlphabet[n >> 12 & 63];
        out += k + 1 < sizeof v ? kAlphabet[n >> 6 & 63] : '=';
        out += k + 2 < sizeof v ? kAlphabet[n & 63] : '=';
      }
      JsonAddStr(e, "embedding", out);
    } else {
      cJSON* arr = JsonAddArr(e, "embedding");
      for (float f : v) cJSON_AddItemToArray(arr, cJSON_CreateNumber(f));
    }
  }
  JsonAddStr(j.get(), "model", JsonStrOr(req, "model", ""));
  cJSON* u = JsonAddObj(j.get(), "usage");
  JsonAddNum(u, "prompt_tokens", static_cast<double>(body_bytes / 4));
  JsonAddNum(u, "total_tokens", static_cast<double>(body_bytes / 4));
  return JsonReply(200, PrintJson(j.get()));
}

Reply MockServer::Generate(Api api, const RequestHead& head, const std::string& body, const cJSON* json,
                           const std::string& gemini_model, Controls* ctl) {
  mock::Conversation c;
  switch (api) {
    case Api::kChat: c = mock::ReadChat(json); break;
    case Api::kResponses: c = mock::ReadResponses(json); break;
    case Api::kMessages: c = mock::ReadMessages(json); break;
    case Api::kBedrockInvoke:
    case Api::kBedrockStream:
      c = mock::ReadMessages(json);
      c.model = gemini_model;
      c.stream = api == Api::kBedrockStream;
      break;
    default: {
      bool stream = api == Api::kGeminiStream;
      c = mock::ReadGemini(json, gemini_model, stream);
    }
  }
  mock::Answer a = mock::MakeAnswer(c, ctl->chunks, ctl->bytes, body.size(), ++seq_);
  Reply r;
  if (!c.stream) {
    switch (api) {
      case Api::kChat: r.body = mock::ChatBody(c, a); break;
      case Api::kResponses: r.body = mock::ResponsesBody(c, a); break;
      case Api::kMessages:
      case Api::kBedrockInvoke: r.body = mock::MessagesBody(c, a); break;
      default: r.body = mock::GeminiBody(c, a);
    }
    return r;
  }
  r.streamed = true;
  r.content_type = "text/event-stream";
  switch (api) {
    case Api::kChat: r.steps = mock::ChatSteps(c, a); break;
    case Api::kResponses: r.steps = mock::ResponsesSteps(c, a); break;
    case Api::kMessages: r.steps = mock::MessagesSteps(c, a); break;
    case Api::kBedrockStream:
      r.content_type = "application/vnd.amazon.eventstream";
      r.steps = mock::BedrockSteps(c, a);
      if (!ctl->exception.empty()) {
        r.steps.resize(std::min(r.steps.size(), static_cast<size_t>(std::max(ctl->exception_after, 0))));
        r.steps.push_back(mock::BedrockExceptionFrame(ctl->exception, "mock: " + ctl->exception + " requested"));
      }
      break;
    default: {
      bool sse = QueryParam(head.Query(), "alt") == "sse";
      if (!sse) r.content_type = "application/json";
      r.steps = mock::GeminiSteps(c, a, sse);
    }
  }
  r.headers.Add("Cache-Control", "no-cache");
  return r;
}

Reply MockServer::Answer(const RequestHead& head, const std::string& body, Controls* ctl) {
  std::string_view path = head.Path();
  if (path.substr(0, 7) == "/_mock/") return MockEndpoint(head);
  if (path == "/" || path == "/healthz") return JsonReply(200, "{\"ok\":true,\"role\":\"mock\"}");

  ++requests;
  LoggedRequest lr;
  lr.method = head.method;
  lr.target = head.target;
  lr.headers = head.headers.list();
  lr.body = body.substr(0, kMaxLoggedBody);
  lr.body_truncated = body.size() > kMaxLoggedBody;
  log_.push_back(std::move(lr));
  if (log_.size() > kMaxLoggedRequests) log_.pop_front();

  std::string gemini_model;
  Api api = Route(head, &gemini_model);
  Reply r = Dispatch(api, head, body, gemini_model, ctl);
  // Providers name their own request ids; a relay must not let them replace
  // the X-Request-Id it echoes to its client.
  ApiFormat f = FormatOf(api);
  if (IsBedrock(api)) r.headers.Add("x-amzn-RequestId", "req_mock_" + std::to_string(requests));
  else if (f == ApiFormat::kAnthropic) r.headers.Add("request-id", "req_mock_" + std::to_string(requests));
  else if (f != ApiFormat::kGemini) r.headers.Add("x-request-id", "req_mock_" + std::to_string(requests));
  return r;
}

Reply MockServer::Dispatch(Api api, const RequestHead& head, const std::string& body, const std::string& gemini_model,
                           Controls* ctl) {
  if (api == Api::kNotFound)
    return Error(api, 404, "mock: no route for " + head.method + " " + std::string(head.Path()));
  if (!Authorized(api, head)) {
    // AWS answers a missing or malformed signature with 403.
    return IsBedrock(api) ? Error(api, 403, "mock: missing or malformed AWS SigV4 Authorization")
                          : Error(api, 401, "mock: invalid or missing API key");
  }

  if (api == Api::kOpenAIModels) return head.headers.Get("x-api-key") ? AnthropicModels() : OpenAIModels();
  if (api == Api::kGeminiModels) return GeminiModels();

  auto parsed = ParseJson(body);
  if (!parsed.ok()) return Error(api, 400, "mock: request body is not JSON: " + parsed.status().message());
  const cJSON* json = parsed->get();
  std::string model = api == Api::kGeminiGenerate || api == Api::kGeminiStream || api == Api::kGeminiCount ||
                              IsBedrock(api)
                          ? gemini_model
                          : JsonStrOr(json, "model", "");
  if (IsBedrock(api)) {
    // What InvokeModel accepts for Anthropic models.
    if (JsonStrOr(json, "anthropic_version", "") != "bedrock-2023-05-31")
      return Error(api, 400, "mock: anthropic_version bedrock-2023-05-31 is required");
    if (JsonGet(json, "model") || JsonGet(json, "stream"))
      return Error(api, 400, "mock: extraneous key [model/stream] is not permitted");
  }
  ctl->ParseSuffix(model);
  ctl->ParseHeaders(head.headers);

  if (ctl->fail_first > 0 && fail_counts_[model]++ < ctl->fail_first)
    return Error(api, 429, "mock: rate limited (fail_first)");
  if (ctl->status >= 400) {
    Reply r = Error(api, ctl->status, "mock: status " + std::to_string(ctl->status) + " requested");
    if (IsBedrock(api) && ctl->retry_after > 0) r.headers.Add("Retry-After", std::to_string(ctl->retry_after));
    return r;
  }
  if (ctl->garbage) return JsonReply(200, "{\"id\": \"mock-garbage\", \"choices\": [ this is not JSON");

  switch (api) {
    case Api::kEmbeddings: return Embeddings(json, body.size());
    case Api::kCountTokens: return JsonReply(200, "{\"input_tokens\":" + std::to_string(body.size() / 4) + "}");
    case Api::kGeminiCount: return JsonReply(200, "{\"totalTokens\":" + std::to_string(body.size() / 4) + "}");
    default: return Generate(api, head, body, json, gemini_model, ctl);
  }
}

MockConnection::MockConnection(MockServer* server, Stream* stream)
    : server_(server),
      stream_(stream),
      parser_(HttpParser::Kind::kRequest, HttpLimits{1 << 20, 1000},
              HttpParser::Callbacks{
                  [this] {
                    body_.clear();
                    body_too_large_ = false;
                    return true;
                  },
                  [this](std::string_view part) {
                    if (body_.size() + part.size() > kMaxBody) body_too_large_ = true;
                    else body_.append(part);
                    return true;
                  },
                  [this] { request_complete_ = true; }}) {
  stream_->set_handler(this);
  uv_timer_init(server_->loop(), &timer_);
  timer_.data = this;
  ++server_->open_connections;
}

void MockConnection::OnStreamData(Stream*, const char* data, size_t len) {
  if (responding_) {
    pending_input_.append(data, len);
    return;
  }
  Parse(data, len);
}

void MockConnection::Parse(const char* data, size_t len) {
  size_t used = parser_.Feed(data, len);
  if (parser_.error() != HttpParser::Error::kNone) {
    keep_alive_ = false;
    stream_->Write(SimpleResponse(400, "application/json",
                                  ApiErrorBody(ApiFormat::kOpenAIChat, 400, "mock: bad request: " + parser_.error_reason()),
                                  nullptr, false));
    Abort();
    return;
  }
  if (!request_complete_) return;
  pending_input_.assign(data + used, len - used);
  HandleRequest();
}

void MockConnection::HandleRequest() {
  request_complete_ = false;
  keep_alive_ = parser_.keep_alive();
  const RequestHead& head = parser_.request();
  Controls ctl;
  Reply reply = body_too_large_ ? JsonReply(413, ApiErrorBody(ApiFormat::kOpenAIChat, 413, "mock: body too large"))
                                : server_->Answer(head, body_, &ctl);
  if (head.method == "HEAD") {
    reply.streamed = false;
    reply.body.clear();
  }
  StartReply(std::move(reply), ctl);
}

void MockConnection::StartReply(Reply reply, const Controls& ctl) {
  responding_ = true;
  ++server_->active_responses;
  reply_ = std::move(reply);
  ctl_ = ctl;
  next_step_ = 0;
  if (ctl_.stall_ms > 0) ArmTimer(ctl_.stall_ms, Next::kSendHead);
  else SendHead();
}

void MockConnection::SendHead() {
  ResponseHead h;
  h.status = reply_.status;
  h.reason = ReasonPhrase(reply_.status);
  h.headers = reply_.headers;
  h.headers.Add("Content-Type", reply_.content_type);
  h.headers.Add("x-mock-server", "tether");
  bool chunked = reply_.streamed || ctl_.truncate;
  if (chunked) h.headers.Add("Transfer-Encoding", "chunked");
  else h.headers.Add("Content-Length", std::to_string(reply_.body.size()));
  h.headers.Add("Connection", keep_alive_ ? "keep-alive" : "close");
  std::string out = SerializeResponseHead(h);

  if (!reply_.streamed) {
    if (ctl_.truncate) {  // half the body as one chunk, no last chunk
      AppendChunk(&out, std::string_view(reply_.body).substr(0, reply_.body.size() / 2));
      stream_->Write(std::move(out));
      Abort();
    } else if (ctl_.reset_after >= 0) {
      out.append(reply_.body, 0, reply_.body.size() / 2);
      stream_->Write(std::move(out));
      Abort();
    } else {
      out += reply_.body;
      stream_->Write(std::move(out));
      FinishReply();
    }
    return;
  }
  stream_->Write(std::move(out));
  SendNextStep();
}

void MockConnection::SendNextStep() {
  // Without an interval every step is still its own HTTP chunk, written at once.
  do {
    if (ctl_.reset_after >= 0 && static_cast<int>(next_step_) >= ctl_.reset_after) {
      Abort();
      return;
    }
    if (next_step_ >= reply_.steps.size()) {
      if (ctl_.truncate) {
        Abort();
        return;
      }
      stream_->Write(std::string(kLastChunk));
      FinishReply();
      return;
    }
    std::string chunk;
    if (ctl_.stamp) {
      // An SSE comment line: relays pass it on, clients ignore it, and the
      // benchmark reads the relay delay of each event from it.
      std::string step = ": sent_us=" + std::to_string(uv_hrtime() / 1000) + "\n" + reply_.steps[next_step_++];
      AppendChunk(&chunk, step);
    } else {
      AppendChunk(&chunk, reply_.steps[next_step_++]);
    }
    stream_->Write(std::move(chunk));
  } while (ctl_.interval_ms <= 0);
  ArmTimer(ctl_.interval_ms, Next::kSendNextStep);
}

void MockConnection::FinishReply() {
  responding_ = false;
  --server_->active_responses;
  if (!keep_alive_) {
    stream_->Shutdown();  // the client closes; OnStreamEof finishes the job
    ArmTimer(1000, Next::kClose);
    return;
  }
  parser_.Resume();
  if (!pending_input_.empty()) {
    std::string input = std::move(pending_input_);
    pending_input_.clear();
    Parse(input.data(), input.size());
  }
}

void MockConnection::Abort() {
  if (responding_) {
    responding_ = false;
    --server_->active_responses;
  }
  keep_alive_ = false;
  stream_->Shutdown();
  // Do not wait for the peer: a relay may keep its side open.
  ArmTimer(50, Next::kClose);
}

void MockConnection::ArmTimer(int ms, Next next) {
  if (stream_closed_) return;
  timer_next_ = next;
  uv_timer_start(&timer_, OnTimer, static_cast<uint64_t>(ms), 0);
}

void MockConnection::OnTimer(uv_timer_t* t) noexcept {
  auto* self = static_cast<MockConnection*>(t->data);
  if (self->stream_closed_) return;
  switch (self->timer_next_) {
    case Next::kSendHead: self->SendHead(); break;
    case Next::kSendNextStep: self->SendNextStep(); break;
    case Next::kClose: self->stream_->Close(); break;  // the Abort grace period is over
  }
}

void MockConnection::OnStreamEof(Stream* stream) {
  if (responding_) {
    // Client half-closed while we still answer: stop (a real provider would too).
    responding_ = false;
    --server_->active_responses;
  }
  stream->Close();
}

void MockConnection::OnStreamClosed(Stream*, const Status&) {
  if (responding_) {
    responding_ = false;
    --server_->active_responses;
  }
  --server_->open_connections;
  stream_closed_ = true;
  stream_ = nullptr;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnTimerClosed);
}

void MockConnection::OnTimerClosed(uv_handle_t* h) noexcept {
  auto* self = static_cast<MockConnection*>(h->data);
  self->timer_closed_ = true;
  self->MaybeDelete();
}

void MockConnection::MaybeDelete() {
  if (stream_closed_ && timer_closed_) delete this;
}

void Usage() {
  std::fprintf(stderr, "usage: mock_provider --port N [--host 127.0.0.1] [--key EXPECTED_KEY]\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1", key;
  int port = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--port") port = std::atoi(next().c_str());
    else if (a == "--host") host = next();
    else if (a == "--key") key = next();
    else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      std::fprintf(stderr, "mock_provider: unknown argument %s\n", a.c_str());
      Usage();
      return 2;
    }
  }
  if (port < 0) {
    Usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  MockServer server(loop, key);
  if (Status st = server.Start(host, port); !st.ok()) {
    std::fprintf(stderr, "mock_provider: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("listening on %s:%d\n", host.c_str(), server.port());
  std::fflush(stdout);
  uv_run(loop, UV_RUN_DEFAULT);
  return 0;
}
