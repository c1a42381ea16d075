// Anthropic Messages <-> pivot: real client requests round-tripped, each
// mapped feature by hand, and the stream codec against golden files, whole
// and one byte at a time.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "tests/unit/hub/formats/format_test_util.h"

namespace tether {
namespace {

using testutil::Decode;
using testutil::Golden;
using testutil::GoldenLines;
using testutil::J;
using testutil::LoadRequests;
using testutil::SplitSse;

JsonPtr ToPivot(const char* anthropic) {
  JsonPtr in = J(anthropic);
  auto r = ToChatRequest(ApiFormat::kAnthropic, in.get());
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(*r) : JsonNewObj();
}
JsonPtr ToAnthropic(const cJSON* pivot) {
  auto r = FromChatRequest(ApiFormat::kAnthropic, pivot);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(*r) : JsonNewObj();
}
JsonPtr ToAnthropic(const char* pivot) { return ToAnthropic(J(pivot).get()); }

std::string P(const cJSON* j) { return PrintJson(j); }
const cJSON* At(const cJSON* arr, int i) { return cJSON_GetArrayItem(arr, i); }
const cJSON* Msg(const cJSON* req, int i) { return At(JsonArr(req, "messages"), i); }

// ---- Real client requests ---------------------------------------------------

std::string SystemText(const cJSON* system) {
  if (cJSON_IsString(system)) return system->valuestring;
  std::string out;
  const cJSON* b;
  cJSON_ArrayForEach(b, system) out += JsonStrOr(b, "text", "") + "|";
  return out;
}
int CountKey(const cJSON* j, const char* key) {
  if (!j) return 0;
  int n = 0;
  const cJSON* c;
  cJSON_ArrayForEach(c, j) {
    if (c->string && std::string(c->string) == key) ++n;
    n += CountKey(c, key);
  }
  return n;
}

TEST(AnthropicFixtures, ClientRequestsSurviveTheRoundTrip) {
  int checked = 0, with_tools = 0, with_tool_results = 0;
  for (const char* file : {"claude-code.jsonl", "claude-code-tool.jsonl", "claude-code-authtoken.jsonl",
                           "anthropic-sdk.jsonl"}) {
    for (auto& rec : LoadRequests(file)) {
      if (rec.path.find("/v1/messages") == std::string::npos ||
          rec.path.find("count_tokens") != std::string::npos)
        continue;
      SCOPED_TRACE(rec.file + " " + rec.path);
      const cJSON* orig = rec.body.get();
      auto pivot_r = ToChatRequest(ApiFormat::kAnthropic, orig);
      ASSERT_TRUE(pivot_r.ok()) << pivot_r.status().message();
      const cJSON* pivot = pivot_r->get();
      JsonPtr back = ToAnthropic(pivot);
      const cJSON* b = back.get();
      ++checked;

      EXPECT_EQ(JsonStrOr(b, "model", "?"), JsonStrOr(orig, "model", "!"));
      EXPECT_EQ(JsonNum(b, "max_tokens", -1), JsonNum(orig, "max_tokens", -2));
      EXPECT_EQ(JsonNum(pivot, "max_tokens", -1), JsonNum(orig, "max_tokens", -2));
      EXPECT_EQ(JsonBool(b, "stream", false), JsonBool(orig, "stream", false));

      // System: `system` plus role:"system" entries, in order, in `system`.
      std::string want_system = SystemText(JsonGet(orig, "system"));
      int non_system = 0;
      std::vector<std::string> roles;
      const cJSON* m;
      cJSON_ArrayForEach(m, JsonArr(orig, "messages")) {
        if (JsonStrOr(m, "role", "") == "system") {
          want_system += cJSON_IsString(JsonGet(m, "content")) ? std::string(JsonStr(m, "content")) + "|"
                                                               : SystemText(JsonGet(m, "content"));
        } else {
          ++non_system;
          roles.push_back(JsonStrOr(m, "role", ""));
        }
      }
      std::string got_system = SystemText(JsonGet(b, "system"));
      if (cJSON_IsString(JsonGet(b, "system"))) got_system += "|";
      if (!JsonGet(orig, "system") && non_system == cJSON_GetArraySize(JsonArr(orig, "messages"))) {
        EXPECT_EQ(JsonGet(b, "system"), nullptr);
      } else {
        EXPECT_EQ(got_system, want_system);
      }
      EXPECT_EQ(JsonStrOr(Msg(pivot, 0), "role", ""), JsonGet(orig, "system") ? "system" : "user");
      for (int i = 0; i < cJSON_GetArraySize(JsonArr(b, "messages")); ++i) {
        EXPECT_NE(JsonStrOr(Msg(b, i), "role", ""), "system");
      }

      ASSERT_EQ(cJSON_GetArraySize(JsonArr(b, "messages")), non_system);
      for (int i = 0; i < non_system; ++i) EXPECT_EQ(JsonStrOr(Msg(b, i), "role", ""), roles[i]);
      // Prompt-caching markers in system and messages all survive.
      EXPECT_EQ(CountKey(JsonGet(b, "system"), "cache_control") + CountKey(JsonArr(b, "messages"), "cache_control"),
                CountKey(JsonGet(orig, "system"), "cache_control") +
                    CountKey(JsonArr(orig, "messages"), "cache_control"));

      // Tools: names and schemas unchanged, in order.
      const cJSON* ot = JsonArr(orig, "tools");
      const cJSON* bt = JsonArr(b, "tools");
      ASSERT_EQ(cJSON_GetArraySize(bt), cJSON_GetArraySize(ot));
      for (int i = 0; i < cJSON_GetArraySize(ot); ++i) {
        EXPECT_EQ(JsonStrOr(At(bt, i), "name", "?"), JsonStrOr(At(ot, i), "name", "!"));
        EXPECT_TRUE(cJSON_Compare(JsonGet(At(bt, i), "input_schema"), JsonGet(At(ot, i), "input_schema"), true))
            << JsonStrOr(At(ot, i), "name", "");
        EXPECT_TRUE(cJSON_Compare(JsonGet(JsonObj(At(JsonArr(pivot, "tools"), i), "function"), "parameters"),
                                  JsonGet(At(ot, i), "input_schema"), true));
      }
      if (ot) ++with_tools;

      // tool_use ids are kept, and every tool_result answers an earlier one.
      std::vector<std::string> orig_uses, back_uses, back_results;
      auto collect = [](const cJSON* req, std::vector<std::string>* uses, std::vector<std::string>* results) {
        const cJSON* msg;
        cJSON_ArrayForEach(msg, JsonArr(req, "messages")) {
          const cJSON* blk;
          cJSON_ArrayForEach(blk, JsonArr(msg, "content")) {
            std::string t = JsonStrOr(blk, "type", "");
            if (t == "tool_use") uses->push_back(JsonStrOr(blk, "id", ""));
            if (t == "tool_result" && results) results->push_back(JsonStrOr(blk, "tool_use_id", ""));
          }
        }
      };
      collect(orig, &orig_uses, nullptr);
      collect(b, &back_uses, &back_results);
      EXPECT_EQ(back_uses, orig_uses);
      for (const auto& id : back_results) {
        EXPECT_NE(std::find(back_uses.begin(), back_uses.end(), id), back_uses.end()) << id;
      }
      if (!back_results.empty()) ++with_tool_results;

      // Thinking: adaptive + effort come back as they were sent.
      if (const cJSON* th = JsonObj(orig, "thinking")) {
        EXPECT_EQ(JsonStrOr(JsonObj(b, "thinking"), "type", "?"), JsonStrOr(th, "type", "!"));
        EXPECT_EQ(JsonStrOr(JsonObj(b, "output_config"), "effort", "?"),
                  JsonStrOr(JsonObj(orig, "output_config"), "effort", "high"));
        EXPECT_EQ(JsonStrOr(pivot, "reasoning_effort", "?"),
                  JsonStrOr(JsonObj(orig, "output_config"), "effort", "high"));
      } else {
        EXPECT_EQ(JsonGet(b, "thinking"), nullptr);
      }
      if (const char* user = JsonStr(JsonObj(orig, "metadata"), "user_id")) {
        EXPECT_EQ(JsonStrOr(pivot, "user", ""), user);
        EXPECT_EQ(JsonStrOr(JsonObj(b, "metadata"), "user_id", ""), user);
      }
      // Anthropic-only controls have no pivot form and are not invented.
      EXPECT_EQ(JsonGet(b, "context_management"), nullptr);
    }
  }
  EXPECT_GE(checked, 7);
  EXPECT_GE(with_tools, 4);
  EXPECT_GE(with_tool_results, 1);
}

TEST(AnthropicFixtures, ClaudeCodeToolTurnInThePivot) {
  auto recs = LoadRequests("claude-code-tool.jsonl");
  ASSERT_GE(recs.size(), 2u);
  const cJSON* orig = recs.back().body.get();
  auto r = ToChatRequest(ApiFormat::kAnthropic, orig);
  ASSERT_TRUE(r.ok());
  const cJSON* pv = r->get();
  // system, user, assistant(tool_calls), tool
  ASSERT_EQ(cJSON_GetArraySize(JsonArr(pv, "messages")), 4);
  EXPECT_EQ(JsonStrOr(Msg(pv, 0), "role", ""), "system");
  // 3 system blocks + the in-message system entry, as text parts.
  EXPECT_EQ(cJSON_GetArraySize(JsonArr(Msg(pv, 0), "content")), 4);
  const cJSON* call = At(JsonArr(Msg(pv, 2), "tool_calls"), 0);
  EXPECT_EQ(JsonStrOr(call, "id", ""), "toolu_01ed9d21dc76b540ae96d83c");
  EXPECT_EQ(JsonStrOr(JsonObj(call, "function"), "name", ""), "Read");
  EXPECT_EQ(JsonStrOr(JsonObj(call, "function"), "arguments", ""),
            "{\"file_path\":\"/home/dev/project/tmp/work-claude-code-tool/hello.txt\"}");
  EXPECT_EQ(JsonStrOr(Msg(pv, 3), "role", ""), "tool");
  EXPECT_EQ(JsonStrOr(Msg(pv, 3), "tool_call_id", ""), "toolu_01ed9d21dc76b540ae96d83c");
  EXPECT_EQ(JsonStrOr(Msg(pv, 3), "content", ""), "1\thello from file\n2\t");
  EXPECT_EQ(JsonNum(pv, "max_tokens", 0), 64000);
  EXPECT_TRUE(JsonBool(JsonObj(pv, "stream_options"), "include_usage", false));
}

TEST(AnthropicFixtures, OpenAISdkChatRequestsBecomeAnthropicRequests) {
  int checked = 0;
  for (auto& rec : LoadRequests("openai-sdk.jsonl")) {
    if (rec.path.find("/chat/completions") == std::string::npos) continue;
    SCOPED_TRACE(rec.path + " " + P(rec.body.get()).substr(0, 120));
    auto pivot = ToChatRequest(ApiFormat::kOpenAIChat, rec.body.get());
    ASSERT_TRUE(pivot.ok());
    JsonPtr a = ToAnthropic(pivot->get());
    const cJSON* o = rec.body.get();
    ++checked;
    EXPECT_EQ(JsonStrOr(a.get(), "model", ""), JsonStrOr(o, "model", "!"));
    EXPECT_EQ(JsonNum(a.get(), "max_tokens", 0), 8192);  // required by Anthropic; defaulted
    EXPECT_EQ(JsonGet(a.get(), "stream_options"), nullptr);
    EXPECT_EQ(JsonBool(a.get(), "stream", false), JsonBool(o, "stream", false));
    ASSERT_EQ(cJSON_GetArraySize(JsonArr(a.get(), "messages")), 1);
    EXPECT_EQ(JsonStrOr(Msg(a.get(), 0), "role", ""), "user");
    EXPECT_EQ(JsonStrOr(Msg(a.get(), 0), "content", "?"), JsonStrOr(Msg(o, 0), "content", "!"));
    if (const cJSON* tools = JsonArr(o, "tools")) {
      const cJSON* fn = JsonObj(At(tools, 0), "function");
      const cJSON* at = At(JsonArr(a.get(), "tools"), 0);
      EXPECT_EQ(JsonStrOr(at, "name", ""), "get_weather");
      EXPECT_EQ(JsonStrOr(at, "description", ""), "Get weather");
      EXPECT_TRUE(cJSON_Compare(JsonGet(at, "input_schema"), JsonGet(fn, "parameters"), true));
      EXPECT_EQ(JsonGet(at, "type"), nullptr);
    }
  }
  EXPECT_EQ(checked, 4);
}

// ---- Requests, by feature ---------------------------------------------------

TEST(AnthropicRequest, SystemStringDeveloperAndMidConversationSystem) {
  JsonPtr p = ToPivot(R"({"model":"m","max_tokens":10,"system":"Be brief.",
    "messages":[{"role":"user","content":"hi"},{"role":"system","content":"Also kind."},
                {"role":"assistant","content":"hello"}]})");
  EXPECT_EQ(P(JsonArr(p.get(), "messages")),
            R"([{"role":"system","content":[{"type":"text","text":"Be brief."},{"type":"text","text":"Also kind."}]},)"
            R"({"role":"user","content":"hi"},{"role":"assistant","content":"hello"}])");
  JsonPtr a = ToAnthropic(R"({"model":"m","messages":[{"role":"developer","content":"Dev rules."},
    {"role":"user","content":"q"},{"role":"system","content":"Late system."},{"role":"user","content":"q2"}]})");
  EXPECT_EQ(P(JsonGet(a.get(), "system")),
            R"([{"type":"text","text":"Dev rules."},{"type":"text","text":"Late system."}])");
  // The two user turns around the hoisted system message merge into one.
  EXPECT_EQ(P(JsonArr(a.get(), "messages")),
            R"([{"role":"user","content":[{"type":"text","text":"q"},{"type":"text","text":"q2"}]}])");
  JsonPtr single = ToAnthropic(R"({"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"u"}]})");
  EXPECT_EQ(P(JsonGet(single.get(), "system")), R"("S")");
}

TEST(AnthropicRequest, ImagesAndDocumentsBothWays) {
  JsonPtr p = ToPivot(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":[
    {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"QUJD"}},
    {"type":"image","source":{"type":"url","url":"https://x.test/cat.png"}},
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"UERG"},"title":"a.pdf"},
    {"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain doc"}},
    {"type":"text","text":"describe"}]}]})");
  EXPECT_EQ(P(JsonGet(Msg(p.get(), 0), "content")),
            R"([{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,QUJD"}},)"
            R"({"type":"image_url","image_url":{"url":"https://x.test/cat.png"}},)"
            R"({"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,UERG"}},)"
            R"({"type":"text","text":"plain doc"},{"type":"text","text":"describe"}])");
  JsonPtr a = ToAnthropic(p.get());
  EXPECT_EQ(P(JsonGet(Msg(a.get(), 0), "content")),
            R"([{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"QUJD"}},)"
            R"({"type":"image","source":{"type":"url","url":"https://x.test/cat.png"}},)"
            R"({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"UERG"},"title":"a.pdf"},)"
            R"({"type":"text","text":"plain doc"},{"type":"text","text":"describe"}])");
}

TEST(AnthropicRequest, ServerToolsAreDroppedCustomToolsKept) {
  JsonPtr p = ToPivot(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3},
             {"type":"bash_20250124","name":"bash"},
             {"type":"custom","name":"lookup","input_schema":{"type":"object","properties":{"q":{"type":"string"}}}},
             {"name":"noschema","description":"d"}],
    "tool_choice":{"type":"any"}})");
  EXPECT_EQ(P(JsonArr(p.get(), "tools")),
            R"([{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}},)"
            R"({"type":"function","function":{"name":"noschema","description":"d","parameters":{"properties":{}}}}])");
  EXPECT_EQ(P(JsonGet(p.get(), "tool_choice")), R"("required")");
  // Only server tools: no tools and no tool_choice at all.
  JsonPtr only = ToPivot(R"({"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],
    "tools":[{"type":"web_search_20250305","name":"web_search"}],"tool_choice":{"type":"auto"}})");
  EXPECT_EQ(JsonGet(only.get(), "tools"), nullptr);
  EXPECT_EQ(JsonGet(only.get(), "tool_choice"), nullptr);
}

TEST(AnthropicRequest, ToolChoiceBothWays) {
  const char* tools = R"("tools":[{"name":"f","input_schema":{"type":"object"}}])";
  struct Case { const char* anthropic; const char* pivot; };
  for (Case c : {Case{R"({"type":"auto"})", R"("auto")"}, Case{R"({"type":"any"})", R"("required")"},
                 Case{R"({"type":"none"})", R"("none")"},
                 Case{R"({"type":"tool","name":"f"})", R"({"type":"function","function":{"name":"f"}})"}}) {
    std::string req = std::string(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],)") +
                      tools + R"(,"tool_choice":)" + c.anthropic + "}";
    JsonPtr p = ToPivot(req.c_str());
    EXPECT_EQ(P(JsonGet(p.get(), "tool_choice")), c.pivot);
    JsonPtr a = ToAnthropic(p.get());
    EXPECT_EQ(P(JsonGet(a.get(), "tool_choice")), c.anthropic);
  }
  JsonPtr p = ToPivot(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],)"
                      R"("tools":[{"name":"f","input_schema":{"type":"object"}}],)"
                      R"("tool_choice":{"type":"auto","disable_parallel_tool_use":true}})");
  EXPECT_FALSE(JsonBool(p.get(), "parallel_tool_calls", true));
  EXPECT_EQ(P(JsonGet(ToAnthropic(p.get()).get(), "tool_choice")), R"({"type":"auto","disable_parallel_tool_use":true})");
  JsonPtr a = ToAnthropic(R"({"model":"m","messages":[{"role":"user","content":"x"}],"parallel_tool_calls":false,
    "tools":[{"type":"function","function":{"name":"f"}}]})");
  EXPECT_EQ(P(JsonGet(a.get(), "tool_choice")), R"({"type":"auto","disable_parallel_tool_use":true})");
  EXPECT_EQ(P(JsonGet(At(JsonArr(a.get(), "tools"), 0), "input_schema")), R"({"type":"object","properties":{}})");
}

TEST(AnthropicRequest, ParallelToolUseAndResultsWithBlocksAndErrors) {
  const char* anthropic = R"({"model":"m","max_tokens":100,"tools":[{"name":"w","input_schema":{"type":"object"}}],
    "messages":[{"role":"user","content":"weather?"},
      {"role":"assistant","content":[{"type":"text","text":"Checking."},
        {"type":"tool_use","id":"toolu_A","name":"w","input":{"city":"Paris"}},
        {"type":"tool_use","id":"toolu_B","name":"w","input":{"city":"Oslo"}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"toolu_A","content":[{"type":"text","text":"sunny"},
          {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}]},
        {"type":"tool_result","tool_use_id":"toolu_B","content":"no such city","is_error":true},
        {"type":"text","text":"and tomorrow?"}]}]})";
  JsonPtr p = ToPivot(anthropic);
  EXPECT_EQ(P(JsonArr(p.get(), "messages")),
            R"([{"role":"user","content":"weather?"},)"
            R"({"role":"assistant","content":"Checking.","tool_calls":[)"
            R"({"id":"toolu_A","type":"function","function":{"name":"w","arguments":"{\"city\":\"Paris\"}"}},)"
            R"({"id":"toolu_B","type":"function","function":{"name":"w","arguments":"{\"city\":\"Oslo\"}"}}]},)"
            R"({"role":"tool","tool_call_id":"toolu_A","content":[{"type":"text","text":"sunny"},)"
            R"({"type":"image_url","image_url":{"url":"data:image/png;base64,iVBO"}}]},)"
            R"({"role":"tool","tool_call_id":"toolu_B","content":"no such city","is_error":true},)"
            R"({"role":"user","content":[{"type":"text","text":"and tomorrow?"}]}])");
  JsonPtr a = ToAnthropic(p.get());
  JsonPtr want = J(anthropic);
  EXPECT_EQ(P(JsonArr(a.get(), "messages")), P(JsonArr(want.get(), "messages")));
}

TEST(AnthropicRequest, ForeignToolIdsAreMadeValidConsistently) {
  JsonPtr a = ToAnthropic(R"({"model":"m","tools":[{"type":"function","function":{"name":"f"}}],"messages":[
    {"role":"user","content":"x"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call:1/a.b","type":"function","function":{"name":"f","arguments":"not json"}}]},
    {"role":"tool","tool_call_id":"call:1/a.b","content":"r"}]})");
  const cJSON* use = At(JsonArr(Msg(a.get(), 1), "content"), 0);
  EXPECT_EQ(JsonStrOr(use, "id", ""), "call_1_a_b");
  EXPECT_EQ(P(JsonGet(use, "input")), "{}");
  EXPECT_EQ(JsonStrOr(At(JsonArr(Msg(a.get(), 2), "content"), 0), "tool_use_id", ""), "call_1_a_b");
}

TEST(AnthropicRequest, ThinkingBlocksBothWays) {
  const char* anthropic = R"({"model":"m","max_tokens":2000,"messages":[{"role":"user","content":"q"},
    {"role":"assistant","content":[{"type":"thinking","thinking":"Let me think.","signature":"SIG=="},
      {"type":"redacted_thinking","data":"RED1"},{"type":"text","text":"Answer."}]},
    {"role":"user","content":"more"}]})";
  JsonPtr p = ToPivot(anthropic);
  EXPECT_EQ(P(Msg(p.get(), 1)),
            R"({"role":"assistant","content":"Answer.","reasoning_content":"Let me think.",)"
            R"("reasoning_signature":"SIG==","redacted_reasoning":"RED1"})");
  JsonPtr a = ToAnthropic(p.get());
  JsonPtr want = J(anthropic);
  EXPECT_EQ(P(Msg(a.get(), 1)), P(Msg(want.get(), 1)));
  // Unsigned reasoning (DeepSeek and the like) cannot go to Anthropic.
  JsonPtr unsigned_ = ToAnthropic(R"({"model":"m","messages":[{"role":"user","content":"q"},
    {"role":"assistant","content":"A","reasoning_content":"hidden"}]})");
  EXPECT_EQ(P(Msg(unsigned_.get(), 1)), R"({"role":"assistant","content":"A"})");
  // Several redacted blocks travel as an array.
  JsonPtr two = ToAnthropic(R"({"model":"m","messages":[{"role":"user","content":"q"},
    {"role":"assistant","content":"A","redacted_reasoning":["R1","R2"]}]})");
  EXPECT_EQ(P(JsonGet(Msg(two.get(), 1), "content")),
            R"([{"type":"redacted_thinking","data":"R1"},{"type":"redacted_thinking","data":"R2"},{"type":"text","text":"A"}])");
}

TEST(AnthropicRequest, ThinkingConfigBothWays) {
  JsonPtr p = ToPivot(R"({"model":"m","max_tokens":16000,"messages":[{"role":"user","content":"q"}],
    "thinking":{"type":"enabled","budget_tokens":10000},"temperature":1})");
  EXPECT_EQ(JsonNum(p.get(), "thinking_budget", 0), 10000);
  EXPECT_EQ(JsonStrOr(p.get(), "reasoning_effort", ""), "medium");
  JsonPtr a = ToAnthropic(p.get());
  EXPECT_EQ(P(JsonGet(a.get(), "thinking")), R"({"type":"enabled","budget_tokens":10000})");
  EXPECT_EQ(JsonNum(a.get(), "max_tokens", 0), 16000);
  EXPECT_EQ(JsonNum(a.get(), "temperature", 0), 1);
  EXPECT_EQ(JsonGet(a.get(), "output_config"), nullptr);

  // An effort alone becomes adaptive thinking; incompatible sampling is dropped.
  JsonPtr e = ToAnthropic(R"({"model":"m","messages":[{"role":"user","content":"q"}],
    "reasoning_effort":"low","temperature":0.2,"top_k":5})");
  EXPECT_EQ(P(JsonGet(e.get(), "thinking")), R"({"type":"adaptive"})");
  EXPECT_EQ(P(JsonGet(e.get(), "output_config")), R"({"effort":"low"})");
  EXPECT_EQ(JsonGet(e.get(), "temperature"), nullptr);
  EXPECT_EQ(JsonGet(e.get(), "top_k"), nullptr);
  JsonPtr none = ToAnthropic(R"({"model":"m","messages":[{"role":"user","content":"q"}],"reasoning_effort":"none"})");
  EXPECT_EQ(JsonGet(none.get(), "thinking"), nullptr);

  // max_tokens must exceed the budget: the answer keeps the room asked for.
  JsonPtr small = ToAnthropic(R"({"model":"m","messages":[{"role":"user","content":"q"}],
    "max_completion_tokens":500,"thinking_budget":300})");
  EXPECT_EQ(P(JsonGet(small.get(), "thinking")), R"({"type":"enabled","budget_tokens":1024})");
  EXPECT_EQ(JsonNum(small.get(), "max_tokens", 0), 1524);

  JsonPtr disabled = ToPivot(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"}],
    "thinking":{"type":"disabled"}})");
  EXPECT_EQ(JsonGet(disabled.get(), "reasoning_effort"), nullptr);
  EXPECT_EQ(JsonGet(disabled.get(), "thinking_budget"), nullptr);
}

TEST(AnthropicRequest, SamplingStopUserAndStructuredOutput) {
  JsonPtr p = ToPivot(R"({"model":"m","max_tokens":77,"messages":[{"role":"user","content":"q"}],
    "temperature":0.3,"top_p":0.9,"top_k":40,"stop_sequences":["END","STOP"],"metadata":{"user_id":"u-1"},
    "output_config":{"format":{"type":"json_schema","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}}})");
  EXPECT_EQ(JsonNum(p.get(), "temperature", 0), 0.3);
  EXPECT_EQ(JsonNum(p.get(), "top_p", 0), 0.9);
  EXPECT_EQ(JsonNum(p.get(), "top_k", 0), 40);
  EXPECT_EQ(P(JsonGet(p.get(), "stop")), R"(["END","STOP"])");
  EXPECT_EQ(JsonStrOr(p.get(), "user", ""), "u-1");
  EXPECT_EQ(P(JsonGet(p.get(), "response_format")),
            R"({"type":"json_schema","json_schema":{"name":"output","schema":{"type":"object",)"
            R"("properties":{"a":{"type":"integer"}}},"strict":true}})");
  EXPECT_EQ(JsonGet(p.get(), "stream"), nullptr);

  JsonPtr a = ToAnthropic(R"({"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":9,
    "max_completion_tokens":33,"temperature":1.7,"top_p":0.5,"stop":"END","user":"u-2",
    "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
    "n":2,"presence_penalty":1,"stream":true,"stream_options":{"include_usage":true}})");
  EXPECT_EQ(P(a.get()),
            R"({"model":"m","messages":[{"role":"user","content":"q"}],"max_tokens":33,)"
            R"("temperature":1,"stop_sequences":["END"],"stream":true,"metadata":{"user_id":"u-2"},)"
            R"("output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}})");
}

TEST(AnthropicRequest, MalformedInputIsAnErrorNotACrash) {
  JsonPtr arr = J("[1,2]");
  EXPECT_FALSE(ToChatRequest(ApiFormat::kAnthropic, arr.get()).ok());
  JsonPtr no_messages = J(R"({"model":"m"})");
  auto r = ToChatRequest(ApiFormat::kAnthropic, no_messages.get());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("messages"), std::string::npos);
  EXPECT_FALSE(FromChatRequest(ApiFormat::kAnthropic, no_messages.get()).ok());
  // Odd shapes inside are skipped.
  JsonPtr p = ToPivot(R"({"messages":[{"role":"user","content":[{"type":"mystery"},7,null]},{"content":"x"},
    {"role":"assistant","content":[{"type":"tool_use"}]}],"tools":[5,{"type":"custom"}],"system":12})");
  EXPECT_EQ(JsonStrOr(p.get(), "model", "?"), "");
}

// ---- Non-streaming responses ------------------------------------------------

TEST(AnthropicResponse, ToPivot) {
  JsonPtr in = J(R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-x",
    "content":[{"type":"thinking","thinking":"hmm","signature":"S1"},{"type":"text","text":"Hi "},
      {"type":"text","text":"there"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":1}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":30,"output_tokens":5}})");
  auto r = ToChatResponse(ApiFormat::kAnthropic, in.get());
  ASSERT_TRUE(r.ok());
  cJSON_DeleteItemFromObject(r->get(), "created");
  EXPECT_EQ(P(r->get()),
            R"({"id":"msg_01","object":"chat.completion","model":"claude-x","choices":[{"index":0,)"
            R"("message":{"role":"assistant","content":"Hi there","reasoning_content":"hmm","reasoning_signature":"S1",)"
            R"("tool_calls":[{"id":"toolu_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},)"
            R"("finish_reason":"tool_calls"}],"usage":{"prompt_tokens":60,"completion_tokens":5,"total_tokens":65,)"
            R"("prompt_tokens_details":{"cached_tokens":30,"cache_write_tokens":20}}})");
}

TEST(AnthropicResponse, StopReasonsBothWays) {
  struct Case { const char* anthropic; const char* chat; const char* back; };
  for (Case c : {Case{"end_turn", "stop", "end_turn"}, Case{"stop_sequence", "stop", "end_turn"},
                 Case{"max_tokens", "length", "max_tokens"}, Case{"tool_use", "tool_calls", "tool_use"},
                 Case{"refusal", "content_filter", "refusal"}, Case{"pause_turn", "stop", "end_turn"}}) {
    std::string in = std::string(R"({"id":"msg_1","content":[{"type":"text","text":"x"}],"stop_reason":")") +
                     c.anthropic + R"("})";
    JsonPtr j = J(in);
    auto r = ToChatResponse(ApiFormat::kAnthropic, j.get());
    ASSERT_TRUE(r.ok());
    const cJSON* choice = At(JsonArr(r->get(), "choices"), 0);
    EXPECT_EQ(JsonStrOr(choice, "finish_reason", ""), c.chat) << c.anthropic;
    auto back = FromChatResponse(ApiFormat::kAnthropic, r->get(), "client-model");
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(JsonStrOr(back->get(), "stop_reason", ""), c.back) << c.anthropic;
  }
}

TEST(AnthropicResponse, FromPivot) {
  JsonPtr chat = J(R"({"id":"chatcmpl-abc123","object":"chat.completion","model":"gpt-x","choices":[{"index":0,
    "message":{"role":"assistant","content":"Result.","reasoning_content":"because",
      "tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{\"k\":[1,2]}"}}]},
    "finish_reason":"tool_calls"}],
    "usage":{"prompt_tokens":100,"completion_tokens":7,"total_tokens":107,
      "prompt_tokens_details":{"cached_tokens":60,"cache_write_tokens":15}}})");
  auto r = FromChatResponse(ApiFormat::kAnthropic, chat.get(), "claude-alias");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(P(r->get()),
            R"({"id":"msg_abc123","type":"message","role":"assistant","model":"claude-alias","content":[)"
            R"({"type":"thinking","thinking":"because","signature":""},{"type":"text","text":"Result."},)"
            R"({"type":"tool_use","id":"call_9","name":"f","input":{"k":[1,2]}}],"stop_reason":"tool_use",)"
            R"("stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":15,)"
            R"("cache_read_input_tokens":60,"output_tokens":7}})");
  // No id, no usage, no choices: still a valid message.
  JsonPtr bare = J(R"({"choices":[]})");
  auto b = FromChatResponse(ApiFormat::kAnthropic, bare.get(), "m");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(JsonStrOr(b->get(), "id", "").rfind("msg_", 0), 0u);
  EXPECT_EQ(JsonStrOr(b->get(), "stop_reason", ""), "end_turn");
  EXPECT_EQ(P(JsonGet(b->get(), "content")), "[]");
}

// ---- Streaming ----------------------------------------------------------------

TEST(AnthropicStream, DecoderMatchesGoldenWholeAndBytewise) {
  std::string sse = Golden("anthropic_stream_in.sse");
  auto want = GoldenLines("anthropic_stream_pivot.jsonl");
  ASSERT_EQ(want.size(), 14u);
  EXPECT_EQ(Decode(ApiFormat::kAnthropic, sse, false), want);
  EXPECT_EQ(Decode(ApiFormat::kAnthropic, sse, true), want);
}

TEST(AnthropicStream, DecodedToolArgumentsAndUsageAddUp) {
  auto chunks = Decode(ApiFormat::kAnthropic, Golden("anthropic_stream_in.sse"), true);
  std::vector<std::string> args(2);
  std::vector<std::string> ids(2);
  std::string text, reasoning, signature, finish;
  JsonPtr usage;
  for (const auto& s : chunks) {
    JsonPtr c = J(s);
    if (const cJSON* u = JsonObj(c.get(), "usage")) usage.reset(cJSON_Duplicate(u, true));
    const cJSON* choice = At(JsonArr(c.get(), "choices"), 0);
    const cJSON* d = JsonObj(choice, "delta");
    text += JsonStrOr(d, "content", "");
    reasoning += JsonStrOr(d, "reasoning_content", "");
    signature += JsonStrOr(d, "reasoning_signature", "");
    if (JsonStr(choice, "finish_reason")) finish = JsonStr(choice, "finish_reason");
    const cJSON* tc;
    cJSON_ArrayForEach(tc, JsonArr(d, "tool_calls")) {
      int i = static_cast<int>(JsonNum(tc, "index", -1));
      ASSERT_TRUE(i == 0 || i == 1);
      args[i] += JsonStrOr(JsonObj(tc, "function"), "arguments", "");
      if (JsonStr(tc, "id")) ids[i] = JsonStr(tc, "id");
    }
  }
  EXPECT_EQ(text, "Let me check both cities \xC3\xA9\xE2\x80\x94\xE2\x80\x9Cok\xE2\x80\x9D.");
  EXPECT_EQ(reasoning, "The user wants the weather in Paris and London.");
  EXPECT_EQ(signature, "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds");
  EXPECT_EQ(args[0], R"({"city": "Paris", "unit": "c"})");
  EXPECT_EQ(args[1], R"({"city": "London"})");
  EXPECT_EQ(ids[0], "toolu_01A09q90qw90lq917835lq9");
  EXPECT_EQ(ids[1], "toolu_01B7xk2mZ9qLr4TnW8vYc3Hd");
  EXPECT_EQ(finish, "tool_calls");
  ASSERT_TRUE(usage);
  EXPECT_EQ(P(usage.get()), R"({"prompt_tokens":2620,"completion_tokens":89,"total_tokens":2709,)"
                            R"("prompt_tokens_details":{"cached_tokens":2048,"cache_write_tokens":100}})");
}

std::string EncodeAll(const std::vector<std::string>& chunks, const std::string& model) {
  StreamOptions o;
  o.model = model;
  auto enc = NewStreamEncoder(ApiFormat::kAnthropic, o);
  std::string out;
  for (const auto& c : chunks) out += enc->Encode(J(c).get());
  out += enc->Finish();
  EXPECT_EQ(enc->Finish(), "");  // idempotent
  return out;
}

TEST(AnthropicStream, EncoderRebuildsTheAnthropicSequence) {
  std::string out = EncodeAll(GoldenLines("anthropic_stream_pivot.jsonl"), "claude-client-name");
  EXPECT_EQ(out, Golden("anthropic_stream_out.sse"));
  // Event by event, framed one byte at a time.
  auto events = SplitSse(out);
  std::vector<std::string> names;
  for (const auto& e : events) {
    names.push_back(e.event);
    JsonPtr d = J(e.data);
    EXPECT_EQ(JsonStrOr(d.get(), "type", ""), e.event);  // data.type always names the event
  }
  std::vector<std::string> want = {"message_start", "content_block_start", "content_block_delta",
                                   "content_block_delta", "content_block_delta", "content_block_stop",
                                   "content_block_start", "content_block_delta", "content_block_delta",
                                   "content_block_stop", "content_block_start", "content_block_delta",
                                   "content_block_delta", "content_block_stop", "content_block_start",
                                   "content_block_delta", "content_block_delta", "content_block_stop",
                                   "message_delta", "message_stop"};
  EXPECT_EQ(names, want);
  JsonPtr md = J(events[18].data);
  EXPECT_EQ(P(md.get()), R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},)"
                         R"("usage":{"input_tokens":472,"cache_creation_input_tokens":100,)"
                         R"("cache_read_input_tokens":2048,"output_tokens":89}})");
}

TEST(AnthropicStream, EncoderFromOpenAIStyleChunks) {
  // OpenAI streams: role chunk, text, tool calls with fragments, finish,
  // then a usage-only chunk.
  std::vector<std::string> chunks = {
      R"({"id":"chatcmpl-Z9","model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]})",
      R"({"id":"chatcmpl-Z9","choices":[{"index":0,"delta":{"content":"On it."}}]})",
      R"({"id":"chatcmpl-Z9","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"a","arguments":""}}]}}]})",
      R"({"id":"chatcmpl-Z9","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"x\":"}}]}}]})",
      R"({"id":"chatcmpl-Z9","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]})",
      R"({"id":"chatcmpl-Z9","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"b","arguments":"{}"}}]}}]})",
      R"({"id":"chatcmpl-Z9","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})",
      R"({"id":"chatcmpl-Z9","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":12,"total_tokens":62,"prompt_tokens_details":{"cached_tokens":40}}})"};
  std::string out = EncodeAll(chunks, "alias");
  std::string want =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_Z9\",\"type\":\"message\","
      "\"role\":\"assistant\",\"model\":\"alias\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
      "\"usage\":{\"input_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"On it.\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_1\",\"name\":\"a\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"x\\\":\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"call_2\",\"name\":\"b\",\"input\":{}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
      "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
      "\"usage\":{\"input_tokens\":10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":40,\"output_tokens\":12}}\n\n"
      "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  EXPECT_EQ(out, want);
}

TEST(AnthropicStream, EncoderRedactedThinkingAndLengthStop) {
  std::string out = EncodeAll(
      {R"({"id":"x","choices":[{"index":0,"delta":{"redacted_reasoning":"RRR"}}]})",
       R"({"id":"x","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"length"}]})"},
      "m");
  auto ev = SplitSse(out);
  ASSERT_EQ(ev.size(), 8u);
  EXPECT_EQ(ev[1].data, R"({"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"RRR"}})");
  EXPECT_EQ(ev[2].data, R"({"type":"content_block_stop","index":0})");
  EXPECT_EQ(ev[3].data, R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})");
  EXPECT_EQ(ev[5].data, R"({"type":"content_block_stop","index":1})");
  EXPECT_NE(ev[6].data.find(R"("stop_reason":"max_tokens")"), std::string::npos);
}

TEST(AnthropicStream, EncoderErrorsKeepAliveAndEmptyStream) {
  StreamOptions o;
  o.model = "m";
  auto enc = NewStreamEncoder(ApiFormat::kAnthropic, o);
  EXPECT_EQ(enc->KeepAlive(), "event: ping\ndata: {\"type\": \"ping\"}\n\n");
  EXPECT_EQ(enc->Error(529, "Overloaded"),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n");
  EXPECT_EQ(enc->Finish(), "");  // the error ended the stream
  EXPECT_EQ(enc->Error(500, "again"), "");

  // An error chunk from a provider's decoder, after some text.
  auto enc2 = NewStreamEncoder(ApiFormat::kAnthropic, o);
  std::string out = enc2->Encode(J(R"({"id":"x","choices":[{"index":0,"delta":{"content":"par"}}]})").get());
  out += enc2->Encode(J(R"({"error":{"message":"slow down","type":"rate_limit_error","code":429}})").get());
  auto ev = SplitSse(out);
  ASSERT_EQ(ev.size(), 4u);
  EXPECT_EQ(ev[3].event, "error");
  EXPECT_EQ(ev[3].data, R"({"type":"error","error":{"type":"rate_limit_error","message":"slow down"}})");
  EXPECT_EQ(enc2->Finish(), "");
  // OpenAI-typed error with a string code: type chosen from the status.
  auto enc3 = NewStreamEncoder(ApiFormat::kAnthropic, o);
  auto ev3 = SplitSse(enc3->Encode(J(R"({"error":{"message":"boom","type":"server_error","code":"503"}})").get()));
  ASSERT_EQ(ev3.size(), 1u);
  EXPECT_EQ(ev3[0].data, R"({"type":"error","error":{"type":"api_error","message":"boom"}})");

  // Nothing at all from upstream: still a well-formed, empty message.
  auto enc4 = NewStreamEncoder(ApiFormat::kAnthropic, o);
  auto ev4 = SplitSse(enc4->Finish());
  ASSERT_EQ(ev4.size(), 3u);
  EXPECT_EQ(ev4[0].event, "message_start");
  EXPECT_NE(ev4[1].data.find(R"("stop_reason":"end_turn")"), std::string::npos);
  EXPECT_EQ(ev4[2].event, "message_stop");
}

TEST(AnthropicStream, DecoderErrorEventAndTruncatedStream) {
  std::string sse =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\","
      "\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n"
      "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n";
  // Cut off: Finish closes the stream with a stop and the usage so far.
  auto cut = Decode(ApiFormat::kAnthropic, sse, true);
  ASSERT_EQ(cut.size(), 4u);
  EXPECT_EQ(cut[2], R"({"id":"msg_1","object":"chat.completion.chunk","model":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})");
  EXPECT_EQ(cut[3], R"({"id":"msg_1","object":"chat.completion.chunk","model":"c","choices":[],"usage":{"prompt_tokens":5,)"
                    R"("completion_tokens":1,"total_tokens":6,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":0}}})");
  // An error event: one error chunk, nothing after it.
  auto err = Decode(ApiFormat::kAnthropic,
                    sse + "event: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", "
                          "\"message\": \"Overloaded\"}}\n\n",
                    false);
  ASSERT_EQ(err.size(), 3u);
  EXPECT_EQ(err[2], R"({"error":{"message":"Overloaded","type":"overloaded_error","code":529}})");
}

}  // namespace
}  // namespace tether
