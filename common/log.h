// One line per event on stderr; journald adds the time and unit. Secrets are
// never passed here: callers log MaskSecret(x) instead.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace tether {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view component, std::string_view message);

inline void LogDebug(std::string_view component, std::string_view message) {
  if (LogEnabled(LogLevel::kDebug)) LogLine(LogLevel::kDebug, component, message);
}
inline void LogInfo(std::string_view component, std::string_view message) {
  if (LogEnabled(LogLevel::kInfo)) LogLine(LogLevel::kInfo, component, message);
}
inline void LogWarn(std::string_view component, std::string_view message) {
  if (LogEnabled(LogLevel::kWarn)) LogLine(LogLevel::kWarn, component, message);
}
inline void LogError(std::string_view component, std::string_view message) {
  if (LogEnabled(LogLevel::kError)) LogLine(LogLevel::kError, component, message);
}

// Batching for event-loop threads: while on, this thread's debug and info
// lines collect in a buffer that FlushLogLines() writes with one write(2) (the
// loop's write coalescer calls it once per iteration); warn and error lines
// flush the buffer and go out at once. Turning it off flushes.
void BatchLogLines(bool on);
void FlushLogLines();

// Request ids for requests that came without one: a prefix chosen once per
// process (a tag and random hex, so ids differ across restarts and
// processes) and a counter, "req_1a2b3c4d000000000001". Cheaper than random
// bytes per request. One thread at a time.
class RequestIds {
 public:
  explicit RequestIds(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string Next();

 private:
  std::string prefix_;
  uint64_t counter_ = 0;
};

// "****abcd": all but the last 4 characters hidden (fully hidden when short).
std::string MaskSecret(std::string_view secret);

}  // namespace tether
