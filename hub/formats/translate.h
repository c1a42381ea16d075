// Translation between the four client/provider API formats through the
// OpenAI Chat Completions shape as the pivot: each format has one translator
// into the pivot and one out of it (N translators, not N squared). Pure code
// over JSON and SSE events; no sockets.
//
// Pivot conventions (OpenAI Chat Completions plus a few documented fields,
// so that nothing a format can carry is lost on the way through):
//  Request:
//   - messages[] with role system | developer | user | assistant | tool;
//     content is a string or parts: {"type":"text","text"},
//     {"type":"image_url","image_url":{"url"}} (base64 as data: URLs).
//   - assistant: "tool_calls":[{"id","type":"function","function":{"name","arguments"}}],
//     "reasoning_content": thinking text, plus extension "reasoning_signature"
//     (Anthropic thinking signature / Gemini thoughtSignature) and
//     "redacted_reasoning" (Anthropic redacted_thinking data).
//   - tool results: {"role":"tool","tool_call_id","content"}.
//   - tools: [{"type":"function","function":{"name","description","parameters"}}];
//     "tool_choice": "auto" | "none" | "required" | {"type":"function","function":{"name"}}.
//     Responses namespace members and freeform (custom) tools are functions
//     here, named by ResponsesToolNames; a custom tool takes {"input": string}.
//   - "web_search_options": Chat Completions' own field ({search_context_size,
//     user_location:{type:"approximate",approximate:{city,country,region,timezone}}})
//     plus extension "allowed_domains": a hosted web search, which Anthropic
//     runs as its web_search server tool and Responses as web_search; other
//     providers drop it.
//   - max_tokens, temperature, top_p, stop, stream, stream_options.include_usage,
//     response_format ({"type":"json_object"} | {"type":"json_schema","json_schema":{name,schema,strict}}),
//     reasoning_effort ("low"|"medium"|"high"), extension "thinking_budget" (tokens),
//     "user", "parallel_tool_calls".
//  Response (non-stream): chat.completion with choices[0].message as above,
//     finish_reason stop | length | tool_calls | content_filter, and usage:
//     prompt_tokens (all input, cached included), completion_tokens, total_tokens,
//     prompt_tokens_details.cached_tokens (cache reads),
//     prompt_tokens_details.cache_write_tokens (extension: cache writes),
//     completion_tokens_details.reasoning_tokens.
//  Stream: chat.completion.chunk objects; delta carries role, content,
//     reasoning_content, reasoning_signature, redacted_reasoning, and
//     tool_calls[{index, id?, type?, function{name?, arguments fragment}}];
//     the last chunk carries finish_reason; a chunk with "usage" (choices may
//     be empty) carries token counts. An upstream failure mid-stream is a
//     chunk {"error":{"message","type","code"}}.
#pragma once
#include <cjson/cJSON.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/api_error.h"
#include "common/json.h"
#include "common/sse.h"
#include "common/status.h"

namespace tether {

// ---- Requests -------------------------------------------------------------
// Into the pivot. `model` (may be empty) is set on the result.
Result<JsonPtr> ToChatRequest(ApiFormat from, const cJSON* request);
// Out of the pivot, into the provider's request body. For Gemini the model
// and stream flag live in the URL, so neither appears in the body.
Result<JsonPtr> FromChatRequest(ApiFormat to, const cJSON* chat);

// ---- Non-streaming responses ----------------------------------------------
Result<JsonPtr> ToChatResponse(ApiFormat from, const cJSON* response);

// The top-level member a provider's non-streamed response carries its usage
// in ("usage"; Gemini "usageMetadata"), and that member in pivot form: what
// ToChatResponse would put under "usage", without translating the rest.
const char* ResponseUsageMember(ApiFormat from);
JsonPtr UsageToChat(ApiFormat from, const cJSON* usage);
// `model` is the name the client asked for, echoed back to it.
// `client_request` is the client's request body (may be null): a Responses
// client's namespaced and custom tools are restored from it, so their calls
// come back as the items the client declared.
Result<JsonPtr> FromChatResponse(ApiFormat to, const cJSON* chat, std::string_view model,
                                 const cJSON* client_request = nullptr);

// ---- Streaming responses --------------------------------------------------
// Reads a provider's stream, one SSE event at a time (Gemini's alt=sse
// events too), and produces pivot chunks. State (open blocks, tool-call
// indices, usage) is carried across events.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  virtual void Decode(const SseEvent& event, std::vector<JsonPtr>* chunks) = 0;
  // The provider's stream ended; emits whatever must close it (e.g. a final
  // chunk with finish_reason when the provider never sent one).
  virtual void Finish(std::vector<JsonPtr>* chunks) = 0;
};
std::unique_ptr<StreamDecoder> NewStreamDecoder(ApiFormat provider);

// Writes pivot chunks as the client's stream, ending it the way the client
// requires ([DONE], message_stop, response.completed). Output is the bytes to
// send (SSE text; for Gemini without alt=sse, pieces of one JSON array).
class StreamEncoder {
 public:
  virtual ~StreamEncoder() = default;
  virtual std::string Encode(const cJSON* chunk) = 0;
  // Normal end of stream; idempotent (second call returns "").
  virtual std::string Finish() = 0;
  // An in-stream error event in the client's format, then the end of stream.
  virtual std::string Error(int status, std::string_view message) = 0;
  // A keep-alive the client tolerates during upstream silence
  // (Anthropic "event: ping", otherwise an SSE comment line).
  virtual std::string KeepAlive() = 0;
};
struct StreamOptions {
  std::string model;         // echoed to the client
  bool gemini_sse = true;    // Gemini: alt=sse; false gives the JSON-array form
  bool include_usage = true; // OpenAI chat: emit a usage chunk before [DONE]
  // The client's request body, or null; read by the Responses encoder (see
  // FromChatResponse). REQUIRES: outlives the encoder.
  const cJSON* client_request = nullptr;
};
std::unique_ptr<StreamEncoder> NewStreamEncoder(ApiFormat client, const StreamOptions& options);

}  // namespace tether
