// HttpParser, Headers and serialisation, driven with raw bytes: no sockets.
#include "common/http.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace tether {
namespace {

// A string literal with embedded NULs, all of it.
template <size_t N>
std::string Bytes(const char (&s)[N]) {
  return std::string(s, N - 1);
}

using HeaderList = std::vector<std::pair<std::string, std::string>>;
using Kind = HttpParser::Kind;
using Error = HttpParser::Error;

// What one message looked like: the head as seen in on_head, then what followed.
struct Message {
  std::string method, target, reason;
  int status = 0;
  int version_minor = -1;
  HeaderList headers;
  BodyFraming framing = BodyFraming::kNone;
  uint64_t content_length = 0;
  std::string body;
  bool complete = false;
  bool keep_alive = false;

  bool operator==(const Message&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Message& m) {
  os << "{" << m.method << " " << m.target << " " << m.status << " " << m.reason << " 1."
     << m.version_minor << " framing=" << static_cast<int>(m.framing) << " [";
  for (const auto& [k, v] : m.headers) os << k << ": " << v << "; ";
  return os << "] body=\"" << m.body << "\" complete=" << m.complete
            << " keep_alive=" << m.keep_alive << "}";
}

// Owns a parser and records every callback. Feed() resumes after each
// complete message, so a buffer holding several messages yields all of them.
class Recorder {
 public:
  explicit Recorder(Kind kind, HttpLimits limits = {})
      : kind_(kind),
        parser(kind, limits,
               {[this] { return OnHead(); }, [this](std::string_view b) { return OnBody(b); },
                [this] { OnComplete(); }}) {}
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // Feeds `data` in pieces of at most `step` bytes; returns bytes consumed.
  size_t Feed(std::string_view data, size_t step = std::string_view::npos) {
    size_t off = 0;
    while (off < data.size() && parser.error() == Error::kNone) {
      size_t n = std::min(step, data.size() - off);
      size_t used = parser.Feed(data.data() + off, n);
      off += used;
      if (parser.paused()) parser.Resume();
      else if (used < n) break;
    }
    return off;
  }

 private:
  Kind kind_;

 public:
  HttpParser parser;
  std::vector<Message> messages;
  int completes = 0;
  bool accept_head = true;
  size_t accept_body_bytes = std::string::npos;  // body bytes accepted before refusing

 private:
  bool OnHead() {
    Message m;
    if (kind_ == Kind::kRequest) {
      m.method = parser.request().method;
      m.target = parser.request().target;
      m.version_minor = parser.request().version_minor;
      m.headers = parser.request().headers.list();
    } else {
      m.status = parser.response().status;
      m.reason = parser.response().reason;
      m.version_minor = parser.response().version_minor;
      m.headers = parser.response().headers.list();
    }
    m.framing = parser.framing();
    m.content_length = parser.content_length();
    messages.push_back(std::move(m));
    return accept_head;
  }
  bool OnBody(std::string_view b) {
    EXPECT_FALSE(messages.empty()) << "body before head";
    if (messages.empty()) return false;
    body_bytes_ += b.size();
    if (body_bytes_ > accept_body_bytes) return false;
    messages.back().body.append(b);
    return true;
  }
  void OnComplete() {
    ++completes;
    EXPECT_FALSE(messages.empty()) << "complete before head";
    if (messages.empty()) return;
    messages.back().complete = true;
    messages.back().keep_alive = parser.keep_alive();
  }
  size_t body_bytes_ = 0;
};

// ---------------------------------------------------------------- requests

TEST(HttpParserTest, SimpleGet) {
  Recorder r(Kind::kRequest);
  std::string in =
      "GET /v1/models?limit=5&after=x HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  EXPECT_EQ(r.Feed(in), in.size());
  EXPECT_EQ(r.parser.error(), Error::kNone);
  ASSERT_EQ(r.messages.size(), 1u);
  const Message& m = r.messages[0];
  EXPECT_EQ(m.method, "GET");
  EXPECT_EQ(m.target, "/v1/models?limit=5&after=x");
  EXPECT_EQ(m.version_minor, 1);
  EXPECT_EQ(m.headers, (HeaderList{{"Host", "example.com"}, {"Accept", "*/*"}}));
  EXPECT_EQ(m.framing, BodyFraming::kNone);
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.keep_alive);
  EXPECT_EQ(r.parser.request().Path(), "/v1/models");
  EXPECT_EQ(r.parser.request().Query(), "limit=5&after=x");
  EXPECT_FALSE(r.parser.in_message());
}

TEST(HttpParserTest, PathAndQueryWithoutQuery) {
  RequestHead head;
  head.target = "/v1/messages";
  EXPECT_EQ(head.Path(), "/v1/messages");
  EXPECT_EQ(head.Query(), "");
  head.target = "/v1/messages?";
  EXPECT_EQ(head.Path(), "/v1/messages");
  EXPECT_EQ(head.Query(), "");
}

TEST(HttpParserTest, PostWithContentLengthBody) {
  Recorder r(Kind::kRequest);
  std::string body = R"({"model":"claude","messages":[]})";
  std::string in = "POST /v1/messages HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(r.Feed(in), in.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].method, "POST");
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kLength);
  EXPECT_EQ(r.messages[0].content_length, body.size());
  EXPECT_EQ(r.messages[0].body, body);
  EXPECT_TRUE(r.messages[0].complete);
}

TEST(HttpParserTest, ContentLengthZeroHasNoBody) {
  Recorder r(Kind::kRequest);
  std::string in = "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(r.Feed(in), in.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kNone);
  EXPECT_TRUE(r.messages[0].complete);
}

TEST(HttpParserTest, BodyNotCompleteUntilAllBytesArrive) {
  Recorder r(Kind::kRequest);
  std::string in = "POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234";
  EXPECT_EQ(r.Feed(in), in.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.messages[0].complete);
  EXPECT_TRUE(r.parser.in_message());
  EXPECT_FALSE(r.parser.FeedEof()) << "EOF mid-body is a truncated message";
}

TEST(HttpParserTest, ChunkedBodyWithExtensions) {
  Recorder r(Kind::kRequest);
  std::string in =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;foo=bar\r\nhello\r\n"
      "6;name=\"quoted value\"\r\n world\r\n"
      "A\r\n0123456789\r\n"
      "0\r\n\r\n";
  EXPECT_EQ(r.Feed(in), in.size());
  EXPECT_EQ(r.parser.error(), Error::kNone) << r.parser.error_reason();
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kChunked);
  EXPECT_EQ(r.messages[0].body, "hello world0123456789");
  EXPECT_TRUE(r.messages[0].complete);
}

TEST(HttpParserTest, ChunkedBodyWithBadChunkSizeIsRejected) {
  Recorder r(Kind::kRequest);
  std::string in =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
  r.Feed(in);
  EXPECT_EQ(r.parser.error(), Error::kBadRequest);
  EXPECT_EQ(r.completes, 0);
}

TEST(HttpParserTest, ChunkDataLongerThanItsSizeIsRejected) {
  Recorder r(Kind::kRequest);
  std::string in =
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n";
  r.Feed(in);
  EXPECT_EQ(r.parser.error(), Error::kBadRequest);
  EXPECT_EQ(r.completes, 0);
}

TEST(HttpParserTest, TrailersAreConsumedAndDoNotChangeTheHead) {
  Recorder r(Kind::kRequest);
  std::string in =
      "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
      "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  EXPECT_EQ(r.Feed(in), in.size());
  EXPECT_EQ(r.parser.error(), Error::kNone) << r.parser.error_reason();
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].body, "hello");
  EXPECT_TRUE(r.messages[0].complete);
  EXPECT_EQ(r.messages[1].target, "/b");
  EXPECT_EQ(r.messages[1].headers, (HeaderList{{"Host", "h"}}));
  // The head was handed over before the trailers arrived; trailer fields
  // must not show up in it afterwards (a relay may read it again later).
  Recorder r2(Kind::kRequest);
  std::string one = in.substr(0, in.find("GET /b"));
  EXPECT_EQ(r2.Feed(one), one.size());
  EXPECT_EQ(r2.parser.request().headers.list(),
            (HeaderList{{"Host", "h"}, {"Transfer-Encoding", "chunked"}, {"Trailer", "X-Checksum"}}));
  EXPECT_EQ(r2.parser.request().headers.Get("X-Checksum"), nullptr);
}

TEST(HttpParserTest, PipelinedRequestsPauseAfterEachMessage) {
  int completes = 0;
  std::vector<std::string> targets;
  HttpParser p(Kind::kRequest, {},
               {[&] {
                  targets.push_back(p.request().target);
                  return true;
                },
                nullptr, [&] { ++completes; }});
  std::string first = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  std::string second = "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  std::string in = first + second;

  size_t used = p.Feed(in.data(), in.size());
  EXPECT_EQ(used, first.size());
  EXPECT_TRUE(p.paused());
  EXPECT_EQ(p.error(), Error::kNone);
  EXPECT_EQ(completes, 1);
  EXPECT_EQ(targets, std::vector<std::string>{"/a"});
  // While paused nothing more is parsed.
  EXPECT_EQ(p.Feed(in.data() + used, in.size() - used), 0u);
  EXPECT_EQ(completes, 1);

  p.Resume();
  EXPECT_FALSE(p.paused());
  size_t used2 = p.Feed(in.data() + used, in.size() - used);
  EXPECT_EQ(used2, second.size());
  EXPECT_TRUE(p.paused());
  EXPECT_EQ(completes, 2);
  EXPECT_EQ(targets, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_EQ(p.request().target, "/b");
}

TEST(HttpParserTest, PauseOffsetIsRightWhenTheMessageEndsOnAFeedBoundary) {
  int completes = 0;
  HttpParser p(Kind::kRequest, {}, {nullptr, nullptr, [&] { ++completes; }});
  std::string in = "GET / HTTP/1.1\r\n\r\n";
  // All but the last byte, then the last byte alone: the pause lands on it.
  EXPECT_EQ(p.Feed(in.data(), in.size() - 1), in.size() - 1);
  EXPECT_EQ(completes, 0);
  EXPECT_EQ(p.Feed(in.data() + in.size() - 1, 1), 1u);
  EXPECT_EQ(completes, 1);
  EXPECT_TRUE(p.paused());
}

// Messages whose parse must not depend on how the bytes were split.
const char* const kSplitRequests =
    "POST /u1/v1/messages?beta=true HTTP/1.1\r\n"
    "Host: 127.0.0.1:8000\r\n"
    "session_id: 4f1c\r\n"
    "anthropic-beta: a,b\r\n"
    "X-Empty:\r\n"
    "X-Folded: one\r\n two\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5;foo=bar\r\nhello\r\n"
    "1\r\n \r\n"
    "10\r\n0123456789abcdef\r\n"
    "0\r\nX-Trailer: t\r\n\r\n"
    "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 11\r\nHost: x\r\n\r\nhello world"
    "GET /healthz HTTP/1.0\r\n\r\n";

TEST(HttpParserTest, RequestsSplitAtEveryByteParseTheSame) {
  std::string in = kSplitRequests;
  Recorder whole(Kind::kRequest);
  ASSERT_EQ(whole.Feed(in), in.size());
  ASSERT_EQ(whole.parser.error(), Error::kNone) << whole.parser.error_reason();
  ASSERT_EQ(whole.messages.size(), 3u);
  EXPECT_EQ(whole.messages[0].body, "hello 0123456789abcdef");
  EXPECT_EQ(whole.messages[1].body, "hello world");
  EXPECT_EQ(whole.messages[2].version_minor, 0);
  for (size_t step : {1, 2, 3, 5, 7, 13}) {
    Recorder split(Kind::kRequest);
    EXPECT_EQ(split.Feed(in, step), in.size()) << "step " << step;
    EXPECT_EQ(split.messages, whole.messages) << "step " << step;
  }
  // Two pieces, cut at every position.
  for (size_t cut = 1; cut < in.size(); ++cut) {
    Recorder two(Kind::kRequest);
    two.Feed(in.substr(0, cut));
    two.Feed(in.substr(cut));
    ASSERT_EQ(two.messages, whole.messages) << "cut at " << cut;
  }
}

TEST(HttpParserTest, ResponsesSplitAtEveryByteParseTheSame) {
  std::string in =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
      "f\r\ndata: {\"a\":1}\n\n\r\n"
      "d;x=y\r\ndata: [DONE]\n\r\n"
      "0\r\n\r\n"
      "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{}";
  Recorder whole(Kind::kResponse);
  ASSERT_EQ(whole.Feed(in), in.size());
  ASSERT_EQ(whole.messages.size(), 2u);
  EXPECT_EQ(whole.messages[0].body, "data: {\"a\":1}\n\ndata: [DONE]\n");
  EXPECT_EQ(whole.messages[1].status, 429);
  for (size_t step = 1; step <= 4; ++step) {
    Recorder split(Kind::kResponse);
    EXPECT_EQ(split.Feed(in, step), in.size());
    EXPECT_EQ(split.messages, whole.messages) << "step " << step;
  }
}

// ------------------------------------------------------------------ limits

TEST(HttpParserTest, HeaderBytesOverLimitIsHeadersTooLarge) {
  HttpLimits limits;
  limits.max_header_bytes = 256;
  auto request = [](size_t value_len) {
    return "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + std::string(value_len, 'v') + "\r\n\r\n";
  };
  {
    Recorder r(Kind::kRequest, limits);
    std::string in = request(100);
    EXPECT_EQ(r.Feed(in), in.size());
    EXPECT_EQ(r.parser.error(), Error::kNone);
    EXPECT_EQ(r.completes, 1);
  }
  for (size_t step : {std::string::npos, size_t{1}}) {
    Recorder r(Kind::kRequest, limits);
    r.Feed(request(300), step);
    EXPECT_EQ(r.parser.error(), Error::kHeadersTooLarge) << "step " << step;
    EXPECT_FALSE(r.parser.error_reason().empty());
    EXPECT_TRUE(r.messages.empty()) << "head must not be delivered";
  }
}

TEST(HttpParserTest, LongTargetCountsTowardsTheHeaderLimit) {
  HttpLimits limits;
  limits.max_header_bytes = 256;
  Recorder r(Kind::kRequest, limits);
  r.Feed("GET /" + std::string(1000, 'a') + " HTTP/1.1\r\n\r\n", 64);
  EXPECT_EQ(r.parser.error(), Error::kHeadersTooLarge);
  EXPECT_TRUE(r.messages.empty());
}

TEST(HttpParserTest, ManySmallHeadersHitTheByteLimit) {
  HttpLimits limits;
  limits.max_header_bytes = 1024;
  limits.max_headers = 100000;
  std::string in = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 200; ++i) in += "X-H" + std::to_string(i) + ": value\r\n";
  in += "\r\n";
  Recorder r(Kind::kRequest, limits);
  r.Feed(in);
  EXPECT_EQ(r.parser.error(), Error::kHeadersTooLarge);
}

TEST(HttpParserTest, HeaderCountOverLimitIsHeadersTooLarge) {
  HttpLimits limits;
  limits.max_headers = 4;
  auto request = [](int n) {
    std::string s = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < n; ++i) s += "X-H" + std::to_string(i) + ": v\r\n";
    return s + "\r\n";
  };
  {
    Recorder r(Kind::kRequest, limits);
    r.Feed(request(4));
    EXPECT_EQ(r.parser.error(), Error::kNone);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].headers.size(), 4u);
  }
  for (int n : {5, 6, 50}) {
    Recorder r(Kind::kRequest, limits);
    r.Feed(request(n));
    EXPECT_EQ(r.parser.error(), Error::kHeadersTooLarge) << n << " headers";
    EXPECT_TRUE(r.messages.empty());
  }
}

TEST(HttpParserTest, ResponseHeadersAreLimitedToo) {
  HttpLimits limits;
  limits.max_header_bytes = 128;
  Recorder r(Kind::kResponse, limits);
  r.Feed("HTTP/1.1 200 OK\r\nX-Big: " + std::string(500, 'x') + "\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.parser.error(), Error::kHeadersTooLarge);
}

// ----------------------------------------------------------------- headers

TEST(HttpParserTest, HeaderNamesKeepSpellingUnderscoresAndOrder) {
  Recorder r(Kind::kRequest);
  r.Feed(
      "POST /v1/responses HTTP/1.1\r\n"
      "session_id: s-1\r\n"
      "X-Stainless-OS: Linux\r\n"
      "anthropic-version: 2023-06-01\r\n"
      "ACCEPT: text/event-stream\r\n"
      "Content-Length: 0\r\n\r\n");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].headers, (HeaderList{{"session_id", "s-1"},
                                               {"X-Stainless-OS", "Linux"},
                                               {"anthropic-version", "2023-06-01"},
                                               {"ACCEPT", "text/event-stream"},
                                               {"Content-Length", "0"}}));
  const Headers& h = r.parser.request().headers;
  ASSERT_NE(h.Get("SESSION_ID"), nullptr);
  EXPECT_EQ(*h.Get("Session_Id"), "s-1");
  EXPECT_EQ(h.Get("session-id"), nullptr) << "underscore and dash are different names";
  EXPECT_EQ(h.GetOr("x-stainless-os", "?"), "Linux");
  EXPECT_EQ(h.GetOr("accept", "?"), "text/event-stream");
  EXPECT_EQ(h.GetOr("x-missing", "fallback"), "fallback");
  // Serialised again with the original spelling.
  std::string again = SerializeRequestHead(r.parser.request());
  EXPECT_NE(again.find("\r\nsession_id: s-1\r\n"), std::string::npos) << again;
  EXPECT_NE(again.find("\r\nX-Stainless-OS: Linux\r\n"), std::string::npos) << again;
  EXPECT_LT(again.find("session_id"), again.find("anthropic-version"));
}

TEST(HttpParserTest, DuplicateHeadersAreAllKeptInOrder) {
  Recorder r(Kind::kRequest);
  r.Feed(
      "GET / HTTP/1.1\r\nAccept: a\r\nX-Other: o\r\naccept: b\r\nACCEPT: c\r\n\r\n");
  ASSERT_EQ(r.messages.size(), 1u);
  const Headers& h = r.parser.request().headers;
  EXPECT_EQ(h.Count("Accept"), 3u);
  EXPECT_EQ(h.Count("x-other"), 1u);
  EXPECT_EQ(h.Count("missing"), 0u);
  ASSERT_NE(h.Get("accept"), nullptr);
  EXPECT_EQ(*h.Get("accept"), "a") << "Get returns the first";
  EXPECT_EQ(h.list()[2], (std::pair<std::string, std::string>{"accept", "b"}));
  EXPECT_EQ(h.list()[3], (std::pair<std::string, std::string>{"ACCEPT", "c"}));
}

TEST(HttpParserTest, EmptyHeaderValueDoesNotMergeNames) {
  Recorder r(Kind::kRequest);
  r.Feed("GET / HTTP/1.1\r\nX-Empty:\r\nX-Spaces:   \r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].headers,
            (HeaderList{{"X-Empty", ""}, {"X-Spaces", ""}, {"Host", "h"}}));
}

TEST(HttpParserTest, ObsFoldNeverLeavesLineBreaksInAValue) {
  Recorder r(Kind::kRequest);
  r.Feed("GET / HTTP/1.1\r\nX-Folded: one\r\n two\r\nHost: h\r\n\r\n");
  // RFC 9112 section 5.2: reject, or replace the fold with spaces.
  if (r.parser.error() == Error::kNone) {
    ASSERT_EQ(r.messages.size(), 1u);
    const std::string* v = r.parser.request().headers.Get("X-Folded");
    ASSERT_NE(v, nullptr);
    EXPECT_FALSE(HasForbiddenHeaderBytes(*v)) << *v;
    EXPECT_NE(v->find("one"), std::string::npos);
    EXPECT_NE(v->find("two"), std::string::npos);
  } else {
    EXPECT_EQ(r.parser.error(), Error::kBadRequest);
  }
}

TEST(HeadersTest, SetReplacesAllSpellingsAndRemoveDropsThem) {
  Headers h;
  h.Add("X-A", "1");
  h.Add("Host", "h");
  h.Add("x-a", "2");
  h.Set("X-a", "3");
  EXPECT_EQ(h.Count("x-A"), 1u);
  EXPECT_EQ(h.list(), (HeaderList{{"Host", "h"}, {"X-a", "3"}}));
  h.Remove("HOST");
  EXPECT_EQ(h.list(), (HeaderList{{"X-a", "3"}}));
  h.Remove("absent");
  EXPECT_EQ(h.size(), 1u);
}

TEST(HeadersTest, EqualsIgnoreCaseIsAsciiOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Type", "content-TYPE"));
  EXPECT_FALSE(EqualsIgnoreCase("Content-Type", "Content-Typ"));
  EXPECT_FALSE(EqualsIgnoreCase("a_b", "a-b"));
  EXPECT_FALSE(EqualsIgnoreCase("@", "`"));  // 0x40 vs 0x60: not letters
  EXPECT_FALSE(EqualsIgnoreCase("[", "{"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
}

// ---------------------------------------------------- smuggling defences

TEST(HttpParserTest, ContentLengthWithTransferEncodingIsRejected) {
  for (std::string in : {
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n0\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
           "5\r\nhello\r\n0\r\n\r\n",
       }) {
    Recorder r(Kind::kRequest);
    r.Feed(in);
    EXPECT_EQ(r.parser.error(), Error::kBadRequest) << in;
    EXPECT_TRUE(r.messages.empty()) << in;
    EXPECT_EQ(r.completes, 0);
  }
}

TEST(HttpParserTest, DuplicateContentLengthIsRejected) {
  for (std::string in : {
           "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
           "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello",
           "POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\nhello",
           "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
       }) {
    Recorder r(Kind::kRequest);
    r.Feed(in);
    EXPECT_EQ(r.parser.error(), Error::kBadRequest) << in;
    EXPECT_TRUE(r.messages.empty()) << in;
  }
}

TEST(HttpParserTest, TransferEncodingOtherThanFinalChunkedIsRejected) {
  for (std::string in : {
           "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
           "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc",
       }) {
    Recorder r(Kind::kRequest);
    r.Feed(in);
    EXPECT_EQ(r.parser.error(), Error::kBadRequest) << in;
    EXPECT_EQ(r.completes, 0);
  }
}

TEST(HttpParserTest, WhitespaceInOrBeforeAHeaderNameIsRejected) {
  // RFC 9112 section 5.1: a server MUST reject whitespace between the field
  // name and the colon; a relay that let it through could be read differently
  // by the next hop.
  for (std::string in : {
           "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
           "POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",
           "GET / HTTP/1.1\r\nX-Api-Key : k\r\n\r\n",
           "GET / HTTP/1.1\r\nX Api: k\r\n\r\n",
           "GET / HTTP/1.1\r\nX\tA: k\r\n\r\n",
           "GET / HTTP/1.1\r\nX/A: k\r\n\r\n",
       }) {
    Recorder r(Kind::kRequest);
    r.Feed(in);
    EXPECT_EQ(r.parser.error(), Error::kBadRequest) << in;
    EXPECT_TRUE(r.messages.empty()) << in;
  }
}

TEST(HttpParserTest, LineBreakOrNulInsideAHeaderValueIsRejected) {
  for (std::string in : {
           std::string("GET / HTTP/1.1\r\nX-A: a\rb\r\nHost: h\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nX-A: a\rX-Injected: 1\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nX-A: a\nb: c\r\nHost: h\r\n\r\n"),
           Bytes("GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"),
       }) {
    Recorder r(Kind::kRequest);
    r.Feed(in);
    EXPECT_EQ(r.parser.error(), Error::kBadRequest) << in;
    EXPECT_TRUE(r.messages.empty()) << in;
  }
}

// ------------------------------------------------------------ bad requests

TEST(HttpParserTest, InvalidRequestLineIsBadRequest) {
  for (std::string in : {
           "GET / HTTP/1.1 extra\r\n\r\n",
           "GET / HTTP/1.1x\r\n\r\n",
           "GET / HTTP/9.9\r\n\r\n",
           "GET  HTTP/1.1\r\n\r\n",
           "GET /a\x01 HTTP/1.1\r\n\r\n",
           "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello on the plain port
       }) {
    Recorder r(Kind::kRequest);
    r.Feed(in);
    EXPECT_EQ(r.parser.error(), Error::kBadRequest) << in;
    EXPECT_FALSE(r.parser.error_reason().empty());
    EXPECT_TRUE(r.messages.empty()) << in;
  }
}

TEST(HttpParserTest, UnknownMethodIsBadRequest) {
  for (std::string in : {"FOO / HTTP/1.1\r\n\r\n", "get / HTTP/1.1\r\n\r\n",
                         "GETT / HTTP/1.1\r\n\r\n"}) {
    Recorder r(Kind::kRequest);
    r.Feed(in);
    EXPECT_EQ(r.parser.error(), Error::kBadRequest) << in;
    EXPECT_TRUE(r.messages.empty());
  }
}

TEST(HttpParserTest, AfterAnErrorNothingMoreIsParsed) {
  Recorder r(Kind::kRequest);
  std::string bad = "FOO / HTTP/1.1\r\n\r\n";
  r.Feed(bad);
  ASSERT_EQ(r.parser.error(), Error::kBadRequest);
  std::string good = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(r.parser.Feed(good.data(), good.size()), 0u);
  EXPECT_TRUE(r.messages.empty());
}

TEST(HttpParserTest, ResetAfterAnErrorParsesAFreshMessage) {
  Recorder r(Kind::kRequest);
  r.Feed("FOO / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(r.parser.error(), Error::kBadRequest);
  r.parser.Reset();
  EXPECT_EQ(r.parser.error(), Error::kNone);
  EXPECT_TRUE(r.parser.error_reason().empty());
  std::string good = "GET /ok HTTP/1.1\r\n\r\n";
  EXPECT_EQ(r.Feed(good), good.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].target, "/ok");
}

// ---------------------------------------------------------- connection use

TEST(HttpParserTest, KeepAliveFollowsVersionAndConnectionHeader) {
  struct Case {
    const char* in;
    int minor;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.0\r\nHost: h\r\n\r\n", 0, false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, true},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, true},
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1, true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 1, false},
      {"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", 1, false},
  };
  for (const Case& c : cases) {
    Recorder r(Kind::kRequest);
    r.Feed(c.in);
    ASSERT_EQ(r.messages.size(), 1u) << c.in;
    EXPECT_EQ(r.messages[0].version_minor, c.minor) << c.in;
    EXPECT_EQ(r.messages[0].keep_alive, c.keep_alive) << c.in;
  }
}

TEST(HttpParserTest, UpgradeRequestIsServedAsPlainHttp) {
  // curl --http2 on an http:// URL asks for h2c; the relay ignores the
  // Upgrade and the connection keeps serving HTTP/1.1 requests.
  Recorder r(Kind::kRequest);
  std::string in =
      "GET /v1/models HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
      "POST /v1/messages HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}";
  EXPECT_EQ(r.Feed(in), in.size());
  EXPECT_EQ(r.parser.error(), Error::kNone) << r.parser.error_reason();
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_TRUE(r.messages[0].complete);
  EXPECT_EQ(r.messages[1].target, "/v1/messages");
  EXPECT_EQ(r.messages[1].body, "{}");
  EXPECT_TRUE(r.messages[1].complete);
}

TEST(HttpParserTest, FeedEofOnAnIdleConnectionIsClean) {
  Recorder r(Kind::kRequest);
  EXPECT_TRUE(r.parser.FeedEof());
  Recorder r2(Kind::kRequest);
  r2.Feed("GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(r2.parser.FeedEof());
  Recorder r3(Kind::kRequest);
  r3.Feed("GET / HTTP/1.1\r\nHost:");
  EXPECT_FALSE(r3.parser.FeedEof()) << "EOF inside a head is a truncated message";
}

// ---------------------------------------------------------------- rejects

TEST(HttpParserTest, BodyCallbackRefusingIsBodyRejected) {
  Recorder r(Kind::kRequest);
  r.accept_body_bytes = 3;
  r.Feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET / HTTP/1.1\r\n\r\n", 4);
  EXPECT_EQ(r.parser.error(), Error::kBodyRejected);
  EXPECT_FALSE(r.parser.error_reason().empty());
  EXPECT_EQ(r.completes, 0);
  ASSERT_EQ(r.messages.size(), 1u);
}

TEST(HttpParserTest, HeadCallbackRefusingStopsTheParser) {
  Recorder r(Kind::kRequest);
  r.accept_head = false;
  r.Feed("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_NE(r.parser.error(), Error::kNone);
  EXPECT_EQ(r.completes, 0);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].body, "");
}

// --------------------------------------------------------------- responses

TEST(HttpParserTest, ResponseStatusReasonAndContentLength) {
  Recorder r(Kind::kResponse);
  std::string in =
      "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  EXPECT_EQ(r.Feed(in), in.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].status, 404);
  EXPECT_EQ(r.messages[0].reason, "Not Found");
  EXPECT_EQ(r.messages[0].version_minor, 1);
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kLength);
  EXPECT_EQ(r.messages[0].body, "{}");
  EXPECT_TRUE(r.messages[0].complete);
  EXPECT_TRUE(r.messages[0].keep_alive);
}

TEST(HttpParserTest, ResponseWithoutReasonPhrase) {
  Recorder r(Kind::kResponse);
  r.Feed("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].status, 200);
  EXPECT_EQ(r.messages[0].reason, "");
}

TEST(HttpParserTest, ChunkedResponse) {
  Recorder r(Kind::kResponse);
  std::string in =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3;ext\r\ndef\r\n0\r\n\r\n";
  EXPECT_EQ(r.Feed(in), in.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kChunked);
  EXPECT_EQ(r.messages[0].body, "abcdef");
  EXPECT_TRUE(r.messages[0].complete);
}

TEST(HttpParserTest, ResponseWithContentLengthAndTransferEncodingIsRejected) {
  Recorder r(Kind::kResponse);
  r.Feed(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(r.parser.error(), Error::kBadRequest);
  EXPECT_EQ(r.completes, 0);
}

TEST(HttpParserTest, ResponseReadUntilCloseCompletesOnEof) {
  Recorder r(Kind::kResponse);
  std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello ";
  EXPECT_EQ(r.Feed(in), in.size());
  EXPECT_EQ(r.Feed("world"), 5u);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kUntilClose);
  EXPECT_FALSE(r.messages[0].complete);
  EXPECT_TRUE(r.parser.FeedEof());
  EXPECT_TRUE(r.messages[0].complete);
  EXPECT_EQ(r.messages[0].body, "hello world");
  EXPECT_FALSE(r.messages[0].keep_alive);
}

TEST(HttpParserTest, ResponseCutShortReportsEof) {
  Recorder r(Kind::kResponse);
  r.Feed("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nhello");
  EXPECT_FALSE(r.parser.FeedEof());
  EXPECT_EQ(r.completes, 0);
  Recorder c(Kind::kResponse);
  c.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel");
  EXPECT_FALSE(c.parser.FeedEof());
  EXPECT_EQ(c.completes, 0);
}

TEST(HttpParserTest, NoBodyStatusesNeedNoEof) {
  for (std::string in : {"HTTP/1.1 204 No Content\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n"}) {
    Recorder r(Kind::kResponse);
    EXPECT_EQ(r.Feed(in), in.size());
    ASSERT_EQ(r.messages.size(), 1u) << in;
    EXPECT_EQ(r.messages[0].framing, BodyFraming::kNone) << in;
    EXPECT_TRUE(r.messages[0].complete) << in;
  }
}

TEST(HttpParserTest, InterimResponseThenFinalResponse) {
  Recorder r(Kind::kResponse);
  std::string in =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  EXPECT_EQ(r.Feed(in), in.size());
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].status, 100);
  EXPECT_EQ(r.messages[1].status, 200);
  EXPECT_EQ(r.messages[1].body, "ok");
}

TEST(HttpParserTest, ResponseToHeadHasNoBody) {
  Recorder r(Kind::kResponse);
  r.parser.ExpectNoBody();
  std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/html\r\n\r\n";
  std::string next = "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc";
  std::string in = head + next;
  size_t used = r.parser.Feed(in.data(), in.size());
  EXPECT_EQ(used, head.size()) << "a HEAD response ends with its head";
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kNone);
  EXPECT_TRUE(r.messages[0].complete);
  EXPECT_TRUE(r.messages[0].keep_alive);
  // The next response on the connection is parsed with its body again.
  r.parser.Resume();
  EXPECT_EQ(r.Feed(in.substr(used)), next.size());
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].status, 201);
  EXPECT_EQ(r.messages[1].body, "abc");
}

TEST(HttpParserTest, ResponseToHeadWithoutLengthDoesNotWaitForEof) {
  Recorder r(Kind::kResponse);
  r.parser.ExpectNoBody();
  std::string in = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n";
  EXPECT_EQ(r.Feed(in), in.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].framing, BodyFraming::kNone);
  EXPECT_TRUE(r.messages[0].complete);
}

// ------------------------------------------------------------ serialising

TEST(HttpSerializeTest, RequestHeadRoundTripsThroughTheParser) {
  RequestHead head;
  head.method = "POST";
  head.target = "/u1/v1/messages?beta=true";
  head.headers.Add("Host", "hub.example:8443");
  head.headers.Add("session_id", "abc");
  head.headers.Add("anthropic-beta", "x");
  head.headers.Add("anthropic-beta", "y");
  head.headers.Add("X-Empty", "");
  head.headers.Add("Content-Length", "0");
  std::string wire = SerializeRequestHead(head);
  EXPECT_EQ(wire.substr(0, wire.find("\r\n")), "POST /u1/v1/messages?beta=true HTTP/1.1");
  EXPECT_EQ(wire.substr(wire.size() - 4), "\r\n\r\n");

  Recorder r(Kind::kRequest);
  EXPECT_EQ(r.Feed(wire), wire.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].method, head.method);
  EXPECT_EQ(r.messages[0].target, head.target);
  EXPECT_EQ(r.messages[0].version_minor, 1);
  EXPECT_EQ(r.messages[0].headers, head.headers.list());
  EXPECT_EQ(SerializeRequestHead(r.parser.request()), wire);
}

TEST(HttpSerializeTest, Http10RequestHeadKeepsItsVersion) {
  RequestHead head;
  head.method = "GET";
  head.target = "/";
  head.version_minor = 0;
  std::string wire = SerializeRequestHead(head);
  EXPECT_EQ(wire, "GET / HTTP/1.0\r\n\r\n");
  Recorder r(Kind::kRequest);
  r.Feed(wire);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].version_minor, 0);
}

TEST(HttpSerializeTest, ResponseHeadRoundTripsThroughTheParser) {
  ResponseHead head;
  head.status = 429;
  head.headers.Add("Retry-After", "7");
  head.headers.Add("x-ratelimit-reset_tokens", "1s");
  head.headers.Add("Transfer-Encoding", "chunked");
  std::string wire = SerializeResponseHead(head);
  EXPECT_EQ(wire.substr(0, wire.find("\r\n")), "HTTP/1.1 429 Too Many Requests");
  std::string body;
  AppendChunk(&body, "{\"error\":{}}");
  wire += body;
  wire += kLastChunk;

  Recorder r(Kind::kResponse);
  EXPECT_EQ(r.Feed(wire), wire.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].status, 429);
  EXPECT_EQ(r.messages[0].reason, "Too Many Requests");
  EXPECT_EQ(r.messages[0].headers, head.headers.list());
  EXPECT_EQ(r.messages[0].body, "{\"error\":{}}");
  EXPECT_TRUE(r.messages[0].complete);
}

TEST(HttpSerializeTest, ResponseHeadKeepsAGivenReason) {
  ResponseHead head;
  head.status = 200;
  head.reason = "Fine Thanks";
  EXPECT_EQ(SerializeResponseHead(head), "HTTP/1.1 200 Fine Thanks\r\n\r\n");
  head.status = 599;
  head.reason.clear();
  EXPECT_EQ(SerializeResponseHead(head), "HTTP/1.1 599 Unknown\r\n\r\n");
}

TEST(HttpSerializeTest, ReasonPhrases) {
  EXPECT_STREQ(ReasonPhrase(200), "OK");
  EXPECT_STREQ(ReasonPhrase(400), "Bad Request");
  EXPECT_STREQ(ReasonPhrase(413), "Content Too Large");
  EXPECT_STREQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_STREQ(ReasonPhrase(502), "Bad Gateway");
  EXPECT_STREQ(ReasonPhrase(529), "Overloaded");
}

TEST(HttpSerializeTest, AppendChunkUsesHexSizes) {
  struct Case {
    size_t size;
    const char* hex;
  } cases[] = {{1, "1"}, {9, "9"}, {10, "a"}, {15, "f"}, {16, "10"}, {255, "ff"},
               {256, "100"}, {4096, "1000"}, {65535, "ffff"}, {1 << 20, "100000"}};
  for (const Case& c : cases) {
    std::string data(c.size, 'x');
    std::string out = "prefix";
    AppendChunk(&out, data);
    EXPECT_EQ(out, "prefix" + std::string(c.hex) + "\r\n" + data + "\r\n") << c.size;
  }
  std::string out = "keep";
  AppendChunk(&out, "");
  EXPECT_EQ(out, "keep") << "an empty chunk would end the body";
}

TEST(HttpSerializeTest, ChunksParseBackToTheSameBody) {
  std::string wire = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string expected;
  for (size_t n : {1, 10, 16, 255, 300, 4097}) {
    std::string piece(n, static_cast<char>('a' + n % 26));
    AppendChunk(&wire, piece);
    expected += piece;
  }
  AppendChunk(&wire, "");
  wire += kLastChunk;
  Recorder r(Kind::kRequest);
  EXPECT_EQ(r.Feed(wire, 100), wire.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].body, expected);
  EXPECT_TRUE(r.messages[0].complete);
}

TEST(HttpHelpersTest, HopByHopHeaders) {
  for (const char* name : {"Connection", "connection", "Keep-Alive", "Proxy-Connection",
                           "Transfer-Encoding", "TE", "te", "Trailer", "Upgrade",
                           "Proxy-Authenticate", "Proxy-Authorization"}) {
    EXPECT_TRUE(IsHopByHopHeader(name)) << name;
  }
  for (const char* name : {"Content-Length", "Content-Type", "Authorization", "X-Request-Id",
                           "session_id", "Trailers", "connection2", "T", "", "Host"}) {
    EXPECT_FALSE(IsHopByHopHeader(name)) << name;
  }
}

TEST(HttpHelpersTest, ForbiddenHeaderBytes) {
  EXPECT_FALSE(HasForbiddenHeaderBytes("application/json; charset=utf-8"));
  EXPECT_FALSE(HasForbiddenHeaderBytes(""));
  EXPECT_FALSE(HasForbiddenHeaderBytes("tab\tand \x7f and \xc3\xa9"));
  EXPECT_TRUE(HasForbiddenHeaderBytes("a\r\nX-Injected: 1"));
  EXPECT_TRUE(HasForbiddenHeaderBytes("a\rb"));
  EXPECT_TRUE(HasForbiddenHeaderBytes("a\nb"));
  EXPECT_TRUE(HasForbiddenHeaderBytes(std::string_view("a\0b", 3)));
  EXPECT_TRUE(HasForbiddenHeaderBytes("trailing\n"));
}

TEST(HttpHelpersTest, SimpleResponseParses) {
  Headers extra;
  extra.Add("Retry-After", "5");
  extra.Add("x-request-id", "r-1");
  std::string body = R"({"error":{"message":"slow down"}})";
  std::string wire = SimpleResponse(429, "application/json", body, &extra);
  Recorder r(Kind::kResponse);
  EXPECT_EQ(r.Feed(wire), wire.size());
  ASSERT_EQ(r.messages.size(), 1u);
  const Message& m = r.messages[0];
  EXPECT_EQ(m.status, 429);
  EXPECT_EQ(m.body, body);
  EXPECT_TRUE(m.complete);
  EXPECT_TRUE(m.keep_alive);
  const Headers& h = r.parser.response().headers;
  EXPECT_EQ(h.GetOr("content-type", ""), "application/json");
  EXPECT_EQ(h.GetOr("content-length", ""), std::to_string(body.size()));
  EXPECT_EQ(h.GetOr("retry-after", ""), "5");
  EXPECT_EQ(h.GetOr("X-Request-Id", ""), "r-1");
  EXPECT_EQ(h.Count("Connection"), 0u);
}

TEST(HttpHelpersTest, SimpleResponseWithoutKeepAliveClosesAndEmptyBody) {
  std::string wire = SimpleResponse(204, "", "", nullptr, false);
  Recorder r(Kind::kResponse);
  EXPECT_EQ(r.Feed(wire), wire.size());
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].status, 204);
  EXPECT_TRUE(r.messages[0].complete);
  EXPECT_FALSE(r.messages[0].keep_alive);
  EXPECT_EQ(r.parser.response().headers.Count("Content-Type"), 0u);
  EXPECT_EQ(r.parser.response().headers.GetOr("Connection", ""), "close");
}

}  // namespace
}  // namespace tether
