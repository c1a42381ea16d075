#include "common/config.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tether {

Result<std::string> SubstituteEnv(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      size_t end = text.find('}', i + 2);
      if (end == std::string::npos) return Status::Error("unterminated ${ at offset " + std::to_string(i));
      std::string name = text.substr(i + 2, end - i - 2);
      const char* value = std::getenv(name.c_str());
      if (!value) return Status::Error("environment variable " + name + " is not set");
      // The value lands inside a JSON string, so escape it as one.
      std::string quoted = JsonQuote(value);
      out.append(quoted, 1, quoted.size() - 2);
      i = end;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

Result<JsonPtr> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  auto text = SubstituteEnv(ss.str());
  if (!text.ok()) return Status::Error(path + ": " + text.status().message());
  auto doc = ParseJson(*text);
  if (!doc.ok()) return Status::Error(path + ": " + doc.status().message());
  if (!cJSON_IsObject(doc->get())) return Status::Error(path + ": expected a JSON object at the top");
  return std::move(doc.value());
}

void ConfigErrors::Add(const std::string& path, const std::string& what) {
  errors_.push_back(path.empty() ? what : path + ": " + what);
}

Status ConfigErrors::ToStatus() const {
  if (errors_.empty()) return Status::Ok();
  return Status::Error(file_ + ": " + errors_.front());
}

std::string ConfigNode::KeyPath(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

bool ConfigNode::Has(const char* key) const {
  const cJSON* v = JsonGet(node_, key);
  return v && !cJSON_IsNull(v);
}

ConfigNode ConfigNode::Child(const char* key) const {
  return ConfigNode(JsonGet(node_, key), KeyPath(key), errors_);
}

ConfigNode ConfigNode::At(int index) const {
  return ConfigNode(cJSON_IsArray(node_) ? cJSON_GetArrayItem(node_, index) : nullptr,
                    path_ + "[" + std::to_string(index) + "]", errors_);
}

int ConfigNode::Size() const {
  if (IsNull()) return 0;
  if (!cJSON_IsArray(node_)) {
    Error("expected an array");
    return 0;
  }
  return cJSON_GetArraySize(node_);
}

void ConfigNode::ErrorAt(const char* key, const std::string& what) const {
  errors_->Add(KeyPath(key), what);
}

std::string ConfigNode::String(const char* key, const std::string& fallback) const {
  const cJSON* v = JsonGet(node_, key);
  if (!v || cJSON_IsNull(v)) return fallback;
  if (!cJSON_IsString(v)) {
    ErrorAt(key, "expected a string");
    return fallback;
  }
  return v->valuestring;
}

std::string ConfigNode::RequiredString(const char* key) const {
  const cJSON* v = JsonGet(node_, key);
  if (!v || cJSON_IsNull(v)) {
    ErrorAt(key, "is required");
    return "";
  }
  return String(key, "");
}

long long ConfigNode::Int(const char* key, long long fallback, long long min, long long max) const {
  const cJSON* v = JsonGet(node_, key);
  if (!v || cJSON_IsNull(v)) return fallback;
  if (!cJSON_IsNumber(v) || v->valuedouble != std::trunc(v->valuedouble)) {
    ErrorAt(key, "expected a whole number");
    return fallback;
  }
  // Converting a double outside long long's range is undefined, so check
  // that first (JSON allows 1e300; cJSON turns 1e999 into infinity).
  double d = v->valuedouble;
  bool representable = d >= -9223372036854775808.0 && d < 9223372036854775808.0;
  long long n = representable ? static_cast<long long>(d) : 0;
  if (!representable || n < min || n > max) {
    ErrorAt(key, "expected a number from " + std::to_string(min) + " to " + std::to_string(max));
    return fallback;
  }
  return n;
}

double ConfigNode::Number(const char* key, double fallback) const {
  const cJSON* v = JsonGet(node_, key);
  if (!v || cJSON_IsNull(v)) return fallback;
  if (!cJSON_IsNumber(v)) {
    ErrorAt(key, "expected a number");
    return fallback;
  }
  return v->valuedouble;
}

bool ConfigNode::Bool(const char* key, bool fallback) const {
  const cJSON* v = JsonGet(node_, key);
  if (!v || cJSON_IsNull(v)) return fallback;
  if (!cJSON_IsBool(v)) {
    ErrorAt(key, "expected true or false");
    return fallback;
  }
  return cJSON_IsTrue(v);
}

std::vector<std::string> ConfigNode::Strings(const char* key) const {
  std::vector<std::string> out;
  const cJSON* v = JsonGet(node_, key);
  if (!v || cJSON_IsNull(v)) return out;
  if (cJSON_IsString(v)) {
    out.emplace_back(v->valuestring);
    return out;
  }
  if (!cJSON_IsArray(v)) {
    ErrorAt(key, "expected a string or an array of strings");
    return out;
  }
  int i = 0;
  const cJSON* item;
  cJSON_ArrayForEach(item, v) {
    if (cJSON_IsString(item)) out.emplace_back(item->valuestring);
    else errors_->Add(KeyPath(key) + "[" + std::to_string(i) + "]", "expected a string");
    ++i;
  }
  return out;
}

std::string ConfigNode::AsString() const {
  if (!cJSON_IsString(node_)) {
    Error("expected a string");
    return "";
  }
  return node_->valuestring;
}

void ConfigNode::CheckKeys(const std::vector<const char*>& known) const {
  if (!cJSON_IsObject(node_)) return;
  const cJSON* item;
  cJSON_ArrayForEach(item, node_) {
    bool found = false;
    for (const char* k : known) found = found || std::string_view(k) == item->string;
    if (!found && item->string[0] != '_')  // "_comment" style keys are allowed
      ErrorAt(item->string, "unknown key");
  }
}

Result<HostPort> ParseHostPort(const std::string& text) {
  HostPort hp;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Status::Error("expected [address]:port, got \"" + text + "\"");
    hp.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return Status::Error("expected host:port, got \"" + text + "\"");
    hp.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (hp.host.empty()) hp.host = "0.0.0.0";
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end || p < 1 || p > 65535)
    return Status::Error("expected a port from 1 to 65535 in \"" + text + "\"");
  hp.port = static_cast<int>(p);
  return hp;
}

}  // namespace tether
