// One line per event on stderr; journald adds the time and unit. Secrets are
// never passed here: callers log MaskSecret(x) instead.
#pragma once
#include <string>
#include <string_view>

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

// "****abcd": all but the last 4 characters hidden (fully hidden when short).
std::string MaskSecret(std::string_view secret);

}  // namespace tether
