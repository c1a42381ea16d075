#include "common/sse.h"

namespace tether {

namespace {

// The first CR or LF at or after `from`, or npos. A plain loop: the
// standard find_first_of with a two-byte set calls memchr once per byte.
size_t FindLineBreak(std::string_view s, size_t from) {
  for (size_t i = from; i < s.size(); ++i)
    if (s[i] == '\r' || s[i] == '\n') return i;
  return std::string_view::npos;
}

}  // namespace

void SseParser::Feed(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (last_was_cr_ && bytes[i] == '\n') {  // second half of CRLF
      last_was_cr_ = false;
      ++i;
      continue;
    }
    last_was_cr_ = false;
    size_t end = FindLineBreak(bytes, i);
    if (end == std::string_view::npos) {  // the line goes on in the next chunk
      line_.append(bytes.substr(i));
      return;
    }
    line_.append(bytes.substr(i, end - i));
    last_was_cr_ = bytes[end] == '\r';
    Line(line_);
    line_.clear();
    i = end + 1;
  }
}

void SseParser::Finish() {
  if (!line_.empty()) {
    Line(line_);
    line_.clear();
  }
  Dispatch();
}

void SseParser::Line(std::string_view line) {
  if (line.empty()) {
    Dispatch();
    return;
  }
  if (line[0] == ':') return;  // comment / keep-alive
  std::string_view field = line, value;
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (pending_.has_data) pending_.data.push_back('\n');
    pending_.data.append(value);
    pending_.has_data = true;
  } else if (field == "event") {
    pending_.event.assign(value);
  } else if (field == "id") {
    pending_.id.assign(value);
  }
}

void SseParser::Dispatch() {
  // WHATWG "dispatch the event": an empty data buffer means no event, even
  // when an event: or id: line was seen ("data:" alone still counts).
  if (pending_.has_data) on_event_(pending_);
  pending_ = SseEvent();
}

std::string FormatSse(std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(event.size() + data.size() + 16);
  if (!event.empty()) {
    out.append("event: ").append(event).append("\n");
  }
  // CR and CRLF end a line in SSE as well as LF, so they split data lines
  // too; otherwise a CR in the data could start an "event:" or "id:" field.
  size_t start = 0;
  while (true) {
    size_t nl = FindLineBreak(data, start);
    out.append("data: ").append(data.substr(start, nl - start)).append("\n");
    if (nl == std::string_view::npos) break;
    start = nl + 1;
    if (data[nl] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out.append("\n");
  return out;
}

std::string FormatSseData(std::string_view data) { return FormatSse({}, data); }

}  // namespace tether
