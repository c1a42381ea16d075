#include "hub/providers/sigv4.h"

#include <mbedtls/md.h>

#include <algorithm>
#include <map>

namespace tether {
namespace {

constexpr char kAlgorithm[] = "AWS4-HMAC-SHA256";
constexpr char kHex[] = "0123456789abcdef";

std::string Hex(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 15]);
  }
  return out;
}

// HMAC-SHA256(key, data) as raw bytes.
std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[32];
  const mbedtls_md_info_t* md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  // Only fails for a null md or an allocation failure; SHA-256 is always
  // built into Debian's mbedTLS, so a zeroed MAC (a 403 upstream) is the
  // worst outcome and not worth a Result on every call.
  if (mbedtls_md_hmac(md, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                      reinterpret_cast<const unsigned char*>(data.data()), data.size(), out) != 0) {
    std::fill(std::begin(out), std::end(out), 0);
  }
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; a malformed escape is kept literally (and so re-encoded
// as %25..), which is what a server that rejects nothing would sign.
std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Trims and collapses runs of spaces and tabs to one space (SigV4
// "Trimall"); AWS collapses inside quoted strings too.
std::string TrimAll(std::string_view v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool IsSignerHeader(const std::string& lower_name) {
  return lower_name == "authorization" || lower_name == "x-amz-date" ||
         lower_name == "x-amz-content-sha256" || lower_name == "x-amz-security-token";
}

}  // namespace

std::string AmzDate(time_t now) {
  struct tm tm;
  gmtime_r(&now, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back("0123456789ABCDEF"[c >> 4]);
      out.push_back("0123456789ABCDEF"[c & 15]);
    }
  }
  return out;
}

std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view name = pair.substr(0, eq);
      std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      params.emplace_back(UriEncode(PercentDecode(name), false), UriEncode(PercentDecode(value), false));
    }
    pos = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string CanonicalUri(std::string_view path, bool s3_path_rules) {
  if (path.empty()) return "/";
  if (s3_path_rules) return std::string(path);
  // RFC 3986 section 5.2.4 dot-segment removal, with empty segments dropped
  // too: AWS normalises "//a//" to "/a/" for every service but S3.
  std::vector<std::string_view> segments;
  bool trailing_slash = false;
  size_t pos = path[0] == '/' ? 1 : 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view seg = path.substr(pos, slash - pos);
    trailing_slash = seg.empty() || seg == "." || seg == "..";
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    pos = slash + 1;
  }
  std::string normalised = "/";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i) normalised.push_back('/');
    normalised += segments[i];
  }
  if (trailing_slash && !segments.empty()) normalised.push_back('/');
  return UriEncode(normalised, true);
}

SigV4Signed SignV4(const SigV4Credentials& credentials, const SigV4Request& request, time_t now) {
  SigV4Signed out;
  const std::string amz_date = AmzDate(now);
  const std::string date = amz_date.substr(0, 8);
  const std::string payload_hash = Sha256Hex(request.payload);

  // Lowercase name → values in the order given; std::map sorts by name
  // bytewise, which is the order SigV4 asks for.
  std::map<std::string, std::vector<std::string>> headers;
  headers["host"].push_back(TrimAll(request.host));
  for (const auto& [name, value] : request.headers) {
    std::string lower = Lower(TrimAll(name));
    if (lower.empty() || lower == "host" || IsSignerHeader(lower)) continue;
    headers[lower].push_back(TrimAll(value));
  }
  headers["x-amz-date"].push_back(amz_date);
  out.headers.emplace_back("X-Amz-Date", amz_date);
  if (request.add_content_sha256) {
    headers["x-amz-content-sha256"].push_back(payload_hash);
    out.headers.emplace_back("X-Amz-Content-Sha256", payload_hash);
  }
  if (!credentials.session_token.empty()) {
    headers["x-amz-security-token"].push_back(credentials.session_token);
    out.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }

  std::string canonical_headers, signed_headers;
  for (const auto& [name, values] : headers) {
    canonical_headers += name;
    canonical_headers.push_back(':');
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) canonical_headers.push_back(',');
      canonical_headers += values[i];
    }
    canonical_headers.push_back('\n');
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += name;
  }

  std::string& creq = out.canonical_request;
  creq = request.method;
  creq += '\n';
  creq += CanonicalUri(request.path, request.s3_path_rules);
  creq += '\n';
  creq += CanonicalQuery(request.query);
  creq += '\n';
  creq += canonical_headers;
  creq += '\n';
  creq += signed_headers;
  creq += '\n';
  creq += payload_hash;

  const std::string scope = date + "/" + request.region + "/" + request.service + "/aws4_request";
  out.string_to_sign = std::string(kAlgorithm) + "\n" + amz_date + "\n" + scope + "\n" + Sha256Hex(creq);

  std::string key = Hmac("AWS4" + credentials.secret_access_key, date);
  key = Hmac(key, request.region);
  key = Hmac(key, request.service);
  key = Hmac(key, "aws4_request");
  std::string mac = Hmac(key, out.string_to_sign);
  out.signature = Hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());

  out.headers.insert(out.headers.begin(),
                     {"Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                                           scope + ", SignedHeaders=" + signed_headers +
                                           ", Signature=" + out.signature});
  return out;
}

}  // namespace tether
