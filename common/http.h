// HTTP/1.1 messages: header lists that keep original names and order, an
// incremental llhttp-based parser (one per connection), and serialisation.
// Pure code over buffers: no sockets here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

struct llhttp__internal_s;
struct llhttp_settings_s;

namespace tether {

bool EqualsIgnoreCaseSameSize(std::string_view a, std::string_view b);
// ASCII case-insensitive equality. Inline for the usual answer: header-name
// checks run about a hundred times a request, and most differ in length.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && EqualsIgnoreCaseSameSize(a, b);
}

// Ordered header list. Lookup is case-insensitive; names keep the client's
// spelling (underscores included) when serialised again.
class Headers {
 public:
  const std::string* Get(std::string_view name) const;  // first match or nullptr
  std::string_view GetOr(std::string_view name, std::string_view fallback) const;
  size_t Count(std::string_view name) const;
  void Add(std::string name, std::string value);
  void Set(std::string_view name, std::string value);  // replaces all of `name`
  void Remove(std::string_view name);
  void Reserve(size_t n) { list_.reserve(n); }
  const std::vector<std::pair<std::string, std::string>>& list() const { return list_; }
  size_t size() const { return list_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> list_;
};

struct RequestHead {
  std::string method;
  std::string target;  // path and query as received
  int version_minor = 1;
  Headers headers;
  std::string_view Path() const;   // target without the query
  std::string_view Query() const;  // after '?', or empty
};

struct ResponseHead {
  int status = 200;
  std::string reason;
  int version_minor = 1;
  Headers headers;
};

// Framing of the body that follows a head, as decided by RFC 9112 section 6.
enum class BodyFraming { kNone, kLength, kChunked, kUntilClose };

struct HttpLimits {
  size_t max_header_bytes = 64 * 1024;  // request line / status line + all headers
  size_t max_headers = 128;
};

// Incremental parser for one direction of one connection. The callbacks run
// inside Feed(); slices they receive point into the caller's buffer and must
// be copied before returning. After each complete message the parser pauses,
// so a pipelined next request is not parsed until Resume().
class HttpParser {
 public:
  enum class Kind { kRequest, kResponse };
  enum class Error { kNone, kBadRequest, kHeadersTooLarge, kBodyRejected };

  struct Callbacks {
    // Head complete. Return false to reject the message (parser stops).
    std::function<bool()> on_head;
    // A slice of decoded body bytes (chunked framing removed).
    std::function<bool(std::string_view)> on_body;
    std::function<void()> on_complete;
  };

  HttpParser(Kind kind, HttpLimits limits, Callbacks callbacks);
  ~HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  // Parses up to len bytes; returns how many were consumed. Fewer than len
  // means the parser paused after a complete message (call Resume() and feed
  // the rest) or failed (error() != kNone).
  size_t Feed(const char* data, size_t len);
  // Tells a response parser the request was HEAD (no body follows).
  void ExpectNoBody() { expect_no_body_ = true; }
  // Signals EOF: completes a read-until-close body. Returns false when the
  // message was cut short.
  bool FeedEof();
  void Resume();
  // Call before parsing a response to a request whose method was HEAD.
  void Reset();

  Error error() const { return error_; }
  const std::string& error_reason() const { return error_reason_; }
  bool paused() const { return paused_; }
  bool in_message() const { return in_message_; }
  bool keep_alive() const;
  BodyFraming framing() const { return framing_; }
  uint64_t content_length() const { return content_length_; }

  const RequestHead& request() const { return request_; }
  const ResponseHead& response() const { return response_; }
  // Hands the parsed request head to its consumer without copying; the
  // parser keeps only the method and target (for error replies).
  RequestHead TakeRequest() {
    RequestHead head = std::move(request_);
    request_.method = head.method;
    request_.target = head.target;
    request_.version_minor = head.version_minor;
    return head;
  }

 private:
  friend struct HttpParserTrampolines;
  int OnMessageBegin();
  int OnUrl(const char* at, size_t len);
  int OnStatus(const char* at, size_t len);
  int OnHeaderField(const char* at, size_t len);
  int OnHeaderValue(const char* at, size_t len);
  int OnHeadersComplete();
  int OnBody(const char* at, size_t len);
  int OnMessageComplete();
  int CountHeaderBytes(size_t len);

  Kind kind_;
  HttpLimits limits_;
  Callbacks callbacks_;
  llhttp__internal_s* parser_;
  llhttp_settings_s* settings_;
  RequestHead request_;
  ResponseHead response_;
  std::string field_, value_;
  bool in_value_ = false;
  size_t header_bytes_ = 0;
  bool paused_ = false;
  bool in_message_ = false;
  bool expect_no_body_ = false;
  BodyFraming framing_ = BodyFraming::kNone;
  uint64_t content_length_ = 0;
  Error error_ = Error::kNone;
  std::string error_reason_;
};

// Serialisation. Header names and order are kept as given.
std::string SerializeRequestHead(const RequestHead& head);
std::string SerializeResponseHead(const ResponseHead& head);
const char* ReasonPhrase(int status);
// Appends one chunk in chunked transfer coding; empty data appends nothing.
void AppendChunk(std::string* out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// True for header values that could split a message (CR, LF or NUL).
bool HasForbiddenHeaderBytes(std::string_view value);

// Hop-by-hop headers (RFC 9110 section 7.6.1) that a relay must not forward.
bool IsHopByHopHeader(std::string_view name);

// A complete, small response with a body (Content-Length framing).
std::string SimpleResponse(int status, std::string_view content_type, std::string_view body,
                           const Headers* extra = nullptr, bool keep_alive = true);

}  // namespace tether
