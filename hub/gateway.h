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
#include "hub/providers/aws_eventstream.h"
#include "hub/router.h"
#include "hub/upstream/upstream_client.h"

namespace tether {

class HubConnection;

class GatewayExchange : public UpstreamHandler {
 public:
  // REQUIRES: conn outlives the exchange (the connection owns it).
  GatewayExchange(HubConnection* conn, const RequestHead& head);
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
  void RunLocal();
  void ListModels();
  void CountTokensLocally();
  bool Authenticate();
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
  void ArmTimer(uint64_t ms);
  static void OnTimer(uv_timer_t* t) noexcept;
  void OnTimeout();
  std::string ProviderErrorMessage() const;

  HubConnection* conn_;
  std::shared_ptr<const HubConfig> config_;
  RequestHead head_;
  Route route_;
  std::string body_;
  JsonPtr json_;
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
  uint64_t started_ms_ = 0, first_byte_ms_ = 0, last_upstream_ms_ = 0;
  uv_timer_t* timer_ = nullptr;
};

}  // namespace tether
