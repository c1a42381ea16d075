// libFuzzer target for HttpParser. Beyond "does not crash", it checks that
// the parse does not depend on how the bytes were split across Feed() calls,
// and that a parsed head serialises into bytes that parse to the same head.
//
// Input: byte 0 picks the mode (request/response, HEAD response, small
// limits), byte 1 the piece size of the split parse, the rest is the stream.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http.h"

namespace tether {
namespace {

struct Message {
  std::string method, target, reason;
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  BodyFraming framing = BodyFraming::kNone;
  std::string body;
  bool complete = false;
  bool keep_alive = false;
  bool operator==(const Message&) const = default;
};

struct Outcome {
  std::vector<Message> messages;
  size_t consumed = 0;
  HttpParser::Error error = HttpParser::Error::kNone;
  bool eof_ok = false;
  bool operator==(const Outcome&) const = default;
};

class Run {
 public:
  Run(HttpParser::Kind kind, HttpLimits limits, bool head_response)
      : kind_(kind),
        head_response_(head_response),
        parser_(kind, limits,
                {[this] { return OnHead(); },
                 [this](std::string_view b) {
                   if (!out_.messages.empty()) out_.messages.back().body.append(b);
                   return true;
                 },
                 [this] {
                   if (out_.messages.empty()) std::abort();  // complete without a head
                   out_.messages.back().complete = true;
                   out_.messages.back().keep_alive = parser_.keep_alive();
                 }}) {
    if (head_response_) parser_.ExpectNoBody();
  }

  Outcome Parse(std::string_view data, size_t step) {
    size_t off = 0;
    while (off < data.size() && parser_.error() == HttpParser::Error::kNone) {
      size_t n = std::min(step, data.size() - off);
      size_t used = parser_.Feed(data.data() + off, n);
      if (used > n) std::abort();
      off += used;
      if (parser_.paused()) {
        parser_.Resume();
        if (head_response_) parser_.ExpectNoBody();
      } else if (used < n) {
        break;
      }
    }
    out_.consumed = off;
    out_.error = parser_.error();
    out_.eof_ok = parser_.FeedEof();
    return out_;
  }

 private:
  bool OnHead() {
    Message m;
    if (kind_ == HttpParser::Kind::kRequest) {
      m.method = parser_.request().method;
      m.target = parser_.request().target;
      m.headers = parser_.request().headers.list();
    } else {
      m.status = parser_.response().status;
      m.reason = parser_.response().reason;
      m.headers = parser_.response().headers.list();
    }
    m.framing = parser_.framing();
    out_.messages.push_back(std::move(m));
    return true;
  }

  HttpParser::Kind kind_;
  bool head_response_;
  HttpParser parser_;
  Outcome out_;
};

// Parses a serialised head and returns the message seen at on_head.
Message Reparse(HttpParser::Kind kind, HttpLimits limits, const std::string& wire) {
  Message m;
  bool seen = false;
  HttpParser* self = nullptr;
  HttpParser p(kind, limits,
               {[&] {
                  seen = true;
                  if (kind == HttpParser::Kind::kRequest) {
                    m.method = self->request().method;
                    m.target = self->request().target;
                    m.headers = self->request().headers.list();
                  } else {
                    m.status = self->response().status;
                    m.reason = self->response().reason;
                    m.headers = self->response().headers.list();
                  }
                  return false;  // the head is all we need
                },
                nullptr, nullptr});
  self = &p;
  p.ExpectNoBody();
  p.Feed(wire.data(), wire.size());
  if (!seen) std::abort();  // a serialised head the parser refuses
  return m;
}

// Limits for re-parsing: a default reason phrase may add a few bytes.
const HttpLimits kRoomy{1 << 20, 1 << 16};

bool Serialisable(const Message& m) {
  for (const auto& [k, v] : m.headers)
    if (k.empty() || HasForbiddenHeaderBytes(k) || HasForbiddenHeaderBytes(v)) return false;
  return true;
}

}  // namespace
}  // namespace tether

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  if (size < 2) return 0;
  uint8_t mode = data[0];
  size_t step = data[1] % 32 + 1;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  HttpParser::Kind kind = (mode & 1) ? HttpParser::Kind::kResponse : HttpParser::Kind::kRequest;
  bool head_response = kind == HttpParser::Kind::kResponse && (mode & 2);
  HttpLimits limits;
  if (mode & 4) {
    limits.max_header_bytes = 64 + (mode >> 3) * 8;
    limits.max_headers = (mode >> 3) % 8 + 1;
  }

  Outcome whole = Run(kind, limits, head_response).Parse(input, input.size());
  Outcome split = Run(kind, limits, head_response).Parse(input, step);
  // When a message fails, where it stopped and which error came first may
  // depend on the split: llhttp calls span callbacks (where our limits are
  // checked) at the end of each piece, but finds bad syntax byte by byte.
  // That it failed, and everything delivered before, must not.
  if ((whole.error == HttpParser::Error::kNone) != (split.error == HttpParser::Error::kNone))
    std::abort();
  if (whole.error != HttpParser::Error::kNone) {
    split.consumed = whole.consumed;
    split.error = whole.error;
  }
  if (!(whole == split)) std::abort();  // the parse depends on the split

  for (const Message& m : whole.messages) {
    if (!Serialisable(m)) continue;
    if (kind == HttpParser::Kind::kRequest) {
      RequestHead head;
      head.method = m.method;
      head.target = m.target;
      for (const auto& [k, v] : m.headers) head.headers.Add(k, v);
      Message again = Reparse(kind, kRoomy, SerializeRequestHead(head));
      if (again.method != m.method || again.target != m.target || again.headers != m.headers)
        std::abort();
    } else if (m.status >= 100 && m.status <= 999) {
      ResponseHead head;
      head.status = m.status;
      head.reason = m.reason;
      for (const auto& [k, v] : m.headers) head.headers.Add(k, v);
      Message again = Reparse(kind, kRoomy, SerializeResponseHead(head));
      if (again.status != m.status || again.headers != m.headers) std::abort();
    }
  }

  // Chunked encoding of the input as a body decodes back to the input.
  if (kind == HttpParser::Kind::kRequest && input.size() <= 4096) {
    std::string wire = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (size_t off = 0; off < input.size(); off += step * 7) AppendChunk(&wire, input.substr(off, step * 7));
    wire += kLastChunk;
    Outcome o = Run(kind, HttpLimits{}, false).Parse(wire, step);
    if (o.messages.size() != 1 || o.messages[0].body != input || !o.messages[0].complete) std::abort();
  }
  return 0;
}
