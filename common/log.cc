#include "common/log.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace tether {
namespace {
LogLevel g_level = LogLevel::kInfo;
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = level; }
bool LogEnabled(LogLevel level) { return level >= g_level; }

namespace {
thread_local bool t_batching = false;
thread_local std::string t_pending;
constexpr size_t kMaxPending = 64 * 1024;

void WriteAll(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(2, data.data(), data.size());
    if (n <= 0) return;  // stderr gone or full: logging must never block the caller
    data.remove_prefix(static_cast<size_t>(n));
  }
}
}  // namespace

void BatchLogLines(bool on) {
  if (!on) FlushLogLines();
  t_batching = on;
}

void FlushLogLines() {
  if (t_pending.empty()) return;
  WriteAll(t_pending);
  t_pending.clear();
}

void LogLine(LogLevel level, std::string_view component, std::string_view message) {
  // Whole lines per write(2), so lines from the loop and worker threads never interleave.
  std::string& line = t_pending;  // empty unless batching
  line.append(LevelName(level)).append(" ").append(component).append(": ");
  size_t start = line.size();
  line.append(message);
  // One event, one line. A plain loop: find_first_of with a two-byte set
  // calls memchr once per byte of the line.
  for (size_t i = start; i < line.size(); ++i)
    if (line[i] == '\r' || line[i] == '\n') line[i] = ' ';
  line.push_back('\n');
  if (!t_batching || level >= LogLevel::kWarn || line.size() >= kMaxPending) FlushLogLines();
}

std::string RequestIds::Next() {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%012llx", static_cast<unsigned long long>(++counter_));
  return prefix_ + digits;
}

std::string MaskSecret(std::string_view secret) {
  if (secret.size() <= 8) return std::string("****");
  return "****" + std::string(secret.substr(secret.size() - 4));
}

}  // namespace tether
