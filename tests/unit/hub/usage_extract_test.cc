// Which stream events a passthrough stream decodes for usage: every event
// that holds a usage object, in each provider's shape, and none of the rest.
#include "hub/usage_extract.h"

#include <gtest/gtest.h>

#include <string>

namespace tether {
namespace {

TEST(EventMayCarryUsage, UsageObjectsInEveryProvidersStream) {
  // OpenAI Chat: the last chunk when stream_options.include_usage is set.
  EXPECT_TRUE(EventMayCarryUsage(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}})"));
  // Anthropic: message_start (input) and message_delta (output).
  EXPECT_TRUE(EventMayCarryUsage(
      R"({"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":25,"output_tokens":1}}})"));
  EXPECT_TRUE(EventMayCarryUsage(
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}})"));
  // Gemini: usageMetadata.
  EXPECT_TRUE(EventMayCarryUsage(
      R"({"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1,"totalTokenCount":5}})"));
  // OpenAI Responses: response.completed, the usage inside the response.
  EXPECT_TRUE(EventMayCarryUsage(
      R"({"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":{"input_tokens":8,"output_tokens":3,"total_tokens":11}}})"));
  // Whitespace around the colon, as Python's json.dumps writes it.
  EXPECT_TRUE(EventMayCarryUsage(R"({"choices": [], "usage" : {"prompt_tokens": 1}})"));
  EXPECT_TRUE(EventMayCarryUsage("{\"usage\":\n\t{\"prompt_tokens\":1}}"));
}

TEST(EventMayCarryUsage, EventsWithoutAUsageObjectAreSkipped) {
  // OpenAI sends "usage":null in every chunk once usage is asked for.
  EXPECT_FALSE(EventMayCarryUsage(
      R"({"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}],"usage":null})"));
  EXPECT_FALSE(EventMayCarryUsage(
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"));
  EXPECT_FALSE(EventMayCarryUsage(R"({"type":"response.created","response":{"id":"resp_1","status":"in_progress","usage":null}})"));
  EXPECT_FALSE(EventMayCarryUsage(R"({"type":"message_stop"})"));
  EXPECT_FALSE(EventMayCarryUsage("[DONE]"));
  EXPECT_FALSE(EventMayCarryUsage(""));
  // Text about usage, its quotes escaped inside a JSON string.
  EXPECT_FALSE(EventMayCarryUsage(
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"send \"usage\":{\"a\":1} and \"usageMetadata\": {}"}})"));
  // Near misses: other keys that start alike, a usage that is not an object.
  EXPECT_FALSE(EventMayCarryUsage(R"({"usage_hint":{"a":1},"usageX":{"b":2}})"));
  EXPECT_FALSE(EventMayCarryUsage(R"({"usage":[1,2],"usageMetadata":"none"})"));
  // Cut short right after the key.
  EXPECT_FALSE(EventMayCarryUsage(R"({"usage")"));
  EXPECT_FALSE(EventMayCarryUsage(R"({"usage": )"));
}

}  // namespace
}  // namespace tether
