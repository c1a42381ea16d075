// Gemini generateContent / streamGenerateContent <-> the pivot (OpenAI chat).
//
// Gemini carries no tool-call ids in older responses, and a functionResponse
// names its function rather than a call id, so ids are synthesised from the
// function name and the call's position ("call_<name>_<n>"), and tool results
// are mapped back to names through the assistant tool_calls that precede them.
#include <cjson/cJSON.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "hub/formats/formats_internal.h"

namespace tether {
namespace {

// Gemini 3 rejects a model turn whose first functionCall has no
// thoughtSignature; calls that came from another provider carry none, and
// this documented placeholder tells Gemini to skip the check.
constexpr const char* kSkipThoughtSignature = "skip_thought_signature_validator";

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string SyntheticCallId(const std::string& name, int index) {
  return "call_" + name + "_" + std::to_string(index);
}

// Gemini's OpenAPI-style `parameters` schema spells types in upper case
// ("OBJECT"); JSON Schema wants lower case. Everything else passes.
void LowercaseSchemaTypes(cJSON* node) {
  if (!node) return;
  if (cJSON_IsObject(node)) {
    for (cJSON* c = node->child; c; c = c->next) {
      if (c->string && std::string_view(c->string) == "type" && cJSON_IsString(c)) {
        cJSON_SetValuestring(c, Lower(c->valuestring).c_str());
      } else {
        LowercaseSchemaTypes(c);
      }
    }
  } else if (cJSON_IsArray(node)) {
    for (cJSON* c = node->child; c; c = c->next) LowercaseSchemaTypes(c);
  }
}

JsonPtr SchemaToJsonSchema(const cJSON* schema) {
  JsonPtr out(cJSON_Duplicate(schema, true));
  LowercaseSchemaTypes(out.get());
  return out;
}

// parametersJsonSchema takes JSON Schema as-is (additionalProperties, $ref
// and $defs included); only the meta-schema marker is refused.
JsonPtr SchemaForGemini(const cJSON* schema) {
  JsonPtr out(cJSON_Duplicate(schema, true));
  if (cJSON_IsObject(out.get())) cJSON_DeleteItemFromObjectCaseSensitive(out.get(), "$schema");
  return out;
}

std::string TextOfParts(const cJSON* parts) {
  std::string out;
  const cJSON* p;
  cJSON_ArrayForEach(p, parts) {
    const char* t = JsonStr(p, "text");
    if (t && !JsonBool(p, "thought", false)) {
      if (!out.empty()) out += "\n";
      out += t;
    }
  }
  return out;
}

// Text of a pivot message content (string or parts).
std::string ChatContentText(const cJSON* content) {
  if (cJSON_IsString(content)) return content->valuestring;
  std::string out;
  const cJSON* p;
  cJSON_ArrayForEach(p, content) {
    const char* t = JsonStr(p, "text");
    if (t) out += t;
  }
  return out;
}

const char* FinishFromGemini(const std::string& reason, bool has_calls) {
  if (has_calls) return "tool_calls";
  if (reason == "MAX_TOKENS") return "length";
  if (reason == "STOP" || reason.empty() || reason == "FINISH_REASON_UNSPECIFIED") return "stop";
  if (reason == "MALFORMED_FUNCTION_CALL" || reason == "UNEXPECTED_TOOL_CALL" || reason == "OTHER") return "stop";
  return "content_filter";  // SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY, ...
}

const char* FinishToGemini(const char* reason) {
  std::string r = reason ? reason : "stop";
  if (r == "length") return "MAX_TOKENS";
  if (r == "content_filter") return "SAFETY";
  return "STOP";
}

// usageMetadata -> pivot usage. completion counts thoughts too, as OpenAI
// counts reasoning tokens inside completion_tokens.
JsonPtr UsageFromGemini(const cJSON* um) {
  JsonPtr u = JsonNewObj();
  double prompt = JsonNum(um, "promptTokenCount", 0) + JsonNum(um, "toolUsePromptTokenCount", 0);
  double cand = JsonNum(um, "candidatesTokenCount", 0);
  double thoughts = JsonNum(um, "thoughtsTokenCount", 0);
  double cached = JsonNum(um, "cachedContentTokenCount", 0);
  JsonAddNum(u.get(), "prompt_tokens", prompt);
  JsonAddNum(u.get(), "completion_tokens", cand + thoughts);
  JsonAddNum(u.get(), "total_tokens", JsonNum(um, "totalTokenCount", prompt + cand + thoughts));
  cJSON* pd = JsonAddObj(u.get(), "prompt_tokens_details");
  JsonAddNum(pd, "cached_tokens", cached);
  cJSON* cd = JsonAddObj(u.get(), "completion_tokens_details");
  JsonAddNum(cd, "reasoning_tokens", thoughts);
  return u;
}

JsonPtr UsageToGemini(const cJSON* usage) {
  JsonPtr um = JsonNewObj();
  double prompt = JsonNum(usage, "prompt_tokens", 0);
  double completion = JsonNum(usage, "completion_tokens", 0);
  double reasoning = JsonNum(JsonObj(usage, "completion_tokens_details"), "reasoning_tokens", 0);
  double cached = JsonNum(JsonObj(usage, "prompt_tokens_details"), "cached_tokens", 0);
  if (reasoning > completion) reasoning = completion;
  JsonAddNum(um.get(), "promptTokenCount", prompt);
  JsonAddNum(um.get(), "candidatesTokenCount", completion - reasoning);
  if (reasoning > 0) JsonAddNum(um.get(), "thoughtsTokenCount", reasoning);
  if (cached > 0) JsonAddNum(um.get(), "cachedContentTokenCount", cached);
  JsonAddNum(um.get(), "totalTokenCount", JsonNum(usage, "total_tokens", prompt + completion));
  return um;
}

// A data: URL split into mime type and base64 payload.
bool SplitDataUrl(const std::string& url, std::string* mime, std::string* data) {
  if (url.rfind("data:", 0) != 0) return false;
  size_t comma = url.find(',');
  if (comma == std::string::npos) return false;
  std::string meta = url.substr(5, comma - 5);
  size_t semi = meta.find(';');
  *mime = meta.substr(0, semi);
  if (mime->empty()) *mime = "application/octet-stream";
  *data = url.substr(comma + 1);
  return true;
}

std::string GuessMime(const std::string& uri) {
  std::string l = Lower(uri);
  size_t q = l.find('?');
  if (q != std::string::npos) l.resize(q);
  auto ends = [&](const char* s) {
    std::string_view e(s);
    return l.size() >= e.size() && l.compare(l.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".png")) return "image/png";
  if (ends(".gif")) return "image/gif";
  if (ends(".webp")) return "image/webp";
  if (ends(".pdf")) return "application/pdf";
  return "image/jpeg";
}

// ---- request: Gemini -> pivot ----------------------------------------------

void AddPartsAsChatContent(cJSON* msg, const std::vector<const cJSON*>& parts) {
  bool all_text = true;
  for (const cJSON* p : parts) all_text = all_text && JsonStr(p, "text");
  if (all_text && parts.size() == 1) {
    JsonAddStr(msg, "content", JsonStr(parts[0], "text"));
    return;
  }
  cJSON* arr = JsonAddArr(msg, "content");
  for (const cJSON* p : parts) {
    if (const char* t = JsonStr(p, "text")) {
      cJSON* o = JsonAddObj(arr, nullptr);
      JsonAddStr(o, "type", "text");
      JsonAddStr(o, "text", t);
    } else if (const cJSON* inl = JsonObj(p, "inlineData")) {
      cJSON* o = JsonAddObj(arr, nullptr);
      JsonAddStr(o, "type", "image_url");
      cJSON* iu = JsonAddObj(o, "image_url");
      JsonAddStr(iu, "url", "data:" + JsonStrOr(inl, "mimeType", "application/octet-stream") + ";base64," +
                                JsonStrOr(inl, "data", ""));
    } else if (const cJSON* fd = JsonObj(p, "fileData")) {
      cJSON* o = JsonAddObj(arr, nullptr);
      JsonAddStr(o, "type", "image_url");
      cJSON* iu = JsonAddObj(o, "image_url");
      JsonAddStr(iu, "url", JsonStrOr(fd, "fileUri", ""));
    }
  }
}

std::string ToolResultContent(const cJSON* response) {
  // Gemini CLI wraps plain output as {"output": "..."}; unwrap that so other
  // providers see the text itself.
  if (cJSON_IsObject(response) && response->child && !response->child->next) {
    const cJSON* only = response->child;
    if (cJSON_IsString(only) && (std::string_view(only->string) == "output" ||
                                 std::string_view(only->string) == "result" ||
                                 std::string_view(only->string) == "content"))
      return only->valuestring;
  }
  if (cJSON_IsString(response)) return response->valuestring;
  return PrintJson(response);
}

void GenerationConfigToChat(const cJSON* gc, cJSON* out) {
  if (!gc) return;
  if (const cJSON* v = JsonGet(gc, "temperature"); cJSON_IsNumber(v)) JsonAddNum(out, "temperature", v->valuedouble);
  if (const cJSON* v = JsonGet(gc, "topP"); cJSON_IsNumber(v)) JsonAddNum(out, "top_p", v->valuedouble);
  if (const cJSON* v = JsonGet(gc, "topK"); cJSON_IsNumber(v)) JsonAddNum(out, "top_k", v->valuedouble);
  if (const cJSON* v = JsonGet(gc, "maxOutputTokens"); cJSON_IsNumber(v)) JsonAddNum(out, "max_tokens", v->valuedouble);
  if (const cJSON* v = JsonGet(gc, "candidateCount"); cJSON_IsNumber(v) && v->valuedouble > 1)
    JsonAddNum(out, "n", v->valuedouble);
  if (const cJSON* v = JsonGet(gc, "presencePenalty"); cJSON_IsNumber(v))
    JsonAddNum(out, "presence_penalty", v->valuedouble);
  if (const cJSON* v = JsonGet(gc, "frequencyPenalty"); cJSON_IsNumber(v))
    JsonAddNum(out, "frequency_penalty", v->valuedouble);
  if (const cJSON* v = JsonGet(gc, "seed"); cJSON_IsNumber(v)) JsonAddNum(out, "seed", v->valuedouble);
  if (const cJSON* v = JsonArr(gc, "stopSequences"); v && cJSON_GetArraySize(v) > 0) JsonAddCopy(out, "stop", v);

  std::string mime = JsonStrOr(gc, "responseMimeType", "");
  const cJSON* json_schema = JsonGet(gc, "responseJsonSchema");
  if (!json_schema) json_schema = JsonGet(gc, "response_json_schema");
  const cJSON* schema = JsonGet(gc, "responseSchema");
  if (json_schema || schema) {
    cJSON* rf = JsonAddObj(out, "response_format");
    JsonAddStr(rf, "type", "json_schema");
    cJSON* js = JsonAddObj(rf, "json_schema");
    JsonAddStr(js, "name", "response");
    // responseJsonSchema is JSON Schema already, but Gemini CLI still spells
    // its types in upper case there; lower-casing is harmless for both.
    cJSON_AddItemToObject(js, "schema", SchemaToJsonSchema(json_schema ? json_schema : schema).release());
  } else if (mime == "application/json") {
    cJSON* rf = JsonAddObj(out, "response_format");
    JsonAddStr(rf, "type", "json_object");
  }

  if (const cJSON* tc = JsonObj(gc, "thinkingConfig")) {
    if (const cJSON* b = JsonGet(tc, "thinkingBudget"); cJSON_IsNumber(b) && b->valuedouble >= 0)
      JsonAddNum(out, "thinking_budget", b->valuedouble);
    if (const char* lvl = JsonStr(tc, "thinkingLevel")) {
      std::string l = Lower(lvl);
      if (l == "minimal") l = "low";
      if (l == "low" || l == "medium" || l == "high") JsonAddStr(out, "reasoning_effort", l);
    }
  }
}

}  // namespace

JsonPtr GeminiUsageToChat(const cJSON* usage_metadata) { return UsageFromGemini(usage_metadata); }

Result<JsonPtr> GeminiRequestToChat(const cJSON* req) {
  if (!cJSON_IsObject(req)) return Status::Error("gemini request: expected a JSON object");
  JsonPtr out = JsonNewObj();
  cJSON* messages = JsonAddArr(out.get(), "messages");

  if (const cJSON* si = JsonGet(req, "systemInstruction"); si || (si = JsonGet(req, "system_instruction"))) {
    std::string text = cJSON_IsString(si) ? std::string(si->valuestring) : TextOfParts(JsonArr(si, "parts"));
    if (!text.empty()) {
      cJSON* m = JsonAddObj(messages, nullptr);
      JsonAddStr(m, "role", "system");
      JsonAddStr(m, "content", text);
    }
  }

  const cJSON* contents = JsonArr(req, "contents");
  if (!contents) return Status::Error("gemini request: \"contents\" must be an array");
  int call_index = 0;
  // Ids of calls not yet answered, per function name, for functionResponse
  // parts that carry no id (answered in order, as Gemini does).
  std::map<std::string, std::deque<std::string>> pending;
  int ci = 0;
  const cJSON* content;
  cJSON_ArrayForEach(content, contents) {
    const cJSON* parts = JsonArr(content, "parts");
    if (!parts) return Status::Error("gemini request: contents[" + std::to_string(ci) + "].parts must be an array");
    bool model = JsonStrOr(content, "role", "user") == "model";
    std::vector<const cJSON*> plain;
    std::string reasoning, signature;
    JsonPtr calls = JsonNewArr();
    const cJSON* p;
    cJSON_ArrayForEach(p, parts) {
      if (const char* sig = JsonStr(p, "thoughtSignature"); sig && signature.empty()) signature = sig;
      if (const cJSON* fc = JsonObj(p, "functionCall")) {
        std::string name = JsonStrOr(fc, "name", "");
        std::string id = JsonStrOr(fc, "id", "");
        if (id.empty()) id = SyntheticCallId(name, call_index);
        ++call_index;
        pending[name].push_back(id);
        cJSON* tc = JsonAddObj(calls.get(), nullptr);
        JsonAddStr(tc, "id", id);
        JsonAddStr(tc, "type", "function");
        cJSON* f = JsonAddObj(tc, "function");
        JsonAddStr(f, "name", name);
        const cJSON* args = JsonGet(fc, "args");
        JsonAddStr(f, "arguments", args ? PrintJson(args) : "{}");
      } else if (const cJSON* fr = JsonObj(p, "functionResponse")) {
        std::string name = JsonStrOr(fr, "name", "");
        std::string id = JsonStrOr(fr, "id", "");
        auto& q = pending[name];
        if (id.empty()) {
          id = q.empty() ? SyntheticCallId(name, call_index++) : q.front();
        }
        for (auto it = q.begin(); it != q.end(); ++it) {
          if (*it == id) {
            q.erase(it);
            break;
          }
        }
        cJSON* m = JsonAddObj(messages, nullptr);
        JsonAddStr(m, "role", "tool");
        JsonAddStr(m, "tool_call_id", id);
        JsonAddStr(m, "content", ToolResultContent(JsonGet(fr, "response")));
      } else if (JsonBool(p, "thought", false)) {
        if (const char* t = JsonStr(p, "text")) reasoning += t;
      } else if (JsonStr(p, "text") || JsonObj(p, "inlineData") || JsonObj(p, "fileData")) {
        if (const char* t = JsonStr(p, "text"); t && !*t && JsonStr(p, "thoughtSignature")) continue;
        plain.push_back(p);
      }
      // executableCode / codeExecutionResult / videoMetadata: no pivot form.
    }
    bool has_calls = cJSON_GetArraySize(calls.get()) > 0;
    if (model) {
      if (plain.empty() && !has_calls && reasoning.empty()) {
        ++ci;
        continue;
      }
      cJSON* m = JsonAddObj(messages, nullptr);
      JsonAddStr(m, "role", "assistant");
      bool all_text = true;
      for (const cJSON* q : plain) all_text = all_text && JsonStr(q, "text");
      if (plain.empty()) {
        cJSON_AddItemToObject(m, "content", cJSON_CreateNull());
      } else if (all_text) {
        std::string text;  // model text parts are fragments of one reply
        for (const cJSON* q : plain) text += JsonStr(q, "text");
        JsonAddStr(m, "content", text);
      } else {
        AddPartsAsChatContent(m, plain);
      }
      if (!reasoning.empty()) JsonAddStr(m, "reasoning_content", reasoning);
      if (!signature.empty()) JsonAddStr(m, "reasoning_signature", signature);
      if (has_calls) cJSON_AddItemToObject(m, "tool_calls", calls.release());
    } else if (!plain.empty()) {
      cJSON* m = JsonAddObj(messages, nullptr);
      JsonAddStr(m, "role", "user");
      AddPartsAsChatContent(m, plain);
    }
    ++ci;
  }

  if (const cJSON* tools = JsonArr(req, "tools")) {
    JsonPtr arr = JsonNewArr();
    const cJSON* t;
    cJSON_ArrayForEach(t, tools) {
      const cJSON* decls = JsonArr(t, "functionDeclarations");
      if (!decls) decls = JsonArr(t, "function_declarations");
      const cJSON* d;
      cJSON_ArrayForEach(d, decls) {  // googleSearch, codeExecution, urlContext: no pivot form
        const char* name = JsonStr(d, "name");
        if (!name) continue;
        cJSON* tool = JsonAddObj(arr.get(), nullptr);
        JsonAddStr(tool, "type", "function");
        cJSON* f = JsonAddObj(tool, "function");
        JsonAddStr(f, "name", name);
        if (const char* desc = JsonStr(d, "description")) JsonAddStr(f, "description", desc);
        if (const cJSON* js = JsonGet(d, "parametersJsonSchema")) {
          cJSON_AddItemToObject(f, "parameters", cJSON_Duplicate(js, true));
        } else if (const cJSON* ps = JsonGet(d, "parameters")) {
          cJSON_AddItemToObject(f, "parameters", SchemaToJsonSchema(ps).release());
        } else {
          cJSON* ps2 = JsonAddObj(f, "parameters");
          JsonAddStr(ps2, "type", "object");
          JsonAddObj(ps2, "properties");
        }
      }
    }
    if (cJSON_GetArraySize(arr.get()) > 0) cJSON_AddItemToObject(out.get(), "tools", arr.release());
  }

  if (const cJSON* fcc = JsonObj(JsonObj(req, "toolConfig"), "functionCallingConfig")) {
    std::string mode = Upper(JsonStrOr(fcc, "mode", "AUTO"));
    const cJSON* allowed = JsonArr(fcc, "allowedFunctionNames");
    if (mode == "NONE") {
      JsonAddStr(out.get(), "tool_choice", "none");
    } else if (mode == "ANY") {
      if (allowed && cJSON_GetArraySize(allowed) == 1 && cJSON_IsString(allowed->child)) {
        cJSON* tc = JsonAddObj(out.get(), "tool_choice");
        JsonAddStr(tc, "type", "function");
        JsonAddStr(JsonAddObj(tc, "function"), "name", allowed->child->valuestring);
      } else {
        JsonAddStr(out.get(), "tool_choice", "required");
      }
    } else {
      JsonAddStr(out.get(), "tool_choice", "auto");
    }
  }

  GenerationConfigToChat(JsonObj(req, "generationConfig"), out.get());
  return out;
}

// ---- request: pivot -> Gemini ----------------------------------------------

namespace {

void AddChatContentAsParts(const cJSON* content, cJSON* parts) {
  if (cJSON_IsString(content)) {
    if (*content->valuestring) JsonAddStr(JsonAddObj(parts, nullptr), "text", content->valuestring);
    return;
  }
  const cJSON* c;
  cJSON_ArrayForEach(c, content) {
    std::string type = JsonStrOr(c, "type", "");
    if (type == "text" || type == "input_text" || type == "output_text") {
      JsonAddStr(JsonAddObj(parts, nullptr), "text", JsonStrOr(c, "text", ""));
    } else if (type == "image_url") {
      const cJSON* iu = JsonGet(c, "image_url");
      std::string url = cJSON_IsString(iu) ? iu->valuestring : JsonStrOr(iu, "url", "");
      std::string mime, data;
      cJSON* part = JsonAddObj(parts, nullptr);
      if (SplitDataUrl(url, &mime, &data)) {
        cJSON* inl = JsonAddObj(part, "inlineData");
        JsonAddStr(inl, "mimeType", mime);
        JsonAddStr(inl, "data", data);
      } else {
        cJSON* fd = JsonAddObj(part, "fileData");
        JsonAddStr(fd, "mimeType", GuessMime(url));
        JsonAddStr(fd, "fileUri", url);
      }
    }
  }
}

void GenerationConfigToGemini(const cJSON* chat, cJSON* req) {
  JsonPtr gc = JsonNewObj();
  cJSON* g = gc.get();
  if (const cJSON* v = JsonGet(chat, "temperature"); cJSON_IsNumber(v)) JsonAddNum(g, "temperature", v->valuedouble);
  if (const cJSON* v = JsonGet(chat, "top_p"); cJSON_IsNumber(v)) JsonAddNum(g, "topP", v->valuedouble);
  if (const cJSON* v = JsonGet(chat, "top_k"); cJSON_IsNumber(v)) JsonAddNum(g, "topK", v->valuedouble);
  const cJSON* mt = JsonGet(chat, "max_completion_tokens");
  if (!cJSON_IsNumber(mt)) mt = JsonGet(chat, "max_tokens");
  if (cJSON_IsNumber(mt)) JsonAddNum(g, "maxOutputTokens", mt->valuedouble);
  if (const cJSON* v = JsonGet(chat, "n"); cJSON_IsNumber(v) && v->valuedouble > 1)
    JsonAddNum(g, "candidateCount", v->valuedouble);
  if (const cJSON* v = JsonGet(chat, "presence_penalty"); cJSON_IsNumber(v))
    JsonAddNum(g, "presencePenalty", v->valuedouble);
  if (const cJSON* v = JsonGet(chat, "frequency_penalty"); cJSON_IsNumber(v))
    JsonAddNum(g, "frequencyPenalty", v->valuedouble);
  if (const cJSON* v = JsonGet(chat, "seed"); cJSON_IsNumber(v)) JsonAddNum(g, "seed", v->valuedouble);
  if (const cJSON* stop = JsonGet(chat, "stop")) {
    if (cJSON_IsString(stop)) {
      JsonAddStr(JsonAddArr(g, "stopSequences"), nullptr, stop->valuestring);
    } else if (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) > 0) {
      JsonAddCopy(g, "stopSequences", stop);
    }
  }
  if (const cJSON* rf = JsonObj(chat, "response_format")) {
    std::string type = JsonStrOr(rf, "type", "");
    if (type == "json_schema") {
      JsonAddStr(g, "responseMimeType", "application/json");
      if (const cJSON* s = JsonGet(JsonObj(rf, "json_schema"), "schema"))
        cJSON_AddItemToObject(g, "responseJsonSchema", SchemaForGemini(s).release());
    } else if (type == "json_object") {
      JsonAddStr(g, "responseMimeType", "application/json");
    }
  }
  const cJSON* budget = JsonGet(chat, "thinking_budget");
  const char* effort = JsonStr(chat, "reasoning_effort");
  if (cJSON_IsNumber(budget) || effort) {
    cJSON* tc = JsonAddObj(g, "thinkingConfig");
    if (cJSON_IsNumber(budget)) {
      JsonAddNum(tc, "thinkingBudget", budget->valuedouble);
    } else {
      // Gemini 2.x takes a token budget; Gemini 3 takes a level.
      std::string model = JsonStrOr(chat, "model", "");
      std::string e = Lower(effort);
      if (model.find("gemini-2") != std::string::npos || model.find("gemini-1") != std::string::npos) {
        JsonAddNum(tc, "thinkingBudget", e == "low" || e == "minimal" ? 1024 : e == "high" ? 24576 : 8192);
      } else {
        JsonAddStr(tc, "thinkingLevel", e == "minimal" ? "LOW" : Upper(e));
      }
    }
    bool off = cJSON_IsNumber(budget) && budget->valuedouble == 0;
    if (!off) JsonAddBool(tc, "includeThoughts", true);
  }
  if (g->child) cJSON_AddItemToObject(req, "generationConfig", gc.release());
}

}  // namespace

Result<JsonPtr> ChatRequestToGemini(const cJSON* chat) {
  if (!cJSON_IsObject(chat)) return Status::Error("chat request: expected a JSON object");
  const cJSON* messages = JsonArr(chat, "messages");
  if (!messages) return Status::Error("chat request: \"messages\" must be an array");
  JsonPtr out = JsonNewObj();
  cJSON* contents = JsonAddArr(out.get(), "contents");
  JsonPtr system = JsonNewArr();
  std::map<std::string, std::string> call_names;
  cJSON* tool_turn = nullptr;  // open user content collecting functionResponses

  const cJSON* m;
  cJSON_ArrayForEach(m, messages) {
    std::string role = JsonStrOr(m, "role", "user");
    const cJSON* content = JsonGet(m, "content");
    if (role == "system" || role == "developer") {
      std::string text = ChatContentText(content);
      if (!text.empty()) JsonAddStr(JsonAddObj(system.get(), nullptr), "text", text);
      continue;
    }
    if (role == "tool" || role == "function") {
      std::string id = JsonStrOr(m, "tool_call_id", "");
      std::string name = JsonStrOr(m, "name", "");
      if (auto it = call_names.find(id); it != call_names.end()) name = it->second;
      if (name.empty()) name = id.empty() ? "function" : id;
      if (!tool_turn) {
        tool_turn = JsonAddObj(contents, nullptr);
        JsonAddStr(tool_turn, "role", "user");
        JsonAddArr(tool_turn, "parts");
      }
      cJSON* fr = JsonAddObj(JsonAddObj(cJSON_GetObjectItemCaseSensitive(tool_turn, "parts"), nullptr),
                             "functionResponse");
      JsonAddStr(fr, "name", name);
      std::string text = ChatContentText(content);
      auto parsed = ParseJson(text);
      if (parsed.ok() && cJSON_IsObject(parsed->get())) {
        cJSON_AddItemToObject(fr, "response", parsed->release());
      } else {
        JsonAddStr(JsonAddObj(fr, "response"), "output", text);
      }
      if (!id.empty()) JsonAddStr(fr, "id", id);
      continue;
    }
    tool_turn = nullptr;
    cJSON* c = JsonAddObj(contents, nullptr);
    cJSON* parts = nullptr;
    if (role == "assistant") {
      JsonAddStr(c, "role", "model");
      parts = JsonAddArr(c, "parts");
      std::string sig = JsonStrOr(m, "reasoning_signature", "");
      if (const char* r = JsonStr(m, "reasoning_content"); r && *r) {
        cJSON* tp = JsonAddObj(parts, nullptr);
        JsonAddStr(tp, "text", r);
        JsonAddBool(tp, "thought", true);
      }
      AddChatContentAsParts(content, parts);
      const cJSON* calls = JsonArr(m, "tool_calls");
      bool first_call = true;
      const cJSON* tc;
      cJSON_ArrayForEach(tc, calls) {
        const cJSON* f = JsonObj(tc, "function");
        std::string name = JsonStrOr(f, "name", "");
        std::string id = JsonStrOr(tc, "id", "");
        if (!id.empty()) call_names[id] = name;
        cJSON* part = JsonAddObj(parts, nullptr);
        cJSON* fc = JsonAddObj(part, "functionCall");
        JsonAddStr(fc, "name", name);
        auto args = ParseJson(JsonStrOr(f, "arguments", "{}"));
        if (args.ok() && cJSON_IsObject(args->get())) {
          cJSON_AddItemToObject(fc, "args", args->release());
        } else {
          JsonAddObj(fc, "args");
        }
        if (!id.empty()) JsonAddStr(fc, "id", id);
        if (first_call) {
          JsonAddStr(part, "thoughtSignature", sig.empty() ? kSkipThoughtSignature : sig);
          sig.clear();
          first_call = false;
        }
      }
      if (!sig.empty()) {
        cJSON* last = cJSON_GetArrayItem(parts, cJSON_GetArraySize(parts) - 1);
        if (!last) {
          last = JsonAddObj(parts, nullptr);
          JsonAddStr(last, "text", "");
        }
        JsonAddStr(last, "thoughtSignature", sig);
      }
    } else {
      JsonAddStr(c, "role", "user");
      parts = JsonAddArr(c, "parts");
      AddChatContentAsParts(content, parts);
    }
    if (cJSON_GetArraySize(parts) == 0) JsonAddStr(JsonAddObj(parts, nullptr), "text", "");
  }

  if (cJSON_GetArraySize(system.get()) > 0) {
    cJSON* si = cJSON_CreateObject();
    cJSON_AddItemToObject(si, "parts", system.release());
    cJSON_AddItemToObject(out.get(), "systemInstruction", si);
  }

  bool has_decls = false;
  if (const cJSON* tools = JsonArr(chat, "tools")) {
    JsonPtr decls = JsonNewArr();
    const cJSON* t;
    cJSON_ArrayForEach(t, tools) {
      const cJSON* f = JsonObj(t, "function");
      const char* name = JsonStr(f, "name");
      if (!name) continue;
      cJSON* d = JsonAddObj(decls.get(), nullptr);
      JsonAddStr(d, "name", name);
      JsonAddStr(d, "description", JsonStrOr(f, "description", ""));
      if (const cJSON* ps = JsonGet(f, "parameters"); cJSON_IsObject(ps))
        cJSON_AddItemToObject(d, "parametersJsonSchema", SchemaForGemini(ps).release());
    }
    if (cJSON_GetArraySize(decls.get()) > 0) {
      has_decls = true;
      cJSON* arr = JsonAddArr(out.get(), "tools");
      cJSON_AddItemToObject(JsonAddObj(arr, nullptr), "functionDeclarations", decls.release());
    }
  }

  // A calling config without declarations is refused (hosted tools the
  // client asked for may all have been dropped on the way).
  if (const cJSON* choice = JsonGet(chat, "tool_choice"); choice && has_decls) {
    std::string mode;
    std::string only;
    if (cJSON_IsString(choice)) {
      std::string s = choice->valuestring;
      mode = s == "none" ? "NONE" : s == "required" ? "ANY" : "AUTO";
    } else if (const char* n = JsonStr(JsonObj(choice, "function"), "name")) {
      mode = "ANY";
      only = n;
    }
    if (!mode.empty()) {
      cJSON* fcc = JsonAddObj(JsonAddObj(out.get(), "toolConfig"), "functionCallingConfig");
      JsonAddStr(fcc, "mode", mode);
      if (!only.empty()) JsonAddStr(JsonAddArr(fcc, "allowedFunctionNames"), nullptr, only);
    }
  }

  GenerationConfigToGemini(chat, out.get());
  return out;
}

// ---- responses --------------------------------------------------------------

namespace {

// One candidate's parts into a pivot message (or delta) object.
void PartsToChatMessage(const cJSON* parts, cJSON* msg, int* call_index, bool* has_calls, bool stream) {
  std::string text, reasoning, sig;
  JsonPtr calls = JsonNewArr();
  const cJSON* p;
  cJSON_ArrayForEach(p, parts) {
    if (const char* s = JsonStr(p, "thoughtSignature"); s && sig.empty()) sig = s;
    if (const cJSON* fc = JsonObj(p, "functionCall")) {
      std::string name = JsonStrOr(fc, "name", "");
      std::string id = JsonStrOr(fc, "id", "");
      if (id.empty()) id = SyntheticCallId(name, *call_index);
      cJSON* tc = JsonAddObj(calls.get(), nullptr);
      if (stream) JsonAddNum(tc, "index", *call_index);
      JsonAddStr(tc, "id", id);
      JsonAddStr(tc, "type", "function");
      cJSON* f = JsonAddObj(tc, "function");
      JsonAddStr(f, "name", name);
      const cJSON* args = JsonGet(fc, "args");
      JsonAddStr(f, "arguments", args ? PrintJson(args) : "{}");
      ++*call_index;
      *has_calls = true;
    } else if (const char* t = JsonStr(p, "text")) {
      if (JsonBool(p, "thought", false)) reasoning += t;
      else text += t;
    }
  }
  if (!text.empty() || !stream) {
    if (text.empty() && cJSON_GetArraySize(calls.get()) > 0) cJSON_AddItemToObject(msg, "content", cJSON_CreateNull());
    else JsonAddStr(msg, "content", text);
  }
  if (!reasoning.empty()) JsonAddStr(msg, "reasoning_content", reasoning);
  if (!sig.empty()) JsonAddStr(msg, "reasoning_signature", sig);
  if (cJSON_GetArraySize(calls.get()) > 0) cJSON_AddItemToObject(msg, "tool_calls", calls.release());
}

}  // namespace

Result<JsonPtr> GeminiResponseToChat(const cJSON* resp) {
  if (!cJSON_IsObject(resp)) return Status::Error("gemini response: expected a JSON object");
  JsonPtr out = JsonNewObj();
  std::string id = JsonStrOr(resp, "responseId", "");
  JsonAddStr(out.get(), "id", id.empty() ? RandomId("chatcmpl-") : "chatcmpl-" + id);
  JsonAddStr(out.get(), "object", "chat.completion");
  JsonAddNum(out.get(), "created", static_cast<double>(UnixNow()));
  JsonAddStr(out.get(), "model", JsonStrOr(resp, "modelVersion", ""));
  cJSON* choices = JsonAddArr(out.get(), "choices");
  const cJSON* cands = JsonArr(resp, "candidates");
  int call_index = 0;
  if (cJSON_GetArraySize(cands) == 0) {
    cJSON* ch = JsonAddObj(choices, nullptr);
    JsonAddNum(ch, "index", 0);
    cJSON* msg = JsonAddObj(ch, "message");
    JsonAddStr(msg, "role", "assistant");
    JsonAddStr(msg, "content", "");
    // No candidates: the prompt itself was blocked (promptFeedback.blockReason).
    JsonAddStr(ch, "finish_reason", JsonObj(resp, "promptFeedback") ? "content_filter" : "stop");
  }
  int ci = 0;
  const cJSON* cand;
  cJSON_ArrayForEach(cand, cands) {
    cJSON* ch = JsonAddObj(choices, nullptr);
    JsonAddNum(ch, "index", JsonNum(cand, "index", ci));
    cJSON* msg = JsonAddObj(ch, "message");
    JsonAddStr(msg, "role", "assistant");
    bool has_calls = false;
    PartsToChatMessage(JsonArr(JsonObj(cand, "content"), "parts"), msg, &call_index, &has_calls, false);
    JsonAddStr(ch, "finish_reason", FinishFromGemini(JsonStrOr(cand, "finishReason", ""), has_calls));
    ++ci;
  }
  if (const cJSON* um = JsonObj(resp, "usageMetadata"))
    cJSON_AddItemToObject(out.get(), "usage", UsageFromGemini(um).release());
  return out;
}

Result<JsonPtr> ChatResponseToGemini(const cJSON* chat, std::string_view model) {
  if (!cJSON_IsObject(chat)) return Status::Error("chat response: expected a JSON object");
  JsonPtr out = JsonNewObj();
  cJSON* cands = JsonAddArr(out.get(), "candidates");
  const cJSON* ch;
  int ci = 0;
  cJSON_ArrayForEach(ch, JsonArr(chat, "choices")) {
    const cJSON* msg = JsonObj(ch, "message");
    cJSON* cand = JsonAddObj(cands, nullptr);
    cJSON* content = JsonAddObj(cand, "content");
    JsonAddStr(content, "role", "model");
    cJSON* parts = JsonAddArr(content, "parts");
    std::string sig = JsonStrOr(msg, "reasoning_signature", "");
    if (const char* r = JsonStr(msg, "reasoning_content"); r && *r) {
      cJSON* tp = JsonAddObj(parts, nullptr);
      JsonAddStr(tp, "text", r);
      JsonAddBool(tp, "thought", true);
    }
    AddChatContentAsParts(JsonGet(msg, "content"), parts);
    bool first = true;
    const cJSON* tc;
    cJSON_ArrayForEach(tc, JsonArr(msg, "tool_calls")) {
      const cJSON* f = JsonObj(tc, "function");
      cJSON* part = JsonAddObj(parts, nullptr);
      cJSON* fc = JsonAddObj(part, "functionCall");
      JsonAddStr(fc, "name", JsonStrOr(f, "name", ""));
      auto args = ParseJson(JsonStrOr(f, "arguments", "{}"));
      if (args.ok() && cJSON_IsObject(args->get())) cJSON_AddItemToObject(fc, "args", args->release());
      else JsonAddObj(fc, "args");
      if (const char* id = JsonStr(tc, "id")) JsonAddStr(fc, "id", id);
      if (first && !sig.empty()) {
        JsonAddStr(part, "thoughtSignature", sig);
        sig.clear();
      }
      first = false;
    }
    if (!sig.empty()) {
      cJSON* last = cJSON_GetArrayItem(parts, cJSON_GetArraySize(parts) - 1);
      if (!last) {
        last = JsonAddObj(parts, nullptr);
        JsonAddStr(last, "text", "");
      }
      JsonAddStr(last, "thoughtSignature", sig);
    }
    if (cJSON_GetArraySize(parts) == 0) JsonAddStr(JsonAddObj(parts, nullptr), "text", "");
    JsonAddStr(cand, "finishReason", FinishToGemini(JsonStr(ch, "finish_reason")));
    JsonAddNum(cand, "index", ci++);
  }
  if (const cJSON* u = JsonObj(chat, "usage")) cJSON_AddItemToObject(out.get(), "usageMetadata", UsageToGemini(u).release());
  JsonAddStr(out.get(), "modelVersion", model.empty() ? JsonStrOr(chat, "model", "") : std::string(model));
  std::string id = JsonStrOr(chat, "id", "");
  if (id.rfind("chatcmpl-", 0) == 0) id = id.substr(9);
  JsonAddStr(out.get(), "responseId", id.empty() ? RandomId("") : id);
  return out;
}

// ---- streaming: Gemini SSE -> pivot chunks ----------------------------------

namespace {

class GeminiStreamDecoder : public StreamDecoder {
 public:
  void Decode(const SseEvent& event, std::vector<JsonPtr>* chunks) override {
    if (!event.has_data || done_) return;
    std::string_view data = event.data;
    // The JSON-array form may arrive with its separators; tolerate them.
    while (!data.empty() && (data.front() == '[' || data.front() == ',' || data.front() == ' ')) data.remove_prefix(1);
    while (!data.empty() && (data.back() == ']' || data.back() == ',' || data.back() == ' ')) data.remove_suffix(1);
    if (data.empty()) return;
    auto parsed = ParseJson(data);
    if (!parsed.ok()) return;
    const cJSON* resp = parsed->get();
    if (const cJSON* err = JsonObj(resp, "error")) {
      JsonPtr c = JsonNewObj();
      cJSON* e = JsonAddObj(c.get(), "error");
      JsonAddStr(e, "message", JsonStrOr(err, "message", "upstream error"));
      JsonAddStr(e, "type", JsonStrOr(err, "status", "upstream_error"));
      if (const cJSON* code = JsonGet(err, "code"); cJSON_IsNumber(code)) JsonAddNum(e, "code", code->valuedouble);
      chunks->push_back(std::move(c));
      done_ = true;
      finished_ = true;
      return;
    }
    if (id_.empty()) {
      std::string rid = JsonStrOr(resp, "responseId", "");
      id_ = rid.empty() ? RandomId("chatcmpl-") : "chatcmpl-" + rid;
    }
    if (model_.empty()) model_ = JsonStrOr(resp, "modelVersion", "");
    if (const cJSON* um = JsonObj(resp, "usageMetadata")) usage_.reset(cJSON_Duplicate(um, true));

    const cJSON* cand = cJSON_GetArrayItem(JsonArr(resp, "candidates"), 0);
    if (!cand) {
      if (JsonObj(resp, "promptFeedback") && JsonStr(JsonObj(resp, "promptFeedback"), "blockReason")) {
        JsonPtr c = NewChunk();
        JsonAddStr(Choice(c.get()), "finish_reason", "content_filter");
        chunks->push_back(std::move(c));
        finished_ = true;
      }
      return;
    }
    JsonPtr c = NewChunk();
    cJSON* delta = cJSON_GetObjectItemCaseSensitive(Choice(c.get()), "delta");
    PartsToChatMessage(JsonArr(JsonObj(cand, "content"), "parts"), delta, &call_index_, &has_calls_, true);
    std::string reason = JsonStrOr(cand, "finishReason", "");
    bool has_delta = false;
    for (const cJSON* k = delta->child; k; k = k->next) has_delta = has_delta || std::string_view(k->string) != "role";
    if (!reason.empty()) {
      cJSON* choice = Choice(c.get());
      cJSON_DeleteItemFromObjectCaseSensitive(choice, "finish_reason");
      JsonAddStr(choice, "finish_reason", FinishFromGemini(reason, has_calls_));
      finished_ = true;
    } else if (!has_delta) {
      return;
    }
    chunks->push_back(std::move(c));
  }

  void Finish(std::vector<JsonPtr>* chunks) override {
    if (done_) return;
    done_ = true;
    if (!finished_) {
      JsonPtr c = NewChunk();
      cJSON* choice = Choice(c.get());
      cJSON_DeleteItemFromObjectCaseSensitive(choice, "finish_reason");
      JsonAddStr(choice, "finish_reason", has_calls_ ? "tool_calls" : "stop");
      chunks->push_back(std::move(c));
    }
    if (usage_) {
      JsonPtr c = Skeleton();
      JsonAddArr(c.get(), "choices");
      cJSON_AddItemToObject(c.get(), "usage", UsageFromGemini(usage_.get()).release());
      chunks->push_back(std::move(c));
    }
  }

 private:
  JsonPtr Skeleton() {
    if (id_.empty()) id_ = RandomId("chatcmpl-");
    return PivotChunkSkeleton(id_, created_, model_);
  }
  JsonPtr NewChunk() {
    if (id_.empty()) id_ = RandomId("chatcmpl-");
    return PivotChunkWithDelta(id_, created_, model_, &role_sent_);
  }
  static cJSON* Choice(cJSON* chunk) { return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(chunk, "choices"), 0); }

  std::string id_, model_;
  int64_t created_ = UnixNow();
  bool role_sent_ = false;
  bool has_calls_ = false;
  bool finished_ = false;  // a finish_reason went out
  bool done_ = false;      // nothing more will go out
  int call_index_ = 0;
  JsonPtr usage_;
};

// ---- streaming: pivot chunks -> Gemini ---------------------------------------

class GeminiStreamEncoder : public StreamEncoder {
 public:
  explicit GeminiStreamEncoder(const StreamOptions& o) : model_(o.model), sse_(o.gemini_sse) {}

  std::string Encode(const cJSON* chunk) override {
    if (closed_ || final_sent_) return "";
    if (const cJSON* err = JsonObj(chunk, "error")) {
      const cJSON* code = JsonGet(err, "code");
      int status = cJSON_IsNumber(code) && code->valuedouble >= 400 ? static_cast<int>(code->valuedouble) : 502;
      return Error(status, JsonStrOr(err, "message", "upstream error"));
    }
    if (response_id_.empty()) {
      std::string id = JsonStrOr(chunk, "id", "");
      if (id.rfind("chatcmpl-", 0) == 0) id = id.substr(9);
      response_id_ = id.empty() ? RandomId("") : id;
    }
    if (const cJSON* u = JsonObj(chunk, "usage")) usage_.reset(cJSON_Duplicate(u, true));
    std::string out;
    const cJSON* choice = cJSON_GetArrayItem(JsonArr(chunk, "choices"), 0);
    const cJSON* delta = JsonObj(choice, "delta");
    JsonPtr parts = JsonNewArr();
    if (const char* r = JsonStr(delta, "reasoning_content"); r && *r) {
      cJSON* p = JsonAddObj(parts.get(), nullptr);
      JsonAddStr(p, "text", r);
      JsonAddBool(p, "thought", true);
    }
    if (const char* s = JsonStr(delta, "reasoning_signature"); s && *s) signature_ = s;
    if (const char* t = JsonStr(delta, "content"); t && *t) {
      FlushCalls(parts.get());  // a call is complete once text follows it
      JsonAddStr(JsonAddObj(parts.get(), nullptr), "text", t);
    }
    const cJSON* tc;
    cJSON_ArrayForEach(tc, JsonArr(delta, "tool_calls")) {
      int index = static_cast<int>(JsonNum(tc, "index", static_cast<double>(calls_.size())));
      PendingCall* call = nullptr;
      for (auto& c : calls_)
        if (c.index == index) call = &c;
      if (!call) {
        calls_.push_back(PendingCall{index, "", "", ""});
        call = &calls_.back();
      }
      if (const char* id = JsonStr(tc, "id"); id && *id) call->id = id;
      const cJSON* f = JsonObj(tc, "function");
      if (const char* n = JsonStr(f, "name"); n && *n) call->name = n;
      if (const char* a = JsonStr(f, "arguments")) call->args += a;
    }
    const char* finish = JsonStr(choice, "finish_reason");
    // Calls still buffered go out with the finishing chunk.
    if (finish) finish_reason_ = finish;
    if (cJSON_GetArraySize(parts.get()) > 0) {
      AttachSignature(parts.get());
      out += Emit(parts.get(), false);
    }
    // The finishing chunk waits for usage, which OpenAI-style streams send
    // after the finish_reason; Finish() sends it if usage never comes.
    if (!finish_reason_.empty() && usage_) out += EmitFinal();
    return out;
  }

  std::string Finish() override {
    if (closed_) return "";
    std::string out;
    if (!final_sent_) {
      if (finish_reason_.empty()) finish_reason_ = "stop";
      out += EmitFinal();
    }
    closed_ = true;
    if (!sse_) out += started_ ? "]" : "[]";
    return out;
  }

  std::string Error(int status, std::string_view message) override {
    if (closed_) return "";
    closed_ = true;
    std::string body = ApiErrorBody(ApiFormat::kGemini, status, message);
    if (sse_) return "data: " + body + "\r\n\r\n";
    std::string out = started_ ? ",\r\n" : "[";
    started_ = true;
    return out + body + "]";
  }

  // An SSE blank line: ignored by SSE parsers, and the @google/genai reader
  // skips leading whitespace before "data:" (a ": comment" would stall it).
  // Inside the JSON-array form nothing is safe before the first element.
  std::string KeepAlive() override { return sse_ && !closed_ ? "\r\n" : ""; }

 private:
  struct PendingCall {
    int index;
    std::string id, name, args;
  };

  void FlushCalls(cJSON* parts) {
    for (auto& c : calls_) {
      cJSON* part = JsonAddObj(parts, nullptr);
      cJSON* fc = JsonAddObj(part, "functionCall");
      JsonAddStr(fc, "name", c.name);
      auto args = ParseJson(c.args.empty() ? "{}" : c.args);
      if (args.ok() && cJSON_IsObject(args->get())) cJSON_AddItemToObject(fc, "args", args->release());
      else JsonAddObj(fc, "args");
      if (!c.id.empty()) JsonAddStr(fc, "id", c.id);
      has_calls_ = true;
    }
    calls_.clear();
  }

  // Gemini carries the signature on the first functionCall part, or on a
  // content part otherwise.
  void AttachSignature(cJSON* parts) {
    if (signature_.empty()) return;
    cJSON* target = nullptr;
    for (cJSON* p = parts->child; p; p = p->next)
      if (JsonObj(p, "functionCall")) {
        target = p;
        break;
      }
    if (!target) {
      for (cJSON* p = parts->child; p; p = p->next)
        if (!JsonBool(p, "thought", false)) target = p;
    }
    if (!target) return;  // only thoughts so far; keep it for a later part
    JsonAddStr(target, "thoughtSignature", signature_);
    signature_.clear();
  }

  std::string EmitFinal() {
    JsonPtr parts = JsonNewArr();
    FlushCalls(parts.get());
    if (!signature_.empty() && cJSON_GetArraySize(parts.get()) == 0) JsonAddStr(JsonAddObj(parts.get(), nullptr), "text", "");
    AttachSignature(parts.get());
    if (cJSON_GetArraySize(parts.get()) == 0) JsonAddStr(JsonAddObj(parts.get(), nullptr), "text", "");
    final_sent_ = true;
    return Emit(parts.get(), true);
  }

  std::string Emit(cJSON* parts, bool final) {
    JsonPtr r = JsonNewObj();
    cJSON* cand = JsonAddObj(JsonAddArr(r.get(), "candidates"), nullptr);
    cJSON* content = JsonAddObj(cand, "content");
    JsonAddStr(content, "role", "model");
    cJSON_AddItemToObject(content, "parts", cJSON_Duplicate(parts, true));
    if (final) JsonAddStr(cand, "finishReason", FinishToGemini(finish_reason_.c_str()));
    JsonAddNum(cand, "index", 0);
    if (final && usage_) cJSON_AddItemToObject(r.get(), "usageMetadata", UsageToGemini(usage_.get()).release());
    JsonAddStr(r.get(), "modelVersion", model_);
    JsonAddStr(r.get(), "responseId", response_id_.empty() ? (response_id_ = RandomId("")) : response_id_);
    std::string body = PrintJson(r.get());
    if (sse_) return "data: " + body + "\r\n\r\n";
    std::string out = started_ ? ",\r\n" : "[";
    started_ = true;
    return out + body;
  }

  std::string model_;
  bool sse_;
  std::string response_id_;
  std::string signature_;
  std::string finish_reason_;
  std::vector<PendingCall> calls_;
  JsonPtr usage_;
  bool has_calls_ = false;
  bool started_ = false;     // JSON array: "[" sent
  bool final_sent_ = false;  // the chunk with finishReason went out
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<StreamDecoder> NewGeminiStreamDecoder() { return std::make_unique<GeminiStreamDecoder>(); }
std::unique_ptr<StreamEncoder> NewGeminiStreamEncoder(const StreamOptions& options) {
  return std::make_unique<GeminiStreamEncoder>(options);
}

}  // namespace tether
