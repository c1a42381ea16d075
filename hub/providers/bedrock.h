// Amazon Bedrock as an Anthropic Messages provider: the request an
// Anthropic-format body becomes (InvokeModel / InvokeModelWithResponseStream),
// authenticated with SigV4 (service "bedrock") or a Bedrock API key. Pure
// function; the response side is hub/providers/aws_eventstream.h (stream)
// or the Anthropic Messages JSON as is (non-stream).
#pragma once
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "hub/providers/sigv4.h"

namespace tether {

struct BedrockAuth {
  SigV4Credentials aws;  // used when api_key is empty
  std::string api_key;   // Bedrock API key: sent as "Authorization: Bearer", no SigV4
};

struct BedrockTarget {
  std::string region;    // "us-east-1"; [a-z0-9-] only
  std::string model_id;  // model id, inference profile id or ARN, unencoded
  bool stream = false;
  std::string host;      // empty: bedrock-runtime.{region}.amazonaws.com (VPC endpoints override it)
};

struct BedrockHttpRequest {
  std::string method;  // "POST"
  std::string host;    // connect to this host, port 443, TLS
  std::string path;    // request target, model id percent-encoded
  // Host, Content-Type, Accept and the authentication headers, in the order
  // to send. The caller adds Content-Length (= body.size()) and transport
  // headers; it must not change the values of these.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// "/model/{model_id percent-encoded}/invoke" or "/invoke-with-response-stream".
std::string BedrockPath(std::string_view model_id, bool stream);

// The Bedrock body for an Anthropic Messages body: "model" and "stream"
// removed (they live in the path), "anthropic_version":"bedrock-2023-05-31"
// added unless present, and the client's anthropic-beta header value (comma
// separated, may be empty) as "anthropic_beta":[...] unless the body has one.
// Everything else passes through (re-serialised by cJSON).
Result<std::string> BedrockAnthropicBody(std::string_view anthropic_body, std::string_view anthropic_beta);

// The whole upstream request, signed at `now`.
Result<BedrockHttpRequest> BuildBedrockRequest(const BedrockAuth& auth, const BedrockTarget& target,
                                               std::string_view anthropic_body, std::string_view anthropic_beta,
                                               time_t now);

}  // namespace tether
