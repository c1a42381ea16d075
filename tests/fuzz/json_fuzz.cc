// libFuzzer target for ParseJson, ScanJson and JsonQuote: no crash on any
// bytes, the depth limit holds, printing is stable, quoting round-trips, and
// what the strict scan accepts cJSON parses too, with the same top-level
// members.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "common/json.h"
#include "common/json_scan.h"

namespace {

int Depth(const cJSON* j) {
  int best = 0;
  const cJSON* c;
  cJSON_ArrayForEach(c, j) {
    int d = Depth(c);
    if (d > best) best = d;
  }
  return (cJSON_IsArray(j) || cJSON_IsObject(j)) ? best + 1 : 0;
}

// Touches every accessor on every object member.
void Walk(const cJSON* j) {
  const cJSON* c;
  cJSON_ArrayForEach(c, j) {
    if (cJSON_IsObject(j) && c->string) {
      tether::JsonStr(j, c->string);
      tether::JsonStrOr(j, c->string, "");
      tether::JsonNum(j, c->string, 0);
      tether::JsonBool(j, c->string, false);
      tether::JsonArr(j, c->string);
      tether::JsonObj(j, c->string);
    }
    Walk(c);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  std::string_view input(reinterpret_cast<const char*>(data), size);

  auto doc = ParseJson(input);
  if (doc.ok()) {
    if (Depth(doc->get()) > kMaxJsonDepth) std::abort();
    Walk(doc->get());
    std::string printed = PrintJson(doc->get());
    auto again = ParseJson(printed);
    if (!again.ok()) std::abort();  // our own output must parse
    if (PrintJson(again->get()) != printed) std::abort();  // and print the same
    JsonPtr copy = JsonNewArr();
    JsonAddCopy(copy.get(), nullptr, doc->get());
    if (PrintJson(copy.get()) != "[" + printed + "]") std::abort();
  } else if (doc.status().message().empty()) {
    std::abort();  // errors say what failed
  }

  // ScanJson is strict RFC 8259, cJSON more lenient: a document the scan
  // accepts must parse, and each member found must parse on its own. (Except
  // with \u escapes: the grammar allows lone surrogates, which cJSON refuses.)
  static constexpr std::string_view kKeys[] = {"model", "stream", "metadata"};
  std::string_view found[3];
  if (ScanJson(input, kKeys, found).ok() && input.find("\\u") == std::string_view::npos) {
    if (!doc.ok()) std::abort();
    for (size_t k = 0; k < 3; ++k) {
      if (found[k].empty()) continue;
      if (found[k].data() < input.data() || found[k].data() + found[k].size() > input.data() + input.size()) std::abort();
      auto member = ParseJson(found[k]);
      if (!member.ok()) std::abort();
    }
  }

  // Any bytes without NUL quote into a JSON string that parses back to them.
  if (std::memchr(data, 0, size) == nullptr) {
    std::string quoted = JsonQuote(input);
    auto back = ParseJson(quoted);
    if (!back.ok() || !cJSON_IsString(back->get()) || input != back->get()->valuestring) std::abort();
  }
  return 0;
}
