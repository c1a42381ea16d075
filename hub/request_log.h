// Opt-in request log: one JSON line per API request (JSONL) with the request
// body and what the hub sent back, for an operator chasing a client or
// provider problem. Off unless hub.json has a "request_log" section.
//
// What a line may hold is bounded and scrubbed: bodies are cut at
// max_body_bytes and say so ("truncated": true plus the original size);
// credential headers and key-like query parameters are masked the way every
// other hub log masks secrets (MaskSecret: at most the last four characters).
// Provider credentials never reach it: it sees the client's request and the
// client's response only.
//
// Threading follows the usage ledger: Record() only enqueues (a lock and a
// move on the loop thread); a writer thread formats the lines and appends
// them to <dir>/requests.jsonl. A full queue (a stalled disk) drops the entry
// and counts it instead of blocking the loop.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "hub/hub_config.h"

namespace tether {

// The first bytes of a body and its full size: `text.size() < size` means
// the body was cut.
struct LoggedBody {
  std::string text;
  uint64_t size = 0;
};

// Keeps the first `limit` bytes of a body that arrives in pieces and counts
// all of them. limit 0 keeps nothing (a request log that is off costs one
// addition per write).
class BodyCapture {
 public:
  void set_limit(size_t limit) { limit_ = limit; }
  void Append(std::string_view data) {
    body_.size += data.size();
    if (body_.text.size() < limit_) body_.text.append(data.substr(0, limit_ - body_.text.size()));
  }
  LoggedBody Take() { return std::move(body_); }

 private:
  size_t limit_ = 0;
  LoggedBody body_;
};

// One request as the gateway saw it. Header values and the target are as the
// client sent them: FormatRequestLogLine masks them.
struct RequestLogEntry {
  uint64_t unix_ms = 0;  // when the request started
  std::string request_id, key_name, tenant, client_family;
  std::string method, target;  // target: path and query, as received
  std::vector<std::pair<std::string, std::string>> headers;
  int status = 0;
  std::string model, provider, account;
  bool stream = false;
  int64_t ttfb_ms = -1;  // -1: no response byte from a provider
  int64_t duration_ms = 0;
  LoggedBody request, response;
};

// A header value with the secret part masked: "Bearer ****abcd" for
// Authorization, "****abcd" for x-api-key, x-goog-api-key, api-key, the edge
// token, cookies and any header whose name says key, token, secret or
// signature. Other headers come back unchanged.
std::string MaskHeaderValue(std::string_view name, std::string_view value);
// The target with the values of key-like query parameters (key, api_key,
// apikey, access_token, token) masked.
std::string MaskTarget(std::string_view target);
// The JSON line (with its '\n') for an entry; bodies are cut to
// max_body_bytes on a UTF-8 boundary. Invalid UTF-8 becomes U+FFFD, so every
// line parses.
std::string FormatRequestLogLine(const RequestLogEntry& entry, size_t max_body_bytes);

// <dir>/requests.jsonl, rotated before a line would take it past
// max_file_bytes: requests.jsonl → requests.1.jsonl → … →
// requests.(max_files-1).jsonl, the oldest deleted, so at most max_files
// files and about max_files × max_file_bytes on disk. A single line larger
// than max_file_bytes gets a file of its own. Not thread-safe: the writer
// thread owns it.
class RotatingFile {
 public:
  static Result<std::unique_ptr<RotatingFile>> Open(const std::string& dir, uint64_t max_file_bytes, int max_files);
  ~RotatingFile();
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;

  // Appends whole lines (each ending in '\n'), rotating between lines.
  Status Append(std::string_view lines);
  uint64_t rotations() const { return rotations_; }
  // The path of file number i (0: the current one).
  std::string PathOf(int i) const;

 private:
  RotatingFile() = default;
  Status Write(std::string_view data);
  Status Rotate();

  std::string dir_;
  uint64_t max_file_bytes_ = 0;
  int max_files_ = 1;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t rotations_ = 0;
};

class RequestLog {
 public:
  // Where formatted lines go; the writer thread calls it with one batch of
  // whole lines at a time. Tests pass their own.
  using Sink = std::function<Status(std::string_view lines)>;

  // Creates config.dir if missing, opens the current file and starts the
  // writer. max_queue_bytes bounds what waits in memory (bodies included).
  static Result<std::unique_ptr<RequestLog>> Open(const RequestLogConfig& config, size_t max_queue_bytes = 32 << 20);
  static std::unique_ptr<RequestLog> OpenWithSink(const RequestLogConfig& config, size_t max_queue_bytes, Sink sink);
  // Writes everything queued, then stops the writer (the SIGTERM path).
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  const RequestLogConfig& config() const { return config_; }
  // Enqueues an entry; never touches the disk. Thread-safe. False when the
  // queue was full and the entry was dropped (counted).
  bool Record(RequestLogEntry entry);
  // Blocks until every entry recorded before the call is written (or failed).
  Status Flush();

  struct Stats {
    uint64_t recorded = 0, written = 0, failed = 0, dropped = 0, rotations = 0;
  };
  Stats stats() const;

 private:
  RequestLog() = default;
  void Start();
  void WriterLoop();

  RequestLogConfig config_;
  Sink sink_;
  std::unique_ptr<RotatingFile> file_;  // behind the default sink; writer thread only
  size_t max_queue_bytes_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<RequestLogEntry> queue_;
  size_t queue_bytes_ = 0;
  uint64_t recorded_ = 0, done_ = 0, flush_target_ = 0;
  Stats stats_;
  Status last_error_;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace tether
