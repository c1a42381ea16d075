// JSON config files: "${ENV_NAME}" inside any string is replaced by that
// variable, and every typed read records the key path, so an error reads
// "hub.json: providers[2].base_url: expected a URL".
#pragma once
#include <cjson/cJSON.h>

#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace tether {

// Replaces ${NAME} with getenv(NAME); an unset variable is an error naming it.
Result<std::string> SubstituteEnv(const std::string& text);

// Loads, substitutes and parses a config file.
Result<JsonPtr> LoadConfigFile(const std::string& path);

// A read-only view of one node plus its path for messages. Errors go to the
// shared ConfigErrors sink and reads return the fallback, so a loader can
// read everything and report the first problem at the end.
class ConfigErrors {
 public:
  explicit ConfigErrors(std::string file) : file_(std::move(file)) {}
  void Add(const std::string& path, const std::string& what);
  bool ok() const { return errors_.empty(); }
  Status ToStatus() const;  // first error, "file: path: what"
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

class ConfigNode {
 public:
  ConfigNode(const cJSON* node, std::string path, ConfigErrors* errors)
      : node_(node), path_(std::move(path)), errors_(errors) {}

  bool Has(const char* key) const;
  ConfigNode Child(const char* key) const;  // missing key gives a null node
  ConfigNode At(int index) const;
  int Size() const;  // array length; 0 and an error when not an array
  bool IsNull() const { return node_ == nullptr || cJSON_IsNull(node_); }
  bool IsArray() const { return cJSON_IsArray(node_); }
  bool IsObject() const { return cJSON_IsObject(node_); }
  bool IsString() const { return cJSON_IsString(node_); }

  std::string String(const char* key, const std::string& fallback) const;
  std::string RequiredString(const char* key) const;
  long long Int(const char* key, long long fallback, long long min, long long max) const;
  double Number(const char* key, double fallback) const;
  bool Bool(const char* key, bool fallback) const;
  std::vector<std::string> Strings(const char* key) const;  // string or array of strings
  std::string AsString() const;  // this node as a string (error otherwise)

  // Flags keys not in `known` as errors, catching typos like "listne".
  void CheckKeys(const std::vector<const char*>& known) const;
  void Error(const std::string& what) const { errors_->Add(path_, what); }
  void ErrorAt(const char* key, const std::string& what) const;
  const std::string& path() const { return path_; }
  const cJSON* raw() const { return node_; }

 private:
  std::string KeyPath(const char* key) const;
  const cJSON* node_;
  std::string path_;
  ConfigErrors* errors_;
};

// "host:port" or "[v6]:port" or ":port"; host defaults to 0.0.0.0.
struct HostPort {
  std::string host;
  int port = 0;
};
Result<HostPort> ParseHostPort(const std::string& text);

}  // namespace tether
