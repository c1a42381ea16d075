// One client connection on the edge. Parses requests (keep-alive, one at a
// time; a pipelined request waits until the previous response is done) and
// relays each to the hub over a pooled link, streaming the body both ways
// with backpressure. Owns its Stream and a timer; frees itself after both
// have closed.
#pragma once
#include <uv.h>

#include <memory>
#include <string>

#include "common/api_error.h"
#include "common/http.h"
#include "common/net.h"
#include "edge/hub_pool.h"

namespace tether {

class EdgeServer;

// Per-request state; a keep-alive connection makes one per request.
struct EdgeExchange {
  std::string request_id;
  ApiFormat format = ApiFormat::kOpenAIChat;
  bool local = false;            // answered by the edge itself
  std::string local_response;
  bool request_chunked = false;  // body framing towards the hub
  bool request_done = false;
  uint64_t body_bytes = 0;
  std::string head_bytes;        // serialised head for the hub
  std::string pending;           // body bytes not yet written to a link
  std::string retained;          // head + body sent so far, kept for one retry
  bool retain_ok = true;         // false once retained would exceed the cap
  bool retried = false;
  HubLink* link = nullptr;
  bool waiting = false;
  std::unique_ptr<HttpParser> response_parser;
  bool response_started = false;  // any byte of the response reached us
  bool response_head_sent = false;
  bool response_chunked = false;  // framing towards the client
  bool response_close = false;    // close the client after this response
  bool response_done = false;
  int status = 0;
  uint64_t started_ms = 0;
  uint64_t last_upstream_ms = 0;
};

class ClientConnection : public StreamHandler, public LinkWaiter, public LinkUser {
 public:
  // Takes ownership of an accepted stream.
  ClientConnection(EdgeServer* server, Stream* stream);

  // StreamHandler (client side)
  void OnStreamData(Stream* s, const char* data, size_t len) override;
  void OnStreamDrained(Stream* s) override;
  void OnStreamEof(Stream* s) override;
  void OnStreamClosed(Stream* s, const Status& why) override;
  // LinkWaiter
  void OnLinkGranted(HubLink* link) override;
  void OnLinkUnavailable(const Status& why) override;
  // LinkUser (hub side)
  void OnLinkData(HubLink* link, const char* data, size_t len) override;
  void OnLinkClosed(HubLink* link, const Status& why) override;
  void OnLinkDrained(HubLink* link) override;

 private:
  ~ClientConnection() override;
  void Feed(const char* data, size_t len);
  bool OnRequestHead();
  bool OnRequestBody(std::string_view data);
  void OnRequestComplete();
  void AfterRequestComplete();
  void StartOnLink(HubLink* link);
  void SendToLink(std::string data);
  bool OnResponseHead();
  bool OnResponseBody(std::string_view data);
  void OnResponseComplete();
  void AfterResponseComplete(bool link_reusable);
  void FinishExchange();
  // Answers with an error in the client's API format; closes after when
  // close_after (or when the request body cannot be skipped).
  void FailRequest(int status, const std::string& message, bool close_after);
  void DropLink(bool reusable);
  void ArmTimer(uint64_t ms);
  static void OnTimer(uv_timer_t* t) noexcept;
  void OnTimeout();
  void MaybeFree();

  EdgeServer* server_;
  Stream* client_;
  uv_timer_t timer_;
  bool timer_closed_ = false;
  bool client_closed_ = false;
  HttpParser parser_;
  std::string held_input_;  // pipelined bytes waiting for the current exchange
  std::unique_ptr<EdgeExchange> ex_;
  uint64_t last_activity_ms_ = 0;
  int requests_on_connection_ = 0;
};

}  // namespace tether
