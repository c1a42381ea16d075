// OpenAI Responses streaming <-> pivot chunks.
//
// The encoder turns chat.completion.chunk deltas into the Responses event
// sequence: response.created, response.in_progress, then per output item
// output_item.added ... output_item.done (reasoning summary, message text,
// function_call arguments), then response.completed (or .incomplete) with the
// whole response. Every event carries a monotonic sequence_number.
#include <cjson/cJSON.h>

#include <map>
#include <string>
#include <vector>

#include "hub/formats/formats_internal.h"
#include "hub/formats/responses_internal.h"

namespace tether {
namespace {

// ---- provider Responses SSE -> pivot chunks ---------------------------------

class ResponsesStreamDecoder : public StreamDecoder {
 public:
  void Decode(const SseEvent& event, std::vector<JsonPtr>* chunks) override {
    if (done_ || !event.has_data) return;
    auto parsed = ParseJson(event.data);
    if (!parsed.ok()) return;
    const cJSON* ev = parsed->get();
    std::string type = JsonStrOr(ev, "type", event.event);
    if (type == "response.created" || type == "response.in_progress") {
      const cJSON* r = JsonObj(ev, "response");
      if (id_.empty()) id_ = JsonStrOr(r, "id", "");
      if (model_.empty()) model_ = JsonStrOr(r, "model", "");
    } else if (type == "response.output_text.delta" || type == "response.refusal.delta") {
      if (const char* d = JsonStr(ev, "delta"); d && *d) {
        JsonPtr c = NewChunk();
        JsonAddStr(Delta(c.get()), "content", d);
        chunks->push_back(std::move(c));
      }
    } else if (type == "response.reasoning_summary_text.delta" || type == "response.reasoning_text.delta") {
      if (const char* d = JsonStr(ev, "delta"); d && *d) {
        JsonPtr c = NewChunk();
        JsonAddStr(Delta(c.get()), "reasoning_content", d);
        chunks->push_back(std::move(c));
      }
    } else if (type == "response.reasoning_summary_part.added") {
      // Summary parts are separate paragraphs.
      if (JsonNum(ev, "summary_index", 0) > 0) {
        JsonPtr c = NewChunk();
        JsonAddStr(Delta(c.get()), "reasoning_content", "\n\n");
        chunks->push_back(std::move(c));
      }
    } else if (type == "response.output_item.added") {
      const cJSON* item = JsonObj(ev, "item");
      if (JsonStrOr(item, "type", "") == "function_call") {
        Call& call = calls_[JsonStrOr(item, "id", std::to_string(static_cast<int>(JsonNum(ev, "output_index", 0))))];
        call.index = next_call_++;
        JsonPtr c = NewChunk();
        cJSON* tc = JsonAddObj(JsonAddArr(Delta(c.get()), "tool_calls"), nullptr);
        JsonAddNum(tc, "index", call.index);
        JsonAddStr(tc, "id", JsonStrOr(item, "call_id", JsonStrOr(item, "id", "")));
        JsonAddStr(tc, "type", "function");
        cJSON* f = JsonAddObj(tc, "function");
        JsonAddStr(f, "name", JsonStrOr(item, "name", ""));
        std::string args = JsonStrOr(item, "arguments", "");
        call.sent = args.size();
        JsonAddStr(f, "arguments", args);
        chunks->push_back(std::move(c));
      }
    } else if (type == "response.function_call_arguments.delta") {
      auto it = calls_.find(JsonStrOr(ev, "item_id", std::to_string(static_cast<int>(JsonNum(ev, "output_index", 0)))));
      if (it != calls_.end()) {
        std::string d = JsonStrOr(ev, "delta", "");
        it->second.sent += d.size();
        Args(chunks, it->second.index, d);
      }
    } else if (type == "response.output_item.done") {
      const cJSON* item = JsonObj(ev, "item");
      std::string itype = JsonStrOr(item, "type", "");
      if (itype == "function_call") {
        // Providers that skip the argument deltas still send the whole call here.
        auto it = calls_.find(JsonStrOr(item, "id", std::to_string(static_cast<int>(JsonNum(ev, "output_index", 0)))));
        std::string args = JsonStrOr(item, "arguments", "");
        if (it != calls_.end() && it->second.sent == 0 && !args.empty()) {
          it->second.sent = args.size();
          Args(chunks, it->second.index, args);
        }
      } else if (itype == "reasoning") {
        if (const char* enc = JsonStr(item, "encrypted_content"); enc && *enc) {
          JsonPtr c = NewChunk();
          JsonAddStr(Delta(c.get()), "reasoning_signature", enc);
          chunks->push_back(std::move(c));
        }
      }
    } else if (type == "response.completed" || type == "response.incomplete") {
      const cJSON* r = JsonObj(ev, "response");
      JsonPtr c = NewChunk();
      cJSON* choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c.get(), "choices"), 0);
      cJSON_DeleteItemFromObjectCaseSensitive(choice, "finish_reason");
      JsonAddStr(choice, "finish_reason", ResponsesFinishReason(r, next_call_ > 0).c_str());
      chunks->push_back(std::move(c));
      if (const cJSON* u = JsonObj(r, "usage")) {
        JsonPtr uc = Skeleton();
        JsonAddArr(uc.get(), "choices");
        cJSON_AddItemToObject(uc.get(), "usage", ResponsesUsageToChat(u).release());
        chunks->push_back(std::move(uc));
      }
      done_ = true;
    } else if (type == "response.failed" || type == "error") {
      const cJSON* err = type == "error" ? ev : JsonObj(JsonObj(ev, "response"), "error");
      JsonPtr c = JsonNewObj();
      cJSON* e = JsonAddObj(c.get(), "error");
      JsonAddStr(e, "message", JsonStrOr(err, "message", "the provider reported a failed response"));
      JsonAddStr(e, "type", "upstream_error");
      JsonAddStr(e, "code", JsonStrOr(err, "code", "server_error"));
      chunks->push_back(std::move(c));
      done_ = true;
    }
  }

  void Finish(std::vector<JsonPtr>* chunks) override {
    if (done_) return;
    done_ = true;
    JsonPtr c = NewChunk();
    cJSON* choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c.get(), "choices"), 0);
    cJSON_DeleteItemFromObjectCaseSensitive(choice, "finish_reason");
    JsonAddStr(choice, "finish_reason", next_call_ > 0 ? "tool_calls" : "stop");
    chunks->push_back(std::move(c));
  }

 private:
  struct Call {
    int index = 0;
    size_t sent = 0;  // argument bytes already passed on
  };

  JsonPtr Skeleton() {
    if (id_.empty()) id_ = RandomId("resp_");
    return PivotChunkSkeleton(id_, created_, model_);
  }
  JsonPtr NewChunk() {
    if (id_.empty()) id_ = RandomId("resp_");
    return PivotChunkWithDelta(id_, created_, model_, &role_sent_);
  }
  static cJSON* Delta(cJSON* chunk) {
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0),
                                            "delta");
  }
  void Args(std::vector<JsonPtr>* chunks, int index, const std::string& args) {
    if (args.empty()) return;
    JsonPtr c = NewChunk();
    cJSON* tc = JsonAddObj(JsonAddArr(Delta(c.get()), "tool_calls"), nullptr);
    JsonAddNum(tc, "index", index);
    JsonAddStr(JsonAddObj(tc, "function"), "arguments", args);
    chunks->push_back(std::move(c));
  }

  std::string id_, model_;
  int64_t created_ = UnixNow();
  bool role_sent_ = false;
  bool done_ = false;
  int next_call_ = 0;
  std::map<std::string, Call> calls_;  // by item id
};

// ---- pivot chunks -> client Responses SSE -------------------------------------

class ResponsesStreamEncoder : public StreamEncoder {
 public:
  explicit ResponsesStreamEncoder(const StreamOptions& o) : model_(o.model), names_(o.client_request) {}

  std::string Encode(const cJSON* chunk) override {
    if (closed_) return "";
    if (const cJSON* err = JsonObj(chunk, "error")) {
      const cJSON* code = JsonGet(err, "code");
      int status = cJSON_IsNumber(code) && code->valuedouble >= 400 ? static_cast<int>(code->valuedouble) : 502;
      return Error(status, JsonStrOr(err, "message", "upstream error"));
    }
    std::string out = Start();
    if (const cJSON* u = JsonObj(chunk, "usage")) usage_.reset(cJSON_Duplicate(u, true));
    const cJSON* choice = cJSON_GetArrayItem(JsonArr(chunk, "choices"), 0);
    const cJSON* delta = JsonObj(choice, "delta");
    if (const char* r = JsonStr(delta, "reasoning_content"); r && *r) {
      Item& it = Open(Kind::kReasoning, &out);
      if (!it.part_open) {
        JsonPtr e = Event("response.reasoning_summary_part.added", it);
        JsonAddNum(e.get(), "summary_index", 0);
        cJSON* part = JsonAddObj(e.get(), "part");
        JsonAddStr(part, "type", "summary_text");
        JsonAddStr(part, "text", "");
        out += Send(e.get());
        it.part_open = true;
      }
      it.text += r;
      JsonPtr e = Event("response.reasoning_summary_text.delta", it);
      JsonAddNum(e.get(), "summary_index", 0);
      JsonAddStr(e.get(), "delta", r);
      out += Send(e.get());
    }
    if (const char* s = JsonStr(delta, "reasoning_signature"); s && *s) {
      // The signature closes a thinking block; it belongs to the reasoning
      // item just streamed, or stands alone as an item with no summary.
      Item& it = Open(Kind::kReasoning, &out);
      it.signature = s;
    }
    if (const char* t = JsonStr(delta, "content"); t && *t) {
      Item& it = Open(Kind::kMessage, &out);
      it.text += t;
      JsonPtr e = Event("response.output_text.delta", it);
      JsonAddNum(e.get(), "content_index", 0);
      JsonAddStr(e.get(), "delta", t);
      JsonAddArr(e.get(), "logprobs");
      out += Send(e.get());
    }
    const cJSON* tc;
    cJSON_ArrayForEach(tc, JsonArr(delta, "tool_calls")) {
      int index = static_cast<int>(JsonNum(tc, "index", 0));
      const cJSON* f = JsonObj(tc, "function");
      Item* it = nullptr;
      for (Item& i : items_)
        if (i.kind == Kind::kCall && i.call_index == index) it = &i;
      if (!it) {
        CloseOpen(&out, /*keep_calls=*/true);
        items_.push_back(Item{});
        it = &items_.back();
        it->kind = Kind::kCall;
        it->call_index = index;
        it->output_index = static_cast<int>(items_.size()) - 1;
        it->call_id = JsonStrOr(tc, "id", "");
        if (it->call_id.empty()) it->call_id = RandomId("call_");
        it->name = JsonStrOr(f, "name", "");
        const ResponsesToolName* tool = names_.FindWire(it->name);
        it->custom = tool && tool->custom;
        it->id = RandomId(it->custom ? "ctc_" : "fc_");
        it->open = true;
        JsonPtr e = Event("response.output_item.added", *it, /*with_item_id=*/false);
        cJSON_AddItemToObject(e.get(), "item", ItemJson(*it).release());
        out += Send(e.get());
      } else if (const char* n = JsonStr(f, "name"); n && *n && it->name.empty()) {
        it->name = n;
      }
      if (const char* a = JsonStr(f, "arguments"); a && *a && it->open) {
        it->text += a;
        // A custom call's input is the "input" string inside these JSON
        // fragments; it is sent whole when the call closes.
        if (it->custom) continue;
        JsonPtr e = Event("response.function_call_arguments.delta", *it);
        JsonAddStr(e.get(), "delta", a);
        out += Send(e.get());
      }
    }
    if (const char* fr = JsonStr(choice, "finish_reason")) {
      finish_reason_ = fr;
      CloseOpen(&out, false);
    }
    return out;
  }

  std::string Finish() override {
    if (closed_) return "";
    std::string out = Start();
    CloseOpen(&out, false);
    JsonPtr resp = Response();
    ResponsesSetStatus(resp.get(), finish_reason_.empty() ? "stop" : finish_reason_);
    std::string status = JsonStrOr(resp.get(), "status", "completed");
    JsonPtr e = JsonNewObj();
    JsonAddStr(e.get(), "type", status == "completed" ? "response.completed" : "response.incomplete");
    cJSON_AddItemToObject(e.get(), "response", resp.release());
    out += Send(e.get());
    closed_ = true;
    return out;
  }

  std::string Error(int status, std::string_view message) override {
    if (closed_) return "";
    std::string out = Start();
    CloseOpen(&out, false);
    JsonPtr resp = Response();
    cJSON_DeleteItemFromObjectCaseSensitive(resp.get(), "status");
    JsonAddStr(resp.get(), "status", "failed");
    cJSON_DeleteItemFromObjectCaseSensitive(resp.get(), "error");
    cJSON* err = JsonAddObj(resp.get(), "error");
    JsonAddStr(err, "code", status == 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request_error");
    JsonAddStr(err, "message", message);
    JsonPtr e = JsonNewObj();
    JsonAddStr(e.get(), "type", "response.failed");
    cJSON_AddItemToObject(e.get(), "response", resp.release());
    out += Send(e.get());
    closed_ = true;
    return out;
  }

  std::string KeepAlive() override { return closed_ ? "" : ": keep-alive\n\n"; }

 private:
  enum class Kind { kReasoning, kMessage, kCall };
  struct Item {
    Kind kind = Kind::kMessage;
    int output_index = 0;
    int call_index = -1;
    std::string id, call_id;
    std::string name;  // calls: the pivot name (see ResponsesToolNames)
    std::string text;  // summary, message text or arguments so far
    bool custom = false;  // a call to a freeform tool: custom_tool_call
    std::string signature;
    bool open = false;
    bool part_open = false;
  };

  std::string Start() {
    if (started_) return "";
    started_ = true;
    id_ = RandomId("resp_");
    std::string out;
    for (const char* type : {"response.created", "response.in_progress"}) {
      JsonPtr e = JsonNewObj();
      JsonAddStr(e.get(), "type", type);
      cJSON_AddItemToObject(e.get(), "response", ResponsesSkeleton(id_, model_, created_).release());
      out += Send(e.get());
    }
    return out;
  }

  JsonPtr Event(const char* type, const Item& it, bool with_item_id = true) {
    JsonPtr e = JsonNewObj();
    JsonAddStr(e.get(), "type", type);
    if (with_item_id) JsonAddStr(e.get(), "item_id", it.id);
    JsonAddNum(e.get(), "output_index", it.output_index);
    return e;
  }

  std::string Send(cJSON* event) {
    JsonAddNum(event, "sequence_number", seq_++);
    return FormatSse(JsonStr(event, "type"), PrintJson(event));
  }

  JsonPtr ItemJson(const Item& it) {
    const char* status = it.open ? "in_progress" : "completed";
    switch (it.kind) {
      case Kind::kReasoning: return ResponsesReasoningItem(it.id, it.text, it.signature);
      case Kind::kMessage: {
        if (it.open) {  // added: no content part yet
          JsonPtr item = ResponsesMessageItem(it.id, "", status);
          cJSON_DeleteItemFromObjectCaseSensitive(item.get(), "content");
          JsonAddArr(item.get(), "content");
          return item;
        }
        return ResponsesMessageItem(it.id, it.text, status);
      }
      case Kind::kCall: return ResponsesCallItem(names_, it.id, it.call_id, it.name, it.open ? "" : it.text, status);
    }
    return JsonNewObj();
  }

  // The open item of `kind`, opening one (and closing others) if needed.
  Item& Open(Kind kind, std::string* out) {
    if (!items_.empty() && items_.back().open && items_.back().kind == kind) return items_.back();
    CloseOpen(out, false);
    items_.push_back(Item{});
    Item& it = items_.back();
    it.kind = kind;
    it.output_index = static_cast<int>(items_.size()) - 1;
    it.id = RandomId(kind == Kind::kReasoning ? "rs_" : "msg_");
    it.open = true;
    JsonPtr e = Event("response.output_item.added", it, false);
    cJSON_AddItemToObject(e.get(), "item", ItemJson(it).release());
    *out += Send(e.get());
    if (kind == Kind::kMessage) {
      JsonPtr p = Event("response.content_part.added", it);
      JsonAddNum(p.get(), "content_index", 0);
      cJSON* part = JsonAddObj(p.get(), "part");
      JsonAddStr(part, "type", "output_text");
      JsonAddStr(part, "text", "");
      JsonAddArr(part, "annotations");
      *out += Send(p.get());
      it.part_open = true;
    }
    return it;
  }

  // Closes every open item; with keep_calls, function calls stay open (a
  // provider may stream parallel calls interleaved).
  void CloseOpen(std::string* out, bool keep_calls) {
    for (Item& it : items_) {
      if (!it.open || (keep_calls && it.kind == Kind::kCall)) continue;
      switch (it.kind) {
        case Kind::kReasoning:
          if (it.part_open) {
            JsonPtr e = Event("response.reasoning_summary_text.done", it);
            JsonAddNum(e.get(), "summary_index", 0);
            JsonAddStr(e.get(), "text", it.text);
            *out += Send(e.get());
            JsonPtr p = Event("response.reasoning_summary_part.done", it);
            JsonAddNum(p.get(), "summary_index", 0);
            cJSON* part = JsonAddObj(p.get(), "part");
            JsonAddStr(part, "type", "summary_text");
            JsonAddStr(part, "text", it.text);
            *out += Send(p.get());
          }
          break;
        case Kind::kMessage: {
          JsonPtr e = Event("response.output_text.done", it);
          JsonAddNum(e.get(), "content_index", 0);
          JsonAddStr(e.get(), "text", it.text);
          JsonAddArr(e.get(), "logprobs");
          *out += Send(e.get());
          JsonPtr p = Event("response.content_part.done", it);
          JsonAddNum(p.get(), "content_index", 0);
          cJSON* part = JsonAddObj(p.get(), "part");
          JsonAddStr(part, "type", "output_text");
          JsonAddStr(part, "text", it.text);
          JsonAddArr(part, "annotations");
          *out += Send(p.get());
          break;
        }
        case Kind::kCall: {
          if (it.text.empty()) it.text = "{}";
          if (it.custom) {
            std::string input = CustomToolInput(it.text);
            if (!input.empty()) {
              JsonPtr d = Event("response.custom_tool_call_input.delta", it);
              JsonAddStr(d.get(), "delta", input);
              *out += Send(d.get());
            }
            JsonPtr e = Event("response.custom_tool_call_input.done", it);
            JsonAddStr(e.get(), "input", input);
            *out += Send(e.get());
            break;
          }
          JsonPtr e = Event("response.function_call_arguments.done", it);
          const ResponsesToolName* n = names_.FindWire(it.name);
          JsonAddStr(e.get(), "name", n ? n->name : it.name);
          JsonAddStr(e.get(), "arguments", it.text);
          *out += Send(e.get());
          break;
        }
      }
      it.open = false;
      it.part_open = false;
      JsonPtr d = Event("response.output_item.done", it, false);
      cJSON_AddItemToObject(d.get(), "item", ItemJson(it).release());
      *out += Send(d.get());
    }
  }

  JsonPtr Response() {
    JsonPtr r = ResponsesSkeleton(id_, model_, created_);
    cJSON* output = cJSON_GetObjectItemCaseSensitive(r.get(), "output");
    for (const Item& it : items_) cJSON_AddItemToArray(output, ItemJson(it).release());
    cJSON_DeleteItemFromObjectCaseSensitive(r.get(), "usage");
    cJSON_AddItemToObject(r.get(), "usage", ResponsesUsageFromChat(usage_.get()).release());
    return r;
  }

  std::string model_;
  const ResponsesToolNames names_;
  std::string id_;
  int64_t created_ = UnixNow();
  int seq_ = 0;
  bool started_ = false;
  bool closed_ = false;
  std::string finish_reason_;
  JsonPtr usage_;
  std::vector<Item> items_;
};

}  // namespace

std::unique_ptr<StreamDecoder> NewResponsesStreamDecoder() { return std::make_unique<ResponsesStreamDecoder>(); }
std::unique_ptr<StreamEncoder> NewResponsesStreamEncoder(const StreamOptions& options) {
  return std::make_unique<ResponsesStreamEncoder>(options);
}

}  // namespace tether
