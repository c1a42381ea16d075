// One request through the hub pipeline: route → authenticate → read body →
// resolve model → translate request → provider call → response streamed back
// through the response translator, event by event → log line.
#pragma once
#include <uv.h>

#include <memory>
#include <string>

#include "common/api_error.h"
#include "common/http.h"
#include "common/json.h"
#include "common/sse.h"
#include "hub/formats/translate.h"
#include "hub/hub_config.h"
#include "hub/keys.h"
#include "hub/limits.h"
#include "hub/model_resolver.h"
#include "hub/request_log.h"
#include "hub/usage_extract.h"
#include "hub/providers/aws_eventstream.h"
#include "hub/router.h"
#include "hub/upstream/upstream_client.h"

namespace tether {

class HubConnection;
class HubServices;
class AccountPool;

class GatewayExchange : public UpstreamHandler {
 public:
  // REQUIRES: conn outlives the exchange (the connection owns it).
  GatewayExchange(HubConnection* conn, RequestHead head);
  ~GatewayExchange() override;

  // Body bytes as they arrive; false when over the size limit (answered).
  bool AddBody(std::string_view data);
  // The request is complete: run the pipeline.
  void Run();
  // The client connection is gone: cancel the provider call.
  void Cancel();
  // The client drained its write queue: resume reading from the provider.
  void OnClientDrained();
  bool finished() const { return finished_; }

  // UpstreamHandler
  void OnUpstreamHead(const ResponseHead& head) override;
  void OnUpstreamBody(std::string_view data) override;
  void OnUpstreamComplete() override;
  void OnUpstreamError(const Status& why, bool started) override;

 private:
  void RunModel();
  // The request body as a cJSON tree, parsed on first use; null for a body
  // that is not JSON. Passthrough requests never need it.
  const cJSON* RequestJson();
  void RunLocal();
  void ListModels();
  void CountTokensLocally();
  bool Authenticate();
  void RunAdmin();
  bool AdmitLimits();  // rate, budget, concurrency; false when denied (answered)
  void DenyLimit(const LimitDecision& d);
  // Resolution under the tenant's model_map and provider allow-list; the
  // combo entries in order. *denied_provider names a provider the tenant
  // may not use when that is why nothing resolved.
  std::vector<ResolvedModel> ResolveCandidates(std::string* denied_provider) const;
  void UseCandidate(size_t i);  // sets provider_, upstream_model_, formats
  // Chooses the next (candidate, account) to try: the current candidate's
  // untried accounts first, then the next candidates. False when none.
  bool PickNext(bool first);
  bool StartAttempt();  // builds the body and calls; false when answered
  bool RetryEligible(int status) const;
  void ResetAttempt();
  void ReportAccount(int status, const std::string& detail);
  void BookUsage();
  void NoteUsage(const cJSON* chunk_or_response) { MergeChatUsageOf(chunk_or_response, &tokens_); }
  void CallProvider(const std::string& path_and_query, std::string body, bool stream);
  void SendError(int status, const std::string& message, const Headers* extra = nullptr);
  void SendJson(int status, const std::string& body, const Headers* extra = nullptr);
  void StartClientStream(const char* content_type);
  void StartStreamResponse();  // the client's stream head, in its format
  void FeedBedrockStream(std::string_view data);
  void BedrockStreamError(int status, const std::string& message);
  void WriteChunk(std::string_view data);
  void EndClientStream();
  void HandleStreamEvent(const SseEvent& event);
  void EmitChunks();
  void FinishNonStream();
  void Finish(bool close_connection);
  void LogRequest(const char* outcome);  // one line per request, no secrets
  void RecordRequestLog(RequestLog* log);  // the opt-in JSONL line with bodies
  void ArmTimer(uint64_t ms);
  static void OnTimer(uv_timer_t* t) noexcept;
  void OnTimeout();
  std::string ProviderErrorMessage() const;

  HubConnection* conn_;
  std::shared_ptr<const HubConfig> config_;
  HubServices* services_;
  std::shared_ptr<const KeyPolicy> key_;  // null on an open hub
  std::string tenant_;                    // the path's UID, else the key's tenant
  const TenantConfig* tenant_cfg_ = nullptr;  // points into *config_
  ConcurrencyLimiter::Slot slot_;
  // Attempts: combo entries in order, each with its pool's accounts.
  std::vector<ResolvedModel> candidates_;
  size_t candidate_ = 0;
  std::shared_ptr<AccountPool> pool_;
  int account_ = -1;
  bool account_open_ = false;  // picked, not yet reported or released
  std::vector<int> tried_;     // accounts of the current candidate
  int attempts_ = 0;
  std::string session_key_;
  uint64_t attempt_started_ms_ = 0;
  uint64_t started_unix_ms_ = 0;
  // Usage: tokens the provider reported, and a second decoder that only
  // reads usage from passthrough streams.
  TokenCounts tokens_;
  size_t request_bytes_ = 0;
  std::unique_ptr<SseParser> usage_sse_;
  std::unique_ptr<StreamDecoder> usage_decoder_;
  std::string usage_body_;  // non-stream passthrough copy (bounded), for its usage
  bool booked_ = false;
  RequestHead head_;
  Route route_;
  std::string body_;
  // The body's top-level members the pipeline reads (raw JSON text, empty
  // when absent), found by one validating scan; the cJSON tree is built only
  // when a translator or the local token count needs it (RequestJson()).
  enum BodyMember { kBodyModel, kBodyStream, kBodyMetadata, kBodyPromptCacheKey, kBodyMembers };
  std::string_view body_member_[kBodyMembers];
  JsonPtr json_;
  bool json_parsed_ = false;
  std::string request_id_;
  std::string client_key_name_;
  std::string requested_model_;
  std::string upstream_model_;
  int provider_ = -1;
  ApiFormat client_format_ = ApiFormat::kOpenAIChat;
  ApiFormat provider_format_ = ApiFormat::kOpenAIChat;
  bool stream_ = false;
  bool passthrough_ = true;
  bool gemini_sse_ = true;
  bool bedrock_ = false;
  // Bedrock streams: the client's head waits for the first event, so an
  // exception frame before any event still gets its own HTTP status.
  bool awaiting_first_event_ = false;
  std::unique_ptr<EventStreamDecoder> eventstream_;

  UpstreamCall* call_ = nullptr;
  int upstream_status_ = 0;
  Headers upstream_headers_;
  std::string upstream_body_;  // non-stream or error bodies
  bool client_head_sent_ = false;
  bool client_chunked_ = false;
  std::unique_ptr<SseParser> sse_;
  std::unique_ptr<StreamDecoder> decoder_;
  std::unique_ptr<StreamEncoder> encoder_;
  std::vector<JsonPtr> chunks_;
  bool finished_ = false;
  int status_sent_ = 0;
  uint64_t bytes_out_ = 0;
  BodyCapture response_log_;  // what the client was sent, for the request log
  uint64_t started_ms_ = 0, first_byte_ms_ = 0, last_upstream_ms_ = 0;
  uv_timer_t* timer_ = nullptr;
};

}  // namespace tether
