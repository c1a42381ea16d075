// RAII and small accessors over cJSON. Documents are owned by JsonPtr; raw
// cJSON* returned by accessors are borrowed from their parent document.
#pragma once
#include <cjson/cJSON.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tether {

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

// Nesting deeper than this is refused before cJSON recurses into it.
constexpr int kMaxJsonDepth = 128;

// Parses text into a document; the error names the byte offset.
Result<JsonPtr> ParseJson(std::string_view text);
// The raw text of member `key` of the top-level object in `text`, found by
// a scan that allocates nothing and skips other members' values whole;
// empty when text is not an object or has no such member. For reading one
// small member (a response's usage) without parsing a large document. It
// does not validate and stops at the member, so a provider's slightly
// non-conforming JSON still yields its usage; requests are read with the
// strict ScanJson (common/json_scan.h) instead.
std::string_view FindTopLevelMember(std::string_view text, std::string_view key);
// Compact serialisation.
std::string PrintJson(const cJSON* j);

// Borrowed child lookups; nullptr when missing or of another type.
const cJSON* JsonGet(const cJSON* obj, const char* key);
const char* JsonStr(const cJSON* obj, const char* key);  // string value or nullptr
std::string JsonStrOr(const cJSON* obj, const char* key, std::string_view fallback);
double JsonNum(const cJSON* obj, const char* key, double fallback);
bool JsonBool(const cJSON* obj, const char* key, bool fallback);
const cJSON* JsonArr(const cJSON* obj, const char* key);
const cJSON* JsonObj(const cJSON* obj, const char* key);

// Builders that return the added node (owned by `obj`).
cJSON* JsonAddStr(cJSON* obj, const char* key, std::string_view value);
cJSON* JsonAddNum(cJSON* obj, const char* key, double value);
cJSON* JsonAddBool(cJSON* obj, const char* key, bool value);
cJSON* JsonAddObj(cJSON* obj, const char* key);
cJSON* JsonAddArr(cJSON* obj, const char* key);
// Deep copy of `src` added under key (or appended when obj is an array and key is null).
cJSON* JsonAddCopy(cJSON* obj, const char* key, const cJSON* src);
JsonPtr JsonNewObj();
JsonPtr JsonNewArr();

// JSON string literal (with quotes) for `s`, escaped per RFC 8259.
std::string JsonQuote(std::string_view s);
// The same literal, written at `out`, which has room for
// JsonQuotedMaxSize(s.size()) bytes; returns the end of what it wrote.
char* WriteJsonQuoted(char* out, std::string_view s);
constexpr size_t JsonQuotedMaxSize(size_t n) { return 6 * n + 2; }  // every byte as \u00XX

}  // namespace tether
