// The usage_booking switch in hub.json and the check that ties budgets to it.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "hub/hub_config.h"

namespace tether {
namespace {

std::string WriteConfig(const std::string& rest) {
  static int n = 0;
  std::string path = ::testing::TempDir() + "hub_usage_cfg_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".json";
  std::ofstream(path) << R"({"tls":{"cert":"c","key":"k","client_ca":"ca"})" << rest << "}";
  return path;
}

TEST(HubConfigUsageBooking, OnByDefault) {
  unsetenv("PORT");
  auto c = LoadHubConfig(WriteConfig(""));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->usage_booking);
  c = LoadHubConfig(WriteConfig(R"(,"usage_booking":true)"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->usage_booking);
}

TEST(HubConfigUsageBooking, OffWithKeysWithoutBudgets) {
  auto c = LoadHubConfig(WriteConfig(
      R"(,"usage_booking":false,"client_keys":["tk-a"],"keys":[{"name":"lim","key":"tk-b","rpm":60,"tpm":1000,"max_concurrent":2}])"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->usage_booking);
  ASSERT_EQ(c->keys.size(), 2u);
  EXPECT_EQ(c->keys[1].rpm, 60);
}

TEST(HubConfigUsageBooking, OffRefusesKeysWithBudgets) {
  for (const char* budget : {R"("daily_budget_usd":5)", R"("monthly_budget_usd":0.5)"}) {
    auto c = LoadHubConfig(WriteConfig(std::string(R"(,"usage_booking":false,"keys":[{"name":"ok","key":"tk-a"},{"name":"alice","key":"tk-b",)") +
                                       budget + "}]"));
    ASSERT_FALSE(c.ok()) << budget;
    const std::string& m = c.status().message();
    EXPECT_NE(m.find("usage_booking"), std::string::npos) << m;
    EXPECT_NE(m.find("\"alice\""), std::string::npos) << m;
    EXPECT_EQ(m.find("\"ok\""), std::string::npos) << m;
  }
  // The same keys are fine with booking on.
  auto c = LoadHubConfig(WriteConfig(R"(,"keys":[{"name":"alice","key":"tk-b","daily_budget_usd":5}])"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_DOUBLE_EQ(c->keys[0].daily_budget_usd, 5);
}

TEST(HubConfigUsageBooking, ExpectsABoolean) {
  auto c = LoadHubConfig(WriteConfig(R"(,"usage_booking":"no")"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("usage_booking"), std::string::npos) << c.status().message();
}

TEST(TenantAllowsProvider, ListOrNone) {
  TenantConfig open;
  TenantConfig limited;
  limited.providers = {"anthropic-main"};
  EXPECT_TRUE(TenantAllowsProvider(nullptr, "openai"));
  EXPECT_TRUE(TenantAllowsProvider(&open, "openai"));
  EXPECT_TRUE(TenantAllowsProvider(&limited, "anthropic-main"));
  EXPECT_FALSE(TenantAllowsProvider(&limited, "openai"));
}

}  // namespace
}  // namespace tether
