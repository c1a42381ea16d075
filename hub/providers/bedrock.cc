#include "hub/providers/bedrock.h"

#include <algorithm>
#include <vector>

#include "common/json.h"

namespace tether {
namespace {

constexpr char kBedrockVersion[] = "bedrock-2023-05-31";

bool ValidRegion(std::string_view region) {
  if (region.empty() || region.size() > 32) return false;
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string BedrockPath(std::string_view model_id, bool stream) {
  // The model id is one path segment: ':' and the '/' of ARNs are encoded,
  // as the AWS SDKs do; SigV4 then encodes the '%' once more.
  return "/model/" + UriEncode(model_id, false) + (stream ? "/invoke-with-response-stream" : "/invoke");
}

namespace {

// Bedrock runs none of Anthropic's server-side tools (web_search_*,
// web_fetch_*) and refuses the whole request with a 400 when one is
// offered; without them the model answers from what it knows.
void DropServerTools(cJSON* body) {
  cJSON* tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
  if (!cJSON_IsArray(tools)) return;
  std::vector<std::string> dropped;
  for (int i = cJSON_GetArraySize(tools) - 1; i >= 0; --i) {
    std::string type = JsonStrOr(cJSON_GetArrayItem(tools, i), "type", "");
    if (type.rfind("web_search_", 0) == 0 || type.rfind("web_fetch_", 0) == 0) {
      dropped.push_back(JsonStrOr(cJSON_GetArrayItem(tools, i), "name", ""));
      cJSON_DeleteItemFromArray(tools, i);
    }
  }
  if (cJSON_GetArraySize(tools) > 0) {
    // A tool_choice naming a dropped tool would be refused as well.
    const cJSON* tc = JsonObj(body, "tool_choice");
    if (JsonStrOr(tc, "type", "") == "tool" &&
        std::find(dropped.begin(), dropped.end(), JsonStrOr(tc, "name", "")) != dropped.end())
      cJSON_DeleteItemFromObjectCaseSensitive(body, "tool_choice");
    return;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(body, "tools");
  cJSON_DeleteItemFromObjectCaseSensitive(body, "tool_choice");
}

}  // namespace

Result<std::string> BedrockAnthropicBody(std::string_view anthropic_body, std::string_view anthropic_beta) {
  Result<JsonPtr> parsed = ParseJson(anthropic_body);
  if (!parsed.ok()) return Status::Error("request body: " + parsed.status().message());
  cJSON* body = parsed->get();
  if (!cJSON_IsObject(body)) return Status::Error("request body: expected a JSON object");
  cJSON_DeleteItemFromObjectCaseSensitive(body, "model");
  cJSON_DeleteItemFromObjectCaseSensitive(body, "stream");
  if (!JsonGet(body, "anthropic_version")) JsonAddStr(body, "anthropic_version", kBedrockVersion);
  DropServerTools(body);
  if (!JsonGet(body, "anthropic_beta")) {
    cJSON* betas = nullptr;
    size_t pos = 0;
    while (pos <= anthropic_beta.size()) {
      size_t comma = anthropic_beta.find(',', pos);
      if (comma == std::string_view::npos) comma = anthropic_beta.size();
      std::string_view beta = Trim(anthropic_beta.substr(pos, comma - pos));
      if (!beta.empty()) {
        if (!betas) betas = JsonAddArr(body, "anthropic_beta");
        cJSON_AddItemToArray(betas, cJSON_CreateString(std::string(beta).c_str()));
      }
      pos = comma + 1;
    }
  }
  return PrintJson(body);
}

Result<BedrockHttpRequest> BuildBedrockRequest(const BedrockAuth& auth, const BedrockTarget& target,
                                               std::string_view anthropic_body, std::string_view anthropic_beta,
                                               time_t now) {
  if (!ValidRegion(target.region)) {
    return Status::Error("bedrock: region \"" + target.region + "\": expected e.g. us-east-1");
  }
  if (target.model_id.empty()) return Status::Error("bedrock: empty model id");
  if (auth.api_key.empty() && (auth.aws.access_key_id.empty() || auth.aws.secret_access_key.empty())) {
    return Status::Error("bedrock: no credentials (access key id and secret, or an API key)");
  }
  Result<std::string> body = BedrockAnthropicBody(anthropic_body, anthropic_beta);
  if (!body.ok()) return body.status();

  BedrockHttpRequest req;
  req.method = "POST";
  req.host = target.host.empty() ? "bedrock-runtime." + target.region + ".amazonaws.com" : target.host;
  req.path = BedrockPath(target.model_id, target.stream);
  req.body = std::move(*body);
  req.headers = {
      {"Host", req.host},
      {"Content-Type", "application/json"},
      {"Accept", target.stream ? "application/vnd.amazon.eventstream" : "application/json"},
  };
  if (!auth.api_key.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + auth.api_key);
    return req;
  }
  SigV4Request sig;
  sig.method = req.method;
  sig.host = req.host;
  sig.path = req.path;
  // Accept stays unsigned: only what identifies the request is signed, so a
  // middlebox normalising Accept cannot break the signature.
  sig.headers = {{"Content-Type", "application/json"}};
  sig.payload = req.body;
  sig.region = target.region;
  sig.service = "bedrock";
  SigV4Signed signed_headers = SignV4(auth.aws, sig, now);
  for (auto& h : signed_headers.headers) req.headers.push_back(std::move(h));
  return req;
}

}  // namespace tether
