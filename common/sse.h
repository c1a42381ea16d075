// Server-Sent Events framing (WHATWG HTML, "event stream interpretation"):
// an incremental parser that survives any split of its input, and formatting.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace tether {

struct SseEvent {
  std::string event;  // empty means the default "message"
  std::string data;   // data lines joined with '\n'
  std::string id;
  bool has_data = false;
};

class SseParser {
 public:
  using Callback = std::function<void(const SseEvent&)>;
  explicit SseParser(Callback on_event) : on_event_(std::move(on_event)) {}
  // Feeds any slice of the stream; complete events are delivered in order.
  void Feed(std::string_view bytes);
  // End of stream: a trailing event without its blank line is delivered too,
  // since providers that are cut off mid-stream still sent useful data.
  void Finish();
  size_t buffered() const { return line_.size(); }

 private:
  void Line(std::string_view line);
  void Dispatch();
  Callback on_event_;
  std::string line_;
  bool last_was_cr_ = false;
  SseEvent pending_;
};

// "event: NAME\ndata: DATA\n\n"; multi-line data is split into data lines.
std::string FormatSse(std::string_view event, std::string_view data);
// "data: DATA\n\n"
std::string FormatSseData(std::string_view data);

}  // namespace tether
