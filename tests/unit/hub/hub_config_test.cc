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
  EXPECT_EQ(c->tenants[0], "u1");
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
