#include "hub/providers/aws_eventstream.h"

#include <array>
#include <cstdio>

#include "common/json.h"

namespace tether {
namespace {

constexpr size_t kPreludeBytes = 12;  // total length, headers length, prelude CRC
constexpr size_t kMinMessageBytes = kPreludeBytes + 4;

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

uint32_t ReadU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

uint16_t ReadU16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((u[0] << 8) | u[1]);
}

void PutU32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

std::string Hex32(uint32_t v) {
  char buf[16];
  snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Fixed value sizes per header type; -1 for the length-prefixed ones, -2 for
// an unknown type.
int FixedValueSize(uint8_t type) {
  switch (type) {
    case 0: case 1: return 0;
    case 2: return 1;
    case 3: return 2;
    case 4: return 4;
    case 5: case 8: return 8;
    case 9: return 16;
    case 6: case 7: return -1;
    default: return -2;
  }
}

Status ParseHeaders(std::string_view h, std::vector<EventStreamHeader>* out) {
  size_t pos = 0;
  while (pos < h.size()) {
    size_t name_len = static_cast<unsigned char>(h[pos++]);
    if (name_len == 0 || pos + name_len + 1 > h.size()) {
      return Status::Error("event stream: malformed header name at header byte " + std::to_string(pos - 1));
    }
    EventStreamHeader header;
    header.name.assign(h.substr(pos, name_len));
    pos += name_len;
    uint8_t type = static_cast<uint8_t>(h[pos++]);
    int size = FixedValueSize(type);
    if (size == -2) {
      return Status::Error("event stream: header \"" + header.name + "\" has unknown type " + std::to_string(type));
    }
    size_t value_len;
    if (size == -1) {
      if (pos + 2 > h.size()) return Status::Error("event stream: header \"" + header.name + "\" truncated");
      value_len = ReadU16(h.data() + pos);
      pos += 2;
    } else {
      value_len = static_cast<size_t>(size);
    }
    if (pos + value_len > h.size()) {
      return Status::Error("event stream: header \"" + header.name + "\" value runs past the headers");
    }
    header.type = static_cast<EventStreamHeaderType>(type);
    header.value.assign(h.substr(pos, value_len));
    pos += value_len;
    out->push_back(std::move(header));
  }
  return Status::Ok();
}

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// RFC 4648 standard alphabet; padding optional, nothing else allowed.
bool Base64Decode(std::string_view in, std::string* out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out->clear();
  out->reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    int v = Base64Value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

uint32_t Crc32(std::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  crc = ~crc;
  for (unsigned char c : data) crc = kTable[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

const std::string* EventStreamMessage::Header(std::string_view name) const {
  for (const EventStreamHeader& h : headers) {
    if (h.name == name && h.type == EventStreamHeaderType::kString) return &h.value;
  }
  return nullptr;
}

Status EventStreamDecoder::Feed(std::string_view bytes, std::vector<EventStreamMessage>* out) {
  if (!error_.ok()) return error_;
  buffer_.append(bytes);
  size_t pos = 0;  // start of the unconsumed message in buffer_
  Status status;
  while (true) {
    size_t avail = buffer_.size() - pos;
    if (expected_ == 0) {
      if (avail < kPreludeBytes) break;
      const char* p = buffer_.data() + pos;
      uint32_t total = ReadU32(p), headers_len = ReadU32(p + 4), prelude_crc = ReadU32(p + 8);
      uint32_t actual = Crc32(std::string_view(p, 8));
      if (actual != prelude_crc) {
        status = Status::Error("event stream: prelude CRC mismatch (got " + Hex32(prelude_crc) + ", computed " +
                               Hex32(actual) + ")");
        break;
      }
      if (total > kMaxMessageBytes) {
        status = Status::Error("event stream: message of " + std::to_string(total) + " bytes is over the " +
                               std::to_string(kMaxMessageBytes) + "-byte limit");
        break;
      }
      if (total < kMinMessageBytes || headers_len > total - kMinMessageBytes) {
        status = Status::Error("event stream: impossible lengths (total " + std::to_string(total) +
                               ", headers " + std::to_string(headers_len) + ")");
        break;
      }
      expected_ = total;
    }
    if (avail < expected_) break;
    std::string_view msg(buffer_.data() + pos, expected_);
    uint32_t message_crc = ReadU32(msg.data() + expected_ - 4);
    uint32_t actual = Crc32(msg.substr(0, expected_ - 4));
    if (actual != message_crc) {
      status = Status::Error("event stream: message CRC mismatch (got " + Hex32(message_crc) + ", computed " +
                             Hex32(actual) + ")");
      break;
    }
    uint32_t headers_len = ReadU32(msg.data() + 4);
    EventStreamMessage message;
    status = ParseHeaders(msg.substr(kPreludeBytes, headers_len), &message.headers);
    if (!status.ok()) break;
    message.payload.assign(msg.substr(kPreludeBytes + headers_len, expected_ - kMinMessageBytes - headers_len));
    out->push_back(std::move(message));
    pos += expected_;
    expected_ = 0;
  }
  if (!status.ok()) {
    error_ = status;
    buffer_.clear();
    buffer_.shrink_to_fit();
    return error_;
  }
  buffer_.erase(0, pos);
  return Status::Ok();
}

std::string EncodeEventStreamMessage(const EventStreamMessage& message) {
  std::string headers;
  for (const EventStreamHeader& h : message.headers) {
    headers.push_back(static_cast<char>(h.name.size()));
    headers += h.name;
    headers.push_back(static_cast<char>(h.type));
    if (h.type == EventStreamHeaderType::kString || h.type == EventStreamHeaderType::kBytes) {
      headers.push_back(static_cast<char>(h.value.size() >> 8));
      headers.push_back(static_cast<char>(h.value.size()));
    }
    headers += h.value;
  }
  std::string out;
  uint32_t total = static_cast<uint32_t>(kMinMessageBytes + headers.size() + message.payload.size());
  PutU32(&out, total);
  PutU32(&out, static_cast<uint32_t>(headers.size()));
  PutU32(&out, Crc32(out));
  out += headers;
  out += message.payload;
  PutU32(&out, Crc32(out));
  return out;
}

Result<SseEvent> BedrockChunkToSseEvent(std::string_view payload) {
  Result<JsonPtr> outer = ParseJson(payload);
  if (!outer.ok()) return Status::Error("bedrock chunk: " + outer.status().message());
  const char* b64 = JsonStr(outer->get(), "bytes");
  if (!b64) return Status::Error("bedrock chunk: no \"bytes\" string");
  SseEvent event;
  if (!Base64Decode(b64, &event.data)) return Status::Error("bedrock chunk: \"bytes\" is not base64");
  Result<JsonPtr> inner = ParseJson(event.data);
  if (!inner.ok()) return Status::Error("bedrock chunk bytes: " + inner.status().message());
  const char* type = JsonStr(inner->get(), "type");
  if (!type || !*type) return Status::Error("bedrock chunk bytes: no \"type\" in the event");
  event.event = type;
  event.has_data = true;
  return event;
}

int BedrockExceptionStatus(std::string_view type) {
  struct Entry {
    const char* type;
    int status;
  };
  static constexpr Entry kStatuses[] = {
      {"throttlingException", 429},         {"validationException", 400},
      {"accessDeniedException", 403},       {"resourceNotFoundException", 404},
      {"modelTimeoutException", 408},       {"serviceUnavailableException", 503},
      {"modelStreamErrorException", 424},   {"modelErrorException", 424},
      {"modelNotReadyException", 429},      {"serviceQuotaExceededException", 400},
      {"internalServerException", 500},
  };
  for (const Entry& e : kStatuses) {
    if (EqualsIgnoreCase(type, e.type)) return e.status;
  }
  return 500;
}

BedrockStreamItem BedrockFrameToItem(const EventStreamMessage& message) {
  BedrockStreamItem item;
  const std::string* message_type = message.Header(":message-type");
  std::string_view mtype = message_type ? std::string_view(*message_type) : std::string_view("event");
  if (mtype == "event") {
    const std::string* event_type = message.Header(":event-type");
    if (!event_type || *event_type != "chunk") return item;
    Result<SseEvent> event = BedrockChunkToSseEvent(message.payload);
    if (!event.ok()) {
      item.kind = BedrockStreamItem::Kind::kError;
      item.error_type = "invalidChunk";
      item.error_message = event.status().message();
      item.status = 502;
      return item;
    }
    item.kind = BedrockStreamItem::Kind::kEvent;
    item.event = std::move(*event);
    return item;
  }
  item.kind = BedrockStreamItem::Kind::kError;
  if (mtype == "exception") {
    const std::string* type = message.Header(":exception-type");
    item.error_type = type ? *type : "exception";
    // The payload is {"message":"..."}; fall back to the raw text.
    Result<JsonPtr> body = ParseJson(message.payload);
    const char* text = body.ok() ? JsonStr(body->get(), "message") : nullptr;
    if (!text && body.ok()) text = JsonStr(body->get(), "Message");
    item.error_message = text ? std::string(text) : message.payload;
    item.status = BedrockExceptionStatus(item.error_type);
  } else if (mtype == "error") {
    // Service-level errors carry everything in headers.
    const std::string* code = message.Header(":error-code");
    const std::string* text = message.Header(":error-message");
    item.error_type = code ? *code : "error";
    item.error_message = text ? *text : message.payload;
    item.status = BedrockExceptionStatus(item.error_type);
  } else {
    item.kind = BedrockStreamItem::Kind::kIgnored;
  }
  if (item.kind == BedrockStreamItem::Kind::kError && item.error_message.empty()) {
    item.error_message = item.error_type;
  }
  return item;
}

}  // namespace tether
