// Token counts from the pivot (OpenAI Chat) usage object that every
// translator produces, normalised the way UsageRow books them. Pure.
#pragma once
#include <cjson/cJSON.h>

#include <cstdint>
#include <string_view>

#include "hub/usage.h"

namespace tether {

struct TokenCounts {
  int64_t input = 0, output = 0, cache_read = 0, cache_write = 0, reasoning = 0;
  bool reported = false;  // the provider sent a usage object
};

// Merges one pivot `usage` object into *counts: each field keeps the largest
// value seen, since streams report usage in parts (Anthropic's message_start
// has the input, message_delta the output) and some repeat running totals.
void MergeChatUsage(const cJSON* usage, TokenCounts* counts);

// The usage of a pivot chunk or response ({"usage": {...}}), if any.
void MergeChatUsageOf(const cJSON* chunk_or_response, TokenCounts* counts);

// Whether a stream event's JSON may hold usage: a "usage" or
// "usageMetadata" member whose value is an object. Most events of a stream
// have none (or "usage":null, as OpenAI sends in every chunk once usage is
// asked for), so a passthrough stream, which is read only for its usage,
// decodes just these. An escaped quote inside a string cannot match, so
// content that talks about usage does not count.
bool EventMayCarryUsage(std::string_view json);

// input_tokens excludes cache reads and writes (pivot prompt_tokens includes them).
void ApplyTokenCounts(const TokenCounts& counts, UsageRow* row);

}  // namespace tether
