// Pieces of the OpenAI Responses shape shared by responses.cc (requests and
// whole responses) and responses_stream.cc (SSE). Only those two include it.
#pragma once
#include <cjson/cJSON.h>

#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace tether
