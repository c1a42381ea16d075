#include "hub/request_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/http.h"
#include "hub/services.h"

namespace tether {
namespace {

// The writer wakes at least this often; sooner once this much waits. A
// request log is read by people after the fact, so a fraction of a second
// of delay costs nothing and batching keeps write(2) calls few.
constexpr int kTickMs = 250;
constexpr size_t kWakeBytes = 1 << 20;
// Fixed part of an entry when estimating its memory for the queue bound.
constexpr size_t kEntryOverhead = 512;

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i)
    if (EqualsIgnoreCase(hay.substr(i, needle.size()), needle)) return true;
  return false;
}

bool IsSecretHeader(std::string_view name) {
  for (const char* exact : {"authorization", "proxy-authorization", "cookie", "set-cookie", "api-key"})
    if (EqualsIgnoreCase(name, exact)) return true;
  // x-api-key, x-goog-api-key, X-Tether-Edge-Token, x-amz-security-token,
  // anything a client invents along the same lines.
  for (const char* part : {"key", "token", "secret", "signature", "password", "auth"})
    if (ContainsNoCase(name, part)) return true;
  return false;
}

bool IsSecretQueryName(std::string_view name) {
  for (const char* n : {"key", "api_key", "apikey", "api-key", "access_token", "token"})
    if (EqualsIgnoreCase(name, n)) return true;
  return false;
}

// Length of a valid UTF-8 sequence starting at s[i], or 0 when invalid
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t Utf8SeqLen(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// A JSON string literal; invalid UTF-8 bytes become U+FFFD so the line
// stays parseable whatever the client sent.
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = Utf8SeqLen(s, i);
      if (n == 0) {
        out->append("\\ufffd");
        ++i;
      } else {
        out->append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

void AppendField(std::string* out, const char* name, std::string_view value) {
  out->push_back(',');
  AppendJsonString(out, name);
  out->push_back(':');
  AppendJsonString(out, value);
}

void AppendNumber(std::string* out, const char* name, int64_t value) {
  out->push_back(',');
  AppendJsonString(out, name);
  out->push_back(':');
  out->append(std::to_string(value));
}

// At most `max` bytes of `s`, not ending inside a UTF-8 sequence.
std::string_view CutUtf8(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  // s[max] is the first byte cut off; when it continues a sequence, cut
  // before that sequence's lead byte instead.
  size_t end = max;
  for (int k = 0; k < 3 && end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80; ++k) --end;
  if ((static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) end = max;  // not UTF-8 anyway
  return s.substr(0, end);
}

void AppendBody(std::string* out, const char* name, const LoggedBody& body, size_t max) {
  std::string_view text = CutUtf8(body.text, max);
  const bool truncated = text.size() < body.size;
  out->push_back(',');
  AppendJsonString(out, name);
  out->append(":{\"bytes\":").append(std::to_string(body.size));
  out->append(",\"truncated\":").append(truncated ? "true" : "false");
  out->append(",\"body\":");
  AppendJsonString(out, text);
  out->push_back('}');
}

std::string IsoTime(uint64_t unix_ms) {
  std::time_t s = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[80];  // room for any int the compiler imagines; 24 in practice
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<unsigned>(unix_ms % 1000));
  return buf;
}

size_t EntryBytes(const RequestLogEntry& e) {
  size_t n = kEntryOverhead + e.request.text.size() + e.response.text.size() + e.target.size();
  for (const auto& [name, value] : e.headers) n += name.size() + value.size() + 8;
  return n;
}

}  // namespace

std::string MaskHeaderValue(std::string_view name, std::string_view value) {
  if (!IsSecretHeader(name)) return std::string(value);
  // Keep the scheme ("Bearer", "Basic", "AWS4-HMAC-SHA256") so the operator
  // sees how the client authenticated, not with what.
  size_t sp = value.find(' ');
  if (EqualsIgnoreCase(name, "authorization") && sp != std::string_view::npos && sp > 0)
    return std::string(value.substr(0, sp + 1)) + MaskSecret(value.substr(sp + 1));
  return MaskSecret(value);
}

std::string MaskTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  size_t pos = 0;
  for (;;) {
    size_t amp = query.find('&', pos);
    std::string_view pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && IsSecretQueryName(pair.substr(0, eq)))
      out.append(pair.substr(0, eq + 1)).append(MaskSecret(pair.substr(eq + 1)));
    else
      out.append(pair);
    if (amp == std::string_view::npos) break;
    out.push_back('&');
    pos = amp + 1;
  }
  return out;
}

std::string FormatRequestLogLine(const RequestLogEntry& e, size_t max_body_bytes) {
  std::string out;
  out.reserve(512 + std::min<size_t>(e.request.text.size(), max_body_bytes) +
              std::min<size_t>(e.response.text.size(), max_body_bytes));
  out.append("{\"time\":");
  AppendJsonString(&out, IsoTime(e.unix_ms));
  AppendField(&out, "id", e.request_id);
  AppendField(&out, "key", e.key_name);
  AppendField(&out, "tenant", e.tenant);
  AppendField(&out, "client", e.client_family);
  AppendField(&out, "method", e.method);
  AppendField(&out, "path", MaskTarget(e.target));
  AppendNumber(&out, "status", e.status);
  AppendField(&out, "model", e.model);
  AppendField(&out, "provider", e.provider);
  AppendField(&out, "account", e.account);
  out.append(",\"stream\":").append(e.stream ? "true" : "false");
  if (e.ttfb_ms >= 0) AppendNumber(&out, "ttfb_ms", e.ttfb_ms);
  AppendNumber(&out, "duration_ms", e.duration_ms);
  out.append(",\"headers\":{");
  bool first = true;
  for (const auto& [name, value] : e.headers) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(&out, name);
    out.push_back(':');
    AppendJsonString(&out, MaskHeaderValue(name, value));
  }
  out.push_back('}');
  AppendBody(&out, "request", e.request, max_body_bytes);
  AppendBody(&out, "response", e.response, max_body_bytes);
  out.append("}\n");
  return out;
}

// ---- RotatingFile ----

Result<std::unique_ptr<RotatingFile>> RotatingFile::Open(const std::string& dir, uint64_t max_file_bytes, int max_files) {
  std::unique_ptr<RotatingFile> f(new RotatingFile());
  f->dir_ = dir;
  f->max_file_bytes_ = max_file_bytes;
  f->max_files_ = max_files < 1 ? 1 : max_files;
  std::string path = f->PathOf(0);
  // 0600: bodies are the clients' prompts.
  f->fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (f->fd_ < 0) return Status::Error("open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(f->fd_, &st) == 0) f->size_ = static_cast<uint64_t>(st.st_size);
  return f;
}

RotatingFile::~RotatingFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RotatingFile::PathOf(int i) const {
  return dir_ + (i == 0 ? "/requests.jsonl" : "/requests." + std::to_string(i) + ".jsonl");
}

Status RotatingFile::Write(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Error("write " + PathOf(0) + ": " + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
    size_ += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status RotatingFile::Rotate() {
  ::close(fd_);
  fd_ = -1;
  // Oldest first, so no rename overwrites a file still to be moved.
  ::unlink(PathOf(max_files_ - 1).c_str());
  for (int i = max_files_ - 2; i >= 0; --i) {
    if (::rename(PathOf(i).c_str(), PathOf(i + 1).c_str()) != 0 && errno != ENOENT)
      LogWarn("request_log", "rename " + PathOf(i) + ": " + std::strerror(errno));
  }
  ++rotations_;
  std::string path = PathOf(0);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0600);
  if (fd_ < 0) return Status::Error("open " + path + ": " + std::strerror(errno));
  size_ = 0;
  return Status::Ok();
}

Status RotatingFile::Append(std::string_view lines) {
  if (fd_ < 0) {
    // A failed rotation left no file open: try again rather than give up
    // for the rest of the process.
    fd_ = ::open(PathOf(0).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) return Status::Error("open " + PathOf(0) + ": " + std::strerror(errno));
    size_ = 0;
  }
  // Write runs of lines that fit; rotate between lines, never inside one.
  size_t run_start = 0, pos = 0;
  uint64_t run_bytes = 0;
  while (pos < lines.size()) {
    size_t nl = lines.find('\n', pos);
    size_t end = nl == std::string_view::npos ? lines.size() : nl + 1;
    uint64_t len = end - pos;
    if (size_ + run_bytes > 0 && size_ + run_bytes + len > max_file_bytes_) {
      if (Status st = Write(lines.substr(run_start, pos - run_start)); !st.ok()) return st;
      if (size_ > 0)
        if (Status st = Rotate(); !st.ok()) return st;
      run_start = pos;
      run_bytes = 0;
    }
    run_bytes += len;
    pos = end;
  }
  return Write(lines.substr(run_start));
}

// ---- RequestLog ----

Result<std::unique_ptr<RequestLog>> RequestLog::Open(const RequestLogConfig& config, size_t max_queue_bytes) {
  if (Status st = EnsureDir(config.dir); !st.ok()) return Status::Error("request_log.dir: " + st.message());
  auto file = RotatingFile::Open(config.dir, config.max_file_bytes, config.max_files);
  if (!file.ok()) return Status::Error("request_log: " + file.status().message());
  std::unique_ptr<RequestLog> log(new RequestLog());
  log->config_ = config;
  log->max_queue_bytes_ = max_queue_bytes;
  log->file_ = std::move(file.value());
  RotatingFile* f = log->file_.get();
  log->sink_ = [f](std::string_view lines) { return f->Append(lines); };
  log->Start();
  return log;
}

std::unique_ptr<RequestLog> RequestLog::OpenWithSink(const RequestLogConfig& config, size_t max_queue_bytes, Sink sink) {
  std::unique_ptr<RequestLog> log(new RequestLog());
  log->config_ = config;
  log->max_queue_bytes_ = max_queue_bytes;
  log->sink_ = std::move(sink);
  log->Start();
  return log;
}

void RequestLog::Start() {
  writer_ = std::thread([this] { WriterLoop(); });
}

RequestLog::~RequestLog() {
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    work_cv_.notify_one();
    writer_.join();
  }
}

bool RequestLog::Record(RequestLogEntry entry) {
  const size_t bytes = EntryBytes(entry);
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_bytes_ + bytes > max_queue_bytes_) {
      ++stats_.dropped;
      return false;
    }
    queue_.push_back(std::move(entry));
    queue_bytes_ += bytes;
    ++recorded_;
    ++stats_.recorded;
    wake = queue_bytes_ >= kWakeBytes && queue_bytes_ - bytes < kWakeBytes;
  }
  if (wake) work_cv_.notify_one();
  return true;
}

Status RequestLog::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = recorded_;
  if (target > flush_target_) flush_target_ = target;
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return done_ >= target; });
  return last_error_;
}

void RequestLog::WriterLoop() {
  std::vector<RequestLogEntry> batch;
  std::string lines;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait_for(lock, std::chrono::milliseconds(kTickMs),
                      [&] { return stop_ || flush_target_ > done_ || queue_bytes_ >= kWakeBytes; });
    if (queue_.empty()) {
      if (stop_) break;
      continue;
    }
    batch.clear();
    batch.swap(queue_);
    queue_bytes_ = 0;
    lock.unlock();
    lines.clear();
    for (const RequestLogEntry& e : batch) lines += FormatRequestLogLine(e, config_.max_body_bytes);
    Status st = sink_(lines);
    const size_t n = batch.size();
    if (!st.ok()) std::fprintf(stderr, "request log: %zu lines not written: %s\n", n, st.message().c_str());
    const uint64_t rotations = file_ ? file_->rotations() : 0;
    batch.clear();  // free the bodies outside the lock
    lock.lock();
    done_ += n;
    if (st.ok()) stats_.written += n;
    else {
      stats_.failed += n;
      last_error_ = st;
    }
    stats_.rotations = rotations;
    done_cv_.notify_all();
  }
}

RequestLog::Stats RequestLog::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace tether
