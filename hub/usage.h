// Usage ledger and prices. Every request the hub answers is booked as one
// UsageRow in a SQLite database (WAL). Book() only enqueues, so the loop
// thread never waits on the disk; a writer thread (in the background, so
// serving wins when CPUs are short; see WriterLoop) commits the queue in one
// transaction at least once per second, so a crash loses at most about a
// second of rows and a clean stop (Flush or destructor) loses none. Rows are
// stored a batch at a time (table usage_batches, JSON text) and read back a
// row per request through the view `usage`, whose columns are UsageRow's.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace tether {

// One booked request. The text fields view the caller's strings: Book()
// copies them into the queue, so they need only outlive that call.
struct UsageRow {
  double ts = 0;  // unix seconds (fractional) when the request started
  std::string_view request_id, key_name, tenant, client_family;
  std::string_view model_requested, model_used, provider, account;
  int status = 0;
  // Token counts, normalised across providers: input_tokens excludes cache
  // reads and writes (OpenAI's prompt_tokens minus cached_tokens; Anthropic's
  // input_tokens as is); output_tokens includes reasoning_tokens, which are
  // shown separately but billed once, as output.
  int64_t input_tokens = 0, output_tokens = 0;
  int64_t cache_read_tokens = 0, cache_write_tokens = 0, reasoning_tokens = 0;
  bool estimated = false;  // counts estimated by the hub (stream cut, provider sent none)
  int64_t ttfb_ms = 0, duration_ms = 0;
  double cost_usd = 0;
};

enum class UsageGroup { kKey, kTenant, kModel, kProvider };

struct UsageTotals {
  std::string group;  // the key name, tenant, model_used or provider
  int64_t requests = 0;
  int64_t input_tokens = 0, output_tokens = 0, cache_read_tokens = 0, cache_write_tokens = 0, reasoning_tokens = 0;
  double cost_usd = 0;
};

class UsageLedger {
 public:
  // Opens or creates the database at `path` (table `usage`) and starts the
  // writer thread. flush_interval_ms: the longest a booked row waits.
  static Result<std::unique_ptr<UsageLedger>> Open(const std::string& path, int flush_interval_ms = 1000);
  // Drains the queue to disk, then stops the writer (the SIGTERM path).
  ~UsageLedger();
  UsageLedger(const UsageLedger&) = delete;
  UsageLedger& operator=(const UsageLedger&) = delete;

  // Copies a row into the queue; never touches the disk. Thread-safe. When
  // the queue is over its bound (a stalled disk) the row is dropped and
  // counted.
  void Book(const UsageRow& row);
  // Blocks until every row booked before the call is committed (or failed).
  // The error, if any, is the last write failure.
  Status Flush();
  // Totals per group for rows with ts >= since_unix, committed rows only
  // (Flush first to include the queue), largest cost first.
  Result<std::vector<UsageTotals>> Query(UsageGroup group_by, double since_unix);

  struct Stats {
    uint64_t booked = 0, written = 0, failed = 0, dropped = 0, batches = 0;
  };
  Stats stats() const;

 private:
  UsageLedger() = default;
  void WriterLoop();
  Status WriteBatch(const std::vector<UsageRow>& rows);  // writer thread only
  // Appends `row` to queue_ as one packed record (mu_ held).
  void Pack(const UsageRow& row);
  // The records of a packed batch, as rows viewing `packed`.
  static void Unpack(const std::string& packed, std::vector<UsageRow>* rows);

  std::string path_;
  int flush_interval_ms_ = 1000;
  sqlite3* db_ = nullptr;         // writer connection, owned
  sqlite3_stmt* insert_ = nullptr;  // INSERT INTO usage_batches ..., prepared on db_
  std::vector<char> record_buf_;    // room for a record's JSON text, kept between batches. Writer only.
  std::mutex query_mu_;
  sqlite3* query_db_ = nullptr;  // reader connection (WAL lets it read while the writer writes)

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  // Booked rows, packed back to back: a fixed-size head, then the text
  // fields' bytes. The writer swaps the whole string for the one it has just
  // written and cleared, so in steady state booking allocates nothing, and
  // no memory is freed on a thread other than the one that allocated it.
  std::string queue_;
  size_t queued_rows_ = 0;
  uint64_t first_queued_ms_ = 0;  // NowMs() when the oldest queued row came
  uint64_t booked_ = 0, done_ = 0, flush_target_ = 0;
  Stats stats_;
  Status last_error_;
  bool stop_ = false;
  std::thread writer_;
};

// Whether the writer thread writes a batch in the background (SCHED_IDLE):
// given how long the batch's oldest row has waited, the flush interval, and
// whether a Flush or the shutdown waits for it.
bool WriteInBackground(uint64_t oldest_age_ms, int interval_ms, bool waited_for);

// USD per million tokens.
struct Price {
  double input = 0, output = 0, cache_read = 0, cache_write = 0;
};

// Prices from etc/prices.json: {"<provider type>": {"<model glob>": {"input",
// "output", "cache_read", "cache_write"}}}. Globs are tried in file order,
// so put specific ones ("gpt-4o-mini*") before general ones ("gpt-4o*").
class PriceTable {
 public:
  static Result<PriceTable> Load(const std::string& path);
  static Result<PriceTable> Parse(std::string_view json_text, const std::string& file_name);
  // provider: the provider type ("openai", "anthropic", "gemini"); a type
  // like "openai-responses" falls back to "openai", then the "*" section.
  std::optional<Price> PriceFor(std::string_view provider, std::string_view model) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string provider, glob;
    Price price;
  };
  std::vector<Entry> entries_;
};

double CostUsd(const UsageRow& row, const Price& price);

}  // namespace tether
