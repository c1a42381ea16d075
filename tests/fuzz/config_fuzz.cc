// libFuzzer target for config loading: bytes go through SubstituteEnv and
// ParseJson, and the document is walked with every typed ConfigNode read,
// as a loader would. Nothing may crash or trip a sanitizer, and every
// problem must end up as an error that names the file.
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/config.h"

namespace {

void Walk(const tether::ConfigNode& node, int depth) {
  if (depth > tether::kMaxJsonDepth + 1) std::abort();
  if (node.IsObject()) {
    node.CheckKeys({"name", "base_url", "port", "listen", "keys"});
    const cJSON* item;
    cJSON_ArrayForEach(item, node.raw()) {
      const char* key = item->string;
      if (!key) std::abort();
      node.Has(key);
      node.String(key, "fallback");
      node.RequiredString(key);
      long long n = node.Int(key, 7, -5, 65535);
      if (n != 7 && (n < -5 || n > 65535)) std::abort();  // out of range came back
      node.Int(key, 0, LLONG_MIN, LLONG_MAX);
      node.Number(key, 0.5);
      node.Bool(key, false);
      node.Strings(key);
      tether::ConfigNode child = node.Child(key);
      if (child.IsString()) tether::ParseHostPort(child.AsString());
      Walk(child, depth + 1);
    }
  } else if (node.IsArray()) {
    int size = node.Size();
    for (int i = 0; i < size; ++i) {
      tether::ConfigNode child = node.At(i);
      child.AsString();
      Walk(child, depth + 1);
    }
    node.At(size).IsNull();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("FUZZ_A", "plain", 1);
  setenv("FUZZ_B", "q\"uo\\te\n${FUZZ_A}", 1);
  setenv("FUZZ_C", "", 1);
  setenv("FUZZ_D", "[::1]:8000", 1);
  unsetenv("FUZZ_UNSET");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto substituted = SubstituteEnv(text);
  if (!substituted.ok()) {
    if (substituted.status().message().empty()) std::abort();
    return 0;
  }
  if (text.find("${") == std::string::npos && *substituted != text) std::abort();

  auto doc = ParseJson(*substituted);
  if (!doc.ok()) return 0;
  ConfigErrors errors("fuzz.json");
  Walk(ConfigNode(doc->get(), "", &errors), 0);
  Status st = errors.ToStatus();
  if (st.ok() != errors.ok()) std::abort();
  if (!st.ok() && st.message().rfind("fuzz.json: ", 0) != 0) std::abort();

  auto hp = ParseHostPort(text.substr(0, 64));
  if (hp.ok() && (hp->port < 1 || hp->port > 65535 || hp->host.empty())) std::abort();
  return 0;
}
