#include "common/metrics.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace tether {

void AppendMetricHeader(std::string* out, std::string_view name, std::string_view type, std::string_view help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void AppendMetric(std::string* out, std::string_view name, std::string_view type, std::string_view help,
                  double value, std::string_view labels) {
  AppendMetricHeader(out, name, type, help);
  AppendSample(out, name, value, labels);
}

void AppendSample(std::string* out, std::string_view name, double value, std::string_view labels) {
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  char buf[64];
  std::snprintf(buf, sizeof buf, " %.17g\n", value);
  out->append(buf);
}

uint64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

uint64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

double WallSeconds() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace tether
