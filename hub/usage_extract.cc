#include "hub/usage_extract.h"

#include <algorithm>

#include "common/json.h"

namespace tether {
namespace {

int64_t Num(const cJSON* obj, const char* key) {
  const cJSON* v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : nullptr;
  return cJSON_IsNumber(v) && v->valuedouble > 0 ? static_cast<int64_t>(v->valuedouble) : 0;
}

}  // namespace

void MergeChatUsage(const cJSON* usage, TokenCounts* c) {
  if (!cJSON_IsObject(usage)) return;
  c->reported = true;
  const cJSON* pd = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens_details");
  const cJSON* cd = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens_details");
  c->cache_read = std::max(c->cache_read, Num(pd, "cached_tokens"));
  c->cache_write = std::max(c->cache_write, Num(pd, "cache_write_tokens"));
  c->reasoning = std::max(c->reasoning, Num(cd, "reasoning_tokens"));
  // Kept as the gross prompt count here; ApplyTokenCounts nets out the cache.
  c->input = std::max(c->input, Num(usage, "prompt_tokens"));
  c->output = std::max(c->output, Num(usage, "completion_tokens"));
}

void MergeChatUsageOf(const cJSON* o, TokenCounts* c) {
  if (o) MergeChatUsage(cJSON_GetObjectItemCaseSensitive(o, "usage"), c);
}

bool EventMayCarryUsage(std::string_view json) {
  constexpr std::string_view kKey = "\"usage";
  auto space = [&](size_t i) {
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) ++i;
    return i;
  };
  for (size_t at = json.find(kKey); at != std::string_view::npos; at = json.find(kKey, at + 1)) {
    size_t i = at + kKey.size();
    if (json.substr(i, 8) == "Metadata") i += 8;
    if (i >= json.size() || json[i] != '"') continue;
    i = space(i + 1);
    if (i >= json.size() || json[i] != ':') continue;
    i = space(i + 1);
    if (i < json.size() && json[i] == '{') return true;
  }
  return false;
}

void ApplyTokenCounts(const TokenCounts& c, UsageRow* row) {
  row->input_tokens = std::max<int64_t>(0, c.input - c.cache_read - c.cache_write);
  row->output_tokens = c.output;
  row->cache_read_tokens = c.cache_read;
  row->cache_write_tokens = c.cache_write;
  row->reasoning_tokens = c.reasoning;
}

}  // namespace tether
