// Token counts from the pivot (OpenAI Chat) usage object that every
// translator produces, normalised the way UsageRow books them. Pure.
#pragma once
#include <cjson/cJSON.h>

#include <cstdint>

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

// input_tokens excludes cache reads and writes (pivot prompt_tokens includes them).
void ApplyTokenCounts(const TokenCounts& counts, UsageRow* row);

}  // namespace tether
