// Prometheus text exposition (version 0.0.4) for a handful of counters and
// gauges. Values live in plain members of the components; Render asks them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace tether {

// Appends "# HELP", "# TYPE" and one sample line.
void AppendMetric(std::string* out, std::string_view name, std::string_view type,
                  std::string_view help, double value, std::string_view labels = {});
// Appends only the "# HELP" and "# TYPE" lines (samples follow with AppendSample).
void AppendMetricHeader(std::string* out, std::string_view name, std::string_view type, std::string_view help);
// Appends one more sample of an already-declared metric ("name{labels} value").
void AppendSample(std::string* out, std::string_view name, double value, std::string_view labels = {});

// Process resident set size in bytes (from /proc/self/statm), 0 if unknown.
uint64_t ResidentBytes();
// Monotonic milliseconds.
uint64_t NowMs();
// Unix seconds.
double WallSeconds();

}  // namespace tether
