// Client API keys and their policies. A client key is "tk-" followed by
// base64url(32 random bytes) without padding; the hub keeps only its SHA-256
// (hex), so a leaked config or database does not leak usable keys. Policy
// evaluation is pure: a KeyPolicy and a request context in, a decision out.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/status.h"

struct sqlite3;

namespace tether {

struct KeyPolicy {
  std::string name;    // shown in logs, usage and error messages (never the key)
  std::string sha256;  // lowercase hex SHA-256 of the key text
  std::string tenant;  // bound tenant UID; empty: an operator key valid for every tenant
  std::vector<std::string> allowed_models;   // globs ("claude-*"); empty: every model
  int rpm = 0;                               // requests per minute; 0: unlimited
  int tpm = 0;                               // tokens per minute; 0: unlimited
  int max_concurrent = 0;                    // requests in flight; 0: unlimited
  std::vector<std::string> allowed_clients;  // families (ClientFamily) or "re:REGEX" on the
                                             // User-Agent; empty: every client
  int64_t expires_at = 0;                    // unix seconds; 0: never
  double daily_budget_usd = 0;               // 0: no budget
  double monthly_budget_usd = 0;
  bool disabled = false;
};

// A new random client key ("tk-" + 43 base64url characters).
std::string GenerateClientKey();
// Lowercase hex SHA-256 of the key text: what KeyPolicy::sha256 holds.
std::string HashClientKey(std::string_view key);

// The client family a User-Agent belongs to: "claude_code", "codex",
// "gemini_cli", "sdk_openai", "sdk_anthropic", "sdk_genai" or "other".
std::string_view ClientFamily(std::string_view user_agent);

struct KeyContext {
  int64_t now = 0;              // unix seconds
  std::string tenant_of_path;   // UID from the path, empty for root paths
  std::string model;            // requested model; empty skips the model check
  std::string user_agent;
};

struct KeyDecision {
  bool allow = true;
  int status = 200;     // 401 or 403 when denied
  std::string message;  // names the key by name, never by value
};

// Checks, in order: disabled (401), expired (401), tenant (403), client
// family (403), model (403).
KeyDecision EvaluateKey(const KeyPolicy& policy, const KeyContext& context);
// The model half of EvaluateKey, for callers that learn the model later.
bool KeyAllowsModel(const KeyPolicy& policy, std::string_view model);

// Reads one key entry from config: {"name", "key" | "sha256", "tenant",
// "models", "rpm", "tpm", "max_concurrent", "clients", "expires_at",
// "daily_budget_usd", "monthly_budget_usd", "disabled"}. A plaintext "key"
// (typically "${ENV}") is hashed at once. Errors go to the node's sink.
KeyPolicy ReadKeyPolicy(const ConfigNode& node);
// The policy as JSON (without secrets: sha256 is included, no key text).
std::string KeyPolicyToJson(const KeyPolicy& policy);

// All client keys: static entries from the config plus keys created at run
// time in the SQLite table `keys` of <data_dir>/keys.db. Lookups are by hash
// in O(1). Thread-safe; policies are handed out as shared_ptr so a request
// keeps its policy alive across a concurrent revoke or reload.
class KeyStore {
 public:
  // data_dir empty: static keys only (Create/Revoke then fail). A duplicate
  // name or hash among the entries is an error naming it.
  static Result<std::unique_ptr<KeyStore>> Open(const std::string& data_dir, std::vector<KeyPolicy> static_keys);
  ~KeyStore();
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // The policy for a presented key, or nullptr when unknown.
  std::shared_ptr<const KeyPolicy> Find(std::string_view client_key) const;
  std::shared_ptr<const KeyPolicy> FindByHash(const std::string& sha256_hex) const;

  // Stores a new key (policy.sha256 is ignored and set) and returns the key
  // text: the only time it exists outside the client.
  Result<std::string> Create(KeyPolicy policy);
  // Marks a database key disabled (kept so errors say "disabled", and so its
  // usage history keeps a name). Static keys are changed in the config.
  Status Revoke(const std::string& name);
  std::vector<KeyPolicy> List() const;  // sorted by name
  size_t size() const;

 private:
  KeyStore() = default;
  Status Insert(std::shared_ptr<const KeyPolicy> policy);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;  // owned; null without data_dir
  std::unordered_map<std::string, std::shared_ptr<const KeyPolicy>> by_hash_;
  std::unordered_map<std::string, std::shared_ptr<const KeyPolicy>> by_name_;
  std::unordered_map<std::string, bool> is_static_;  // by name
};

}  // namespace tether
