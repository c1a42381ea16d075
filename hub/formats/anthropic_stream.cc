// Anthropic Messages streaming <-> pivot chunks.
//
// Anthropic's stream is a sequence of typed events: message_start, then per
// content block content_block_start / content_block_delta* /
// content_block_stop (blocks are indexed 0..n in order), then message_delta
// (stop_reason, final usage) and message_stop; ping and error may come at
// any point. The decoder turns blocks into pivot deltas and tool_use blocks
// into tool_calls indexed 0..k; the encoder rebuilds exactly that sequence
// from pivot deltas, opening a block when the kind of delta changes.
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "hub/formats/anthropic_internal.h"
#include "hub/formats/formats_internal.h"

namespace tether {
namespace {

bool Is(const char* s, const char* want) { return s && std::strcmp(s, want) == 0; }

// Anthropic error type -> HTTP status, so encoders of other formats can
// state it (the inverse of AnthropicErrorType).
int StatusForAnthropicError(const char* type) {
  static const struct { const char* type; int status; } kTable[] = {
      {"invalid_request_error", 400}, {"authentication_error", 401}, {"billing_error", 402},
      {"permission_error", 403},      {"not_found_error", 404},      {"request_too_large", 413},
      {"rate_limit_error", 429},      {"api_error", 500},            {"timeout_error", 504},
      {"overloaded_error", 529},
  };
  for (const auto& e : kTable) {
    if (Is(type, e.type)) return e.status;
  }
  return 0;
}

// Adds the usage fields present in `from` to `to` (message_delta repeats
// them cumulatively, so later values replace earlier ones).
void MergeUsage(cJSON* to, const cJSON* from) {
  const cJSON* item;
  cJSON_ArrayForEach(item, from) {
    if (!cJSON_IsNumber(item)) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(to, item->string);
    JsonAddNum(to, item->string, item->valuedouble);
  }
}

class AnthropicStreamDecoder : public StreamDecoder {
 public:
  void Decode(const SseEvent& event, std::vector<JsonPtr>* chunks) override {
    if (!event.has_data || done_) return;
    auto parsed = ParseJson(event.data);
    if (!parsed.ok()) return;  // a torn or junk event is skipped, not fatal
    const cJSON* data = parsed->get();
    std::string type = JsonStrOr(data, "type", event.event);
    if (type == "message_start") {
      const cJSON* msg = JsonObj(data, "message");
      id_ = JsonStrOr(msg, "id", id_);
      model_ = JsonStrOr(msg, "model", model_);
      MergeUsage(usage_.get(), JsonObj(msg, "usage"));
      started_ = true;
      JsonPtr c = NewChunk();
      cJSON* d = Delta(c.get());
      JsonAddStr(d, "role", "assistant");
      JsonAddStr(d, "content", "");
      chunks->push_back(std::move(c));
    } else if (type == "content_block_start") {
      BlockStart(static_cast<int>(JsonNum(data, "index", 0)), JsonObj(data, "content_block"), chunks);
    } else if (type == "content_block_delta") {
      BlockDelta(static_cast<int>(JsonNum(data, "index", 0)), JsonObj(data, "delta"), chunks);
    } else if (type == "message_delta") {
      MergeUsage(usage_.get(), JsonObj(data, "usage"));
      const char* stop = JsonStr(JsonObj(data, "delta"), "stop_reason");
      if (stop) End(ChatFinishReason(stop), chunks);
    } else if (type == "message_stop") {
      End(saw_tool_ ? "tool_calls" : "stop", chunks);
      done_ = true;
    } else if (type == "error") {
      const cJSON* err = JsonObj(data, "error");
      const char* etype = JsonStr(err, "type");
      JsonPtr c = JsonNewObj();
      cJSON* e = JsonAddObj(c.get(), "error");
      JsonAddStr(e, "message", JsonStrOr(err, "message", "upstream stream error"));
      JsonAddStr(e, "type", etype ? etype : "api_error");
      int status = StatusForAnthropicError(etype);
      JsonAddNum(e, "code", status ? status : 500);
      chunks->push_back(std::move(c));
      done_ = true;
      ended_ = true;  // nothing more to close: the error is the end
    }
    // ping and unknown future events carry nothing for the pivot.
  }

  void Finish(std::vector<JsonPtr>* chunks) override {
    if (started_) End(saw_tool_ ? "tool_calls" : "stop", chunks);
  }

 private:
  JsonPtr NewChunk() const {
    JsonPtr c = JsonNewObj();
    JsonAddStr(c.get(), "id", id_);
    JsonAddStr(c.get(), "object", "chat.completion.chunk");
    JsonAddNum(c.get(), "created", static_cast<double>(created_));
    JsonAddStr(c.get(), "model", model_);
    cJSON* choice = JsonAddObj(JsonAddArr(c.get(), "choices"), nullptr);
    JsonAddNum(choice, "index", 0);
    JsonAddObj(choice, "delta");
    cJSON_AddNullToObject(choice, "finish_reason");
    return c;
  }
  static cJSON* Delta(cJSON* chunk) {
    cJSON* choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0);
    return cJSON_GetObjectItemCaseSensitive(choice, "delta");
  }
  void EmitText(const char* key, const char* text, std::vector<JsonPtr>* chunks) const {
    if (!text || !*text) return;
    JsonPtr c = NewChunk();
    JsonAddStr(Delta(c.get()), key, text);
    chunks->push_back(std::move(c));
  }
  void EmitToolCall(int tool, const char* id, const char* name, std::string_view args,
                    std::vector<JsonPtr>* chunks) const {
    JsonPtr c = NewChunk();
    cJSON* tc = JsonAddObj(JsonAddArr(Delta(c.get()), "tool_calls"), nullptr);
    JsonAddNum(tc, "index", tool);
    if (id) {
      JsonAddStr(tc, "id", id);
      JsonAddStr(tc, "type", "function");
    }
    cJSON* fn = JsonAddObj(tc, "function");
    if (name) JsonAddStr(fn, "name", name);
    JsonAddStr(fn, "arguments", args);
    chunks->push_back(std::move(c));
  }

  void BlockStart(int index, const cJSON* block, std::vector<JsonPtr>* chunks) {
    const char* type = JsonStr(block, "type");
    if (Is(type, "text")) {
      EmitText("content", JsonStr(block, "text"), chunks);
    } else if (Is(type, "thinking")) {
      EmitText("reasoning_content", JsonStr(block, "thinking"), chunks);
      EmitText("reasoning_signature", JsonStr(block, "signature"), chunks);
    } else if (Is(type, "redacted_thinking")) {
      EmitText("redacted_reasoning", JsonStr(block, "data"), chunks);
    } else if (Is(type, "tool_use")) {
      int tool = next_tool_++;
      tools_[index] = tool;
      saw_tool_ = true;
      // The input arrives as input_json_delta fragments; a start block
      // that already carries a non-empty input (some proxies) is used whole.
      const cJSON* input = JsonObj(block, "input");
      std::string args = input && input->child ? PrintJson(input) : "";
      EmitToolCall(tool, JsonStrOr(block, "id", RandomId("toolu_")).c_str(),
                   JsonStrOr(block, "name", "").c_str(), args, chunks);
    }
    // server_tool_use / web_search_tool_result: run by Anthropic, not the client.
  }

  void BlockDelta(int index, const cJSON* delta, std::vector<JsonPtr>* chunks) {
    const char* type = JsonStr(delta, "type");
    if (Is(type, "text_delta")) {
      EmitText("content", JsonStr(delta, "text"), chunks);
    } else if (Is(type, "thinking_delta")) {
      EmitText("reasoning_content", JsonStr(delta, "thinking"), chunks);
    } else if (Is(type, "signature_delta")) {
      EmitText("reasoning_signature", JsonStr(delta, "signature"), chunks);
    } else if (Is(type, "input_json_delta")) {
      auto it = tools_.find(index);
      const char* part = JsonStr(delta, "partial_json");
      if (it != tools_.end() && part && *part) EmitToolCall(it->second, nullptr, nullptr, part, chunks);
    }
  }

  // The finish chunk, then the usage chunk; once.
  void End(const char* finish_reason, std::vector<JsonPtr>* chunks) {
    if (ended_) return;
    ended_ = true;
    JsonPtr c = NewChunk();
    cJSON* choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c.get(), "choices"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(choice, "finish_reason", cJSON_CreateString(finish_reason));
    chunks->push_back(std::move(c));
    JsonPtr u = NewChunk();
    cJSON_ReplaceItemInObjectCaseSensitive(u.get(), "choices", cJSON_CreateArray());
    cJSON_AddItemToObject(u.get(), "usage", AnthropicUsageToChat(usage_.get()).release());
    chunks->push_back(std::move(u));
  }

  std::string id_, model_;
  long long created_ = UnixNow();
  JsonPtr usage_ = JsonNewObj();
  std::map<int, int> tools_;  // Anthropic block index -> pivot tool_calls index
  int next_tool_ = 0;
  bool started_ = false, ended_ = false, done_ = false, saw_tool_ = false;
};

// ---- Encoder ------------------------------------------------------------------

std::string Event(const char* name, const cJSON* data) { return FormatSse(name, PrintJson(data)); }

class AnthropicStreamEncoder : public StreamEncoder {
 public:
  explicit AnthropicStreamEncoder(const StreamOptions& options) : options_(options) {}

  std::string Encode(const cJSON* chunk) override {
    if (finished_ || !cJSON_IsObject(chunk)) return "";
    if (const cJSON* err = JsonObj(chunk, "error")) return ErrorFromChunk(err);
    std::string out;
    if (const cJSON* usage = JsonObj(chunk, "usage")) usage_.reset(cJSON_Duplicate(usage, true));
    if (!started_) out += Start(chunk);
    const cJSON* choice = cJSON_GetArrayItem(JsonArr(chunk, "choices"), 0);
    const cJSON* delta = JsonObj(choice, "delta");
    if (const char* r = JsonStr(delta, "reasoning_content"); r && *r) {
      out += Open(Block::kThinking);
      out += BlockDelta(open_index_, "thinking_delta", "thinking", r);
    }
    if (const char* sig = JsonStr(delta, "reasoning_signature"); sig && *sig) {
      out += Open(Block::kThinking);
      out += BlockDelta(open_index_, "signature_delta", "signature", sig);
    }
    const cJSON* redacted = JsonGet(delta, "redacted_reasoning");
    if (cJSON_IsString(redacted)) {
      out += Redacted(redacted->valuestring);
    } else if (cJSON_IsArray(redacted)) {
      const cJSON* r;
      cJSON_ArrayForEach(r, redacted) {
        if (cJSON_IsString(r)) out += Redacted(r->valuestring);
      }
    }
    if (const char* text = JsonStr(delta, "content"); text && *text) {
      out += Open(Block::kText);
      out += BlockDelta(open_index_, "text_delta", "text", text);
    }
    int position = 0;
    const cJSON* tc;
    cJSON_ArrayForEach(tc, JsonArr(delta, "tool_calls")) out += ToolCall(tc, position++);
    if (const char* finish = JsonStr(choice, "finish_reason")) {
      finish_reason_ = finish;
      out += Close();
    }
    return out;
  }

  std::string Finish() override {
    if (finished_) return "";
    finished_ = true;
    std::string out;
    if (!started_) out += Start(nullptr);
    out += Close();
    JsonPtr md = JsonNewObj();
    JsonAddStr(md.get(), "type", "message_delta");
    cJSON* d = JsonAddObj(md.get(), "delta");
    JsonAddStr(d, "stop_reason",
               AnthropicStopReason(finish_reason_.empty() ? nullptr : finish_reason_.c_str(), saw_tool_));
    cJSON_AddNullToObject(d, "stop_sequence");
    cJSON_AddItemToObject(md.get(), "usage", ChatUsageToAnthropic(usage_.get()).release());
    out += Event("message_delta", md.get());
    out += FormatSse("message_stop", "{\"type\":\"message_stop\"}");
    return out;
  }

  std::string Error(int status, std::string_view message) override {
    if (finished_) return "";
    finished_ = true;
    return FormatSse("error", ApiErrorBody(ApiFormat::kAnthropic, status, message));
  }

  // Byte for byte what Anthropic itself sends between events.
  std::string KeepAlive() override {
    return finished_ ? "" : FormatSse("ping", "{\"type\": \"ping\"}");
  }

 private:
  enum class Block { kNone, kThinking, kText, kTool, kRedacted };

  std::string Start(const cJSON* first) {
    started_ = true;
    JsonPtr ev = JsonNewObj();
    JsonAddStr(ev.get(), "type", "message_start");
    cJSON* msg = JsonAddObj(ev.get(), "message");
    JsonAddStr(msg, "id", AnthropicMessageId(JsonStrOr(first, "id", "")));
    JsonAddStr(msg, "type", "message");
    JsonAddStr(msg, "role", "assistant");
    JsonAddStr(msg, "model", options_.model.empty() ? JsonStrOr(first, "model", "") : options_.model);
    JsonAddArr(msg, "content");
    cJSON_AddNullToObject(msg, "stop_reason");
    cJSON_AddNullToObject(msg, "stop_sequence");
    // Input tokens are usually only known at the end (OpenAI sends usage
    // last); message_delta carries the full usage then.
    JsonPtr usage = ChatUsageToAnthropic(usage_.get());
    cJSON_AddItemToObject(msg, "usage", usage.release());
    return Event("message_start", ev.get());
  }

  // Opens a block of `kind` unless one is already open; closes another kind.
  std::string Open(Block kind, const cJSON* content_block = nullptr) {
    if (open_ == kind && !content_block) return "";
    std::string out = Close();
    open_ = kind;
    open_index_ = next_index_++;
    JsonPtr ev = JsonNewObj();
    JsonAddStr(ev.get(), "type", "content_block_start");
    JsonAddNum(ev.get(), "index", open_index_);
    if (content_block) {
      JsonAddCopy(ev.get(), "content_block", content_block);
    } else {
      cJSON* cb = JsonAddObj(ev.get(), "content_block");
      if (kind == Block::kThinking) {
        JsonAddStr(cb, "type", "thinking");
        JsonAddStr(cb, "thinking", "");
        JsonAddStr(cb, "signature", "");
      } else {
        JsonAddStr(cb, "type", "text");
        JsonAddStr(cb, "text", "");
      }
    }
    return out + Event("content_block_start", ev.get());
  }

  std::string Close() {
    if (open_ == Block::kNone) return "";
    open_ = Block::kNone;
    JsonPtr ev = JsonNewObj();
    JsonAddStr(ev.get(), "type", "content_block_stop");
    JsonAddNum(ev.get(), "index", open_index_);
    return Event("content_block_stop", ev.get());
  }

  static std::string BlockDelta(int index, const char* type, const char* key, std::string_view value) {
    JsonPtr ev = JsonNewObj();
    JsonAddStr(ev.get(), "type", "content_block_delta");
    JsonAddNum(ev.get(), "index", index);
    cJSON* d = JsonAddObj(ev.get(), "delta");
    JsonAddStr(d, "type", type);
    JsonAddStr(d, key, value);
    return Event("content_block_delta", ev.get());
  }

  std::string Redacted(const char* data) {
    JsonPtr cb = JsonNewObj();
    JsonAddStr(cb.get(), "type", "redacted_thinking");
    JsonAddStr(cb.get(), "data", data);
    std::string out = Open(Block::kRedacted, cb.get());
    return out + Close();
  }

  // A tool_calls delta entry: a new index (or a new id on a known index)
  // starts a tool_use block; argument fragments go to that call's block.
  std::string ToolCall(const cJSON* tc, int position) {
    int index = static_cast<int>(JsonNum(tc, "index", position));
    const cJSON* fn = JsonObj(tc, "function");
    const char* id = JsonStr(tc, "id");
    std::string out;
    auto it = tools_.find(index);
    if (it == tools_.end() || (id && *id && it->second.id != id)) {
      ToolBlock tb;
      tb.id = AnthropicToolId(id ? id : "");
      JsonPtr cb = JsonNewObj();
      JsonAddStr(cb.get(), "type", "tool_use");
      JsonAddStr(cb.get(), "id", tb.id);
      JsonAddStr(cb.get(), "name", JsonStrOr(fn, "name", ""));
      JsonAddObj(cb.get(), "input");
      out += Open(Block::kTool, cb.get());
      tb.block = open_index_;
      tb.id = id ? id : tb.id;
      it = tools_.insert_or_assign(index, tb).first;
      saw_tool_ = true;
    }
    const char* args = JsonStr(fn, "arguments");
    if (args && *args) {
      JsonPtr ev = JsonNewObj();
      JsonAddStr(ev.get(), "type", "content_block_delta");
      JsonAddNum(ev.get(), "index", it->second.block);
      cJSON* d = JsonAddObj(ev.get(), "delta");
      JsonAddStr(d, "type", "input_json_delta");
      JsonAddStr(d, "partial_json", args);
      out += Event("content_block_delta", ev.get());
    }
    return out;
  }

  // An in-stream error chunk from the provider's decoder.
  std::string ErrorFromChunk(const cJSON* err) {
    finished_ = true;
    const cJSON* code = JsonGet(err, "code");
    int status = cJSON_IsNumber(code) ? code->valueint : 0;
    if (status == 0 && cJSON_IsString(code)) status = std::atoi(code->valuestring);
    const char* type = JsonStr(err, "type");
    if (status == 0) status = StatusForAnthropicError(type);
    if (status == 0) status = 500;
    std::string_view t = StatusForAnthropicError(type) ? type : "";
    return FormatSse("error", ApiErrorBody(ApiFormat::kAnthropic, status,
                                           JsonStrOr(err, "message", "upstream error"), t));
  }

  struct ToolBlock {
    int block = 0;
    std::string id;
  };
  StreamOptions options_;
  Block open_ = Block::kNone;
  int open_index_ = -1;
  int next_index_ = 0;
  std::map<int, ToolBlock> tools_;  // pivot tool_calls index -> its block
  JsonPtr usage_;                   // last pivot usage seen
  std::string finish_reason_;
  bool started_ = false, finished_ = false, saw_tool_ = false;
};

}  // namespace

std::unique_ptr<StreamDecoder> NewAnthropicStreamDecoder() {
  return std::make_unique<AnthropicStreamDecoder>();
}

std::unique_ptr<StreamEncoder> NewAnthropicStreamEncoder(const StreamOptions& options) {
  return std::make_unique<AnthropicStreamEncoder>(options);
}

}  // namespace tether
