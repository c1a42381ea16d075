#include "hub/usage.h"

#include <pthread.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/json.h"
#include "common/metrics.h"
#include "hub/model_resolver.h"

namespace tether {
namespace {

// Above this many queued rows the writer is woken at once rather than at the
// next tick: big transactions are cheap, an unbounded queue is not.
constexpr size_t kWakeBatch = 4096;
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

const char* kSchema =
    "CREATE TABLE IF NOT EXISTS usage ("
    " id INTEGER PRIMARY KEY, ts REAL NOT NULL, request_id TEXT, key_name TEXT, tenant TEXT,"
    " client_family TEXT, model_requested TEXT, model_used TEXT, provider TEXT, account TEXT,"
    " status INTEGER, input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER,"
    " cache_write_tokens INTEGER, reasoning_tokens INTEGER, estimated INTEGER, ttfb_ms INTEGER,"
    " duration_ms INTEGER, cost_usd REAL);"
    "CREATE INDEX IF NOT EXISTS usage_ts ON usage(ts);";

// The columns in table order, as the virtual table declares them and the
// INSERT names them.
const char* kColumnList =
    "ts, request_id, key_name, tenant, client_family, model_requested, model_used, provider, account, status,"
    " input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, ttfb_ms,"
    " duration_ms, cost_usd";

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

// ---- usage_batch: the batch being written, as an eponymous virtual table ----
//
// The writer inserts a whole batch with one INSERT ... SELECT from this
// table instead of binding 19 parameters per row to 32-row INSERTs: SQLite
// takes each column straight from the queued rows, with no per-parameter
// bind and one statement per batch. Under callgrind that is about a tenth
// fewer writer instructions per row (~9,900 to ~8,900); most of the rest is
// SQLite's own record building and B-tree inserts (the ts index alone is
// ~1,900). Text is handed over SQLITE_STATIC: the rows outlive the step.

struct BatchTable {
  sqlite3_vtab base;  // first: SQLite sees a sqlite3_vtab*
  const std::vector<UsageRow>* const* rows;  // the ledger's writing_
};

struct BatchCursor {
  sqlite3_vtab_cursor base;  // first
  const std::vector<UsageRow>* rows;
  size_t at = 0;
};

int BatchConnect(sqlite3* db, void* aux, int, const char* const*, sqlite3_vtab** out, char**) noexcept {
  std::string sql = std::string("CREATE TABLE x(") + kColumnList + ")";
  int rc = sqlite3_declare_vtab(db, sql.c_str());
  if (rc != SQLITE_OK) return rc;
  auto* t = new BatchTable{};
  t->rows = static_cast<const std::vector<UsageRow>* const*>(aux);
  *out = &t->base;
  return SQLITE_OK;
}

int BatchDisconnect(sqlite3_vtab* t) noexcept {
  delete reinterpret_cast<BatchTable*>(t);
  return SQLITE_OK;
}

int BatchBestIndex(sqlite3_vtab*, sqlite3_index_info* info) noexcept {
  info->estimatedCost = 1;  // one full scan; there are no constraints to use
  return SQLITE_OK;
}

int BatchOpen(sqlite3_vtab* t, sqlite3_vtab_cursor** out) noexcept {
  auto* cur = new BatchCursor{};
  cur->rows = *reinterpret_cast<BatchTable*>(t)->rows;
  *out = &cur->base;
  return SQLITE_OK;
}

int BatchClose(sqlite3_vtab_cursor* c) noexcept {
  delete reinterpret_cast<BatchCursor*>(c);
  return SQLITE_OK;
}

int BatchFilter(sqlite3_vtab_cursor* c, int, const char*, int, sqlite3_value**) noexcept {
  reinterpret_cast<BatchCursor*>(c)->at = 0;
  return SQLITE_OK;
}

int BatchNext(sqlite3_vtab_cursor* c) noexcept {
  ++reinterpret_cast<BatchCursor*>(c)->at;
  return SQLITE_OK;
}

int BatchEof(sqlite3_vtab_cursor* c) noexcept {
  auto* cur = reinterpret_cast<BatchCursor*>(c);
  return !cur->rows || cur->at >= cur->rows->size();
}

void ResultText(sqlite3_context* ctx, std::string_view v) {
  sqlite3_result_text(ctx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

int BatchColumn(sqlite3_vtab_cursor* c, sqlite3_context* ctx, int column) noexcept {
  auto* cur = reinterpret_cast<BatchCursor*>(c);
  const UsageRow& r = (*cur->rows)[cur->at];
  switch (column) {  // kColumnList order
    case 0: sqlite3_result_double(ctx, r.ts); break;
    case 1: ResultText(ctx, r.request_id); break;
    case 2: ResultText(ctx, r.key_name); break;
    case 3: ResultText(ctx, r.tenant); break;
    case 4: ResultText(ctx, r.client_family); break;
    case 5: ResultText(ctx, r.model_requested); break;
    case 6: ResultText(ctx, r.model_used); break;
    case 7: ResultText(ctx, r.provider); break;
    case 8: ResultText(ctx, r.account); break;
    case 9: sqlite3_result_int(ctx, r.status); break;
    case 10: sqlite3_result_int64(ctx, r.input_tokens); break;
    case 11: sqlite3_result_int64(ctx, r.output_tokens); break;
    case 12: sqlite3_result_int64(ctx, r.cache_read_tokens); break;
    case 13: sqlite3_result_int64(ctx, r.cache_write_tokens); break;
    case 14: sqlite3_result_int64(ctx, r.reasoning_tokens); break;
    case 15: sqlite3_result_int(ctx, r.estimated ? 1 : 0); break;
    case 16: sqlite3_result_int64(ctx, r.ttfb_ms); break;
    case 17: sqlite3_result_int64(ctx, r.duration_ms); break;
    case 18: sqlite3_result_double(ctx, r.cost_usd); break;
  }
  return SQLITE_OK;
}

int BatchRowid(sqlite3_vtab_cursor* c, sqlite3_int64* rowid) noexcept {
  *rowid = static_cast<sqlite3_int64>(reinterpret_cast<BatchCursor*>(c)->at);
  return SQLITE_OK;
}

// Eponymous-only (no xCreate): usable as "FROM usage_batch" on the
// connection it is registered on, never stored in the schema.
const sqlite3_module kBatchModule = {
    0, nullptr, BatchConnect, BatchBestIndex, BatchDisconnect, nullptr, BatchOpen, BatchClose, BatchFilter, BatchNext,
    BatchEof, BatchColumn, BatchRowid, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
    nullptr, nullptr, nullptr, nullptr};

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
  if (st.ok()) st = Exec(l->db_, path, kSchema);
  if (!st.ok()) return st;
  if (sqlite3_create_module_v2(l->db_, "usage_batch", &kBatchModule, &l->writing_, nullptr) != SQLITE_OK)
    return DbError(l->db_, path, "register usage_batch");
  std::string insert = std::string("INSERT INTO usage(") + kColumnList + ") SELECT " + kColumnList + " FROM usage_batch";
  if (sqlite3_prepare_v2(l->db_, insert.c_str(), -1, &l->insert_, nullptr) != SQLITE_OK)
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
  writing_ = &rows;
  int rc = sqlite3_step(insert_);
  sqlite3_reset(insert_);
  writing_ = nullptr;
  if (rc != SQLITE_DONE) {
    st = DbError(db_, path_, "insert");
    Exec(db_, path_, "ROLLBACK");
    return st;
  }
  st = Exec(db_, path_, "COMMIT");
  if (!st.ok()) Exec(db_, path_, "ROLLBACK");
  return st;
}

Result<std::vector<UsageTotals>> UsageLedger::Query(UsageGroup group_by, double since_unix) {
  const char* column = "key_name";
  switch (group_by) {
    case UsageGroup::kKey: column = "key_name"; break;
    case UsageGroup::kTenant: column = "tenant"; break;
    case UsageGroup::kModel: column = "model_used"; break;
    case UsageGroup::kProvider: column = "provider"; break;
  }
  std::lock_guard<std::mutex> lock(query_mu_);
  if (!query_db_) {
    auto db = OpenDb(path_, SQLITE_OPEN_READONLY);
    if (!db.ok()) return db.status();
    query_db_ = *db;
  }
  std::string sql = std::string("SELECT ") + column +
                    ", COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens),"
                    " SUM(cache_write_tokens), SUM(reasoning_tokens), SUM(cost_usd) FROM usage WHERE ts >= ? GROUP BY " +
                    column + " ORDER BY SUM(cost_usd) DESC, " + column;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(query_db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return DbError(query_db_, path_, "query");
  sqlite3_bind_double(s, 1, since_unix);
  std::vector<UsageTotals> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    UsageTotals t;
    const unsigned char* g = sqlite3_column_text(s, 0);
    t.group = g ? reinterpret_cast<const char*>(g) : "";
    t.requests = sqlite3_column_int64(s, 1);
    t.input_tokens = sqlite3_column_int64(s, 2);
    t.output_tokens = sqlite3_column_int64(s, 3);
    t.cache_read_tokens = sqlite3_column_int64(s, 4);
    t.cache_write_tokens = sqlite3_column_int64(s, 5);
    t.reasoning_tokens = sqlite3_column_int64(s, 6);
    t.cost_usd = sqlite3_column_double(s, 7);
    out.push_back(std::move(t));
  }
  Status st = rc == SQLITE_DONE ? Status::Ok() : DbError(query_db_, path_, "query");
  sqlite3_finalize(s);
  if (!st.ok()) return st;
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
