// ParseJson limits and errors, JsonQuote, accessors and builders.
#include "common/json.h"

#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include <string>

namespace tether {
namespace {

std::string Nested(int depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

std::string NestedObjects(int depth) {
  std::string s;
  for (int i = 0; i < depth - 1; ++i) s += "{\"a\":";
  s += "{}";
  s += std::string(depth - 1, '}');
  return s;
}

int Depth(const cJSON* j) {
  int best = 0;
  const cJSON* c;
  cJSON_ArrayForEach(c, j) best = std::max(best, Depth(c));
  return (cJSON_IsArray(j) || cJSON_IsObject(j)) ? best + 1 : 0;
}

// -------------------------------------------------------------- depth limit

TEST(ParseJsonTest, DepthLimitIsExactly128) {
  ASSERT_EQ(kMaxJsonDepth, 128);
  auto ok = ParseJson(Nested(128));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(Depth(ok->get()), 128);
  auto ok_obj = ParseJson(NestedObjects(128));
  ASSERT_TRUE(ok_obj.ok()) << ok_obj.status().message();
  EXPECT_EQ(Depth(ok_obj->get()), 128);

  auto deep = ParseJson(Nested(129));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("128"), std::string::npos) << deep.status().message();
  EXPECT_NE(deep.status().message().find("byte 128"), std::string::npos)
      << "names where the limit was crossed: " << deep.status().message();
  EXPECT_FALSE(ParseJson(NestedObjects(129)).ok());
}

TEST(ParseJsonTest, WellFormedDeepDocumentsAreRefused) {
  // cJSON alone accepts up to 1000 levels; the relay's limit is lower.
  for (int depth : {129, 500, 999}) {
    auto r = ParseJson(Nested(depth));
    EXPECT_FALSE(r.ok()) << depth;
  }
  EXPECT_FALSE(ParseJson(std::string(1 << 20, '[')).ok());
}

TEST(ParseJsonTest, BracketsInsideStringsDoNotCount) {
  std::string brackets(300, '[');
  auto r = ParseJson("[\"" + brackets + "\", {\"k\": \"" + std::string(300, '{') + "\"}]");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Depth(r->get()), 2);
  // An escaped quote does not end the string...
  auto esc = ParseJson("[\"\\\"" + brackets + "\"]");
  ASSERT_TRUE(esc.ok()) << esc.status().message();
  // ...and an escaped backslash before the closing quote does.
  auto bs = ParseJson("[\"\\\\\", " + Nested(128) + "]");
  EXPECT_FALSE(bs.ok()) << "129 levels after a string ending in an escaped backslash";
  auto bs_ok = ParseJson("[\"\\\\\", " + Nested(127) + "]");
  EXPECT_TRUE(bs_ok.ok()) << bs_ok.status().message();
}

TEST(ParseJsonTest, SiblingsDoNotAddDepth) {
  std::string s = "[";
  for (int i = 0; i < 1000; ++i) s += (i ? ",[[]]" : "[[]]");
  s += "]";
  auto r = ParseJson(s);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(cJSON_GetArraySize(r->get()), 1000);
}

// ------------------------------------------------------------------ errors

TEST(ParseJsonTest, TrailingGarbageIsAnError) {
  for (const char* text : {"{} x", "{}{}", "[1]]", "1 2", "{\"a\":1}\n,"}) {
    auto r = ParseJson(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find("trailing"), std::string::npos) << r.status().message();
  }
  auto with_ws = ParseJson(" {\"a\": 1} \r\n\t ");
  ASSERT_TRUE(with_ws.ok()) << with_ws.status().message();
  EXPECT_EQ(JsonNum(with_ws->get(), "a", 0), 1);
}

TEST(ParseJsonTest, TrailingGarbageOffsetIsItsPosition) {
  auto r = ParseJson("{\"a\":1}  x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte 9"), std::string::npos) << r.status().message();
}

TEST(ParseJsonTest, EmptyInputIsAnError) {
  auto r = ParseJson("");
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(r.status().message().empty());
  EXPECT_FALSE(ParseJson(std::string_view()).ok());
  EXPECT_FALSE(ParseJson("   \n").ok());
}

TEST(ParseJsonTest, InvalidJsonNamesAByteOffset) {
  auto r = ParseJson("{\"a\" 1}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte 5"), std::string::npos) << r.status().message();
  for (const char* text : {"{", "[1,", "{\"a\":}", "tru", "\"unterminated", "{'a':1}", "[01x]"}) {
    EXPECT_FALSE(ParseJson(text).ok()) << text;
  }
}

TEST(ParseJsonTest, ParsesOnlyTheGivenBytes) {
  std::string buf = "[1][2]";
  auto r = ParseJson(std::string_view(buf.data(), 3));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(cJSON_GetArraySize(r->get()), 1);
  EXPECT_FALSE(ParseJson(std::string_view("[12345]", 3)).ok()) << "\"[12\" is cut short";
}

TEST(ParseJsonTest, InvalidUtf8InStringsDoesNotCrash) {
  for (std::string text : {std::string("\"\xff\xfe\""), std::string("[\"\xc3\"]"),
                           std::string("{\"\xed\xa0\x80\":\"\xf8\x88\x80\x80\x80\"}"),
                           std::string("\"\\ud800\""), std::string("\"\\udc00\\ud800\""),
                           std::string("\"\\u00\""), std::string("\"a\0b\"", 5)}) {
    auto r = ParseJson(text);
    if (r.ok()) {
      std::string printed = PrintJson(r->get());
      EXPECT_FALSE(printed.empty());
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
}

TEST(ParseJsonTest, KeepsUnknownFieldsAndValues) {
  auto r = ParseJson(R"({"model":"m","cache_control":{"type":"ephemeral"},"n":1.5,"b":false,"z":null})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(PrintJson(r->get()),
            R"({"model":"m","cache_control":{"type":"ephemeral"},"n":1.5,"b":false,"z":null})");
}

// ---------------------------------------------------------------- quoting

TEST(JsonQuoteTest, EscapesPerRfc8259) {
  EXPECT_EQ(JsonQuote(""), "\"\"");
  EXPECT_EQ(JsonQuote("plain"), "\"plain\"");
  EXPECT_EQ(JsonQuote("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
  EXPECT_EQ(JsonQuote("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
  EXPECT_EQ(JsonQuote(std::string_view("\0\x01\x1f", 3)), "\"\\u0000\\u0001\\u001f\"");
  EXPECT_EQ(JsonQuote("\x7f \xc3\xa9 \xe2\x9c\x93"), "\"\x7f \xc3\xa9 \xe2\x9c\x93\"");
}

TEST(JsonQuoteTest, EveryByteRoundTripsThroughTheParser) {
  std::string all;
  for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
  std::string quoted = JsonQuote(all);
  for (char c : quoted) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << "raw control byte";
  auto r = ParseJson(quoted);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(cJSON_IsString(r->get()));
  EXPECT_EQ(std::string(r->get()->valuestring), all);
}

// Byte at a time, the plain way: what the eight-byte windows must match.
std::string QuoteByteByByte(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    const char* named = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : nullptr;
    if (named) out += named;
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else out.push_back(static_cast<char>(c));
  }
  return out + "\"";
}

TEST(JsonQuoteTest, EscapesLandRightWhereverTheyFallAgainstTheEightByteWindows) {
  // Every length to 40 with one escape at every position, of each kind, and
  // with two escapes 7, 8 and 9 bytes apart (either side of a window edge,
  // and in the last window, which overlaps bytes already written).
  for (char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
    for (size_t n = 0; n <= 40; ++n) {
      std::string plain(n, 'a');
      for (size_t i = 0; i < n; ++i) plain[i] = static_cast<char>('a' + i % 26);
      EXPECT_EQ(JsonQuote(plain), QuoteByteByByte(plain)) << n;
      for (size_t at = 0; at < n; ++at) {
        std::string s = plain;
        s[at] = special;
        EXPECT_EQ(JsonQuote(s), QuoteByteByByte(s)) << "n=" << n << " at=" << at;
        for (size_t gap : {7, 8, 9})
          if (at + gap < n) {
            std::string two = s;
            two[at + gap] = special;
            EXPECT_EQ(JsonQuote(two), QuoteByteByByte(two)) << "n=" << n << " at=" << at << "+" << gap;
          }
      }
    }
  }
  // Bytes from 0x80 up pass as they are (UTF-8, or whatever the caller had).
  std::string high;
  for (int c = 0x80; c < 0x100; ++c) high.push_back(static_cast<char>(c));
  EXPECT_EQ(JsonQuote(high), "\"" + high + "\"");
}

// -------------------------------------------------------------- accessors

TEST(JsonAccessorsTest, TypedLookups) {
  auto r = ParseJson(
      R"({"s":"str","n":42.5,"t":true,"f":false,"a":[1,2],"o":{"k":"v"},"z":null,"Case":1})");
  ASSERT_TRUE(r.ok());
  const cJSON* j = r->get();
  EXPECT_STREQ(JsonStr(j, "s"), "str");
  EXPECT_EQ(JsonStr(j, "n"), nullptr);
  EXPECT_EQ(JsonStr(j, "missing"), nullptr);
  EXPECT_EQ(JsonStrOr(j, "s", "fb"), "str");
  EXPECT_EQ(JsonStrOr(j, "n", "fb"), "fb");
  EXPECT_EQ(JsonNum(j, "n", -1), 42.5);
  EXPECT_EQ(JsonNum(j, "s", -1), -1);
  EXPECT_TRUE(JsonBool(j, "t", false));
  EXPECT_FALSE(JsonBool(j, "f", true));
  EXPECT_TRUE(JsonBool(j, "s", true));
  EXPECT_FALSE(JsonBool(j, "z", false));
  ASSERT_NE(JsonArr(j, "a"), nullptr);
  EXPECT_EQ(cJSON_GetArraySize(JsonArr(j, "a")), 2);
  EXPECT_EQ(JsonArr(j, "o"), nullptr);
  ASSERT_NE(JsonObj(j, "o"), nullptr);
  EXPECT_STREQ(JsonStr(JsonObj(j, "o"), "k"), "v");
  EXPECT_EQ(JsonObj(j, "a"), nullptr);
  EXPECT_NE(JsonGet(j, "z"), nullptr);
  EXPECT_EQ(JsonGet(j, "case"), nullptr) << "keys are case-sensitive";
  EXPECT_NE(JsonGet(j, "Case"), nullptr);
  // Lookups on non-objects and null are safe.
  EXPECT_EQ(JsonGet(JsonArr(j, "a"), "0"), nullptr);
  EXPECT_EQ(JsonGet(nullptr, "s"), nullptr);
  EXPECT_EQ(JsonStr(nullptr, "s"), nullptr);
  EXPECT_EQ(JsonNum(nullptr, "n", 7), 7);
}

TEST(JsonBuildersTest, BuildAndPrint) {
  JsonPtr root = JsonNewObj();
  std::string backing = "model-name-and-more";
  JsonAddStr(root.get(), "model", std::string_view(backing).substr(0, 10));
  JsonAddNum(root.get(), "max_tokens", 1024);
  JsonAddBool(root.get(), "stream", true);
  cJSON* msgs = JsonAddArr(root.get(), "messages");
  cJSON* m = JsonAddObj(msgs, nullptr);
  JsonAddStr(m, "role", "user");
  JsonAddStr(m, "content", "hi \"there\"\n");
  JsonAddObj(root.get(), "meta");
  EXPECT_EQ(PrintJson(root.get()),
            R"({"model":"model-name","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"hi \"there\"\n"}],"meta":{}})");
  EXPECT_EQ(PrintJson(nullptr), "null");
}

TEST(JsonBuildersTest, AddCopyIsDeepAndIndependent) {
  auto src = ParseJson(R"({"a":{"b":[1,2,3]}})");
  ASSERT_TRUE(src.ok());
  JsonPtr dst = JsonNewObj();
  JsonAddCopy(dst.get(), "copy", JsonObj(src->get(), "a"));
  JsonPtr arr = JsonNewArr();
  JsonAddCopy(arr.get(), nullptr, src->get());
  src = ParseJson("{}");  // frees the original document
  EXPECT_EQ(PrintJson(dst.get()), R"({"copy":{"b":[1,2,3]}})");
  EXPECT_EQ(PrintJson(arr.get()), R"([{"a":{"b":[1,2,3]}}])");
}


TEST(FindTopLevelMemberTest, FindsTheMemberAfterNestedValuesAndTrickyStrings) {
  const std::string text =
      R"( { "id" : "x\"usage\"}", "choices":[{"message":{"usage":{"nested":1}}}], "n": -1.5e3,)"
      R"( "ok": true, "usage" : {"prompt_tokens": 7, "s": "}]"} , "after": null })";
  EXPECT_EQ(FindTopLevelMember(text, "usage"), R"({"prompt_tokens": 7, "s": "}]"})");
  EXPECT_EQ(FindTopLevelMember(text, "n"), "-1.5e3");
  EXPECT_EQ(FindTopLevelMember(text, "ok"), "true");
  EXPECT_EQ(FindTopLevelMember(text, "after"), "null");
  EXPECT_EQ(FindTopLevelMember(text, "id"), R"("x\"usage\"}")");
  EXPECT_EQ(FindTopLevelMember(text, "nested"), "");  // not at the top level
  EXPECT_EQ(FindTopLevelMember(text, "missing"), "");
}

TEST(FindTopLevelMemberTest, NonObjectsAndCutTextFindNothing) {
  EXPECT_EQ(FindTopLevelMember("", "a"), "");
  EXPECT_EQ(FindTopLevelMember("[1,2]", "a"), "");
  EXPECT_EQ(FindTopLevelMember(R"({"a": {"b": 1)", "a"), "");
  EXPECT_EQ(FindTopLevelMember(R"({"x": "open, "a": 1})", "a"), "");  // a value that swallows the key
  EXPECT_EQ(FindTopLevelMember(R"({"a":)", "a"), "");
  EXPECT_EQ(FindTopLevelMember(R"({"a":1)", "a"), "1");  // the member itself is whole
}


TEST(PrintJsonTest, MatchesCJsonTextExceptForShorterRoundTrippingNumbers) {
  const char* docs[] = {
      R"({"a":1,"b":[true,false,null],"c":{"d":"e"},"empty":{},"list":[]})",
      R"({"s":"quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f ctl \u0001 \u001f del \u007f"})",
      R"({"utf8":"h\u00e9llo \u4e16\u754c \ud83d\ude00","":"empty key","k\"q":1})",
      R"([0,-1,2147483647,-2147483648,1735689600,3000000000,999999999999999,1e15,1e21,-0.0])",
      R"([[[[[]]]],{"x":{"y":{"z":[1,{"w":null}]}}}])",
  };
  for (const char* text : docs) {
    auto doc = ParseJson(text);
    ASSERT_TRUE(doc.ok()) << text;
    char* reference = cJSON_PrintUnformatted(doc->get());
    EXPECT_EQ(PrintJson(doc->get()), reference) << text;
    cJSON_free(reference);
  }
}

TEST(PrintJsonTest, FractionsAreShortestAndReadBackExactly) {
  auto doc = ParseJson(R"([0.1,0.5,1.5e-7,100000000000.5,0.30000000000000004,3.141592653589793,-2.5e300])");
  ASSERT_TRUE(doc.ok());
  std::string text = PrintJson(doc->get());
  EXPECT_EQ(text, "[0.1,0.5,1.5e-07,100000000000.5,0.30000000000000004,3.141592653589793,-2.5e+300]");
  auto again = ParseJson(text);
  ASSERT_TRUE(again.ok());
  int i = 0;
  for (const cJSON* a = doc->get()->child, *b = again->get()->child; a && b; a = a->next, b = b->next, ++i)
    EXPECT_EQ(a->valuedouble, b->valuedouble) << "element " << i;
  EXPECT_EQ(i, 7);
}

TEST(PrintJsonTest, NonFiniteNumbersAndRawItems) {
  JsonPtr arr = JsonNewArr();
  cJSON_AddItemToArray(arr.get(), cJSON_CreateNumber(std::nan("")));
  cJSON_AddItemToArray(arr.get(), cJSON_CreateNumber(HUGE_VAL));
  cJSON_AddItemToArray(arr.get(), cJSON_CreateRaw("{\"pre\":1}"));
  cJSON_AddItemToArray(arr.get(), cJSON_CreateString(""));
  EXPECT_EQ(PrintJson(arr.get()), R"([null,null,{"pre":1},""])");
  EXPECT_EQ(PrintJson(nullptr), "null");
}

}  // namespace
}  // namespace tether
