// Bedrock request building: path, body rewrite, headers and SigV4 signature.
// The expected signature was computed independently (Python hmac/hashlib)
// from the canonical request AWS's rules give for this request.
#include "hub/providers/bedrock.h"

#include <gtest/gtest.h>

#include "common/json.h"

namespace tether {
namespace {

constexpr time_t kTime = 1440938160;  // 2015-08-30T12:36:00Z

std::string Header(const BedrockHttpRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "<missing>";
}

TEST(BedrockPath, EncodesTheModelIdAsOneSegment) {
  EXPECT_EQ(BedrockPath("anthropic.claude-3-5-sonnet-20240620-v1:0", false),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke");
  EXPECT_EQ(BedrockPath("us.anthropic.claude-sonnet-4-20250514-v1:0", true),
            "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke-with-response-stream");
  EXPECT_EQ(BedrockPath("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.x-v1:0", false),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.x-v1%3A0/invoke");
}

TEST(BedrockBody, DropsModelAndStreamAddsVersion) {
  auto b = BedrockAnthropicBody(
      R"({"model":"claude-sonnet-4","stream":true,"max_tokens":64,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Hi"}],"future_field":{"x":[1,2]}})",
      "");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(*b,
            R"({"max_tokens":64,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Hi"}],"future_field":{"x":[1,2]},"anthropic_version":"bedrock-2023-05-31"})");
}

TEST(BedrockBody, BetasFromTheHeaderUnlessTheBodyHasThem) {
  auto b = BedrockAnthropicBody(R"({"model":"m","max_tokens":1})",
                                " interleaved-thinking-2025-05-14 ,context-1m-2025-08-07,, ");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b,
            R"({"max_tokens":1,"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["interleaved-thinking-2025-05-14","context-1m-2025-08-07"]})");
  b = BedrockAnthropicBody(R"({"anthropic_beta":["a"],"anthropic_version":"bedrock-2023-05-31"})", "b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, R"({"anthropic_beta":["a"],"anthropic_version":"bedrock-2023-05-31"})");
}

TEST(BedrockBody, AnthropicServerToolsAreDropped) {
  // Bedrock refuses a request offering web_search_* / web_fetch_* with a 400.
  auto b = BedrockAnthropicBody(
      R"({"max_tokens":1,"tools":[{"name":"f","input_schema":{"type":"object"}},)"
      R"({"type":"web_search_20250305","name":"web_search","max_uses":3},{"type":"web_fetch_20250910","name":"web_fetch"},)"
      R"({"type":"bash_20250124","name":"bash"}],"tool_choice":{"type":"auto"}})",
      "");
  ASSERT_TRUE(b.ok());
  auto j = ParseJson(*b);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(PrintJson(JsonGet(j->get(), "tools")),
            R"([{"name":"f","input_schema":{"type":"object"}},{"type":"bash_20250124","name":"bash"}])");
  EXPECT_EQ(PrintJson(JsonGet(j->get(), "tool_choice")), R"({"type":"auto"})");
  // A choice naming the dropped tool goes with it.
  b = BedrockAnthropicBody(R"({"tools":[{"name":"f"},{"type":"web_search_20250305","name":"web_search"}],)"
                           R"("tool_choice":{"type":"tool","name":"web_search"}})",
                           "");
  ASSERT_TRUE(b.ok());
  j = ParseJson(*b);
  EXPECT_EQ(PrintJson(JsonGet(j->get(), "tools")), R"([{"name":"f"}])");
  EXPECT_EQ(JsonGet(j->get(), "tool_choice"), nullptr);
  // Nothing left: neither tools nor tool_choice.
  b = BedrockAnthropicBody(R"({"tools":[{"type":"web_search_20250305","name":"web_search"}],"tool_choice":{"type":"any"}})", "");
  ASSERT_TRUE(b.ok());
  j = ParseJson(*b);
  EXPECT_EQ(JsonGet(j->get(), "tools"), nullptr);
  EXPECT_EQ(JsonGet(j->get(), "tool_choice"), nullptr);
  // Malformed tools are left for Bedrock to judge, without a crash.
  EXPECT_TRUE(BedrockAnthropicBody(R"({"tools":{"type":"web_search_20250305"}})", "").ok());
  EXPECT_TRUE(BedrockAnthropicBody(R"({"tools":[1,null,"x"]})", "").ok());
}

TEST(BedrockBody, RejectsWhatIsNotAnObject) {
  EXPECT_EQ(BedrockAnthropicBody("[1]", "").status().message(), "request body: expected a JSON object");
  EXPECT_FALSE(BedrockAnthropicBody("{", "").ok());
  EXPECT_FALSE(BedrockAnthropicBody("", "").ok());
}

BedrockAuth Keys() {
  BedrockAuth a;
  a.aws = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "TOKEN"};
  return a;
}

TEST(BedrockRequest, StreamingSignedWithSigV4) {
  BedrockTarget t{"us-west-2", "anthropic.claude-3-5-sonnet-20240620-v1:0", true, ""};
  auto r = BuildBedrockRequest(
      Keys(), t, R"({"model":"claude-3-5-sonnet","stream":true,"max_tokens":64,"messages":[{"role":"user","content":"Hi"}]})",
      "", kTime);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->host, "bedrock-runtime.us-west-2.amazonaws.com");
  EXPECT_EQ(r->path, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream");
  EXPECT_EQ(r->body,
            R"({"max_tokens":64,"messages":[{"role":"user","content":"Hi"}],"anthropic_version":"bedrock-2023-05-31"})");
  EXPECT_EQ(Header(*r, "Host"), "bedrock-runtime.us-west-2.amazonaws.com");
  EXPECT_EQ(Header(*r, "Content-Type"), "application/json");
  EXPECT_EQ(Header(*r, "Accept"), "application/vnd.amazon.eventstream");
  EXPECT_EQ(Header(*r, "X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(Header(*r, "X-Amz-Security-Token"), "TOKEN");
  EXPECT_EQ(Header(*r, "X-Amz-Content-Sha256"), "6b8ea0073e4ee8ae195eaf589ba3c757c1e966cf5bd3661c23a17ab9b064cc03");
  EXPECT_EQ(Header(*r, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/bedrock/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
            "Signature=7275510d5f6f97bb1acd9966f39561a5cbb55901ee116fe8fa3367dfc4d26c1b");
}

TEST(BedrockRequest, NonStreamingWithApiKeyAndEndpointOverride) {
  BedrockAuth auth;
  auth.api_key = "bedrock-api-key-xyz";
  BedrockTarget t{"eu-central-1", "anthropic.claude-3-haiku-20240307-v1:0", false,
                  "vpce-0123.bedrock-runtime.eu-central-1.vpce.amazonaws.com"};
  auto r = BuildBedrockRequest(auth, t, R"({"model":"x","max_tokens":8,"messages":[]})", "", kTime);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->host, "vpce-0123.bedrock-runtime.eu-central-1.vpce.amazonaws.com");
  EXPECT_EQ(r->path, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke");
  EXPECT_EQ(Header(*r, "Accept"), "application/json");
  EXPECT_EQ(Header(*r, "Authorization"), "Bearer bedrock-api-key-xyz");
  EXPECT_EQ(Header(*r, "X-Amz-Date"), "<missing>");
}

TEST(BedrockRequest, Errors) {
  BedrockTarget t{"us-east-1", "m", false, ""};
  EXPECT_EQ(BuildBedrockRequest(BedrockAuth{}, t, "{}", "", kTime).status().message(),
            "bedrock: no credentials (access key id and secret, or an API key)");
  t.region = "us-east-1.evil.com/";
  EXPECT_EQ(BuildBedrockRequest(Keys(), t, "{}", "", kTime).status().message(),
            "bedrock: region \"us-east-1.evil.com/\": expected e.g. us-east-1");
  t.region = "us-east-1";
  t.model_id = "";
  EXPECT_EQ(BuildBedrockRequest(Keys(), t, "{}", "", kTime).status().message(), "bedrock: empty model id");
  t.model_id = "m";
  EXPECT_FALSE(BuildBedrockRequest(Keys(), t, "not json", "", kTime).ok());
}

}  // namespace
}  // namespace tether
