// EventStreamDecoder over AWS's published event-stream test vectors
// (aws-sdk-js-v3 eventstream-marshaller TestVectors), frames encoded here
// with real CRCs and split every possible way, and Bedrock frame mapping.
#include "hub/providers/aws_eventstream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tether {
namespace {

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

// AWS SDK test vectors.
const std::string kEmptyMessage = Bytes({0, 0, 0, 16, 0, 0, 0, 0, 5, 194, 72, 235, 125, 152, 200, 255});
const std::string kInt32Header =
    Bytes({0,   0,   0,  43,  0,   0,   0,   14,  52,  139, 236, 123, 8,  101, 118, 101, 110, 116, 45,  105, 100, 4,
           0,   0,   160, 12, 123, 39,  102, 111, 111, 39,  58,  39,  98, 97,  114, 39,  125, 211, 137, 2,   133});
const std::string kPayloadNoHeaders = Bytes({0,   0,   0,   29, 0,  0,  0,  0,   253, 82, 140, 90,  123, 39, 102,
                                             111, 111, 39, 58, 39, 98, 97, 114, 39,  125, 195, 101, 57,  54});
const std::string kPayloadOneStrHeader =
    Bytes({0,   0,   0,   61,  0,   0,   0,   32,  7,   253, 131, 150, 12,  99,  111, 110, 116, 101, 110, 116, 45,
           116, 121, 112, 101, 7,   0,   16,  97,  112, 112, 108, 105, 99,  97,  116, 105, 111, 110, 47,  106, 115,
           111, 110, 123, 39,  102, 111, 111, 39,  58,  39,  98,  97,  114, 39,  125, 141, 156, 8,   177});
const std::string kFooBar = "{'foo':'bar'}";

std::string Corrupt(std::string s, size_t at, int value) {
  s[at] = static_cast<char>(value);
  return s;
}

Result<std::vector<EventStreamMessage>> DecodeAll(const std::vector<std::string>& pieces) {
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  for (const std::string& p : pieces) {
    Status s = d.Feed(p, &out);
    if (!s.ok()) return s;
  }
  if (!d.at_boundary()) return Status::Error("stream ended mid-message");
  return out;
}

TEST(Crc32, KnownValues) {
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(Crc32("56789", Crc32("1234")), 0xCBF43926u);
}

TEST(EventStreamVectors, EmptyMessage) {
  auto r = DecodeAll({kEmptyMessage});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE((*r)[0].headers.empty());
  EXPECT_EQ((*r)[0].payload, "");
}

TEST(EventStreamVectors, Int32Header) {
  auto r = DecodeAll({kInt32Header});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].headers.size(), 1u);
  EXPECT_EQ((*r)[0].headers[0].name, "event-id");
  EXPECT_EQ((*r)[0].headers[0].type, EventStreamHeaderType::kInt);
  EXPECT_EQ((*r)[0].headers[0].value, Bytes({0, 0, 0xa0, 0x0c}));
  EXPECT_EQ((*r)[0].Header("event-id"), nullptr);  // not a string header
  EXPECT_EQ((*r)[0].payload, kFooBar);
}

TEST(EventStreamVectors, PayloadNoHeadersAndOneStringHeader) {
  auto r = DecodeAll({kPayloadNoHeaders + kPayloadOneStrHeader});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].payload, kFooBar);
  ASSERT_NE((*r)[1].Header("content-type"), nullptr);
  EXPECT_EQ(*(*r)[1].Header("content-type"), "application/json");
  EXPECT_EQ((*r)[1].payload, kFooBar);
}

TEST(EventStreamVectors, EncoderReproducesThePublishedBytes) {
  EventStreamMessage m;
  m.headers.push_back({"content-type", EventStreamHeaderType::kString, "application/json"});
  m.payload = kFooBar;
  EXPECT_EQ(EncodeEventStreamMessage(m), kPayloadOneStrHeader);
  EXPECT_EQ(EncodeEventStreamMessage(EventStreamMessage{}), kEmptyMessage);
  EventStreamMessage i;
  i.headers.push_back({"event-id", EventStreamHeaderType::kInt, Bytes({0, 0, 0xa0, 0x0c})});
  i.payload = kFooBar;
  EXPECT_EQ(EncodeEventStreamMessage(i), kInt32Header);
}

TEST(EventStreamVectors, CorruptedFramesAreRejected) {
  // corrupted_headers: a header byte flipped → message CRC.
  auto r = DecodeAll({Corrupt(kPayloadOneStrHeader, 20, 43)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("message CRC mismatch"), std::string::npos) << r.status().message();
  // corrupted_header_len and corrupted_length → prelude CRC.
  r = DecodeAll({Corrupt(kPayloadOneStrHeader, 6, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("prelude CRC mismatch"), std::string::npos) << r.status().message();
  r = DecodeAll({Corrupt(kPayloadNoHeaders, 0, 1)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("prelude CRC mismatch"), std::string::npos);
  // corrupted_payload.
  r = DecodeAll({Corrupt(kPayloadNoHeaders, 24, 141)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("message CRC mismatch"), std::string::npos);
}

// ---- Bedrock-shaped frames ---------------------------------------------------

std::string Base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(k[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += {k[v >> 18], k[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
  }
  return out;
}

EventStreamHeader Str(std::string name, std::string value) {
  return {std::move(name), EventStreamHeaderType::kString, std::move(value)};
}

std::string ChunkFrame(const std::string& anthropic_event) {
  EventStreamMessage m;
  m.headers = {Str(":event-type", "chunk"), Str(":content-type", "application/json"), Str(":message-type", "event")};
  m.payload = "{\"bytes\":\"" + Base64(anthropic_event) + "\",\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN\"}";
  return EncodeEventStreamMessage(m);
}

std::string ExceptionFrame(const std::string& type, const std::string& message) {
  EventStreamMessage m;
  m.headers = {Str(":exception-type", type), Str(":content-type", "application/json"),
               Str(":message-type", "exception")};
  m.payload = "{\"message\":\"" + message + "\"}";
  return EncodeEventStreamMessage(m);
}

const std::string kStart =
    "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_01\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-3-5-sonnet-20240620\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":12,"
    "\"output_tokens\":1}}}";
const std::string kDelta =
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"H\xC3\xA9llo\"}}";

std::vector<std::string> Events(const std::vector<EventStreamMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    BedrockStreamItem item = BedrockFrameToItem(m);
    switch (item.kind) {
      case BedrockStreamItem::Kind::kEvent: out.push_back(item.event.event + " " + item.event.data); break;
      case BedrockStreamItem::Kind::kError:
        out.push_back("error " + std::to_string(item.status) + " " + item.error_type + ": " + item.error_message);
        break;
      case BedrockStreamItem::Kind::kIgnored: out.push_back("ignored"); break;
    }
  }
  return out;
}

TEST(BedrockStream, ChunksAndExceptionSplitEveryWay) {
  const std::string stream =
      ChunkFrame(kStart) + ChunkFrame(kDelta) + ExceptionFrame("throttlingException", "Too many requests");
  const std::vector<std::string> want = {
      "message_start " + kStart, "content_block_delta " + kDelta, "error 429 throttlingException: Too many requests"};

  auto whole = DecodeAll({stream});
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(Events(*whole), want);

  // One byte at a time.
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  auto one = DecodeAll(bytes);
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(Events(*one), want);

  // Every pair of split points (covers every single split too).
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); j += 7) {
      auto r = DecodeAll({stream.substr(0, i), stream.substr(i, j - i), stream.substr(j)});
      ASSERT_TRUE(r.ok()) << i << "," << j << ": " << r.status().message();
      ASSERT_EQ(Events(*r), want) << i << "," << j;
    }
  }
}

TEST(BedrockStream, CorruptedCrcIsRejectedAndSticky) {
  std::string frame = ChunkFrame(kDelta);
  frame[frame.size() - 1] ^= 0x01;
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  Status s = d.Feed(ChunkFrame(kStart) + frame, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("event stream: message CRC mismatch (got 0x"), std::string::npos) << s.message();
  EXPECT_EQ(out.size(), 1u);  // the good frame before it was delivered
  EXPECT_FALSE(d.at_boundary());
  Status again = d.Feed(ChunkFrame(kStart), &out);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.message(), s.message());
  EXPECT_EQ(out.size(), 1u);
}

TEST(BedrockStream, OversizedFrameIsRefusedFromItsPrelude) {
  std::string prelude;
  uint32_t total = EventStreamDecoder::kMaxMessageBytes + 1;
  for (int s = 24; s >= 0; s -= 8) prelude.push_back(static_cast<char>(total >> s));
  prelude += std::string("\0\0\0\0", 4);
  uint32_t crc = Crc32(prelude);
  for (int s = 24; s >= 0; s -= 8) prelude.push_back(static_cast<char>(crc >> s));
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  Status s = d.Feed(prelude, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("over the 16777216-byte limit"), std::string::npos) << s.message();
  EXPECT_EQ(d.buffered(), 0u);
}

TEST(BedrockStream, ImpossibleHeaderLengthIsRefused) {
  std::string prelude = Bytes({0, 0, 0, 20, 0, 0, 0, 5});
  uint32_t crc = Crc32(prelude);
  for (int s = 24; s >= 0; s -= 8) prelude.push_back(static_cast<char>(crc >> s));
  EventStreamDecoder d;
  std::vector<EventStreamMessage> out;
  Status s = d.Feed(prelude, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("impossible lengths"), std::string::npos) << s.message();
}

TEST(BedrockStream, EveryHeaderTypeIsSkippedCorrectly) {
  EventStreamMessage m;
  m.headers = {
      {"t", EventStreamHeaderType::kBoolTrue, ""},
      {"f", EventStreamHeaderType::kBoolFalse, ""},
      {"b", EventStreamHeaderType::kByte, Bytes({7})},
      {"s", EventStreamHeaderType::kShort, Bytes({0, 7})},
      {"i", EventStreamHeaderType::kInt, Bytes({0, 0, 0, 7})},
      {"l", EventStreamHeaderType::kLong, std::string(8, '\x07')},
      {"bytes", EventStreamHeaderType::kBytes, std::string("\0\x01\x02", 3)},
      {"ts", EventStreamHeaderType::kTimestamp, std::string(8, '\x01')},
      {"uuid", EventStreamHeaderType::kUuid, std::string(16, '\x02')},
      Str(":event-type", "chunk"),
      Str(":message-type", "event"),
  };
  m.payload = "{\"bytes\":\"" + Base64(kDelta) + "\"}";
  auto r = DecodeAll({EncodeEventStreamMessage(m)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  ASSERT_EQ((*r)[0].headers.size(), m.headers.size());
  for (size_t i = 0; i < m.headers.size(); ++i) {
    EXPECT_EQ((*r)[0].headers[i].name, m.headers[i].name);
    EXPECT_EQ((*r)[0].headers[i].type, m.headers[i].type);
    EXPECT_EQ((*r)[0].headers[i].value, m.headers[i].value);
  }
  EXPECT_EQ(Events(*r), std::vector<std::string>{"content_block_delta " + kDelta});
}

TEST(BedrockStream, UnknownHeaderTypeIsAnError) {
  EventStreamMessage m;
  m.headers = {{"x", static_cast<EventStreamHeaderType>(12), "abc"}};
  auto r = DecodeAll({EncodeEventStreamMessage(m)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown type 12"), std::string::npos) << r.status().message();
}

TEST(BedrockStream, ChunkToSseEvent) {
  auto e = BedrockChunkToSseEvent("{\"bytes\":\"" + Base64(kStart) + "\"}");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->event, "message_start");
  EXPECT_EQ(e->data, kStart);
  EXPECT_TRUE(e->has_data);
  // Unpadded base64 is accepted too.
  std::string unpadded = Base64("{\"type\":\"ping\"}");
  while (unpadded.back() == '=') unpadded.pop_back();
  e = BedrockChunkToSseEvent("{\"bytes\":\"" + unpadded + "\"}");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->event, "ping");

  EXPECT_FALSE(BedrockChunkToSseEvent("not json").ok());
  EXPECT_FALSE(BedrockChunkToSseEvent("{\"bytes\":42}").ok());
  EXPECT_FALSE(BedrockChunkToSseEvent("{\"bytes\":\"!!!!\"}").ok());
  EXPECT_FALSE(BedrockChunkToSseEvent("{\"bytes\":\"" + Base64("[1]") + "\"}").ok());
  EXPECT_EQ(BedrockChunkToSseEvent("{}").status().message(), "bedrock chunk: no \"bytes\" string");
}

TEST(BedrockStream, ErrorsAndOtherFrames) {
  EventStreamMessage err;
  err.headers = {Str(":message-type", "error"), Str(":error-code", "InternalFailure"),
                 Str(":error-message", "boom")};
  EventStreamMessage other;
  other.headers = {Str(":message-type", "event"), Str(":event-type", "metrics")};
  EventStreamMessage exc;
  exc.headers = {Str(":message-type", "exception"), Str(":exception-type", "modelStreamErrorException")};
  exc.payload = "{\"message\":\"Model stream error\",\"originalStatusCode\":500}";
  EventStreamMessage bad_chunk;
  bad_chunk.headers = {Str(":message-type", "event"), Str(":event-type", "chunk")};
  bad_chunk.payload = "{}";
  EXPECT_EQ(Events({err, other, exc, bad_chunk}),
            (std::vector<std::string>{"error 500 InternalFailure: boom", "ignored",
                                      "error 424 modelStreamErrorException: Model stream error",
                                      "error 502 invalidChunk: bedrock chunk: no \"bytes\" string"}));
  EXPECT_EQ(BedrockExceptionStatus("validationException"), 400);
  EXPECT_EQ(BedrockExceptionStatus("ThrottlingException"), 429);
  EXPECT_EQ(BedrockExceptionStatus("serviceUnavailableException"), 503);
  EXPECT_EQ(BedrockExceptionStatus("somethingNew"), 500);
}

}  // namespace
}  // namespace tether
