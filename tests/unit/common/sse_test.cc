// SseParser and FormatSse over byte strings.
#include "common/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tether {
namespace {

struct Ev {
  std::string event, data, id;
  bool has_data;
  bool operator==(const Ev&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{event=\"" << e.event << "\" data=\"" << e.data << "\" id=\"" << e.id
            << "\" has_data=" << e.has_data << "}";
}

// Feeds `pieces` in order, then optionally Finish(); returns the events.
std::vector<Ev> Parse(const std::vector<std::string>& pieces, bool finish = false) {
  std::vector<Ev> out;
  SseParser p([&](const SseEvent& e) { out.push_back({e.event, e.data, e.id, e.has_data}); });
  for (const auto& s : pieces) p.Feed(s);
  if (finish) p.Finish();
  return out;
}

std::vector<Ev> Parse(const std::string& s, bool finish = false) {
  return Parse(std::vector<std::string>{s}, finish);
}

// An Anthropic-like stream with comments, ids, multi-line data and CRLFs.
const char kStream[] =
    ": keep-alive\r\n"
    "\r\n"
    "event: message_start\r\n"
    "id: 1\r\n"
    "data: {\"type\":\"message_start\"}\r\n"
    "\r\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\n"
    "data: \"delta\":{\"text\":\"a:b\"}}\n"
    "\n"
    "data:no-space\r"
    "data:  two-spaces\r"
    "\r"
    "retry: 1000\n"
    "data\n"
    "\n"
    "data: [DONE]\n\n";

const std::vector<Ev> kStreamEvents = {
    {"message_start", "{\"type\":\"message_start\"}", "1", true},
    {"content_block_delta", "{\"type\":\"content_block_delta\",\n\"delta\":{\"text\":\"a:b\"}}", "",
     true},
    {"", "no-space\n two-spaces", "", true},
    {"", "", "", true},
    {"", "[DONE]", "", true},
};

TEST(SseParserTest, ParsesAMixedStream) { EXPECT_EQ(Parse(kStream), kStreamEvents); }

TEST(SseParserTest, EverySplitGivesTheSameEvents) {
  std::string s = kStream;
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    ASSERT_EQ(Parse({s.substr(0, cut), s.substr(cut)}), kStreamEvents) << "cut at " << cut;
  }
  for (size_t a = 1; a < s.size(); a += 3) {
    for (size_t b = a; b <= s.size(); b += 5) {
      ASSERT_EQ(Parse({s.substr(0, a), s.substr(a, b - a), s.substr(b)}), kStreamEvents)
          << "cuts at " << a << " and " << b;
    }
  }
  std::vector<std::string> bytes;
  for (char c : s) bytes.emplace_back(1, c);
  EXPECT_EQ(Parse(bytes), kStreamEvents);
}

TEST(SseParserTest, LineEndingsAreEquivalent) {
  const std::vector<Ev> expected = {{"ping", "x\ny", "", true}, {"", "z", "", true}};
  EXPECT_EQ(Parse("event: ping\ndata: x\ndata: y\n\ndata: z\n\n"), expected);
  EXPECT_EQ(Parse("event: ping\r\ndata: x\r\ndata: y\r\n\r\ndata: z\r\n\r\n"), expected);
  EXPECT_EQ(Parse("event: ping\rdata: x\rdata: y\r\rdata: z\r\r"), expected);
  EXPECT_EQ(Parse("event: ping\r\ndata: x\rdata: y\n\r\ndata: z\r\r"), expected);
}

TEST(SseParserTest, CrAtTheEndOfAPieceThenLfIsOneLineBreak) {
  // "\r" | "\n" must not count as two line ends (that would be a blank line
  // and dispatch the event early).
  EXPECT_EQ(Parse({"data: a\r", "\ndata: b\r", "\n\r", "\n"}),
            (std::vector<Ev>{{"", "a\nb", "", true}}));
}

TEST(SseParserTest, MultiLineDataJoinsWithNewlines) {
  EXPECT_EQ(Parse("data: one\ndata: two\ndata:\ndata: four\n\n"),
            (std::vector<Ev>{{"", "one\ntwo\n\nfour", "", true}}));
}

TEST(SseParserTest, CommentsAreIgnored) {
  EXPECT_TRUE(Parse(": ping\n\n:\n\n: data: not data\n\n").empty());
  EXPECT_EQ(Parse("data: a\n: comment between\ndata: b\n\n"),
            (std::vector<Ev>{{"", "a\nb", "", true}}));
}

TEST(SseParserTest, EventAndIdFields) {
  EXPECT_EQ(Parse("id: 42\nevent: response.output_text.delta\ndata: {}\n\n"),
            (std::vector<Ev>{{"response.output_text.delta", "{}", "42", true}}));
  // Fields do not leak into the next event.
  EXPECT_EQ(Parse("event: a\nid: 1\ndata: x\n\ndata: y\n\n"),
            (std::vector<Ev>{{"a", "x", "1", true}, {"", "y", "", true}}));
  // A later field of the same name wins.
  EXPECT_EQ(Parse("event: a\nevent: b\ndata: x\n\n"), (std::vector<Ev>{{"b", "x", "", true}}));
}

TEST(SseParserTest, FieldWithoutColonHasAnEmptyValue) {
  EXPECT_EQ(Parse("data\n\n"), (std::vector<Ev>{{"", "", "", true}}));
  EXPECT_EQ(Parse("data\ndata\n\n"), (std::vector<Ev>{{"", "\n", "", true}}));
  EXPECT_EQ(Parse("data: x\nevent\n\n"), (std::vector<Ev>{{"", "x", "", true}}));
}

TEST(SseParserTest, OnlyOneLeadingSpaceIsRemoved) {
  EXPECT_EQ(Parse("data:x\n\n"), (std::vector<Ev>{{"", "x", "", true}}));
  EXPECT_EQ(Parse("data: x\n\n"), (std::vector<Ev>{{"", "x", "", true}}));
  EXPECT_EQ(Parse("data:  x \n\n"), (std::vector<Ev>{{"", " x ", "", true}}));
  EXPECT_EQ(Parse("event:e\ndata:\tx\n\n"), (std::vector<Ev>{{"e", "\tx", "", true}}));
}

TEST(SseParserTest, UnknownFieldsAndCaseMismatchesAreIgnored) {
  EXPECT_EQ(Parse("retry: 5\nfoo: bar\nDATA: no\nEvent: no\ndata: yes\n\n"),
            (std::vector<Ev>{{"", "yes", "", true}}));
  EXPECT_TRUE(Parse("retry: 5\nfoo: bar\n\n").empty());
}

TEST(SseParserTest, EmptyDataLineIsStillAnEvent) {
  // WHATWG: "data:" appends "" and then LF, so the data buffer is "\n", not
  // empty, when the blank line comes; the trailing LF is removed only after
  // that check, and the event is dispatched with data "".
  EXPECT_EQ(Parse("data:\n\n"), (std::vector<Ev>{{"", "", "", true}}));
  EXPECT_EQ(Parse("data: \n\n"), (std::vector<Ev>{{"", "", "", true}}));
  EXPECT_EQ(Parse("event: ping\ndata:\n\n"), (std::vector<Ev>{{"ping", "", "", true}}));
}

TEST(SseParserTest, EventWithoutDataIsNotDispatched) {
  // WHATWG: an empty data buffer resets the event type and dispatches nothing.
  EXPECT_TRUE(Parse("event: ping\n\n").empty());
  EXPECT_TRUE(Parse("id: 7\nevent: x\n\n").empty());
  EXPECT_TRUE(Parse("event: cut", true).empty());
  // Nor does an id: line or a comment make a block an event.
  EXPECT_TRUE(Parse("id: 7\n\n").empty());
  EXPECT_TRUE(Parse("id: 7\n: keep-alive\nretry: 10\n\n").empty());
  EXPECT_TRUE(Parse("event: message_stop\n: no data\n\n").empty());
  // The event name does not leak into the next event.
  EXPECT_EQ(Parse("event: a\n\ndata: y\n\n"), (std::vector<Ev>{{"", "y", "", true}}));
  EXPECT_EQ(Parse("event: a\n\nevent: b\ndata: y\n\n"), (std::vector<Ev>{{"b", "y", "", true}}));
}

TEST(SseParserTest, BlankLinesAloneDeliverNothing) { EXPECT_TRUE(Parse("\n\n\r\n\r\r\n").empty()); }

TEST(SseParserTest, NothingIsDeliveredBeforeTheBlankLine) {
  std::vector<Ev> out;
  SseParser p([&](const SseEvent& e) { out.push_back({e.event, e.data, e.id, e.has_data}); });
  p.Feed("event: x\ndata: partial");
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.buffered(), std::string("data: partial").size());
  p.Feed("\n");
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(p.buffered(), 0u);
  p.Feed("\n");
  EXPECT_EQ(out, (std::vector<Ev>{{"x", "partial", "", true}}));
}

TEST(SseParserTest, FinishDeliversATrailingEvent) {
  // Cut off after the last data line, with and without its line end.
  EXPECT_EQ(Parse("data: a\n\ndata: b\n", true),
            (std::vector<Ev>{{"", "a", "", true}, {"", "b", "", true}}));
  EXPECT_EQ(Parse("data: a\n\nevent: e\ndata: b", true),
            (std::vector<Ev>{{"", "a", "", true}, {"e", "b", "", true}}));
  EXPECT_EQ(Parse("data: a\r\ndata: b\r", true), (std::vector<Ev>{{"", "a\nb", "", true}}));
  // Without Finish() the trailing event stays pending.
  EXPECT_EQ(Parse("data: a\n\ndata: b"), (std::vector<Ev>{{"", "a", "", true}}));
}

TEST(SseParserTest, FinishWithNothingPendingDeliversNothing) {
  EXPECT_TRUE(Parse("", true).empty());
  EXPECT_EQ(Parse("data: a\n\n", true), (std::vector<Ev>{{"", "a", "", true}}));
  EXPECT_TRUE(Parse(": comment", true).empty());
}

TEST(SseFormatTest, FormatsEventAndData) {
  EXPECT_EQ(FormatSse("message_stop", "{\"type\":\"message_stop\"}"),
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  EXPECT_EQ(FormatSseData("[DONE]"), "data: [DONE]\n\n");
  EXPECT_EQ(FormatSse("", "x"), "data: x\n\n");
  EXPECT_EQ(FormatSse("e", "a\nb"), "event: e\ndata: a\ndata: b\n\n");
  EXPECT_EQ(FormatSseData(""), "data: \n\n");
}

TEST(SseFormatTest, RoundTripsThroughTheParser) {
  struct Case {
    const char* event;
    std::string data;
  } cases[] = {
      {"content_block_delta", "{\"a\":1}"},
      {"", "line one\nline two\n\nline four"},
      {"x", "\n"},
      {"x", "\n\n"},
      {"x", "trailing newline\n"},
      {"x", "\nleading newline"},
      {"x", " leading space"},
      {"x", ": looks like a comment"},
      {"x", "data: looks like a field"},
      {"x", ""},
      {"x", "unicode \xe2\x9c\x93 and \ttab"},
  };
  for (const Case& c : cases) {
    std::string wire = FormatSse(c.event, c.data);
    std::vector<Ev> expected = {{c.event, c.data, "", true}};
    EXPECT_EQ(Parse(wire), expected) << wire;
    std::string twice = wire + wire;
    EXPECT_EQ(Parse(twice), (std::vector<Ev>{expected[0], expected[0]})) << wire;
  }
}

TEST(SseFormatTest, CarriageReturnsInDataCannotInjectFields) {
  // CR is a line end in SSE; data containing one must still be one event
  // with its own name, with the line breaks normalised to LF.
  for (std::string data : {"a\rid: 7\revent: evil", "a\r\nevent: evil", "a\r\n\r\nb", "a\r"}) {
    std::vector<Ev> got = Parse(FormatSse("message", data));
    ASSERT_EQ(got.size(), 1u) << data;
    EXPECT_EQ(got[0].event, "message") << data;
    EXPECT_EQ(got[0].id, "") << data;
    std::string normalised;
    for (size_t i = 0; i < data.size(); ++i) {
      if (data[i] == '\r') {
        normalised += '\n';
        if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
      } else {
        normalised += data[i];
      }
    }
    EXPECT_EQ(got[0].data, normalised) << data;
  }
}

}  // namespace
}  // namespace tether
