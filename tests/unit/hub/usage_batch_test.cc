// The ledger writes each batch with one INSERT ... SELECT from a virtual
// table over the queued rows: every column of every row must land where it
// belongs whatever the batch size.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

// Every column of the row with this request id, as text, in table order.
std::string RowText(sqlite3* db, int i) {
  sqlite3_stmt* s = nullptr;
  std::string sql =
      "SELECT ts, request_id, key_name, tenant, client_family, model_requested, model_used, provider, account, status,"
      " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, ttfb_ms,"
      " duration_ms, cost_usd FROM usage WHERE request_id = 'req-" + std::to_string(i) + "'";
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string out;
  if (s && sqlite3_step(s) == SQLITE_ROW) {
    for (int c = 0; c < 19; ++c) {
      const unsigned char* t = sqlite3_column_text(s, c);
      out += (c ? "|" : "") + std::string(t ? reinterpret_cast<const char*>(t) : "NULL");
    }
    if (sqlite3_step(s) != SQLITE_DONE) out += " (more than one row)";
  }
  sqlite3_finalize(s);
  return out;
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
  // From one row to a few thousand, below the writer's wake-up batch (4096): one transaction each.
  for (int n : {1, 2, 33, 97, 4000}) {
    std::string path = ::testing::TempDir() + "usage_batch_" + std::to_string(getpid()) + "_" + std::to_string(n) + ".db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    {
      auto ledger = UsageLedger::Open(path, 60'000);
      ASSERT_TRUE(ledger.ok()) << ledger.status().message();
      for (int i = 0; i < n; ++i) (*ledger)->Book(NumberedRow(i).row());
      ASSERT_TRUE((*ledger)->Flush().ok());
      EXPECT_EQ((*ledger)->stats().written, static_cast<uint64_t>(n));
      EXPECT_EQ((*ledger)->stats().batches, 1u) << "one transaction for the whole queue";
    }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* count = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM usage", -1, &count, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(count, 0), n);
    sqlite3_finalize(count);
    for (int i = 0; i < n; ++i) EXPECT_EQ(RowText(db, i), Expected(i)) << "n=" << n << " row " << i;
    sqlite3_close(db);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
}

}  // namespace
}  // namespace tether
