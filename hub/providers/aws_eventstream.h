// AWS event-stream binary framing (application/vnd.amazon.eventstream), as
// used by Bedrock invoke-with-response-stream, and the mapping of Bedrock's
// frames onto the Anthropic SSE events they carry. Pure code over bytes.
//
// A message is: total length (u32 BE) | headers length (u32 BE) |
// prelude CRC32 (over the 8 bytes before it) | headers | payload |
// message CRC32 (over everything before it). A header is: name length (u8),
// name, type (u8), value — type 7 (string) and 6 (bytes) carry a u16 BE
// length; the other types have fixed sizes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/sse.h"
#include "common/status.h"

namespace tether {

// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), continuing from `crc`.
uint32_t Crc32(std::string_view data, uint32_t crc = 0);

enum class EventStreamHeaderType : uint8_t {
  kBoolTrue = 0,
  kBoolFalse = 1,
  kByte = 2,
  kShort = 3,
  kInt = 4,
  kLong = 5,
  kBytes = 6,
  kString = 7,
  kTimestamp = 8,
  kUuid = 9,
};

struct EventStreamHeader {
  std::string name;
  EventStreamHeaderType type = EventStreamHeaderType::kString;
  // String and bytes values as is; integers, timestamps and UUIDs as their
  // big-endian wire bytes; empty for booleans.
  std::string value;
};

struct EventStreamMessage {
  std::vector<EventStreamHeader> headers;
  std::string payload;
  // The value of a string header, or nullptr.
  const std::string* Header(std::string_view name) const;
};

// Incremental decoder: survives any split of its input, including one byte
// per Feed. A bad frame (CRC mismatch, impossible lengths, over the size
// limit, malformed headers) is an error, after which the decoder stays
// failed: the stream cannot be resynchronised.
class EventStreamDecoder {
 public:
  // Bedrock chunks are small; a frame over this is refused before it is buffered.
  static constexpr uint32_t kMaxMessageBytes = 16 * 1024 * 1024;

  // Appends every message completed by `bytes` to `out`.
  Status Feed(std::string_view bytes, std::vector<EventStreamMessage>* out);
  // True between messages: an EOF here is a clean end of stream.
  bool at_boundary() const { return buffer_.empty() && error_.ok(); }
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  size_t expected_ = 0;  // total length of the message being buffered, once known
  Status error_;
};

// Test and tooling helper: encodes one message with real CRCs. String
// headers are written as type 7; other types take `value` as given.
std::string EncodeEventStreamMessage(const EventStreamMessage& message);

// ---- Bedrock ---------------------------------------------------------------

// What one Bedrock stream frame means to the relay.
struct BedrockStreamItem {
  enum class Kind { kEvent, kError, kIgnored };
  Kind kind = Kind::kIgnored;
  SseEvent event;  // kEvent: the Anthropic SSE event
  // kError: the exception type (e.g. "throttlingException"), its message and
  // the HTTP status Bedrock gives that exception.
  std::string error_type;
  std::string error_message;
  int status = 0;
};

// A "chunk" payload {"bytes":"<base64>"}: the decoded bytes are an Anthropic
// streaming event; event name from its "type", data the decoded JSON text.
Result<SseEvent> BedrockChunkToSseEvent(std::string_view payload);

// Classifies a frame by :message-type / :event-type / :exception-type:
// "event"+"chunk" → kEvent; "exception" and "error" → kError; others ignored.
BedrockStreamItem BedrockFrameToItem(const EventStreamMessage& message);

// HTTP status Bedrock documents for an exception type: throttlingException
// 429, validationException 400, accessDeniedException 403,
// resourceNotFoundException 404, modelTimeoutException 408,
// serviceUnavailableException 503, modelStreamErrorException 424,
// modelErrorException 424, modelNotReadyException 429, otherwise 500.
int BedrockExceptionStatus(std::string_view exception_type);

}  // namespace tether
