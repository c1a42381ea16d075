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

void LogLine(LogLevel level, std::string_view component, std::string_view message) {
  std::string line;
  line.reserve(message.size() + component.size() + 16);
  line.append(LevelName(level)).append(" ").append(component).append(": ");
  for (char c : message) line.push_back(c == '\n' || c == '\r' ? ' ' : c);
  line.push_back('\n');
  // One write(2) per line so lines from the loop and worker threads never interleave.
  ssize_t n = ::write(2, line.data(), line.size());
  (void)n;
}

std::string MaskSecret(std::string_view secret) {
  if (secret.size() <= 8) return std::string("****");
  return "****" + std::string(secret.substr(secret.size() - 4));
}

}  // namespace tether
