#include "common/json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "common/json_scan.h"

namespace tether {
namespace {

// Rejects nesting beyond kMaxJsonDepth with a linear scan that skips strings,
// so hostile input never reaches cJSON's recursion.
bool DepthWithinLimit(std::string_view text, size_t* where) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) { *where = i; return false; }
    } else if (c == '}' || c == ']') --depth;
  }
  return true;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

size_t SkipSpace(std::string_view t, size_t i) {
  while (i < t.size() && IsJsonSpace(t[i])) ++i;
  return i;
}

// t[i] is the opening quote; returns the index after the closing one, or npos.
size_t EndOfString(std::string_view t, size_t i) { return JsonStringEnd(t, i); }

// The index after the value starting at t[i], or npos when it is cut short.
size_t EndOfValue(std::string_view t, size_t i) {
  if (i >= t.size()) return std::string_view::npos;
  if (t[i] == '"') return EndOfString(t, i);
  if (t[i] == '{' || t[i] == '[') {
    int depth = 0;
    for (; i < t.size(); ++i) {
      char c = t[i];
      if (c == '"') {
        i = EndOfString(t, i);
        if (i == std::string_view::npos) return i;
        --i;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return i + 1;
      }
    }
    return std::string_view::npos;
  }
  while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && !IsJsonSpace(t[i])) ++i;
  return i;
}

}  // namespace

std::string_view FindTopLevelMember(std::string_view t, std::string_view key) {
  constexpr size_t npos = std::string_view::npos;
  size_t i = SkipSpace(t, 0);
  if (i >= t.size() || t[i] != '{') return {};
  ++i;
  for (;;) {
    i = SkipSpace(t, i);
    if (i >= t.size() || t[i] != '"') return {};
    size_t key_end = EndOfString(t, i);
    if (key_end == npos) return {};
    std::string_view name = t.substr(i + 1, key_end - i - 2);
    i = SkipSpace(t, key_end);
    if (i >= t.size() || t[i] != ':') return {};
    i = SkipSpace(t, i + 1);
    size_t value_end = EndOfValue(t, i);
    if (value_end == npos || value_end == i) return {};
    if (name == key) return t.substr(i, value_end - i);
    i = SkipSpace(t, value_end);
    if (i >= t.size() || t[i] != ',') return {};
    ++i;
  }
}

Result<JsonPtr> ParseJson(std::string_view text) {
  size_t where = 0;
  if (!DepthWithinLimit(text, &where)) {
    return Status::Error("JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                         " levels at byte " + std::to_string(where));
  }
  const char* end = nullptr;
  cJSON* j = cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false);
  if (!j) {
    size_t off = end ? static_cast<size_t>(end - text.data()) : 0;
    if (text.empty()) return Status::Error("empty body where JSON was expected");
    return Status::Error("invalid JSON at byte " + std::to_string(off));
  }
  // Anything but whitespace after the value is an error too.
  for (const char* p = end; p && p < text.data() + text.size(); ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t' && *p != '\0') {
      cJSON_Delete(j);
      return Status::Error("invalid JSON: trailing data at byte " + std::to_string(p - text.data()));
    }
  }
  return JsonPtr(j);
}

namespace {

// Compact JSON text of a cJSON tree, byte for byte what
// cJSON_PrintUnformatted writes but for non-integral numbers, which get the
// shortest text that reads back to the same double (cJSON tries "%1.15g",
// then "%1.17g", through sprintf and a strtod check; this is the hub's
// hottest serialisation, so it avoids both).
void AppendJsonString(std::string* out, const char* s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s ? s : "");
  for (;;) {
    // Runs of bytes that need no escape go out in one append.
    const unsigned char* run = p;
    while (*p >= 32 && *p != '"' && *p != '\\') ++p;
    out->append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    unsigned char c = *p;
    if (!c) break;
    ++p;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(esc, sizeof esc);
      }
    }
  }
  out->push_back('"');
}

void AppendJsonNumber(std::string* out, const cJSON* j) {
  double d = j->valuedouble;
  char buf[64];
  std::to_chars_result r;
  if (std::isnan(d) || std::isinf(d)) {
    out->append("null");
    return;
  }
  if (d == 0 && std::signbit(d)) {
    out->append("-0");
    return;
  }
  // Whole numbers below 1e15 print as integers, as cJSON's "%1.15g" does.
  if (std::fabs(d) < 1e15 && d == std::trunc(d)) r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(d));
  else r = std::to_chars(buf, buf + sizeof buf, d);
  out->append(buf, static_cast<size_t>(r.ptr - buf));
}

void AppendJson(std::string* out, const cJSON* j) {
  switch (j->type & 0xFF) {
    case cJSON_False: out->append("false"); return;
    case cJSON_True: out->append("true"); return;
    case cJSON_NULL: out->append("null"); return;
    case cJSON_Number: AppendJsonNumber(out, j); return;
    case cJSON_String: AppendJsonString(out, j->valuestring); return;
    case cJSON_Raw: out->append(j->valuestring ? j->valuestring : ""); return;
    case cJSON_Array:
    case cJSON_Object: {
      bool object = (j->type & 0xFF) == cJSON_Object;
      out->push_back(object ? '{' : '[');
      for (const cJSON* c = j->child; c; c = c->next) {
        if (c != j->child) out->push_back(',');
        if (object) {
          AppendJsonString(out, c->string);
          out->push_back(':');
        }
        AppendJson(out, c);
      }
      out->push_back(object ? '}' : ']');
      return;
    }
    default: out->append("null"); return;  // cJSON_Invalid
  }
}

}  // namespace

std::string PrintJson(const cJSON* j) {
  if (!j) return "null";
  std::string out;
  out.reserve(256);
  AppendJson(&out, j);
  return out;
}

const cJSON* JsonGet(const cJSON* obj, const char* key) {
  if (!obj || !cJSON_IsObject(obj)) return nullptr;
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}
const char* JsonStr(const cJSON* obj, const char* key) {
  const cJSON* v = JsonGet(obj, key);
  return cJSON_IsString(v) ? v->valuestring : nullptr;
}
std::string JsonStrOr(const cJSON* obj, const char* key, std::string_view fallback) {
  const char* s = JsonStr(obj, key);
  return s ? std::string(s) : std::string(fallback);
}
double JsonNum(const cJSON* obj, const char* key, double fallback) {
  const cJSON* v = JsonGet(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}
bool JsonBool(const cJSON* obj, const char* key, bool fallback) {
  const cJSON* v = JsonGet(obj, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}
const cJSON* JsonArr(const cJSON* obj, const char* key) {
  const cJSON* v = JsonGet(obj, key);
  return cJSON_IsArray(v) ? v : nullptr;
}
const cJSON* JsonObj(const cJSON* obj, const char* key) {
  const cJSON* v = JsonGet(obj, key);
  return cJSON_IsObject(v) ? v : nullptr;
}

static cJSON* Attach(cJSON* obj, const char* key, cJSON* item) {
  if (!item) return nullptr;
  if (key) cJSON_AddItemToObject(obj, key, item);
  else cJSON_AddItemToArray(obj, item);
  return item;
}
cJSON* JsonAddStr(cJSON* obj, const char* key, std::string_view value) {
  return Attach(obj, key, cJSON_CreateString(std::string(value).c_str()));
}
cJSON* JsonAddNum(cJSON* obj, const char* key, double value) {
  return Attach(obj, key, cJSON_CreateNumber(value));
}
cJSON* JsonAddBool(cJSON* obj, const char* key, bool value) {
  return Attach(obj, key, cJSON_CreateBool(value));
}
cJSON* JsonAddObj(cJSON* obj, const char* key) { return Attach(obj, key, cJSON_CreateObject()); }
cJSON* JsonAddArr(cJSON* obj, const char* key) { return Attach(obj, key, cJSON_CreateArray()); }
cJSON* JsonAddCopy(cJSON* obj, const char* key, const cJSON* src) {
  return Attach(obj, key, cJSON_Duplicate(src, true));
}
JsonPtr JsonNewObj() { return JsonPtr(cJSON_CreateObject()); }
JsonPtr JsonNewArr() { return JsonPtr(cJSON_CreateArray()); }

namespace {

// Whether any of the 8 bytes in w must be escaped in a JSON string: below
// 0x20, '"' or '\\'. The bit tricks flag a byte below n (n <= 0x80) and a
// zero byte (after an XOR with the byte sought); exact for "any".
bool AnyNeedsEscape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  uint64_t quote = w ^ (kOnes * '"'), backslash = w ^ (kOnes * '\\');
  uint64_t below_space = (w - kOnes * 0x20) & ~w;
  uint64_t is_quote = (quote - kOnes) & ~quote;
  uint64_t is_backslash = (backslash - kOnes) & ~backslash;
  return ((below_space | is_quote | is_backslash) & kHighs) != 0;
}

}  // namespace

char* WriteJsonQuoted(char* out, std::string_view s) {
  *out++ = '"';
  const char* p = s.data();
  const char* end = p + s.size();
  while (p < end) {
    // Eight plain bytes at a time, the usual case. The last eight of a
    // string of eight or more are read as one window that may overlap bytes
    // already copied (copied again, the same).
    if (s.size() >= 8) {
      const char* window = end - p >= 8 ? p : end - 8;
      uint64_t w;
      std::memcpy(&w, window, 8);
      if (!AnyNeedsEscape(w)) {
        std::memcpy(out - (p - window), window, 8);
        out += window + 8 - p;
        p = window + 8;
        continue;
      }
    }
    unsigned char c = static_cast<unsigned char>(*p++);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *out++ = static_cast<char>(c);
      continue;
    }
    *out++ = '\\';
    switch (c) {
      case '"': *out++ = '"'; break;
      case '\\': *out++ = '\\'; break;
      case '\n': *out++ = 'n'; break;
      case '\r': *out++ = 'r'; break;
      case '\t': *out++ = 't'; break;
      case '\b': *out++ = 'b'; break;
      case '\f': *out++ = 'f'; break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        const char u[5] = {'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        std::memcpy(out, u, 5);
        out += 5;
      }
    }
  }
  *out++ = '"';
  return out;
}

std::string JsonQuote(std::string_view s) {
  std::string out(JsonQuotedMaxSize(s.size()), '\0');
  out.resize(WriteJsonQuoted(out.data(), s) - out.data());
  return out;
}

}  // namespace tether
