// Validating JSON scans that build no tree. The hub reads a few top-level
// members of every request (model, stream, session hints) and forwards the
// body untouched when client and provider speak the same format; a cJSON
// tree of a 78 KB Claude Code request costs about half a millisecond and a
// few thousand allocations, a scan a few tens of microseconds and none.
// Pure code over buffers.
#pragma once
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tether {

// Checks that `text` is exactly one JSON value per RFC 8259 (whitespace
// around it allowed), nested at most kMaxJsonDepth levels, with the same
// error wording as ParseJson ("invalid JSON at byte N", ...). When the value
// is an object, values[i] is set to the raw text of the first top-level
// member named keys[i] (names compared as written, escapes not decoded), or
// left empty. REQUIRES: values.size() >= keys.size().
Status ScanJson(std::string_view text, std::span<const std::string_view> keys, std::span<std::string_view> values);

// The value of a raw JSON string literal (quotes included), escapes decoded
// (\uXXXX to UTF-8, surrogate pairs joined). False when `raw` is not a
// well-formed string literal.
bool JsonUnquote(std::string_view raw, std::string* out);

// Index just past the string literal whose opening quote is text[i], or npos
// when it is not closed. Skips escapes; does not validate them.
size_t JsonStringEnd(std::string_view text, size_t i);

}  // namespace tether
