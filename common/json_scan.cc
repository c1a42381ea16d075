#include "common/json_scan.h"

#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/json.h"

namespace tether {
namespace {

constexpr size_t npos = std::string_view::npos;

inline bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline size_t SkipSpace(std::string_view t, size_t i) {
  while (i < t.size() && IsSpace(t[i])) ++i;
  return i;
}

// Most of a request's bytes are inside strings (prompts, tool descriptions),
// so the string scan looks at 16 bytes per step for the three kinds of byte
// that end a plain run: a quote, a backslash, or a control character.
size_t NextStringSpecial(std::string_view t, size_t i, bool controls) {
  const char* p = t.data();
  const size_t n = t.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i max_control = _mm_set1_epi8(0x1F);
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    // Unsigned v <= 0x1F exactly when min(v, 0x1F) == v.
    if (controls) hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_min_epu8(v, max_control), v));
    if (int mask = _mm_movemask_epi8(hit)) return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '"' || c == '\\' || (controls && c < 0x20)) return i;
  }
  return n;
}

// Validates the string literal opening at t[i] (RFC 8259 section 7: no raw
// control characters, only the defined escapes). Returns the index past the
// closing quote, or npos with *bad at the offending byte.
size_t ValidString(std::string_view t, size_t i, size_t* bad) {
  ++i;
  for (;;) {
    i = NextStringSpecial(t, i, true);
    if (i >= t.size()) {
      *bad = t.size();
      return npos;
    }
    char c = t[i];
    if (c == '"') return i + 1;
    if (c != '\\') {
      *bad = i;
      return npos;
    }
    if (i + 1 >= t.size()) {
      *bad = t.size();
      return npos;
    }
    switch (t[i + 1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        i += 2;
        break;
      case 'u':
        for (size_t k = i + 2; k < i + 6; ++k) {
          if (k >= t.size() || HexValue(t[k]) < 0) {
            *bad = k;
            return npos;
          }
        }
        i += 6;
        break;
      default:
        *bad = i + 1;
        return npos;
    }
  }
}

// RFC 8259 section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
size_t ValidNumber(std::string_view t, size_t i, size_t* bad) {
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n || !IsDigit(t[i])) {
    *bad = i;
    return npos;
  }
  if (t[i] == '0') ++i;
  else while (i < n && IsDigit(t[i])) ++i;
  if (i < n && t[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(t[i])) {
      *bad = i;
      return npos;
    }
    while (i < n && IsDigit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !IsDigit(t[i])) {
      *bad = i;
      return npos;
    }
    while (i < n && IsDigit(t[i])) ++i;
  }
  return i;
}

size_t ValidLiteral(std::string_view t, size_t i, std::string_view word, size_t* bad) {
  for (size_t k = 0; k < word.size(); ++k) {
    if (i + k >= t.size() || t[i + k] != word[k]) {
      *bad = i + k;
      return npos;
    }
  }
  return i + word.size();
}

Status InvalidAt(size_t where) { return Status::Error("invalid JSON at byte " + std::to_string(where)); }

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t Hex4(std::string_view s) {
  uint32_t v = 0;
  for (char c : s) v = (v << 4) | static_cast<uint32_t>(HexValue(c));
  return v;
}

}  // namespace

size_t JsonStringEnd(std::string_view t, size_t i) {
  ++i;
  for (;;) {
    i = NextStringSpecial(t, i, false);
    if (i >= t.size()) return npos;
    if (t[i] == '"') return i + 1;
    i += 2;  // a backslash and the byte it escapes
  }
}

Status ScanJson(std::string_view t, std::span<const std::string_view> keys, std::span<std::string_view> values) {
  for (size_t k = 0; k < keys.size(); ++k) values[k] = {};
  size_t i = SkipSpace(t, 0);
  if (i >= t.size()) return Status::Error("empty body where JSON was expected");

  // Which containers are open (true: object); depth 1 is the top level.
  bool is_object[kMaxJsonDepth + 1];
  int depth = 0;
  // The top-level member whose value is being read, and where it starts.
  int capture = -1;
  size_t capture_start = 0;
  size_t bad = 0;
  enum class Want { kValue, kKey, kAfterValue } want = Want::kValue;

  for (;;) {
    switch (want) {
      case Want::kValue: {
        if (i >= t.size()) return InvalidAt(i);
        char c = t[i];
        if (c == '{' || c == '[') {
          if (depth == kMaxJsonDepth)
            return Status::Error("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels at byte " + std::to_string(i));
          is_object[depth++] = c == '{';
          i = SkipSpace(t, i + 1);
          if (i < t.size() && t[i] == (c == '{' ? '}' : ']')) {
            ++i;
            --depth;
            want = Want::kAfterValue;
          } else {
            want = c == '{' ? Want::kKey : Want::kValue;
          }
          continue;
        }
        size_t end;
        if (c == '"') end = ValidString(t, i, &bad);
        else if (c == 't') end = ValidLiteral(t, i, "true", &bad);
        else if (c == 'f') end = ValidLiteral(t, i, "false", &bad);
        else if (c == 'n') end = ValidLiteral(t, i, "null", &bad);
        else if (c == '-' || IsDigit(c)) end = ValidNumber(t, i, &bad);
        else return InvalidAt(i);
        if (end == npos) return InvalidAt(bad);
        i = end;
        want = Want::kAfterValue;
        continue;
      }
      case Want::kKey: {
        if (i >= t.size() || t[i] != '"') return InvalidAt(i);
        size_t key_start = i;
        i = ValidString(t, i, &bad);
        if (i == npos) return InvalidAt(bad);
        if (depth == 1) {
          std::string_view name = t.substr(key_start + 1, i - key_start - 2);
          capture = -1;
          for (size_t k = 0; k < keys.size(); ++k) {
            if (name == keys[k] && values[k].empty()) {
              capture = static_cast<int>(k);
              break;
            }
          }
        }
        i = SkipSpace(t, i);
        if (i >= t.size() || t[i] != ':') return InvalidAt(i);
        i = SkipSpace(t, i + 1);
        if (depth == 1) capture_start = i;
        want = Want::kValue;
        continue;
      }
      case Want::kAfterValue: {
        if (depth == 1 && capture >= 0) {
          values[static_cast<size_t>(capture)] = t.substr(capture_start, i - capture_start);
          capture = -1;
        }
        i = SkipSpace(t, i);
        if (depth == 0) {
          if (i != t.size()) return Status::Error("invalid JSON: trailing data at byte " + std::to_string(i));
          return Status::Ok();
        }
        if (i >= t.size()) return InvalidAt(i);
        bool object = is_object[depth - 1];
        if (t[i] == ',') {
          i = SkipSpace(t, i + 1);
          want = object ? Want::kKey : Want::kValue;
        } else if (t[i] == (object ? '}' : ']')) {
          ++i;
          --depth;
          want = Want::kAfterValue;
        } else {
          return InvalidAt(i);
        }
        continue;
      }
    }
  }
}

bool JsonUnquote(std::string_view raw, std::string* out) {
  out->clear();
  size_t bad = 0;
  if (raw.size() < 2 || raw.front() != '"' || ValidString(raw, 0, &bad) != raw.size()) return false;
  std::string_view s = raw.substr(1, raw.size() - 2);
  out->reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t j = s.find('\\', i);
    if (j == npos) {
      out->append(s.substr(i));
      break;
    }
    out->append(s.substr(i, j - i));
    char e = s[j + 1];
    i = j + 2;
    switch (e) {
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        uint32_t cp = Hex4(s.substr(i, 4));
        i += 4;
        // A high surrogate followed by an escaped low one is one code point;
        // a lone surrogate becomes U+FFFD rather than invalid UTF-8.
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
          uint32_t low = Hex4(s.substr(i + 2, 4));
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i += 6;
          }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        AppendUtf8(out, cp);
        break;
      }
      default: out->push_back(e); break;  // '"', '\\', '/'
    }
  }
  return true;
}

}  // namespace tether
