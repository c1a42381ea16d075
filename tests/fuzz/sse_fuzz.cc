// libFuzzer target for SseParser and FormatSse. Checks that the events do
// not depend on how the stream was split, and that every parsed event
// formats back into bytes that parse to the same event.
//
// Input: byte 0 is the piece size of the split parse, the rest the stream.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/sse.h"

namespace {

struct Ev {
  std::string event, data, id;
  bool has_data;
  bool operator==(const Ev&) const = default;
};

std::vector<Ev> Parse(std::string_view s, size_t step, bool finish) {
  std::vector<Ev> out;
  tether::SseParser p([&](const tether::SseEvent& e) { out.push_back({e.event, e.data, e.id, e.has_data}); });
  for (size_t off = 0; off < s.size(); off += step) p.Feed(s.substr(off, step));
  if (finish) p.Finish();
  return out;
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t step = data[0] % 16 + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  for (bool finish : {false, true}) {
    std::vector<Ev> whole = Parse(input, input.size() ? input.size() : 1, finish);
    if (Parse(input, step, finish) != whole) std::abort();  // depends on the split
    if (!finish) continue;
    for (const Ev& e : whole) {
      // Line ends never leak into a field; data lines are joined with LF only.
      if (HasLineBreak(e.event) || HasLineBreak(e.id) || e.data.find('\r') != std::string::npos)
        std::abort();
      if (!e.has_data) continue;
      std::vector<Ev> again = Parse(tether::FormatSse(e.event, e.data), step, false);
      if (again.size() != 1 || again[0].event != e.event || again[0].data != e.data) std::abort();
    }
  }

  // Any data formats into exactly one event with that name and the data's
  // line breaks (CR, LF, CRLF) normalised to LF.
  size_t cut = input.find('\0');
  std::string_view name = cut == std::string_view::npos ? std::string_view() : input.substr(0, cut);
  std::string_view body = cut == std::string_view::npos ? input : input.substr(cut + 1);
  if (HasLineBreak(name)) name = "message";
  std::string normalised;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r') {
      normalised += '\n';
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else {
      normalised += body[i];
    }
  }
  std::vector<Ev> one = Parse(tether::FormatSse(name, body), step, false);
  if (one.size() != 1 || one[0].event != name || one[0].data != normalised || !one[0].id.empty())
    std::abort();
  return 0;
}
