#include "hub/usage.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace tether {
namespace {

std::string TempDb(const char* tag) {
  static int n = 0;
  std::string path = ::testing::TempDir() + "usage_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

// Reads straight from the file with a fresh connection, as a restarted hub
// or an operator's sqlite3 shell would.
struct Counts {
  int64_t rows = -1, input = -1, output = -1;
  double cost = -1;
};
Counts ReadBack(const std::string& path, const char* where = "1=1") {
  Counts c;
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string sql = std::string("SELECT COUNT(*), TOTAL(input_tokens), TOTAL(output_tokens), TOTAL(cost_usd) FROM usage WHERE ") + where;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  if (s && sqlite3_step(s) == SQLITE_ROW) {
    c.rows = sqlite3_column_int64(s, 0);
    c.input = static_cast<int64_t>(sqlite3_column_double(s, 1));
    c.output = static_cast<int64_t>(sqlite3_column_double(s, 2));
    c.cost = sqlite3_column_double(s, 3);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return c;
}

// The text fields view the arguments: pass strings that outlive Book().
UsageRow Row(std::string_view key, std::string_view tenant, std::string_view model, std::string_view provider, int64_t in,
             int64_t out, double cost,
             double ts = 1'800'000'000) {
  UsageRow r;
  r.ts = ts;
  r.request_id = "req";
  r.key_name = key;
  r.tenant = tenant;
  r.model_requested = model;
  r.model_used = model;
  r.provider = provider;
  r.status = 200;
  r.input_tokens = in;
  r.output_tokens = out;
  r.cost_usd = cost;
  return r;
}

TEST(UsageLedger, TenThousandRowsFromTwoThreadsSurviveReopen) {
  std::string path = TempDb("bulk");
  double book_ns = 0;
  {
    auto ledger = UsageLedger::Open(path);
    ASSERT_TRUE(ledger.ok()) << ledger.status().message();
    UsageLedger* l = ledger->get();
    auto worker = [l](int id, double* ns) {
      std::vector<std::string> ids;
      std::vector<UsageRow> rows;
      for (int i = 0; i < 5000; ++i) ids.push_back("r" + std::to_string(id) + "_" + std::to_string(i));
      for (int i = 0; i < 5000; ++i) {
        rows.push_back(Row(id == 0 ? "alice" : "bob", "u1", "gpt-4o", "openai", i, 2 * i, 0.001));
        rows.back().request_id = ids[i];
      }
      auto start = std::chrono::steady_clock::now();
      for (const UsageRow& r : rows) l->Book(r);
      *ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / 5000;
    };
    double ns0 = 0, ns1 = 0;
    std::thread t0(worker, 0, &ns0), t1(worker, 1, &ns1);
    t0.join();
    t1.join();
    book_ns = (ns0 + ns1) / 2;
    auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(l->Flush().ok());
    double flush_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::printf("UsageLedger: Book %.0f ns/row (2 threads), Flush of the rest %.1f ms\n", book_ns, flush_ms);
    UsageLedger::Stats st = l->stats();
    EXPECT_EQ(st.booked, 10000u);
    EXPECT_EQ(st.written, 10000u);
    EXPECT_EQ(st.dropped, 0u);
    EXPECT_EQ(st.failed, 0u);
    EXPECT_LT(st.batches, 100u);  // batched, not a transaction per row
  }
  Counts c = ReadBack(path);
  EXPECT_EQ(c.rows, 10000);
  // sum over i<5000 of i = 12,497,500, twice (two threads).
  EXPECT_EQ(c.input, 2 * 12497500);
  EXPECT_EQ(c.output, 4 * 12497500);
  EXPECT_NEAR(c.cost, 10.0, 1e-6);
  EXPECT_EQ(ReadBack(path, "key_name = 'alice'").rows, 5000);
  EXPECT_EQ(ReadBack(path, "request_id = 'r1_4999'").rows, 1);
  // The journal is WAL.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(UsageLedger, DestructorDrainsWithoutFlush) {
  std::string path = TempDb("drain");
  {
    auto ledger = UsageLedger::Open(path, 60'000);  // the tick alone would not write in time
    ASSERT_TRUE(ledger.ok());
    for (int i = 0; i < 777; ++i) (*ledger)->Book(Row("k", "", "m", "p", 1, 1, 0));
  }
  EXPECT_EQ(ReadBack(path).rows, 777);
}

TEST(UsageLedger, BookCopiesTheTextSoTheCallersStringsMayDieAtOnce) {
  std::string path = TempDb("copy");
  auto ledger = UsageLedger::Open(path, 60'000);
  ASSERT_TRUE(ledger.ok());
  UsageLedger& l = **ledger;
  for (int i = 0; i < 3; ++i) {
    // Long enough to live on the heap, and overwritten right after Book.
    std::string key(100, static_cast<char>('a' + i));
    std::string account = "account-with-a-long-name-" + std::to_string(i);
    std::string model = "model-with-a-long-name-" + std::to_string(i);
    UsageRow r = Row(key, "tenant-with-a-long-name", model, "provider-x", 7, 9, 0.5);
    r.account = account;
    r.client_family = "claude_code";
    r.estimated = true;
    r.reasoning_tokens = 3;
    r.ttfb_ms = 12;
    l.Book(r);
    key.assign(100, '#');
    account.assign(account.size(), '#');
    model.clear();
  }
  ASSERT_TRUE(l.Flush().ok());
  EXPECT_EQ(ReadBack(path).rows, 3);
  EXPECT_EQ(ReadBack(path).input, 21);
  for (int i = 0; i < 3; ++i) {
    std::string where = "key_name = '" + std::string(100, static_cast<char>('a' + i)) + "' AND account = 'account-with-a-long-name-" +
                        std::to_string(i) + "' AND model_used = 'model-with-a-long-name-" + std::to_string(i) +
                        "' AND tenant = 'tenant-with-a-long-name' AND client_family = 'claude_code' AND estimated = 1" +
                        " AND reasoning_tokens = 3 AND ttfb_ms = 12";
    EXPECT_EQ(ReadBack(path, where.c_str()).rows, 1) << i;
  }
  EXPECT_EQ(ReadBack(path, "key_name LIKE '%#%' OR account LIKE '%#%' OR model_used = ''").rows, 0);
}

TEST(UsageLedger, EmptyAndLargeTextFieldsRoundTrip) {
  std::string path = TempDb("sizes");
  auto ledger = UsageLedger::Open(path, 60'000);
  ASSERT_TRUE(ledger.ok());
  // A client may ask for any model name; the ledger keeps it whole.
  const std::string big(70'000, 'm');
  (*ledger)->Book(Row("", "", big, "", 1, 2, 0));
  (*ledger)->Book(Row("k", "", "", "p", 3, 4, 0));
  ASSERT_TRUE((*ledger)->Flush().ok());
  EXPECT_EQ(ReadBack(path, ("model_used = '" + big + "' AND key_name = ''").c_str()).rows, 1);
  EXPECT_EQ(ReadBack(path, "model_used = '' AND key_name = 'k' AND input_tokens = 3").rows, 1);
}

// /proc/self/task/TID/stat fields of the ledger's writer thread (found by
// its name), from field 3 (state) on; empty when there is none.
std::vector<std::string> WriterStat() {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "usage-writer") continue;
    std::ifstream stat(task.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::vector<std::string> fields;
    for (std::string f; rest >> f;) fields.push_back(f);
    return fields;
  }
  return {};
}

TEST(UsageLedger, WriterWaitsAtNiceTenSoTheLoopNeverWaitsOnAnIdleOnlyThread) {
  std::string path = TempDb("policy");
  auto ledger = UsageLedger::Open(path, 60'000);
  ASSERT_TRUE(ledger.ok());
  for (int i = 0; i < 100; ++i) (*ledger)->Book(Row("k", "", "m", "p", 1, 1, 0));
  ASSERT_TRUE((*ledger)->Flush().ok());
  // Between batches (when it may hold the lock Book() takes) the writer is
  // SCHED_OTHER at nice 10, whatever it wrote the batch at. Fields 19 (nice)
  // and 41 (policy), counted from 1, are at 16 and 38 from field 3.
  std::vector<std::string> f;
  for (int i = 0; i < 100; ++i) {  // the thread names itself as it starts
    f = WriterStat();
    if (!f.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(f.size(), 38u) << "no thread named usage-writer";
  EXPECT_EQ(f[16], "10");
  EXPECT_EQ(f[38], "0");  // SCHED_OTHER
}

TEST(UsageLedger, BatchesGoToTheBackgroundUnlessTheWriterIsBehindOrAwaited) {
  EXPECT_TRUE(WriteInBackground(0, 1000, false));
  EXPECT_TRUE(WriteInBackground(1000, 1000, false));   // the usual tick
  EXPECT_TRUE(WriteInBackground(2000, 1000, false));
  EXPECT_FALSE(WriteInBackground(2001, 1000, false));  // starved for two ticks: catch up
  EXPECT_FALSE(WriteInBackground(5, 1000, true));      // a Flush or the shutdown waits
}

TEST(UsageLedger, AQueueOverItsByteBoundDropsAndCountsRatherThanGrowing) {
  std::string path = TempDb("bound");
  // The tick (60 s) and the wake-up batch (1,024 rows) are both far off, so
  // nothing is written while the queue fills: rows of just over 1 MiB (a
  // 512 KiB model name, requested and used) reach the 64 MiB bound at the
  // 65th row.
  auto ledger = UsageLedger::Open(path, 60'000);
  ASSERT_TRUE(ledger.ok());
  const std::string model(512 << 10, 'm');
  for (int i = 0; i < 70; ++i) (*ledger)->Book(Row("k", "", model, "p", 1, 1, 0));
  EXPECT_EQ((*ledger)->stats().booked, 64u);
  EXPECT_EQ((*ledger)->stats().dropped, 6u);
  ASSERT_TRUE((*ledger)->Flush().ok());
  EXPECT_EQ(ReadBack(path).rows, 64);
  {
    // Records close at 8 MiB of JSON: eight rows of just over 1 MiB each.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(n) FROM usage_batches", -1, &s, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(s, 0), 8);
    EXPECT_EQ(sqlite3_column_int(s, 1), 8);
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  // The writer frees the oversized buffer; booking goes on as usual.
  (*ledger)->Book(Row("k", "", "small", "p", 2, 2, 0));
  ASSERT_TRUE((*ledger)->Flush().ok());
  EXPECT_EQ(ReadBack(path, "model_used = 'small' AND input_tokens = 2").rows, 1);
}

TEST(UsageLedger, WriterCommitsWithinTheIntervalWithoutFlush) {
  std::string path = TempDb("tick");
  auto ledger = UsageLedger::Open(path, 200);
  ASSERT_TRUE(ledger.ok());
  (*ledger)->Book(Row("k", "", "m", "p", 1, 1, 0));
  // Nothing forces a write; the writer's tick must. Poll up to 3 s.
  int64_t rows = 0;
  for (int i = 0; i < 60 && rows == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    rows = ReadBack(path).rows;
  }
  EXPECT_EQ(rows, 1);
}

TEST(UsageLedger, QueryGroupsAndFiltersByTime) {
  std::string path = TempDb("query");
  auto ledger = UsageLedger::Open(path);
  ASSERT_TRUE(ledger.ok());
  UsageLedger* l = ledger->get();
  l->Book(Row("alice", "u1", "claude-sonnet-4-5", "anthropic", 100, 10, 1.0));
  l->Book(Row("alice", "u1", "gpt-4o", "openai", 200, 20, 2.0));
  l->Book(Row("bob", "u2", "gpt-4o", "openai", 300, 30, 4.0));
  l->Book(Row("bob", "u2", "gpt-4o", "openai", 999, 999, 99.0, 1'700'000'000));  // old
  UsageRow cached = Row("carol", "u1", "claude-sonnet-4-5", "anthropic", 5, 5, 0.5);
  cached.cache_read_tokens = 1000;
  cached.cache_write_tokens = 50;
  cached.reasoning_tokens = 3;
  l->Book(cached);
  ASSERT_TRUE(l->Flush().ok());

  auto by_key = l->Query(UsageGroup::kKey, 1'750'000'000);
  ASSERT_TRUE(by_key.ok()) << by_key.status().message();
  ASSERT_EQ(by_key->size(), 3u);
  EXPECT_EQ((*by_key)[0].group, "bob");  // largest cost first
  EXPECT_EQ((*by_key)[0].requests, 1);
  EXPECT_DOUBLE_EQ((*by_key)[0].cost_usd, 4.0);
  EXPECT_EQ((*by_key)[1].group, "alice");
  EXPECT_EQ((*by_key)[1].requests, 2);
  EXPECT_EQ((*by_key)[1].input_tokens, 300);
  EXPECT_EQ((*by_key)[1].output_tokens, 30);
  EXPECT_EQ((*by_key)[2].group, "carol");
  EXPECT_EQ((*by_key)[2].cache_read_tokens, 1000);
  EXPECT_EQ((*by_key)[2].cache_write_tokens, 50);
  EXPECT_EQ((*by_key)[2].reasoning_tokens, 3);

  auto by_tenant = l->Query(UsageGroup::kTenant, 1'750'000'000);
  ASSERT_TRUE(by_tenant.ok());
  ASSERT_EQ(by_tenant->size(), 2u);
  EXPECT_EQ((*by_tenant)[0].group, "u2");
  EXPECT_EQ((*by_tenant)[1].group, "u1");
  EXPECT_EQ((*by_tenant)[1].requests, 3);
  EXPECT_DOUBLE_EQ((*by_tenant)[1].cost_usd, 3.5);

  auto by_model = l->Query(UsageGroup::kModel, 0);  // everything, the old row too
  ASSERT_TRUE(by_model.ok());
  ASSERT_EQ(by_model->size(), 2u);
  EXPECT_EQ((*by_model)[0].group, "gpt-4o");
  EXPECT_EQ((*by_model)[0].requests, 3);
  EXPECT_DOUBLE_EQ((*by_model)[0].cost_usd, 105.0);

  auto by_provider = l->Query(UsageGroup::kProvider, 1'750'000'000);
  ASSERT_TRUE(by_provider.ok());
  ASSERT_EQ(by_provider->size(), 2u);
  EXPECT_EQ((*by_provider)[0].group, "openai");
  EXPECT_EQ((*by_provider)[0].input_tokens, 500);
  EXPECT_EQ((*by_provider)[1].group, "anthropic");
  EXPECT_EQ((*by_provider)[1].requests, 2);

  auto none = l->Query(UsageGroup::kKey, 1'900'000'000);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(UsageLedger, OpenFailureNamesThePath) {
  auto ledger = UsageLedger::Open("/nonexistent-dir/for/sure/usage.db");
  ASSERT_FALSE(ledger.ok());
  EXPECT_NE(ledger.status().message().find("/nonexistent-dir/for/sure/usage.db"), std::string::npos);
}

TEST(Prices, ExampleTableLoadsAndMatchesSpecificGlobsFirst) {
  auto t = PriceTable::Load("etc/prices.json");  // run from the repo root
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_GE(t->size(), 10u);
  auto sonnet = t->PriceFor("anthropic", "claude-sonnet-4-5-20250929");
  ASSERT_TRUE(sonnet);
  EXPECT_DOUBLE_EQ(sonnet->input, 3.0);
  EXPECT_DOUBLE_EQ(sonnet->cache_write, 3.75);
  auto mini = t->PriceFor("openai", "gpt-4o-mini-2024-07-18");
  ASSERT_TRUE(mini);
  EXPECT_DOUBLE_EQ(mini->input, 0.15);  // not gpt-4o*'s 2.50
  auto four_o = t->PriceFor("openai-responses", "gpt-4o");  // falls back to the openai section
  ASSERT_TRUE(four_o);
  EXPECT_DOUBLE_EQ(four_o->input, 2.5);
  auto lite = t->PriceFor("gemini", "gemini-2.5-flash-lite");
  ASSERT_TRUE(lite);
  EXPECT_DOUBLE_EQ(lite->output, 0.40);
  EXPECT_FALSE(t->PriceFor("anthropic", "gpt-4o"));
  EXPECT_FALSE(t->PriceFor("openai", "some-local-model"));
}

TEST(Prices, CostAndWildcardSectionAndErrors) {
  auto t = PriceTable::Parse(R"({"_comment":"x","anthropic":{"claude-*":{"input":3,"output":15,"cache_read":0.3,"cache_write":3.75}},
      "*":{"*":{"input":1,"output":2}}})", "p.json");
  ASSERT_TRUE(t.ok()) << t.status().message();
  UsageRow r;
  r.input_tokens = 1'000'000;
  r.output_tokens = 200'000;  // of which reasoning:
  r.reasoning_tokens = 50'000;
  r.cache_read_tokens = 2'000'000;
  r.cache_write_tokens = 100'000;
  auto p = t->PriceFor("anthropic", "claude-x");
  ASSERT_TRUE(p);
  // 3 + 0.2*15 + 2*0.3 + 0.1*3.75 = 3 + 3 + 0.6 + 0.375
  EXPECT_NEAR(CostUsd(r, *p), 6.975, 1e-12);
  auto any = t->PriceFor("ollama", "llama3");
  ASSERT_TRUE(any);
  EXPECT_NEAR(CostUsd(r, *any), 1.0 + 0.4, 1e-12);
  EXPECT_DOUBLE_EQ(CostUsd(UsageRow{}, *p), 0);

  auto bad = PriceTable::Parse(R"({"openai":{"gpt-4o":{"input":"cheap"}}})", "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("p.json: openai.gpt-4o.input"), std::string::npos) << bad.status().message();
  bad = PriceTable::Parse(R"({"openai":{"gpt-4o":{"inptu":1}}})", "p.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("inptu"), std::string::npos);
}

}  // namespace
}  // namespace tether
