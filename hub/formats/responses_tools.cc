// Responses tools the pivot has no shape for, and their calls.
//
// Members of a "namespace" tool and freeform "custom" tools travel as pivot
// functions. The name each gets is derived from the client's request alone,
// so the request side (naming the tools) and the response side (turning
// calls back into namespaced function_call / custom_tool_call items) agree
// without keeping state between them.
//
// Names are made safe for every target: OpenAI chat and Anthropic take
// ^[a-zA-Z0-9_-]{1,64}$, Gemini also wants a letter or underscore first and
// (in some API versions) at most 63 characters. A top-level function keeps
// its own name; everything else that is not already safe is rewritten.
#include <cjson/cJSON.h>

#include <cstdint>
#include <cstdio>
#include <set>
#include <string>

#include "hub/formats/formats_internal.h"
#include "hub/formats/responses_internal.h"

namespace tether {
namespace {

constexpr size_t kMaxToolName = 63;

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool SafeName(std::string_view s) {
  if (s.empty() || s.size() > kMaxToolName) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) return false;
  for (char c : s)
    if (!NameChar(c)) return false;
  return true;
}

uint32_t Fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

// `raw` with unsafe characters replaced, an underscore in front when it
// starts with a digit or dash, and an overlong name cut with a hash of the
// whole so that different long names stay different.
std::string MakeSafe(std::string_view raw) {
  std::string s;
  for (char c : raw) s.push_back(NameChar(c) ? c : '_');
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) s.insert(0, "_");
  if (s.size() > kMaxToolName) {
    char tail[10];
    std::snprintf(tail, sizeof tail, "_%08x", Fnv1a(raw));
    s = s.substr(0, kMaxToolName - 9) + tail;
  }
  return s;
}

// `want` if free, otherwise `want` with "_2", "_3", ... (kept within the limit).
std::string Unique(std::string want, std::set<std::string>* taken) {
  std::string name = want;
  for (int n = 2; taken->count(name); ++n) {
    std::string suffix = "_" + std::to_string(n);
    name = want.substr(0, std::min(want.size(), kMaxToolName - suffix.size())) + suffix;
  }
  taken->insert(name);
  return name;
}

// The pivot parameters of a freeform tool: one string, the raw input. A
// grammar cannot be enforced elsewhere, so it is given to the model as text.
JsonPtr CustomParameters(const cJSON* tool) {
  JsonPtr ps = JsonNewObj();
  JsonAddStr(ps.get(), "type", "object");
  cJSON* input = JsonAddObj(JsonAddObj(ps.get(), "properties"), "input");
  JsonAddStr(input, "type", "string");
  std::string desc = "The raw input for the tool, passed to it verbatim.";
  const cJSON* format = JsonObj(tool, "format");
  if (JsonStrOr(format, "type", "") == "grammar") {
    if (const char* def = JsonStr(format, "definition"); def && *def)
      desc += " It must match this " + JsonStrOr(format, "syntax", "") + " grammar:\n" + def;
  }
  JsonAddStr(input, "description", desc);
  cJSON_AddItemToArray(JsonAddArr(ps.get(), "required"), cJSON_CreateString("input"));
  JsonAddBool(ps.get(), "additionalProperties", false);
  return ps;
}

}  // namespace

ResponsesToolNames::ResponsesToolNames(const cJSON* request) {
  const cJSON* tools = JsonArr(request, "tools");
  std::set<std::string> taken;
  // Top-level functions first: their names are the client's and stay.
  const cJSON* t;
  cJSON_ArrayForEach(t, tools) {
    const char* name = JsonStr(t, "name");
    if (name && JsonStrOr(t, "type", "") == "function" && !taken.count(name)) {
      taken.insert(name);
      entries_.push_back({name, "", name, false});
    }
  }
  auto add = [&](const std::string& ns, const cJSON* tool) {
    const char* name = JsonStr(tool, "name");
    std::string type = JsonStrOr(tool, "type", "function");
    if (!name || (type != "function" && type != "custom")) return;
    if (Find(ns, name)) return;
    std::string raw = ns.empty() ? std::string(name) : ns + "__" + name;
    std::string wire = Unique(SafeName(raw) ? raw : MakeSafe(raw), &taken);
    entries_.push_back({wire, ns, name, type == "custom"});
  };
  cJSON_ArrayForEach(t, tools) {
    std::string type = JsonStrOr(t, "type", "");
    if (type == "custom") {
      add("", t);
    } else if (type == "namespace") {
      std::string ns = JsonStrOr(t, "name", "");
      const cJSON* inner;
      cJSON_ArrayForEach(inner, JsonArr(t, "tools")) add(ns, inner);
    }
  }
}

const ResponsesToolName* ResponsesToolNames::Find(std::string_view ns, std::string_view name) const {
  for (const ResponsesToolName& e : entries_)
    if (e.ns == ns && e.name == name) return &e;
  return nullptr;
}

const ResponsesToolName* ResponsesToolNames::FindWire(std::string_view wire) const {
  for (const ResponsesToolName& e : entries_)
    if (e.wire == wire) return &e;
  return nullptr;
}

std::string ResponsesToolNames::Wire(std::string_view ns, std::string_view name) const {
  if (const ResponsesToolName* e = Find(ns, name)) return e->wire;
  // A call in the history to a tool no longer offered: named the same way.
  std::string raw = ns.empty() ? std::string(name) : std::string(ns) + "__" + std::string(name);
  return ns.empty() || SafeName(raw) ? raw : MakeSafe(raw);
}

void ResponsesToolsToChat(const cJSON* request, const ResponsesToolNames& names, cJSON* chat_tools) {
  auto add = [&](const std::string& ns, const cJSON* t, const std::string& ns_desc) {
    const char* name = JsonStr(t, "name");
    const ResponsesToolName* e = name ? names.Find(ns, name) : nullptr;
    if (!e) return;
    cJSON* tool = JsonAddObj(chat_tools, nullptr);
    JsonAddStr(tool, "type", "function");
    cJSON* f = JsonAddObj(tool, "function");
    JsonAddStr(f, "name", e->wire);
    // A member of a namespace carries its group's description, which the
    // model would otherwise never see.
    std::string desc = JsonStrOr(t, "description", "");
    if (!ns_desc.empty()) desc = desc.empty() ? ns_desc : ns_desc + "\n\n" + desc;
    if (!desc.empty()) JsonAddStr(f, "description", desc);
    if (e->custom) {
      cJSON_AddItemToObject(f, "parameters", CustomParameters(t).release());
      return;
    }
    if (const cJSON* ps = JsonObj(t, "parameters")) {
      JsonAddCopy(f, "parameters", ps);
    } else {
      cJSON* ps2 = JsonAddObj(f, "parameters");
      JsonAddStr(ps2, "type", "object");
      JsonAddObj(ps2, "properties");
    }
    if (cJSON_IsTrue(JsonGet(t, "strict"))) JsonAddBool(f, "strict", true);
  };
  std::set<std::string> seen;
  const cJSON* t;
  cJSON_ArrayForEach(t, JsonArr(request, "tools")) {
    std::string type = JsonStrOr(t, "type", "");
    if (type == "function" || type == "custom") {
      // A repeated top-level name would be an invalid request elsewhere.
      if (const char* n = JsonStr(t, "name"); n && seen.insert(n).second) add("", t, "");
    } else if (type == "namespace") {
      std::string ns = JsonStrOr(t, "name", "");
      std::string ns_desc = JsonStrOr(t, "description", "");
      const cJSON* inner;
      cJSON_ArrayForEach(inner, JsonArr(t, "tools")) {
        if (const char* n = JsonStr(inner, "name"); n && seen.insert(ns + "\n" + n).second) add(ns, inner, ns_desc);
      }
    }
    // web_search is carried as the pivot's web_search_options (responses.cc);
    // file_search, computer_use, local_shell, image_generation, mcp,
    // code_interpreter, ...: hosted tools another provider cannot run.
  }
}

std::string CustomToolInput(std::string_view arguments) {
  auto parsed = ParseJson(arguments);
  if (!parsed.ok()) return std::string(arguments);
  const cJSON* j = parsed->get();
  if (cJSON_IsString(j)) return j->valuestring;
  if (const char* in = JsonStr(j, "input")) return in;
  // The model chose another key: a lone string field is still the input.
  if (cJSON_IsObject(j) && cJSON_GetArraySize(j) == 1 && cJSON_IsString(j->child)) return j->child->valuestring;
  if (cJSON_IsObject(j) && cJSON_GetArraySize(j) == 0) return "";
  return std::string(arguments);
}

JsonPtr ResponsesCallItem(const ResponsesToolNames& names, const std::string& id, std::string_view call_id,
                          std::string_view pivot_name, std::string_view arguments, const char* status) {
  const ResponsesToolName* e = names.FindWire(pivot_name);
  if (e && e->custom) {
    JsonPtr item = JsonNewObj();
    JsonAddStr(item.get(), "id", id);
    JsonAddStr(item.get(), "type", "custom_tool_call");
    JsonAddStr(item.get(), "status", status);
    JsonAddStr(item.get(), "call_id", call_id);
    JsonAddStr(item.get(), "name", e->name);
    if (!e->ns.empty()) JsonAddStr(item.get(), "namespace", e->ns);
    JsonAddStr(item.get(), "input", CustomToolInput(arguments));
    return item;
  }
  JsonPtr item = ResponsesFunctionCallItem(id, call_id, e ? std::string_view(e->name) : pivot_name, arguments, status);
  if (e && !e->ns.empty()) JsonAddStr(item.get(), "namespace", e->ns);
  return item;
}

}  // namespace tether
