// Pieces of the OpenAI Responses shape shared by responses.cc (requests and
// whole responses) and responses_stream.cc (SSE). Only those two include it.
#pragma once
#include <cjson/cJSON.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"

namespace tether {

// "<prefix><hex>", unique within the process (ids for responses and items).

// A response object with status "in_progress", an empty output array and
// null usage, ready to be filled.
JsonPtr ResponsesSkeleton(const std::string& id, const std::string& model, int64_t created_at);
// Output items. An empty `text` gives a reasoning item with no summary; an
// empty `signature` leaves encrypted_content out.
JsonPtr ResponsesReasoningItem(const std::string& id, std::string_view text, std::string_view signature);
JsonPtr ResponsesMessageItem(const std::string& id, std::string_view text, const char* status);
JsonPtr ResponsesFunctionCallItem(const std::string& id, std::string_view call_id, std::string_view name,
                                  std::string_view arguments, const char* status);
// Sets status (and incomplete_details) from a pivot finish_reason:
// length -> incomplete/max_output_tokens, content_filter -> incomplete/content_filter.
void ResponsesSetStatus(cJSON* response, std::string_view finish_reason);
// Pivot usage (may be null) <-> Responses usage.
JsonPtr ResponsesUsageFromChat(const cJSON* usage);
JsonPtr ResponsesUsageToChat(const cJSON* usage);
// Pivot finish_reason for a finished Responses response object.
std::string ResponsesFinishReason(const cJSON* response, bool has_calls);

// ---- tools the pivot has no shape for (responses_tools.cc) ----

// One client tool as a pivot function: `wire` is the pivot name, `ns` the
// namespace ("" at top level), `name` the name inside it; `custom` marks a
// freeform tool whose calls carry raw text as {"input": "..."}.
struct ResponsesToolName {
  std::string wire, ns, name;
  bool custom = false;
};
// The pivot names for a Responses request's function, custom and namespace
// tools. Deterministic: the same request always gives the same names, so the
// response side can rebuild them from the client's request.
class ResponsesToolNames {
 public:
  explicit ResponsesToolNames(const cJSON* request);  // request may be null
  const ResponsesToolName* Find(std::string_view ns, std::string_view name) const;
  const ResponsesToolName* FindWire(std::string_view wire) const;
  // The pivot name for (ns, name), also for tools the request no longer offers.
  std::string Wire(std::string_view ns, std::string_view name) const;

 private:
  std::vector<ResponsesToolName> entries_;
};
// Appends the request's function, custom and namespaced tools to the pivot
// `chat_tools` array; hosted tools (web_search, file_search, mcp, ...) are not.
void ResponsesToolsToChat(const cJSON* request, const ResponsesToolNames& names, cJSON* chat_tools);
// The raw input of a custom tool call from the pivot arguments text.
std::string CustomToolInput(std::string_view arguments);
// A function_call (with "namespace" for namespaced tools) or custom_tool_call
// output item for a pivot tool call.
JsonPtr ResponsesCallItem(const ResponsesToolNames& names, const std::string& id, std::string_view call_id,
                          std::string_view pivot_name, std::string_view arguments, const char* status);

}  // namespace tether
