// The admin API's account endpoints and key creation against the booking
// switch, called directly on HubServices (no sockets).
#include "hub/admin.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/json.h"
#include "hub/services.h"

namespace tether {
namespace {

HubConfig TestConfig(bool booking) {
  static int n = 0;
  HubConfig c;
  c.data_dir = ::testing::TempDir() + "admin_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(c.data_dir);
  c.prices = c.data_dir + "/no-prices.json";
  c.usage_booking = booking;
  ProviderConfig p;
  p.id = "oa";
  p.accounts = {{"main", "sk-provider-secret-1111", 0, 1}, {"spare", "sk-provider-secret-2222", 1, 1}};
  c.providers.push_back(p);
  return c;
}

JsonPtr Parse(const AdminReply& r) {
  auto j = ParseJson(r.body);
  EXPECT_TRUE(j.ok()) << r.body;
  return j.ok() ? std::move(j.value()) : JsonNewObj();
}

std::string StateOf(HubServices& s, const std::string& provider, const std::string& account) {
  AdminReply r = HandleAdmin(s, "GET", "/admin/accounts", "");
  EXPECT_EQ(r.status, 200) << r.body;
  JsonPtr j = Parse(r);
  const cJSON* list = JsonGet(JsonObj(JsonObj(j.get(), "providers"), provider.c_str()), "accounts");
  const cJSON* a = nullptr;
  cJSON_ArrayForEach(a, list) if (JsonStrOr(a, "id", "") == account) return JsonStrOr(a, "state", "");
  return "missing";
}

TEST(AdminAccounts, ListsStatesWithoutSecrets) {
  auto s = HubServices::Open(TestConfig(true));
  ASSERT_TRUE(s.ok()) << s.status().message();
  AdminReply r = HandleAdmin(**s, "GET", "/admin/accounts", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("sk-provider"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("1111"), std::string::npos) << r.body;
  EXPECT_EQ(StateOf(**s, "oa", "main"), "healthy");
  EXPECT_EQ(StateOf(**s, "oa", "spare"), "healthy");
}

TEST(AdminAccounts, EnableClearsADisable) {
  auto s = HubServices::Open(TestConfig(true));
  ASSERT_TRUE(s.ok()) << s.status().message();
  std::shared_ptr<AccountPool> pool = (*s)->pool("oa");
  uint64_t now = UnixMs();
  int picked = pool->Pick("", now);
  ASSERT_EQ(pool->config(picked).id, "main");
  pool->ReportResult(picked, 403, "", now, "key revoked");
  EXPECT_EQ(StateOf(**s, "oa", "main"), "disabled");
  int next = pool->Pick("", now);
  ASSERT_GE(next, 0);
  EXPECT_EQ(pool->config(next).id, "spare");
  pool->Release(next);

  AdminReply r = HandleAdmin(**s, "POST", "/admin/accounts/oa/main/enable", "");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonPtr j = Parse(r);
  EXPECT_EQ(JsonStrOr(j.get(), "enabled", ""), "main");
  EXPECT_EQ(StateOf(**s, "oa", "main"), "healthy");
  int again = pool->Pick("", now);
  ASSERT_GE(again, 0);
  EXPECT_EQ(pool->config(again).id, "main");
  pool->Release(again);
}

TEST(AdminAccounts, EnableErrors) {
  auto s = HubServices::Open(TestConfig(true));
  ASSERT_TRUE(s.ok()) << s.status().message();
  AdminReply r = HandleAdmin(**s, "POST", "/admin/accounts/nope/main/enable", "");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("nope"), std::string::npos) << r.body;
  r = HandleAdmin(**s, "POST", "/admin/accounts/oa/ghost/enable", "");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("ghost"), std::string::npos) << r.body;
  EXPECT_EQ(HandleAdmin(**s, "GET", "/admin/accounts/oa/main/enable", "").status, 405);
  EXPECT_EQ(HandleAdmin(**s, "POST", "/admin/accounts/oa/enable", "").status, 404);
  EXPECT_EQ(HandleAdmin(**s, "POST", "/admin/accounts/oa/main/disable", "").status, 404);
}

TEST(AdminKeys, BudgetRefusedWhileBookingIsOff) {
  auto off = HubServices::Open(TestConfig(false));
  ASSERT_TRUE(off.ok()) << off.status().message();
  AdminReply r = HandleAdmin(**off, "POST", "/admin/keys", R"({"name":"alice","daily_budget_usd":2})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("usage_booking"), std::string::npos) << r.body;
  EXPECT_EQ((*off)->keys().size(), 0u);
  r = HandleAdmin(**off, "POST", "/admin/keys", R"({"name":"bob","rpm":10})");
  EXPECT_EQ(r.status, 201) << r.body;

  auto on = HubServices::Open(TestConfig(true));
  ASSERT_TRUE(on.ok()) << on.status().message();
  r = HandleAdmin(**on, "POST", "/admin/keys", R"({"name":"alice","daily_budget_usd":2})");
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST(HubServicesBooking, OffWritesNoRows) {
  HubConfig cfg = TestConfig(false);
  auto s = HubServices::Open(cfg);
  ASSERT_TRUE(s.ok()) << s.status().message();
  UsageRow row;
  row.ts = static_cast<double>(UnixMs()) / 1000;
  row.key_name = "k";
  row.input_tokens = 10;
  (*s)->Book(UsageRow(row));
  ASSERT_TRUE((*s)->ledger().Flush().ok());
  EXPECT_EQ((*s)->ledger().stats().booked, 0u);
  auto rows = (*s)->ledger().Query(UsageGroup::kKey, 0);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());

  // A reload that turns booking on takes effect for the next request.
  cfg.usage_booking = true;
  ASSERT_TRUE((*s)->Reload(cfg).ok());
  (*s)->Book(UsageRow(row));
  ASSERT_TRUE((*s)->ledger().Flush().ok());
  rows = (*s)->ledger().Query(UsageGroup::kKey, 0);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].group, "k");
  EXPECT_EQ((*rows)[0].input_tokens, 10);
}

}  // namespace
}  // namespace tether
