#include "hub/usage.h"

#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "common/json.h"
#include "common/json_scan.h"
#include "common/metrics.h"
#include "hub/model_resolver.h"

namespace tether {
namespace {

// At this many queued rows the writer is woken at once rather than at the
// next tick. Small, so the queue's buffer (some 200 KB at this size) stays
// in cache and is reused: when the writer took a second's rows at a time,
// at 70k requests/s the loop thread appended to a 14 MB buffer regrown (and
// page-faulted in) every second, which cost the hub 6-8% of its requests/s
// (bench keys). Smaller batches cost the writer more per row.
constexpr size_t kWakeBatch = 1024;
// A stalled disk must not grow the hub without bound: at most this many
// rows or bytes wait (a row is some 200 bytes).
constexpr size_t kMaxQueue = 300000;
constexpr size_t kMaxQueueBytes = 64u << 20;
// A written batch's buffer larger than this is freed rather than reused.
constexpr size_t kKeepBatchBytes = 4u << 20;

// A queued row's fixed part; its text fields' bytes follow it, in kTexts order.
struct PackedHead {
  double ts, cost_usd;
  int64_t input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, ttfb_ms, duration_ms;
  int32_t status;
  uint32_t estimated;
  uint32_t text_bytes[8];
};

constexpr std::string_view UsageRow::* kTexts[8] = {
    &UsageRow::request_id,      &UsageRow::key_name,   &UsageRow::tenant,   &UsageRow::client_family,
    &UsageRow::model_requested, &UsageRow::model_used, &UsageRow::provider, &UsageRow::account};

// ---- storage ----
//
// Rows are stored a batch at a time: one usage_batches record holds up to
// kRowsPerRecord rows as a JSON array of row arrays, columns in kColumns
// order. The `usage` view turns them back into one row per request with the
// columns' names, for reports and for an operator's sqlite3 shell.
//
// Why not a table with a row per request: SQLite spends some 8,400
// instructions per row on one (VDBE, record building, two B-tree inserts),
// about 1 µs of writer CPU per request, which at tens of thousands of
// requests a second on a busy 2-core hub cost a tenth of its requests/s
// (bench keys). A record per batch costs the encoding of the row and a
// share of one insert. New columns are appended to kColumns: an older
// batch's rows then read as NULL there.

// Rows per usage_batches record: a report parses one record at a time, so
// this bounds its memory (a few MB) however big a backlog the writer drains.
constexpr size_t kRowsPerRecord = 4096;
// A record is closed early past this many bytes of JSON (rows with huge
// text fields): reports parse it whole.
constexpr size_t kRecordBytes = 8u << 20;

constexpr const char* kColumns[] = {
    "ts", "request_id", "key_name", "tenant", "client_family", "model_requested", "model_used", "provider", "account",
    "status", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    "estimated", "ttfb_ms", "duration_ms", "cost_usd"};
constexpr int kColumnCount = sizeof kColumns / sizeof kColumns[0];

const char* kSchema =
    "CREATE TABLE IF NOT EXISTS usage_batches ("
    " id INTEGER PRIMARY KEY, min_ts REAL NOT NULL, max_ts REAL NOT NULL, n INTEGER NOT NULL, rows TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS usage_batches_max_ts ON usage_batches(max_ts);";

// CREATE VIEW usage: a row per request, ids ascending in booking order.
std::string ViewSql() {
  std::string sql = "CREATE VIEW IF NOT EXISTS usage AS SELECT b.id * " + std::to_string(kRowsPerRecord) +
                    " + r.key AS id";
  for (int c = 0; c < kColumnCount; ++c)
    sql += ", json_extract(r.value, '$[" + std::to_string(c) + "]') AS " + kColumns[c];
  return sql + " FROM usage_batches b, json_each(b.rows) r";
}

// The number writers below write at most this many bytes.
constexpr size_t kMaxNumberChars = 32;

char* WriteInt(char* out, int64_t v) { return std::to_chars(out, out + kMaxNumberChars, v).ptr; }

// `v` rounded to `decimals` (1..15) fractional digits, without trailing
// zeros but with at least one, so that SQLite reads it back as REAL. Integer
// arithmetic: std::to_chars' shortest form cost some 600 instructions a
// number, a sixth of a whole row's writing.
char* WriteFixed(char* out, double v, int decimals) {
  if (!std::isfinite(v)) {
    std::memcpy(out, "null", 4);  // JSON has no NaN or infinity
    return out + 4;
  }
  int64_t scale = 1;
  for (int d = 0; d < decimals; ++d) scale *= 10;
  const double scaled = v * static_cast<double>(scale);
  if (std::fabs(scaled) >= 9e18) return std::to_chars(out, out + kMaxNumberChars, v).ptr;  // past int64
  int64_t units = static_cast<int64_t>(scaled + (scaled < 0 ? -0.5 : 0.5));
  if (units < 0) {
    *out++ = '-';
    units = -units;
  }
  out = WriteInt(out, units / scale);
  *out++ = '.';
  int64_t fraction = units % scale;
  int n = decimals;
  for (; n > 1 && fraction % 10 == 0; --n) fraction /= 10;  // drop trailing zeros
  for (int d = n - 1; d >= 0; --d, fraction /= 10) out[d] = static_cast<char>('0' + fraction % 10);
  return out + n;
}

// Writes `r` as one JSON array, kColumns order (the view's and Query's), at
// `out`, which has room for RowJsonMaxSize(r) bytes; returns its end.
size_t RowJsonMaxSize(const UsageRow& r) {
  size_t n = 2 + kColumnCount * (kMaxNumberChars + 1);
  for (auto text : kTexts) n += JsonQuotedMaxSize((r.*text).size());
  return n;
}

char* WriteRowJson(char* out, const UsageRow& r) {
  *out++ = '[';
  out = WriteFixed(out, r.ts, 6);  // microseconds
  for (auto text : kTexts) {  // kColumns 1-8
    *out++ = ',';
    out = WriteJsonQuoted(out, r.*text);
  }
  for (int64_t v : {static_cast<int64_t>(r.status), r.input_tokens, r.output_tokens, r.cache_read_tokens,
                    r.cache_write_tokens, r.reasoning_tokens, static_cast<int64_t>(r.estimated ? 1 : 0), r.ttfb_ms,
                    r.duration_ms}) {
    *out++ = ',';
    out = WriteInt(out, v);
  }
  *out++ = ',';
  out = WriteFixed(out, r.cost_usd, 12);  // a millionth of a millionth of a dollar
  *out++ = ']';
  return out;
}

Status DbError(sqlite3* db, const std::string& path, const std::string& what) {
  return Status::Error(path + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

Status Exec(sqlite3* db, const std::string& path, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return Status::Error(path + ": " + msg);
  }
  return Status::Ok();
}

Result<sqlite3*> OpenDb(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    Status st = DbError(db, path, "open");
    sqlite3_close(db);
    return st;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

// A record being built: the JSON text of up to kRowsPerRecord rows, in
// `buf` (its size is the room; `len` bytes are written).
struct RecordBuilder {
  std::vector<char> buf;
  size_t len = 0, n = 0;
  double min_ts = 0, max_ts = 0;

  void Add(const UsageRow& r) {
    const size_t room = 1 + RowJsonMaxSize(r) + 1;  // a ',' or '[' before, the closing ']' after
    if (buf.size() - len < room) buf.resize(std::max(2 * buf.size(), len + room));
    buf[len++] = n ? ',' : '[';
    len = WriteRowJson(buf.data() + len, r) - buf.data();
    min_ts = n ? std::min(min_ts, r.ts) : r.ts;
    max_ts = n ? std::max(max_ts, r.ts) : r.ts;
    ++n;
  }
  // Inserts the record with `insert` (INSERT INTO usage_batches(min_ts,
  // max_ts, n, rows) VALUES (?, ?, ?, ?)) and starts the next one.
  int Write(sqlite3_stmt* insert) {
    buf[len++] = ']';
    sqlite3_bind_double(insert, 1, min_ts);
    sqlite3_bind_double(insert, 2, max_ts);
    sqlite3_bind_int64(insert, 3, static_cast<sqlite3_int64>(n));
    sqlite3_bind_text(insert, 4, buf.data(), static_cast<int>(len), SQLITE_STATIC);
    int rc = sqlite3_step(insert);
    sqlite3_reset(insert);
    sqlite3_clear_bindings(insert);
    len = n = 0;
    return rc;
  }
};

// Calls on_row(values) for each row of a record as WriteRowJson wrote it:
// a JSON array of flat arrays of numbers, strings and nulls. values[c] is
// the raw text of column c (a string with its quotes), empty where a row
// (from an older hub) has fewer columns. False when the text is not of that
// shape. Reading rows with cJSON took about 1.8 µs a row, most of a report.
template <typename OnRow>
bool ForEachRecordRow(std::string_view text, OnRow on_row) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t')) ++i;
  };
  auto take = [&](char c) {
    skip_space();
    if (i >= text.size() || text[i] != c) return false;
    ++i;
    return true;
  };
  if (!take('[')) return false;
  if (take(']')) return true;
  std::string_view values[kColumnCount];
  do {
    if (!take('[')) return false;
    for (auto& v : values) v = {};
    int c = 0;
    if (!take(']')) {
      do {
        skip_space();
        const size_t start = i;
        if (i < text.size() && text[i] == '"') {
          i = JsonStringEnd(text, i);
          if (i == std::string_view::npos) return false;
        } else {
          while (i < text.size() && text[i] != ',' && text[i] != ']' && text[i] != ' ') ++i;
          if (i == start) return false;
        }
        if (c < kColumnCount) values[c] = text.substr(start, i - start);
        ++c;  // columns past kColumns (a newer hub's) are skipped
      } while (take(','));
      if (!take(']')) return false;
    }
    on_row(values);
  } while (take(','));
  return take(']');
}

double ValueNumber(std::string_view raw) {
  double v = 0;
  if (std::from_chars(raw.data(), raw.data() + raw.size(), v).ec != std::errc()) return 0;  // null, a string
  return v;
}

int64_t ValueInt(std::string_view raw) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
  if (ec == std::errc() && end == raw.data() + raw.size()) return v;
  return static_cast<int64_t>(ValueNumber(raw));
}

constexpr const char* kInsertRecord = "INSERT INTO usage_batches(min_ts, max_ts, n, rows) VALUES (?, ?, ?, ?)";

std::string_view ColumnText(sqlite3_stmt* s, int c) {
  const unsigned char* t = sqlite3_column_text(s, c);
  return t ? std::string_view(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, c)) : std::string_view();
}

// Earlier hubs kept a table `usage` with a row per request. Its rows move
// into usage_batches, in id order, and the table (with its ts index) goes,
// so the view can take its name. Inside the caller's transaction.
Status MigrateRowTable(sqlite3* db, const std::string& path) {
  sqlite3_stmt* old = nullptr;
  std::string select = "SELECT ";
  for (int c = 0; c < kColumnCount; ++c) select += std::string(c ? ", " : "") + kColumns[c];
  select += " FROM usage ORDER BY id";
  if (sqlite3_prepare_v2(db, select.c_str(), -1, &old, nullptr) != SQLITE_OK) return DbError(db, path, "migrate usage");
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, kInsertRecord, -1, &insert, nullptr) != SQLITE_OK) {
    sqlite3_finalize(old);
    return DbError(db, path, "migrate usage");
  }
  RecordBuilder record;
  int rc;
  size_t moved = 0;
  while ((rc = sqlite3_step(old)) == SQLITE_ROW) {
    UsageRow r;
    r.ts = sqlite3_column_double(old, 0);
    for (int c = 0; c < 8; ++c) r.*kTexts[c] = ColumnText(old, 1 + c);  // valid until the next step: added at once
    r.status = sqlite3_column_int(old, 9);
    int64_t* ints[] = {&r.input_tokens, &r.output_tokens, &r.cache_read_tokens, &r.cache_write_tokens,
                       &r.reasoning_tokens};
    for (int c = 0; c < 5; ++c) *ints[c] = sqlite3_column_int64(old, 10 + c);
    r.estimated = sqlite3_column_int(old, 15) != 0;
    r.ttfb_ms = sqlite3_column_int64(old, 16);
    r.duration_ms = sqlite3_column_int64(old, 17);
    r.cost_usd = sqlite3_column_double(old, 18);
    record.Add(r);
    ++moved;
    if ((record.n == kRowsPerRecord || record.len >= kRecordBytes) && record.Write(insert) != SQLITE_DONE) break;
  }
  if (rc == SQLITE_DONE && record.n && record.Write(insert) != SQLITE_DONE) rc = SQLITE_ERROR;
  Status st = rc == SQLITE_DONE ? Status::Ok() : DbError(db, path, "migrate usage");
  sqlite3_finalize(old);
  sqlite3_finalize(insert);
  if (st.ok()) st = Exec(db, path, "DROP TABLE usage");
  if (st.ok() && moved)
    std::fprintf(stderr, "usage ledger: %s: moved %zu rows from the per-request table to usage_batches\n", path.c_str(),
                 moved);
  return st;
}

// Creates what is missing: usage_batches, its index and the usage view,
// migrating an earlier hub's row table first. One transaction.
Status PrepareSchema(sqlite3* db, const std::string& path) {
  Status st = Exec(db, path, "BEGIN IMMEDIATE");
  if (!st.ok()) return st;
  st = Exec(db, path, kSchema);
  if (st.ok()) {
    sqlite3_stmt* s = nullptr;
    bool row_table = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage'", -1, &s, nullptr) ==
        SQLITE_OK)
      row_table = sqlite3_step(s) == SQLITE_ROW;
    else
      st = DbError(db, path, "read schema");
    sqlite3_finalize(s);
    if (st.ok() && row_table) st = MigrateRowTable(db, path);
  }
  if (st.ok()) st = Exec(db, path, ViewSql().c_str());
  if (st.ok()) st = Exec(db, path, "COMMIT");
  if (!st.ok()) Exec(db, path, "ROLLBACK");
  return st;
}

}  // namespace

Result<std::unique_ptr<UsageLedger>> UsageLedger::Open(const std::string& path, int flush_interval_ms) {
  std::unique_ptr<UsageLedger> l(new UsageLedger());
  l->path_ = path;
  l->flush_interval_ms_ = flush_interval_ms > 0 ? flush_interval_ms : 1000;
  auto db = OpenDb(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!db.ok()) return db.status();
  l->db_ = *db;
  // WAL: readers (Query, an operator's sqlite3 shell) never block the writer.
  // synchronous=NORMAL in WAL mode survives a process crash; a power cut may
  // lose the last commits, which the one-second batching already accepts.
  Status st = Exec(l->db_, path, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
  if (st.ok()) st = PrepareSchema(l->db_, path);
  if (!st.ok()) return st;
  if (sqlite3_prepare_v2(l->db_, kInsertRecord, -1, &l->insert_, nullptr) != SQLITE_OK)
    return DbError(l->db_, path, "prepare insert");
  l->writer_ = std::thread([p = l.get()] { p->WriterLoop(); });
  return l;
}

UsageLedger::~UsageLedger() {
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_one();
    writer_.join();
  }
  sqlite3_finalize(insert_);
  if (db_) sqlite3_close(db_);
  if (query_db_) sqlite3_close(query_db_);
}

void UsageLedger::Book(const UsageRow& row) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queued_rows_ >= kMaxQueue || queue_.size() >= kMaxQueueBytes) {
      ++stats_.dropped;
      return;
    }
    if (queued_rows_ == 0) first_queued_ms_ = NowMs();
    Pack(row);
    ++queued_rows_;
    ++booked_;
    ++stats_.booked;
    wake = queued_rows_ == kWakeBatch;
  }
  // Usually no notify at all: the writer's tick picks the rows up, so a
  // booking costs a lock and a copy of some 200 bytes.
  if (wake) work_cv_.notify_one();
}

void UsageLedger::Pack(const UsageRow& row) {
  PackedHead h{};
  h.ts = row.ts;
  h.cost_usd = row.cost_usd;
  h.input_tokens = row.input_tokens;
  h.output_tokens = row.output_tokens;
  h.cache_read_tokens = row.cache_read_tokens;
  h.cache_write_tokens = row.cache_write_tokens;
  h.reasoning_tokens = row.reasoning_tokens;
  h.ttfb_ms = row.ttfb_ms;
  h.duration_ms = row.duration_ms;
  h.status = row.status;
  h.estimated = row.estimated;
  for (size_t i = 0; i < 8; ++i) h.text_bytes[i] = static_cast<uint32_t>((row.*kTexts[i]).size());
  queue_.append(reinterpret_cast<const char*>(&h), sizeof h);
  for (auto text : kTexts) queue_.append(row.*text);
}

void UsageLedger::Unpack(const std::string& packed, std::vector<UsageRow>* rows) {
  rows->clear();
  size_t at = 0;
  while (at + sizeof(PackedHead) <= packed.size()) {
    PackedHead h;
    std::memcpy(&h, packed.data() + at, sizeof h);
    at += sizeof h;
    UsageRow& r = rows->emplace_back();
    r.ts = h.ts;
    r.cost_usd = h.cost_usd;
    r.input_tokens = h.input_tokens;
    r.output_tokens = h.output_tokens;
    r.cache_read_tokens = h.cache_read_tokens;
    r.cache_write_tokens = h.cache_write_tokens;
    r.reasoning_tokens = h.reasoning_tokens;
    r.ttfb_ms = h.ttfb_ms;
    r.duration_ms = h.duration_ms;
    r.status = h.status;
    r.estimated = h.estimated != 0;
    for (size_t i = 0; i < 8; ++i) {
      r.*kTexts[i] = std::string_view(packed.data() + at, h.text_bytes[i]);
      at += h.text_bytes[i];
    }
  }
}

Status UsageLedger::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = booked_;
  if (target > flush_target_) flush_target_ = target;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return done_ >= target; });
  return last_error_;
}

bool WriteInBackground(uint64_t oldest_age_ms, int interval_ms, bool waited_for) {
  // Rows that waited more than two ticks mean the CPUs have been busy for
  // seconds: catch up at nice 10 rather than wait for idle CPU.
  return !waited_for && oldest_age_ms <= 2 * static_cast<uint64_t>(interval_ms);
}

namespace {

// Whether a thread at nice 10, once SCHED_IDLE, may go back to SCHED_OTHER
// (Linux allows it with CAP_SYS_NICE in the initial user namespace, or with
// an RLIMIT_NICE of 10 or more). Tried rather than deduced, on a throwaway
// thread that inherits the caller's nice: a container may show the
// capability and still be refused, and a thread refused stays SCHED_IDLE.
bool MayLeaveIdlePolicy() {
  bool may = false;
  std::thread probe([&may] {
    sched_param none{};
    may = sched_setscheduler(0, SCHED_IDLE, &none) == 0 && sched_setscheduler(0, SCHED_OTHER, &none) == 0;
  });
  probe.join();
  return may;
}

// SCHED_IDLE: the thread runs only on a CPU nothing else wants, and never
// preempts the loop thread when it wakes. Otherwise SCHED_OTHER at nice 10.
void SetWriterPolicy(bool background) {
  sched_param none{};
  if (background) {
    sched_setscheduler(0, SCHED_IDLE, &none);  // 0: this thread
  } else {
    sched_setscheduler(0, SCHED_OTHER, &none);
    setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  }
}

}  // namespace

void UsageLedger::WriterLoop() {
  // Booking is deferred work: the loop thread, which answers clients, should
  // win every CPU it wants. At nice 10 alone the writer still took a slice
  // of the loop's CPU whenever it woke there, which at tens of thousands of
  // rows a second cost the hub a tenth of its requests/s (bench keys). So
  // the writing itself runs as SCHED_IDLE, on CPU nothing else wants, while
  // the writer keeps up. Around mu_ it is back at nice 10: the loop thread
  // takes mu_ in Book(), and must never wait for a thread that only runs on
  // idle CPU. When rows have waited more than two ticks, or a Flush or the
  // shutdown waits, a batch is written at nice 10 too. Where the process may
  // not step back up from SCHED_IDLE (no CAP_SYS_NICE, RLIMIT_NICE below
  // 10), the writer stays at nice 10 throughout. Linux applies both per
  // thread; a failed call changes nothing else.
  pthread_setname_np(pthread_self(), "usage-writer");
  SetWriterPolicy(false);
  const bool may_idle = MayLeaveIdlePolicy();  // probed at nice 10, as the writer will be
  std::string batch;           // the packed rows being written
  std::vector<UsageRow> rows;  // views into batch
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait_for(lock, std::chrono::milliseconds(flush_interval_ms_),
                      [&] { return stop_ || flush_target_ > done_ || queued_rows_ >= kWakeBatch; });
    if (queued_rows_ == 0) {
      if (stop_) break;
      continue;
    }
    batch.swap(queue_);  // queue_ inherits the last batch's (cleared) storage: no regrowth
    const size_t n = queued_rows_;
    queued_rows_ = 0;
    const bool background =
        may_idle && WriteInBackground(NowMs() - first_queued_ms_, flush_interval_ms_, stop_ || flush_target_ > done_);
    lock.unlock();
    if (background) SetWriterPolicy(true);
    Unpack(batch, &rows);
    Status st = WriteBatch(rows);
    if (!st.ok()) std::fprintf(stderr, "usage ledger: %zu rows not written: %s\n", n, st.message().c_str());
    batch.clear();
    // A backlog (a stalled disk, busy CPUs) grows the buffers far past the
    // usual batch; do not keep that memory for good.
    if (batch.capacity() > kKeepBatchBytes) std::string().swap(batch);
    if (background) SetWriterPolicy(false);
    lock.lock();
    done_ += n;
    ++stats_.batches;
    if (st.ok()) stats_.written += n;
    else {
      stats_.failed += n;
      last_error_ = st;
    }
    done_cv_.notify_all();
  }
}

Status UsageLedger::WriteBatch(const std::vector<UsageRow>& rows) {
  Status st = Exec(db_, path_, "BEGIN IMMEDIATE");
  if (!st.ok()) return st;
  RecordBuilder record;
  record.buf.swap(record_buf_);  // reuses the last batch's buffer
  for (size_t i = 0; i < rows.size() && st.ok(); ++i) {
    record.Add(rows[i]);
    const bool full = record.n == kRowsPerRecord || record.len >= kRecordBytes;
    if ((full || i + 1 == rows.size()) && record.Write(insert_) != SQLITE_DONE)
      st = DbError(db_, path_, "insert");
  }
  record.buf.swap(record_buf_);
  if (record_buf_.size() > kKeepBatchBytes) std::vector<char>().swap(record_buf_);
  if (st.ok()) st = Exec(db_, path_, "COMMIT");
  if (!st.ok()) Exec(db_, path_, "ROLLBACK");
  return st;
}

Result<std::vector<UsageTotals>> UsageLedger::Query(UsageGroup group_by, double since_unix) {
  int column = 2;  // kColumns index
  switch (group_by) {
    case UsageGroup::kKey: column = 2; break;
    case UsageGroup::kTenant: column = 3; break;
    case UsageGroup::kModel: column = 6; break;
    case UsageGroup::kProvider: column = 7; break;
  }
  std::lock_guard<std::mutex> lock(query_mu_);
  if (!query_db_) {
    auto db = OpenDb(path_, SQLITE_OPEN_READONLY);
    if (!db.ok()) return db.status();
    query_db_ = *db;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(query_db_, "SELECT rows FROM usage_batches WHERE max_ts >= ?", -1, &s, nullptr) != SQLITE_OK)
    return DbError(query_db_, path_, "query");
  sqlite3_bind_double(s, 1, since_unix);
  std::unordered_map<std::string, UsageTotals> groups;
  int rc;
  Status st;
  while (st.ok() && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    std::string name;
    bool ok = ForEachRecordRow(ColumnText(s, 0), [&](const std::string_view* v) {
      if (v[0].empty() || ValueNumber(v[0]) < since_unix) return;
      std::string_view raw = v[column];
      name.clear();
      const bool quoted = raw.size() >= 2 && raw.front() == '"';
      if (quoted && raw.find('\\') == std::string_view::npos) name = raw.substr(1, raw.size() - 2);
      else if (quoted) JsonUnquote(raw, &name);
      UsageTotals& t = groups[name];
      ++t.requests;
      t.input_tokens += ValueInt(v[10]);
      t.output_tokens += ValueInt(v[11]);
      t.cache_read_tokens += ValueInt(v[12]);
      t.cache_write_tokens += ValueInt(v[13]);
      t.reasoning_tokens += ValueInt(v[14]);
      t.cost_usd += ValueNumber(v[18]);
    });
    if (!ok) st = Status::Error(path_ + ": a usage_batches record is not a JSON array of rows");
  }
  if (st.ok() && rc != SQLITE_DONE) st = DbError(query_db_, path_, "query");
  sqlite3_finalize(s);
  if (!st.ok()) return st;
  std::vector<UsageTotals> out;
  out.reserve(groups.size());
  for (auto& [name, totals] : groups) {
    totals.group = name;
    out.push_back(std::move(totals));
  }
  std::sort(out.begin(), out.end(), [](const UsageTotals& a, const UsageTotals& b) {
    return a.cost_usd != b.cost_usd ? a.cost_usd > b.cost_usd : a.group < b.group;
  });
  return out;
}

UsageLedger::Stats UsageLedger::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

// ---- prices ----

Result<PriceTable> PriceTable::Load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return Parse(ss.str(), path);
}

Result<PriceTable> PriceTable::Parse(std::string_view text, const std::string& file) {
  auto json = ParseJson(text);
  if (!json.ok()) return Status::Error(file + ": " + json.status().message());
  if (!cJSON_IsObject(json->get())) return Status::Error(file + ": expected an object of provider types");
  PriceTable t;
  const cJSON* provider;
  cJSON_ArrayForEach(provider, json->get()) {
    if (provider->string[0] == '_') continue;  // "_comment"
    if (!cJSON_IsObject(provider)) return Status::Error(file + ": " + provider->string + ": expected an object of model globs");
    const cJSON* model;
    cJSON_ArrayForEach(model, provider) {
      if (model->string[0] == '_') continue;
      std::string where = file + ": " + provider->string + "." + model->string;
      if (!cJSON_IsObject(model)) return Status::Error(where + ": expected {\"input\", \"output\", ...}");
      Entry e;
      e.provider = provider->string;
      e.glob = model->string;
      struct Field {
        const char* name;
        double* value;
      } fields[] = {{"input", &e.price.input}, {"output", &e.price.output}, {"cache_read", &e.price.cache_read},
                    {"cache_write", &e.price.cache_write}};
      const cJSON* item;
      cJSON_ArrayForEach(item, model) {
        bool known = false;
        for (const Field& f : fields) {
          if (std::string_view(item->string) != f.name) continue;
          known = true;
          if (!cJSON_IsNumber(item) || item->valuedouble < 0)
            return Status::Error(where + "." + f.name + ": expected a number >= 0 (USD per million tokens)");
          *f.value = item->valuedouble;
        }
        if (!known && item->string[0] != '_') return Status::Error(where + "." + item->string + ": unknown key");
      }
      t.entries_.push_back(std::move(e));
    }
  }
  return t;
}

std::optional<Price> PriceTable::PriceFor(std::string_view provider, std::string_view model) const {
  std::string_view tries[3] = {provider, provider.substr(0, provider.find('-')), "*"};
  for (std::string_view p : tries) {
    for (const Entry& e : entries_)
      if (e.provider == p && GlobMatch(e.glob, model)) return e.price;
  }
  return std::nullopt;
}

double CostUsd(const UsageRow& r, const Price& p) {
  // reasoning_tokens are part of output_tokens: not added again.
  return (static_cast<double>(r.input_tokens) * p.input + static_cast<double>(r.output_tokens) * p.output +
          static_cast<double>(r.cache_read_tokens) * p.cache_read + static_cast<double>(r.cache_write_tokens) * p.cache_write) /
         1e6;
}

}  // namespace tether
