#include "edge/edge_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace tether {
namespace {

std::string WriteTemp(const std::string& text) {
  static int n = 0;
  std::string path = ::testing::TempDir() + "edge_cfg_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".json";
  std::ofstream(path) << text;
  return path;
}

class EdgeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"PORT", "TETHER_HUB", "TETHER_EDGE_TOKEN", "UPSTREAM_TIMEOUT_SEC", "DEBUG_LOG"}) unsetenv(v);
  }
};

TEST_F(EdgeConfigTest, MinimalFileWithDefaults) {
  auto c = LoadEdgeConfig(WriteTemp(R"({"hubs":["hub.example.com:8443"],"hub_tls":{"ca":"ca.pem"},"edge_token":"t"})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listen_port, 8000);
  ASSERT_EQ(c->hubs.size(), 1u);
  EXPECT_EQ(c->hubs[0].host, "hub.example.com");
  EXPECT_EQ(c->hubs[0].port, 8443);
  EXPECT_EQ(c->hubs[0].server_name, "hub.example.com");
  EXPECT_EQ(c->pool_min_idle, 4);
  EXPECT_EQ(c->connect_timeout_sec, 10);
  EXPECT_EQ(c->pool_queue_timeout_sec, 60);
}

TEST_F(EdgeConfigTest, PoolQueueTimeout) {
  auto c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"hub_tls":{"ca":"x"},"edge_token":"t","pool":{"queue_timeout_sec":5}})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->pool_queue_timeout_sec, 5);
  EXPECT_EQ(c->connect_timeout_sec, 10);
  c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"hub_tls":{"ca":"x"},"edge_token":"t","pool":{"queue_timeout_sec":0}})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("pool.queue_timeout_sec"), std::string::npos) << c.status().message();
}

TEST_F(EdgeConfigTest, ErrorsNameFileAndKeyPath) {
  std::string path = WriteTemp(R"({"hubs":[{"address":"nohost"}],"hub_tls":{"ca":"x"},"edge_token":"t"})");
  auto c = LoadEdgeConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(path), std::string::npos);
  EXPECT_NE(c.status().message().find("hubs[0].address"), std::string::npos) << c.status().message();
}

TEST_F(EdgeConfigTest, UnknownKeyAndBadRange) {
  auto c = LoadEdgeConfig(WriteTemp(R"({"listne":"x","hubs":["h:1"],"hub_tls":{"ca":"x"},"edge_token":"t"})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("listne: unknown key"), std::string::npos) << c.status().message();
  c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"hub_tls":{"ca":"x"},"edge_token":"t","pool":{"min_idle":-1}})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("pool.min_idle"), std::string::npos);
}

TEST_F(EdgeConfigTest, RefusesUnverifiedHubUnlessInsecure) {
  auto c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"edge_token":"t"})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("insecure"), std::string::npos);
  c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"edge_token":"t","hub_tls":{"insecure":true}})"));
  EXPECT_TRUE(c.ok());
}

TEST_F(EdgeConfigTest, RequiresAnEdgeCredential) {
  auto c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"hub_tls":{"ca":"x"}})"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("edge_token"), std::string::npos);
}

TEST_F(EdgeConfigTest, EnvironmentOverridesForPanels) {
  setenv("PORT", "9123", 1);
  setenv("TETHER_HUB", "a.example:1,b.example:2", 1);
  setenv("TETHER_EDGE_TOKEN", "tok", 1);
  setenv("UPSTREAM_TIMEOUT_SEC", "42", 1);
  auto c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"hub_tls":{"ca":"x"}})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listen_port, 9123);
  ASSERT_EQ(c->hubs.size(), 2u);
  EXPECT_EQ(c->hubs[1].host, "b.example");
  EXPECT_EQ(c->edge_token, "tok");
  EXPECT_EQ(c->first_byte_timeout_sec, 42);
  setenv("PORT", "0", 1);
  EXPECT_FALSE(LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"hub_tls":{"ca":"x"},"edge_token":"t"})")).ok());
}

TEST_F(EdgeConfigTest, EnvSubstitutionKeepsSecretsOutOfFiles) {
  setenv("TETHER_TEST_TOKEN", "s3cr\"et", 1);
  auto c = LoadEdgeConfig(WriteTemp(R"({"hubs":["h:1"],"hub_tls":{"ca":"x"},"edge_token":"${TETHER_TEST_TOKEN}"})"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->edge_token, "s3cr\"et");
  EXPECT_EQ(EdgeConfigSummaryJson(*c).find("s3cr"), std::string::npos);
}

TEST(NetworkList, Cidrs) {
  NetworkList n;
  ASSERT_TRUE(n.Add("127.0.0.0/8").ok());
  ASSERT_TRUE(n.Add("::1/128").ok());
  ASSERT_TRUE(n.Add("10.1.2.0/23").ok());
  EXPECT_TRUE(n.Contains("127.5.6.7"));
  EXPECT_TRUE(n.Contains("::1"));
  EXPECT_TRUE(n.Contains("::ffff:127.0.0.1"));
  EXPECT_TRUE(n.Contains("10.1.3.255"));
  EXPECT_FALSE(n.Contains("10.1.4.0"));
  EXPECT_FALSE(n.Contains("8.8.8.8"));
  EXPECT_FALSE(n.Contains("garbage"));
  EXPECT_FALSE(n.Add("300.1.1.1/8").ok());
  EXPECT_FALSE(n.Add("1.2.3.4/33").ok());
}

}  // namespace
}  // namespace tether
