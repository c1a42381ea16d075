#include "hub/hub_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace tether {
namespace {

std::string WriteTemp(const std::string& text) {
  static int n = 0;
  std::string path = ::testing::TempDir() + "hub_cfg_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".json";
  std::ofstream(path) << text;
  return path;
}

const char* kBase = R"("tls":{"cert":"c","key":"k","client_ca":"ca"})";

TEST(HubConfig, ProvidersParsed) {
  unsetenv("PORT");
  auto c = LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"providers":[
      {"id":"oa","type":"openai","base_url":"http://127.0.0.1:9000/v1/","keys":["k1"],"models":["a",{"name":"b","alias":"bee"}]},
      {"id":"an","type":"anthropic","base_url":"https://[::1]/anthropic","headers":{"x-extra":"1"}}],
      "model_map":{"x":"oa/a"},"tenants":["u1"]})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->providers.size(), 2u);
  const ProviderConfig& oa = c->providers[0];
  EXPECT_FALSE(oa.tls);
  EXPECT_EQ(oa.host, "127.0.0.1");
  EXPECT_EQ(oa.port, 9000);
  EXPECT_EQ(oa.path_prefix, "/v1");
  EXPECT_EQ(oa.models[1].alias, "bee");
  const ProviderConfig& an = c->providers[1];
  EXPECT_TRUE(an.tls);
  EXPECT_EQ(an.host, "::1");
  EXPECT_EQ(an.port, 443);
  EXPECT_EQ(an.path_prefix, "/anthropic");
  EXPECT_EQ(an.headers[0].first, "x-extra");
  EXPECT_EQ(c->model_map.at("x"), "oa/a");
  EXPECT_EQ(c->tenants[0].id, "u1");
}

TEST(HubConfig, ErrorsNameThePath) {
  auto c = LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"providers":[{"id":"a","type":"openai","base_url":"http://x"},{"id":"b","type":"nope","base_url":"ftp://x"}]})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("providers[1].type"), std::string::npos) << c.status().message();
  c = LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"providers":[{"id":"a","type":"openai","base_url":"ftp://x"}]})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("providers[0].base_url"), std::string::npos) << c.status().message();
  c = LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"providers":[{"id":"a","type":"openai","base_url":"http://x"},{"id":"a","type":"openai","base_url":"http://y"}]})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("duplicate"), std::string::npos);
}

TEST(HubConfig, RequiresEdgeAdmission) {
  auto c = LoadHubConfig(WriteTemp(R"({"tls":{"cert":"c","key":"k"}})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("edge_tokens"), std::string::npos);
}

TEST(HubConfig, UnsetEnvVariableIsNamed) {
  unsetenv("TETHER_SURELY_UNSET");
  auto c = LoadHubConfig(WriteTemp(R"({"tls":{"cert":"${TETHER_SURELY_UNSET}"}})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("TETHER_SURELY_UNSET"), std::string::npos);
}

TEST(HubConfig, BedrockProvider) {
  setenv("TETHER_TEST_AWS_SECRET", "s3cr3t", 1);
  auto c = LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"providers":[
      {"id":"br","type":"bedrock","region":"us-west-2","aws_access_key_id":"AKIDEXAMPLE",
       "aws_secret_access_key":"${TETHER_TEST_AWS_SECRET}","aws_session_token":"tok",
       "models":[{"name":"us.anthropic.claude-sonnet-4-5-20250929-v1:0","alias":"claude-sonnet-4-5"}]},
      {"id":"local","type":"bedrock","region":"us-east-1","api_key":"bedrock-key","endpoint":"http://127.0.0.1:9000"},
      {"id":"vpc","type":"bedrock","region":"eu-central-1","api_key":"k","endpoint":"vpce-1.bedrock-runtime.eu-central-1.vpce.amazonaws.com"}]})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const ProviderConfig& br = c->providers[0];
  EXPECT_EQ(br.type, ProviderType::kBedrock);
  EXPECT_EQ(ProviderFormat(br.type), ApiFormat::kAnthropic);
  EXPECT_STREQ(ProviderTypeName(br.type), "bedrock");
  EXPECT_EQ(br.region, "us-west-2");
  EXPECT_EQ(br.aws_secret_access_key, "s3cr3t");
  EXPECT_EQ(br.aws_session_token, "tok");
  EXPECT_TRUE(br.tls);
  EXPECT_EQ(br.host, "bedrock-runtime.us-west-2.amazonaws.com");
  EXPECT_EQ(br.port, 443);
  EXPECT_EQ(br.models[0].alias, "claude-sonnet-4-5");
  const ProviderConfig& local = c->providers[1];
  EXPECT_FALSE(local.tls);
  EXPECT_EQ(local.host, "127.0.0.1");
  EXPECT_EQ(local.port, 9000);
  EXPECT_EQ(local.api_key, "bedrock-key");
  EXPECT_TRUE(c->providers[2].tls);
  EXPECT_EQ(c->providers[2].host, "vpce-1.bedrock-runtime.eu-central-1.vpce.amazonaws.com");
}

TEST(HubConfig, BedrockErrors) {
  auto load = [](const std::string& provider) {
    return LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"providers":[)" + provider + "]}"));
  };
  auto c = load(R"({"id":"b","type":"bedrock","region":"us-east-1","aws_access_key_id":"AKID"})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("aws_secret_access_key"), std::string::npos) << c.status().message();
  c = load(R"({"id":"b","type":"bedrock","api_key":"k"})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("providers[0].region"), std::string::npos) << c.status().message();
  c = load(R"({"id":"b","type":"bedrock","region":"US East","api_key":"k"})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("providers[0].region"), std::string::npos) << c.status().message();
  c = load(R"({"id":"b","type":"bedrock","region":"us-east-1","api_key":"k","base_url":"https://x"})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("providers[0].base_url"), std::string::npos) << c.status().message();
  c = load(R"({"id":"b","type":"bedrock","region":"us-east-1","api_key":"k","endpoint":"https://x/some/path"})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("providers[0].endpoint"), std::string::npos) << c.status().message();
  // Bedrock-only keys are typos elsewhere.
  c = load(R"({"id":"o","type":"openai","base_url":"http://x","region":"us-east-1"})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("region"), std::string::npos) << c.status().message();
}

TEST(HubConfig, ProviderProxy) {
  auto c = LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"providers":[
      {"id":"a","type":"openai","base_url":"https://api.openai.com/v1","proxy":"http://user:pa%40ss@10.0.0.5:3128"},
      {"id":"b","type":"bedrock","region":"us-east-1","api_key":"k","proxy":"socks5://127.0.0.1:1080"},
      {"id":"c","type":"anthropic","base_url":"https://api.anthropic.com"}]})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->providers[0].proxy.has_value());
  EXPECT_EQ(c->providers[0].proxy->kind, ProxyKind::kHttp);
  EXPECT_EQ(c->providers[0].proxy->host, "10.0.0.5");
  EXPECT_EQ(c->providers[0].proxy->port, 3128);
  EXPECT_EQ(c->providers[0].proxy->password, "pa@ss");
  ASSERT_TRUE(c->providers[1].proxy.has_value());
  EXPECT_EQ(c->providers[1].proxy->kind, ProxyKind::kSocks5);
  EXPECT_FALSE(c->providers[2].proxy.has_value());

  c = LoadHubConfig(WriteTemp(std::string("{") + kBase +
                              R"(,"providers":[{"id":"a","type":"openai","base_url":"http://x","proxy":"ftp://u:hunter2@p:1"}]})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("providers[0].proxy"), std::string::npos) << c.status().message();
  EXPECT_EQ(c.status().message().find("hunter2"), std::string::npos) << c.status().message();
}

TEST(HubConfig, KeysTenantsAccountsCombos) {
  setenv("TETHER_TEST_ALICE_KEY", "tk-alice-secret", 1);
  auto c = LoadHubConfig(WriteTemp(std::string("{") + kBase + R"(,"client_keys":["sk-legacy"],
      "keys":[{"name":"alice","key":"${TETHER_TEST_ALICE_KEY}","tenant":"u1","models":["claude-*"],"rpm":60,
               "daily_budget_usd":5,"clients":["claude_code"]}],
      "data_dir":"/tmp/x","prices":"p.json","admin_token":"adm","admin_via_edge":true,
      "providers":[{"id":"oa","type":"openai","base_url":"http://x/v1","keys":["k1","k2"]},
                   {"id":"an","type":"anthropic","base_url":"http://y","accounts":[{"id":"main","key":"a1","priority":0,"weight":3},{"id":"spare","key":"a2","priority":1}]}],
      "tenants":["u0",{"id":"u1","providers":["an"],"model_map":{"fast":"an/claude-haiku"},"rpm":100,"tpm":5000}],
      "combos":{"smart":["an/claude-sonnet","oa/gpt-4o"]}})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->keys.size(), 2u);
  EXPECT_EQ(c->keys[0].name, "key0");
  EXPECT_EQ(c->keys[0].sha256, HashClientKey("sk-legacy"));
  EXPECT_EQ(c->keys[1].name, "alice");
  EXPECT_EQ(c->keys[1].sha256, HashClientKey("tk-alice-secret"));
  EXPECT_EQ(c->keys[1].tenant, "u1");
  EXPECT_EQ(c->keys[1].rpm, 60);
  EXPECT_DOUBLE_EQ(c->keys[1].daily_budget_usd, 5);
  EXPECT_EQ(c->data_dir, "/tmp/x");
  EXPECT_EQ(c->prices, "p.json");
  EXPECT_EQ(c->admin_token, "adm");
  EXPECT_TRUE(c->admin_via_edge);
  ASSERT_EQ(c->providers[0].accounts.size(), 2u);
  EXPECT_EQ(c->providers[0].accounts[1].id, "acct1");
  EXPECT_EQ(c->providers[0].accounts[1].key, "k2");
  EXPECT_EQ(c->providers[1].accounts[0].weight, 3);
  EXPECT_EQ(c->providers[1].accounts[1].priority, 1);
  ASSERT_EQ(c->tenants.size(), 2u);
  EXPECT_EQ(c->tenants[0].id, "u0");
  const TenantConfig* u1 = FindTenant(*c, "u1");
  ASSERT_NE(u1, nullptr);
  EXPECT_EQ(u1->providers, std::vector<std::string>{"an"});
  EXPECT_EQ(u1->model_map.at("fast"), "an/claude-haiku");
  EXPECT_EQ(u1->tpm, 5000);
  EXPECT_EQ(FindTenant(*c, "nope"), nullptr);
  EXPECT_EQ(c->combos.at("smart").size(), 2u);

  // Defaults.
  c = LoadHubConfig(WriteTemp(std::string("{") + kBase + "}"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->data_dir, "run/data");
  EXPECT_EQ(c->prices, "etc/prices.json");
  EXPECT_TRUE(c->admin_token.empty());
  EXPECT_FALSE(c->admin_via_edge);
}

TEST(HubConfig, KeyTenantComboErrorsNameThePath) {
  auto load = [](const std::string& body) { return LoadHubConfig(WriteTemp(std::string("{") + kBase + "," + body + "}")); };
  auto expect = [](const Result<HubConfig>& c, const char* path) {
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.status().message().find(path), std::string::npos) << c.status().message();
  };
  expect(load(R"("keys":[{"name":"a"}])"), "keys[0].key");
  expect(load(R"("keys":[{"name":"a","key":"x","rpm":-1}])"), "keys[0].rpm");
  expect(load(R"("keys":[{"name":"a","key":"x"},{"name":"a","key":"y"}])"), "keys[1].name");
  expect(load(R"("keys":[{"name":"a","key":"x","clients":["vim"]}])"), "keys[0].clients");
  expect(load(R"("keys":[{"name":"a","sha256":"abc"}])"), "keys[0].sha256");
  expect(load(R"("tenants":[{"id":"u1","providers":["ghost"]}])"), "tenants[0].providers");
  expect(load(R"("tenants":[{"id":"bad id"}])"), "tenants[0]");
  expect(load(R"("tenants":[{"id":"u1","colour":"red"}])"), "colour");
  expect(load(R"("combos":{"c":["nowhere/model"]})"), "combos.c[0]");
  expect(load(R"("combos":{"c":[]})"), "combos.c");
  expect(load(R"("providers":[{"id":"a","type":"openai","base_url":"http://x","accounts":[{"id":"x","key":"k","weight":0}]}])"),
         "providers[0].accounts[0].weight");
  expect(load(R"("providers":[{"id":"a","type":"openai","base_url":"http://x","keys":["k"],"accounts":[{"id":"acct0","key":"k"}]}])"),
         "providers[0].accounts[0].id");
}

TEST(ParseBaseUrl, Forms) {
  auto u = ParseBaseUrl("https://api.openai.com/v1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/v1");
  u = ParseBaseUrl("http://localhost:11434");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 11434);
  EXPECT_EQ(u->path, "");
  EXPECT_FALSE(ParseBaseUrl("api.openai.com").ok());
  EXPECT_FALSE(ParseBaseUrl("http://host:99999").ok());
  EXPECT_FALSE(ParseBaseUrl("http://").ok());
}

}  // namespace
}  // namespace tether
