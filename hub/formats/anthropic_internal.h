// Mappings shared by the Anthropic request/response translator
// (anthropic.cc, anthropic_response.cc) and its stream translators
// (anthropic_stream.cc).
#pragma once
#include <string>
#include <string_view>

#include "common/json.h"

namespace tether {

// An Anthropic assistant content value (string or blocks) appended to
// `messages` as one pivot assistant message.
void AnthropicAssistantToChat(cJSON* messages, const cJSON* content);
// A pivot assistant message's thinking, text and tool calls appended to
// `blocks` as Anthropic content blocks (unsigned reasoning is dropped).
void ChatAssistantToAnthropic(cJSON* blocks, const cJSON* message);

// Anthropic stop_reason -> pivot finish_reason: end_turn/stop_sequence/
// pause_turn -> stop, max_tokens -> length, tool_use -> tool_calls,
// refusal -> content_filter. Null gives "stop".
const char* ChatFinishReason(const char* stop_reason);
// Pivot finish_reason -> Anthropic stop_reason; a missing reason with tool
// calls present is tool_use, otherwise end_turn.
const char* AnthropicStopReason(const char* finish_reason, bool has_tool_use);
// tool_use ids must match ^[a-zA-Z0-9_-]+$ and other providers' ids may
// not: other characters become '_'. Applied to tool_use and tool_result
// alike, so pairs still match. Empty gives a fresh "toolu_..." id.
std::string AnthropicToolId(std::string_view id);
// A "msg_..." id for a pivot id (kept when it already is one).
std::string AnthropicMessageId(std::string_view id);
// Usage blocks; see the pivot conventions in translate.h. `usage` may be null.
JsonPtr AnthropicUsageToChat(const cJSON* usage);
JsonPtr ChatUsageToAnthropic(const cJSON* usage);

}  // namespace tether
