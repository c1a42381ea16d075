// AWS Signature Version 4 request signing (header form, AWS4-HMAC-SHA256),
// for providers behind AWS authentication such as Amazon Bedrock. Pure code
// over strings; the hashing is mbedTLS.
#pragma once
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/tls.h"  // Sha256Hex, used with these pieces

namespace tether {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (STS); empty for long-term keys
};

struct SigV4Request {
  std::string method;  // "GET", "POST"
  std::string host;    // the Host header the caller sends; always signed
  // The path exactly as it goes on the request line (already percent-encoded,
  // e.g. "/model/a.b-v1%3A0/invoke"). Outside S3 the canonical URI is this
  // path normalised (RFC 3986 dot segments, repeated slashes) and
  // URI-encoded once more, so "%3A" signs as "%253A", as the AWS SDKs do.
  std::string path = "/";
  std::string query;  // the query string as sent, without '?', in any order
  // Further headers to sign (and that the caller sends, with these values).
  // Authorization, X-Amz-Date, X-Amz-Content-Sha256 and X-Amz-Security-Token
  // are the signer's own and ignored here.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view payload;  // the body; must outlive the SignV4 call
  std::string region;        // "us-east-1"
  std::string service;       // "bedrock", "s3", …
  // S3 signs the path as sent, neither normalised nor encoded again.
  bool s3_path_rules = false;
  // Sends and signs x-amz-content-sha256 (S3 requires it; other services
  // accept it). The published test suite signs without it.
  bool add_content_sha256 = true;
};

struct SigV4Signed {
  // Headers to add to the request: Authorization, X-Amz-Date, and
  // X-Amz-Content-Sha256 / X-Amz-Security-Token when they apply.
  std::vector<std::pair<std::string, std::string>> headers;
  // The intermediate artefacts, for tests and debug logs (no secret in them).
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lowercase hex
};

// Signs `request` at time `now` (UTC seconds since the epoch).
SigV4Signed SignV4(const SigV4Credentials& credentials, const SigV4Request& request, time_t now);

// ---- Pieces, exposed for callers building URLs and for tests ---------------
// "20150830T123600Z"
std::string AmzDate(time_t now);
// RFC 3986 percent-encoding of everything but unreserved characters
// (A-Z a-z 0-9 - . _ ~), uppercase hex; '/' kept when keep_slash.
std::string UriEncode(std::string_view s, bool keep_slash);
// Canonical query string: each name and value percent-decoded and re-encoded
// with UriEncode, sorted by name then value, "name=value" joined with '&'.
std::string CanonicalQuery(std::string_view query);
// Canonical URI for a request-line path (see SigV4Request::path).
std::string CanonicalUri(std::string_view path, bool s3_path_rules);

}  // namespace tether
