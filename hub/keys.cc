#include "hub/keys.h"

#include <mbedtls/sha256.h>
#include <sqlite3.h>
#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <regex>

#include "common/json.h"
#include "hub/model_resolver.h"

namespace tether {
namespace {

// Local SHA-256 and CSPRNG so this pure module does not depend on the TLS
// layer; the same primitives (mbedTLS, the kernel's getrandom) underneath.
std::string Sha256HexLocal(std::string_view data) {
  unsigned char out[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, 0);
  static const char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (int i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 15];
  }
  return hex;
}

void FillRandom(unsigned char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      // No entropy source is not something to limp along with: a predictable
      // key would be worse than no key.
      std::fprintf(stderr, "keys: getrandom failed: errno %d\n", errno);
      std::abort();
    }
    got += static_cast<size_t>(r);
  }
}

std::string Base64UrlNoPad(const unsigned char* p, size_t n) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((n * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool ContainsNoCase(std::string_view s, std::string_view needle) {
  auto it = std::search(s.begin(), s.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != s.end();
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// std::regex construction costs tens of microseconds, so patterns are
// compiled once per process. nullptr marks an invalid pattern.
std::shared_ptr<const std::regex> CompiledRegex(const std::string& pattern) {
  static std::mutex mu;
  static std::unordered_map<std::string, std::shared_ptr<const std::regex>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(pattern);
  if (it != cache.end()) return it->second;
  std::shared_ptr<const std::regex> re;
  try {
    re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error&) {
    re = nullptr;
  }
  if (cache.size() < 4096) cache.emplace(pattern, re);
  return re;
}

std::string UtcTime(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string JoinList(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string Quoted(std::string_view s, size_t max = 120) {
  std::string out = "\"";
  for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 ? '?' : c);
  if (s.size() > max) out += "...";
  return out + "\"";
}

bool ClientAllowed(const KeyPolicy& p, std::string_view user_agent, const std::string& family) {
  if (p.allowed_clients.empty()) return true;
  for (const std::string& c : p.allowed_clients) {
    if (StartsWith(c, "re:")) {
      auto re = CompiledRegex(c.substr(3));
      if (re && std::regex_search(user_agent.begin(), user_agent.end(), *re)) return true;
    } else if (c == family) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string GenerateClientKey() {
  unsigned char raw[32];
  FillRandom(raw, sizeof raw);
  return "tk-" + Base64UrlNoPad(raw, sizeof raw);
}

std::string HashClientKey(std::string_view key) { return Sha256HexLocal(key); }

std::string_view ClientFamily(std::string_view ua) {
  // Order matters: Gemini CLI is built on the genai SDK, and Claude Code on
  // the Anthropic SDK, so the CLIs are recognised before the SDKs. Seen in
  // the wild: "claude-cli/2.1.197 (external, sdk-cli)", "codex_exec/0.169.0
  // (...)", "codex_cli_rs/0.x", "GeminiCLI-tui/0.61.0/gemini-3.1-pro-preview
  // (...)", "OpenAI/JS 6.49.0", "Anthropic/JS 1.12.0",
  // "google-genai-sdk/2.32.0 gl-node/v20.20.2".
  if (StartsWith(ua, "claude-cli/") || ContainsNoCase(ua, "claude-code")) return "claude_code";
  if (StartsWith(ua, "codex_cli_rs/") || ContainsNoCase(ua, "codex")) return "codex";
  if (ContainsNoCase(ua, "GeminiCLI")) return "gemini_cli";
  if (StartsWith(ua, "OpenAI/")) return "sdk_openai";
  if (StartsWith(ua, "Anthropic/")) return "sdk_anthropic";
  if (ContainsNoCase(ua, "google-genai-sdk")) return "sdk_genai";
  return "other";
}

bool KeyAllowsModel(const KeyPolicy& p, std::string_view model) {
  if (p.allowed_models.empty()) return true;
  for (const std::string& g : p.allowed_models)
    if (GlobMatch(g, model)) return true;
  return false;
}

KeyDecision EvaluateKey(const KeyPolicy& p, const KeyContext& c) {
  KeyDecision d;
  auto deny = [&](int status, std::string message) {
    d.allow = false;
    d.status = status;
    d.message = std::move(message);
    return d;
  };
  const std::string who = "API key " + Quoted(p.name);
  if (p.disabled) return deny(401, who + " is disabled; ask the relay operator for a new key");
  if (p.expires_at != 0 && c.now >= p.expires_at)
    return deny(401, who + " expired at " + UtcTime(p.expires_at) + "; ask the relay operator for a new key");
  if (!p.tenant.empty() && !c.tenant_of_path.empty() && c.tenant_of_path != p.tenant)
    return deny(403, who + " belongs to tenant " + Quoted(p.tenant) + " and cannot be used under /" + c.tenant_of_path + "/");
  if (!p.allowed_clients.empty()) {
    std::string family(ClientFamily(c.user_agent));
    if (!ClientAllowed(p, c.user_agent, family))
      return deny(403, who + " may only be used from " + JoinList(p.allowed_clients) + "; this request came from " + family +
                           " (User-Agent " + Quoted(c.user_agent) + ")");
  }
  if (!c.model.empty() && !KeyAllowsModel(p, c.model))
    return deny(403, who + " may not use model " + Quoted(c.model) + "; allowed models: " + JoinList(p.allowed_models));
  return d;
}

KeyPolicy ReadKeyPolicy(const ConfigNode& n) {
  KeyPolicy p;
  n.CheckKeys({"name", "key", "sha256", "tenant", "models", "rpm", "tpm", "max_concurrent", "clients", "expires_at",
               "daily_budget_usd", "monthly_budget_usd", "disabled"});
  p.name = n.RequiredString("name");
  std::string key = n.String("key", "");
  p.sha256 = n.String("sha256", "");
  if (!key.empty() && !p.sha256.empty()) n.ErrorAt("sha256", "give either key or sha256, not both");
  else if (!key.empty()) p.sha256 = HashClientKey(key);
  else if (p.sha256.empty()) n.ErrorAt("key", "expected the key text (\"${ENV}\") or its sha256");
  else {
    std::transform(p.sha256.begin(), p.sha256.end(), p.sha256.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (!IsHex64(p.sha256)) n.ErrorAt("sha256", "expected 64 hex digits");
  }
  p.tenant = n.String("tenant", "");
  p.allowed_models = n.Strings("models");
  p.rpm = static_cast<int>(n.Int("rpm", 0, 0, 1000000000));
  p.tpm = static_cast<int>(n.Int("tpm", 0, 0, 2000000000));
  p.max_concurrent = static_cast<int>(n.Int("max_concurrent", 0, 0, 1000000));
  p.allowed_clients = n.Strings("clients");
  static const char* kFamilies[] = {"claude_code", "codex", "gemini_cli", "sdk_openai", "sdk_anthropic", "sdk_genai", "other"};
  for (const std::string& c : p.allowed_clients) {
    if (StartsWith(c, "re:")) {
      if (!CompiledRegex(c.substr(3))) n.ErrorAt("clients", "invalid regular expression " + Quoted(c.substr(3)));
    } else if (std::find(std::begin(kFamilies), std::end(kFamilies), c) == std::end(kFamilies)) {
      n.ErrorAt("clients", "unknown client family " + Quoted(c) +
                               "; expected claude_code, codex, gemini_cli, sdk_openai, sdk_anthropic, sdk_genai, other or re:REGEX");
    }
  }
  p.expires_at = n.Int("expires_at", 0, 0, INT64_MAX);
  p.daily_budget_usd = n.Number("daily_budget_usd", 0);
  p.monthly_budget_usd = n.Number("monthly_budget_usd", 0);
  if (p.daily_budget_usd < 0) n.ErrorAt("daily_budget_usd", "expected a number >= 0");
  if (p.monthly_budget_usd < 0) n.ErrorAt("monthly_budget_usd", "expected a number >= 0");
  p.disabled = n.Bool("disabled", false);
  return p;
}

std::string KeyPolicyToJson(const KeyPolicy& p) {
  JsonPtr o = JsonNewObj();
  JsonAddStr(o.get(), "name", p.name);
  JsonAddStr(o.get(), "sha256", p.sha256);
  if (!p.tenant.empty()) JsonAddStr(o.get(), "tenant", p.tenant);
  cJSON* models = JsonAddArr(o.get(), "models");
  for (const std::string& m : p.allowed_models) JsonAddStr(models, nullptr, m);
  JsonAddNum(o.get(), "rpm", p.rpm);
  JsonAddNum(o.get(), "tpm", p.tpm);
  JsonAddNum(o.get(), "max_concurrent", p.max_concurrent);
  cJSON* clients = JsonAddArr(o.get(), "clients");
  for (const std::string& c : p.allowed_clients) JsonAddStr(clients, nullptr, c);
  JsonAddNum(o.get(), "expires_at", static_cast<double>(p.expires_at));
  JsonAddNum(o.get(), "daily_budget_usd", p.daily_budget_usd);
  JsonAddNum(o.get(), "monthly_budget_usd", p.monthly_budget_usd);
  JsonAddBool(o.get(), "disabled", p.disabled);
  return PrintJson(o.get());
}

// ---- KeyStore ----

namespace {

Status SqlError(sqlite3* db, const std::string& what) {
  return Status::Error("keys.db: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    return Status::Error(std::string("keys.db: ") + msg);
  }
  return Status::Ok();
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

KeyStore::~KeyStore() {
  if (db_) sqlite3_close(db_);
}

Status KeyStore::Insert(std::shared_ptr<const KeyPolicy> p) {
  if (by_name_.count(p->name)) return Status::Error("duplicate key name \"" + p->name + "\"");
  if (by_hash_.count(p->sha256)) return Status::Error("key \"" + p->name + "\" has the same key as \"" + by_hash_[p->sha256]->name + "\"");
  by_hash_[p->sha256] = p;
  by_name_[p->name] = std::move(p);
  return Status::Ok();
}

Result<std::unique_ptr<KeyStore>> KeyStore::Open(const std::string& data_dir, std::vector<KeyPolicy> static_keys) {
  std::unique_ptr<KeyStore> s(new KeyStore());
  for (KeyPolicy& p : static_keys) {
    std::string name = p.name;
    Status st = s->Insert(std::make_shared<const KeyPolicy>(std::move(p)));
    if (!st.ok()) return Status::Error("client keys: " + st.message());
    s->is_static_[name] = true;
  }
  if (data_dir.empty()) return s;
  std::string path = data_dir + "/keys.db";
  if (sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK)
    return Status::Error("open " + path + ": " + (s->db_ ? sqlite3_errmsg(s->db_) : "out of memory"));
  sqlite3_busy_timeout(s->db_, 2000);
  Status st = Exec(s->db_,
                   "CREATE TABLE IF NOT EXISTS keys ("
                   " name TEXT PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, policy TEXT NOT NULL,"
                   " created_at INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0)");
  if (!st.ok()) return st;
  Stmt q;
  if (sqlite3_prepare_v2(s->db_, "SELECT name, policy, disabled FROM keys ORDER BY name", -1, &q.s, nullptr) != SQLITE_OK)
    return SqlError(s->db_, "select");
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 0));
    const char* text = reinterpret_cast<const char*>(sqlite3_column_text(q.s, 1));
    auto json = ParseJson(text ? text : "");
    if (!json.ok()) return Status::Error(path + ": keys[" + name + "].policy: " + json.status().message());
    ConfigErrors errors(path);
    KeyPolicy p = ReadKeyPolicy(ConfigNode(json->get(), "keys[" + name + "]", &errors));
    if (!errors.ok()) return errors.ToStatus();
    p.disabled = p.disabled || sqlite3_column_int(q.s, 2) != 0;
    st = s->Insert(std::make_shared<const KeyPolicy>(std::move(p)));
    if (!st.ok()) return Status::Error(path + ": " + st.message());
  }
  if (rc != SQLITE_DONE) return SqlError(s->db_, "select");
  return s;
}

std::shared_ptr<const KeyPolicy> KeyStore::Find(std::string_view client_key) const {
  // Hash before taking the lock: the map lookup is on the digest, so its
  // timing says nothing useful about the presented key.
  return FindByHash(HashClientKey(client_key));
}

std::shared_ptr<const KeyPolicy> KeyStore::FindByHash(const std::string& sha256_hex) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_hash_.find(sha256_hex);
  return it == by_hash_.end() ? nullptr : it->second;
}

Result<std::string> KeyStore::Create(KeyPolicy policy) {
  if (!db_) return Status::Error("cannot create keys: no data_dir configured");
  if (policy.name.empty()) return Status::Error("a key needs a name");
  std::string key = GenerateClientKey();
  policy.sha256 = HashClientKey(key);
  std::lock_guard<std::mutex> lock(mu_);
  if (by_name_.count(policy.name)) return Status::Error("a key named \"" + policy.name + "\" already exists");
  Stmt ins;
  if (sqlite3_prepare_v2(db_, "INSERT INTO keys(name, sha256, policy, created_at, disabled) VALUES(?,?,?,?,?)", -1, &ins.s,
                         nullptr) != SQLITE_OK)
    return SqlError(db_, "insert");
  std::string json = KeyPolicyToJson(policy);
  sqlite3_bind_text(ins.s, 1, policy.name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(ins.s, 2, policy.sha256.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(ins.s, 3, json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(ins.s, 4, static_cast<sqlite3_int64>(time(nullptr)));
  sqlite3_bind_int(ins.s, 5, policy.disabled ? 1 : 0);
  if (sqlite3_step(ins.s) != SQLITE_DONE) return SqlError(db_, "insert key \"" + policy.name + "\"");
  Status st = Insert(std::make_shared<const KeyPolicy>(std::move(policy)));
  if (!st.ok()) return st;
  return key;
}

Status KeyStore::Revoke(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return Status::Error("no key named \"" + name + "\"");
  if (is_static_.count(name)) return Status::Error("key \"" + name + "\" comes from the config file; disable it there");
  if (!db_) return Status::Error("cannot revoke keys: no data_dir configured");
  Stmt up;
  if (sqlite3_prepare_v2(db_, "UPDATE keys SET disabled = 1 WHERE name = ?", -1, &up.s, nullptr) != SQLITE_OK)
    return SqlError(db_, "update");
  sqlite3_bind_text(up.s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(up.s) != SQLITE_DONE) return SqlError(db_, "revoke key \"" + name + "\"");
  auto copy = std::make_shared<KeyPolicy>(*it->second);
  copy->disabled = true;
  // Replace, not mutate: requests in flight keep the policy they started with.
  by_hash_[copy->sha256] = copy;
  it->second = std::move(copy);
  return Status::Ok();
}

std::vector<KeyPolicy> KeyStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<KeyPolicy> out;
  out.reserve(by_name_.size());
  for (const auto& [name, p] : by_name_) out.push_back(*p);
  std::sort(out.begin(), out.end(), [](const KeyPolicy& a, const KeyPolicy& b) { return a.name < b.name; });
  return out;
}

size_t KeyStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_name_.size();
}

}  // namespace tether
