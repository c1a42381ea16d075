// The ledger stores rows a batch at a time, as JSON records in
// usage_batches, and shows them through the `usage` view: every column of
// every row must come back where it belongs whatever the batch size, records
// split where the batch is larger than one, and an earlier hub's table of
// rows moves over whole.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <string>
#include <vector>

#include "hub/usage.h"

namespace tether {
namespace {

// Row i, with its own strings: row() views them, so a NumberedRow must
// outlive the Book() of its row.
struct NumberedRow {
  explicit NumberedRow(int i)
      : i(i),
        request_id("req-" + std::to_string(i)),
        key_name("key-" + std::to_string(i % 7)),
        tenant("t" + std::to_string(i % 3)),
        model_requested("req-model-" + std::to_string(i)),
        model_used("used-model-" + std::to_string(i)),
        provider("p" + std::to_string(i % 5)),
        account("a" + std::to_string(i % 4)) {}
  UsageRow row() const {
    UsageRow r;
    r.ts = 1700000000 + i;
    r.request_id = request_id;
    r.key_name = key_name;
    r.tenant = tenant;
    r.client_family = i % 2 ? "codex" : "claude_code";
    r.model_requested = model_requested;
    r.model_used = model_used;
    r.provider = provider;
    r.account = account;
    r.status = 200 + i;
    r.input_tokens = 1000 + i;
    r.output_tokens = 2000 + i;
    r.cache_read_tokens = 3000 + i;
    r.cache_write_tokens = 4000 + i;
    r.reasoning_tokens = 5000 + i;
    r.estimated = i % 2 == 0;
    r.ttfb_ms = 6000 + i;
    r.duration_ms = 7000 + i;
    r.cost_usd = i / 1000.0;
    return r;
  }
  int i;
  std::string request_id, key_name, tenant, model_requested, model_used, provider, account;
};

// Every column of every row of the usage view, as text, one string a row,
// in id order.
std::vector<std::string> RowsText(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  const char* sql =
      "SELECT ts, request_id, key_name, tenant, client_family, model_requested, model_used, provider, account, status,"
      " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, ttfb_ms,"
      " duration_ms, cost_usd FROM usage ORDER BY id";
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::vector<std::string> rows;
  while (s && sqlite3_step(s) == SQLITE_ROW) {
    std::string out;
    for (int c = 0; c < 19; ++c) {
      const unsigned char* t = sqlite3_column_text(s, c);
      out += (c ? "|" : "") + std::string(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    rows.push_back(out);
  }
  sqlite3_finalize(s);
  return rows;
}

int64_t Count(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t n = s && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return n;
}

std::string TempPath(const std::string& tag) {
  std::string path = ::testing::TempDir() + "usage_batch_" + std::to_string(getpid()) + "_" + tag + ".db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  return path;
}

std::string Expected(int i) {
  NumberedRow numbered(i);
  UsageRow r = numbered.row();
  sqlite3* db = nullptr;
  sqlite3_open(":memory:", &db);
  // Let SQLite render the two REAL columns the way it stores them.
  auto real = [db](double v) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT CAST(? AS REAL)", -1, &s, nullptr);
    sqlite3_bind_double(s, 1, v);
    sqlite3_step(s);
    std::string t = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return t;
  };
  std::string out = real(r.ts) + "|" + std::string(r.request_id) + "|" + std::string(r.key_name) + "|" +
                    std::string(r.tenant) + "|" + std::string(r.client_family) + "|" + std::string(r.model_requested) +
                    "|" + std::string(r.model_used) + "|" + std::string(r.provider) + "|" + std::string(r.account) + "|" +
                    std::to_string(r.status) + "|" + std::to_string(r.input_tokens) + "|" +
                    std::to_string(r.output_tokens) + "|" + std::to_string(r.cache_read_tokens) + "|" +
                    std::to_string(r.cache_write_tokens) + "|" + std::to_string(r.reasoning_tokens) + "|" +
                    (r.estimated ? "1" : "0") + "|" + std::to_string(r.ttfb_ms) + "|" + std::to_string(r.duration_ms) +
                    "|" + real(r.cost_usd);
  sqlite3_close(db);
  return out;
}

TEST(UsageLedgerBatch, EveryColumnOfEveryRowWhateverTheBatchSize) {
  // From one row to more than two records' worth (4,096 rows a record).
  // Below the writer's wake-up batch (1,024 rows) the queue is one
  // transaction and one record; past it the writer may be woken while the
  // test books, and a record never holds more than 4,096 rows.
  for (int n : {1, 2, 33, 1023, 4097, 10000}) {
    std::string path = TempPath(std::to_string(n));
    {
      auto ledger = UsageLedger::Open(path, 60'000);
      ASSERT_TRUE(ledger.ok()) << ledger.status().message();
      for (int i = 0; i < n; ++i) (*ledger)->Book(NumberedRow(i).row());
      ASSERT_TRUE((*ledger)->Flush().ok());
      EXPECT_EQ((*ledger)->stats().written, static_cast<uint64_t>(n));
      if (n < 1024) {
        EXPECT_EQ((*ledger)->stats().batches, 1u) << "one transaction for the whole queue";
      }
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    if (n < 1024) {
      EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM usage_batches"), 1);
    }
    EXPECT_LE(Count(db, "SELECT MAX(n) FROM usage_batches"), 4096) << n;
    EXPECT_EQ(Count(db, "SELECT SUM(n) FROM usage_batches"), n);
    EXPECT_EQ(Count(db, "SELECT COUNT(DISTINCT id) FROM usage"), n) << "ids are unique";
    std::vector<std::string> rows = RowsText(db);
    ASSERT_EQ(rows.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) ASSERT_EQ(rows[i], Expected(i)) << "n=" << n << " row " << i;
    sqlite3_close(db);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
}

TEST(UsageLedgerBatch, NumbersKeepTheirTypeAndPrecision) {
  std::string path = TempPath("numbers");
  auto ledger = UsageLedger::Open(path, 60'000);
  ASSERT_TRUE(ledger.ok());
  const double costs[] = {0, 0.1, 1.5e-9, 123.456789012345, 1e30, std::nan(""), -2.25};
  std::vector<std::string> ids;
  for (size_t i = 0; i < std::size(costs); ++i) ids.push_back("n" + std::to_string(i));
  for (size_t i = 0; i < std::size(costs); ++i) {
    UsageRow r;
    r.ts = 1'800'000'000.1234564 + static_cast<double>(i);
    r.request_id = ids[i];
    r.cost_usd = costs[i];
    r.input_tokens = INT64_MAX - static_cast<int64_t>(i);
    r.status = -1;
    (*ledger)->Book(r);
  }
  ASSERT_TRUE((*ledger)->Flush().ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT ts, cost_usd, typeof(ts), typeof(cost_usd), input_tokens, status FROM usage ORDER BY id",
                               -1, &s, nullptr),
            SQLITE_OK);
  for (size_t i = 0; i < std::size(costs); ++i) {
    ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
    // ts to the microsecond, REAL even when whole.
    EXPECT_NEAR(sqlite3_column_double(s, 0), 1'800'000'000.123456 + static_cast<double>(i), 1e-6) << i;
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)), "real");
    if (std::isnan(costs[i])) {
      EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 3)), "null") << "JSON has no NaN";
    } else {
      EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 3)), "real") << i;
      // To a millionth of a millionth of a dollar; past int64 of those, exact.
      EXPECT_NEAR(sqlite3_column_double(s, 1), costs[i], costs[i] > 1e6 ? 0 : 1e-12) << i;
    }
    EXPECT_EQ(sqlite3_column_int64(s, 4), INT64_MAX - static_cast<int64_t>(i));
    EXPECT_EQ(sqlite3_column_int(s, 5), -1);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

TEST(UsageLedgerBatch, QueryReadsEscapedNamesShorterAndLongerRowsAndRefusesAGarbledRecord) {
  std::string path = TempPath("query");
  auto ledger = UsageLedger::Open(path, 60'000);
  ASSERT_TRUE(ledger.ok());
  const std::string odd_key = "al\"ice\\ \xc3\xa9\n";  // a quote, a backslash, UTF-8, a control byte
  UsageRow r;
  r.ts = 1'800'000'000;
  r.key_name = odd_key;
  r.input_tokens = 7;
  r.cost_usd = 0.5;
  (*ledger)->Book(r);
  ASSERT_TRUE((*ledger)->Flush().ok());
  {
    // A row from a hub with fewer columns, and one from a hub with more.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* sql =
        "INSERT INTO usage_batches(min_ts, max_ts, n, rows) VALUES (1800000001, 1800000002, 2,"
        " '[[1800000001.0,\"r1\",\"short\"],"
        "  [1800000002.0,\"r2\",\"long\",\"t\",\"f\",\"m\",\"m\",\"p\",\"a\",200,3,4,5,6,0,0,1,2,0.25,\"extra\",9]]')";
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  auto totals = (*ledger)->Query(UsageGroup::kKey, 0);
  ASSERT_TRUE(totals.ok()) << totals.status().message();
  ASSERT_EQ(totals->size(), 3u);
  EXPECT_EQ((*totals)[0].group, odd_key);  // the largest cost first
  EXPECT_EQ((*totals)[0].input_tokens, 7);
  EXPECT_EQ((*totals)[1].group, "long");
  EXPECT_EQ((*totals)[1].input_tokens, 3);
  EXPECT_EQ((*totals)[1].cache_write_tokens, 6);
  EXPECT_DOUBLE_EQ((*totals)[1].cost_usd, 0.25);
  EXPECT_EQ((*totals)[2].group, "short");
  EXPECT_EQ((*totals)[2].requests, 1);
  EXPECT_EQ((*totals)[2].input_tokens, 0);
  // A later `since` leaves out the older rows.
  totals = (*ledger)->Query(UsageGroup::kKey, 1'800'000'001.5);
  ASSERT_TRUE(totals.ok());
  ASSERT_EQ(totals->size(), 1u);
  EXPECT_EQ((*totals)[0].group, "long");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE usage_batches SET rows = '[[1800000003.0,\"r3\",\"cut' WHERE n = 2", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  totals = (*ledger)->Query(UsageGroup::kKey, 0);
  ASSERT_FALSE(totals.ok());
  EXPECT_NE(totals.status().message().find(path), std::string::npos) << totals.status().message();
  EXPECT_NE(totals.status().message().find("usage_batches"), std::string::npos) << totals.status().message();
}

TEST(UsageLedgerBatch, AnEarlierHubsRowTableMovesOverWhole) {
  // The schema hubs before usage_batches wrote: a row per request.
  std::string path = TempPath("migrate");
  const int n = 5000;  // more than one record
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    const char* old_schema =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE usage ("
        " id INTEGER PRIMARY KEY, ts REAL NOT NULL, request_id TEXT, key_name TEXT, tenant TEXT,"
        " client_family TEXT, model_requested TEXT, model_used TEXT, provider TEXT, account TEXT,"
        " status INTEGER, input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER,"
        " cache_write_tokens INTEGER, reasoning_tokens INTEGER, estimated INTEGER, ttfb_ms INTEGER,"
        " duration_ms INTEGER, cost_usd REAL);"
        "CREATE INDEX usage_ts ON usage(ts);";
    ASSERT_EQ(sqlite3_exec(db, old_schema, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO usage VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 -1, &insert, nullptr),
              SQLITE_OK);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int i = 0; i < n; ++i) {
      NumberedRow numbered(i);
      UsageRow r = numbered.row();
      int c = 1;
      sqlite3_bind_double(insert, c++, r.ts);
      for (std::string_view t : {r.request_id, r.key_name, r.tenant, r.client_family, r.model_requested, r.model_used,
                                 r.provider, r.account})
        sqlite3_bind_text(insert, c++, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
      sqlite3_bind_int(insert, c++, r.status);
      for (int64_t v : {r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens, r.reasoning_tokens})
        sqlite3_bind_int64(insert, c++, v);
      sqlite3_bind_int(insert, c++, r.estimated);
      sqlite3_bind_int64(insert, c++, r.ttfb_ms);
      sqlite3_bind_int64(insert, c++, r.duration_ms);
      sqlite3_bind_double(insert, c++, r.cost_usd);
      ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
      sqlite3_reset(insert);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  const double since = 1700000000 + n / 2;  // the later half
  for (int open = 0; open < 2; ++open) {  // the second open finds nothing to move
    auto ledger = UsageLedger::Open(path, 60'000);
    ASSERT_TRUE(ledger.ok()) << ledger.status().message();
    auto totals = (*ledger)->Query(UsageGroup::kProvider, since);
    ASSERT_TRUE(totals.ok()) << totals.status().message();
    int64_t requests = 0, input = 0;
    for (const UsageTotals& t : *totals) requests += t.requests, input += t.input_tokens;
    EXPECT_EQ(requests, n - n / 2);
    int64_t expected_input = 0;
    for (int i = n / 2; i < n; ++i) expected_input += 1000 + i;
    EXPECT_EQ(input, expected_input);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage' AND type = 'view'"), 1);
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage_ts'"), 0);
  // One transaction of 5,000 rows: a full record and the rest.
  EXPECT_EQ(Count(db, "SELECT COUNT(*) FROM usage_batches"), 2);
  EXPECT_EQ(Count(db, "SELECT MAX(n) FROM usage_batches"), 4096);
  std::vector<std::string> rows = RowsText(db);
  ASSERT_EQ(rows.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(rows[i], Expected(i)) << "row " << i;
  sqlite3_close(db);
}

}  // namespace
}  // namespace tether
