// Executors: how a request for each provider type is addressed and
// authenticated. Pure functions over config and headers.
#pragma once
#include <ctime>
#include <string>
#include <string_view>

#include "common/http.h"
#include "hub/hub_config.h"
#include "hub/router.h"

namespace tether {

// The upstream path (with query) for an endpoint on provider `p`:
//   openai:           {prefix}/chat/completions, /embeddings, /models
//   openai-responses: {prefix}/responses, /responses/compact
//   anthropic:        {prefix}/v1/messages, /v1/messages/count_tokens
//   gemini:           {prefix}/v1beta/models/{model}:generateContent |
//                     :streamGenerateContent?alt=sse | :countTokens | :embedContent
//   bedrock:          /model/{model percent-encoded}/invoke | /invoke-with-response-stream
// `client_query` is appended for passthrough (e.g. Anthropic ?beta=true),
// minus any "key" parameter, which is the client's secret.
std::string ProviderPath(const ProviderConfig& p, Endpoint endpoint, const std::string& model, bool stream,
                         const std::string& client_query);

// The upstream request head: the client's headers minus hop-by-hop, auth,
// forwarding and edge headers, plus `key`: the credential of the account the
// pool chose (empty: no auth header, e.g. a local Ollama).
RequestHead BuildProviderHead(const ProviderConfig& p, const RequestHead& client, const std::string& path_and_query,
                              size_t body_size, bool stream, const std::string& request_id, const std::string& key);

// The whole Bedrock request (head + body) for an Anthropic Messages body:
// InvokeModel, or InvokeModelWithResponseStream when `stream`, on `model_id`,
// signed with SigV4 at `now` or carrying the Bedrock API key. The client's
// anthropic-beta header moves into the body; no other client header is
// forwarded (Bedrock is AWS, not Anthropic). REQUIRES: p.type is kBedrock.
Result<std::string> BuildBedrockProviderRequest(const ProviderConfig& p, const RequestHead& client,
                                                const std::string& model_id, std::string_view anthropic_body,
                                                bool stream, time_t now);

// Rewrites the top-level "model" string of a JSON object in place, without
// re-serialising anything else. Returns the text unchanged when there is no
// top-level "model" string or it already equals `model`.
std::string ReplaceModelField(const std::string& json, const std::string& model);
// The same when the top-level "model" value is already known: `model_raw`
// is its raw text as a view into `json` (ScanJson's result).
std::string ReplaceModelField(const std::string& json, std::string_view model_raw, const std::string& model);

}  // namespace tether
