#include "hub/keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "tests/unit/hub/client_fixtures.h"

namespace tether {
namespace {

using testutil::LoadClientRecords;

std::string TempDir(const char* tag) {
  static int n = 0;
  std::string dir = ::testing::TempDir() + "keys_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(ClientKey, FormatIsPrefixAndBase64UrlWithoutPadding) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string k = GenerateClientKey();
    ASSERT_EQ(k.size(), 3u + 43u) << k;  // 32 bytes -> 43 characters unpadded
    EXPECT_EQ(k.substr(0, 3), "tk-");
    for (char c : k.substr(3)) EXPECT_TRUE(isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << k;
    EXPECT_EQ(k.find('='), std::string::npos);
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 200u);  // 256 random bits: any repeat means a broken generator
}

TEST(ClientKey, HashIsSha256Hex) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(HashClientKey("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashClientKey(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string k = GenerateClientKey();
  EXPECT_EQ(HashClientKey(k), HashClientKey(k));
  EXPECT_NE(HashClientKey(k), HashClientKey(k + "x"));
}

TEST(ClientFamily, RealUserAgentsFromFixtures) {
  struct Case {
    const char* file;
    const char* family;
  } cases[] = {
      {"claude-code.jsonl", "claude_code"},   {"claude-code-tool.jsonl", "claude_code"},
      {"claude-code-authtoken.jsonl", "claude_code"}, {"codex.jsonl", "codex"},
      {"codex-tool.jsonl", "codex"},           {"gemini-cli.jsonl", "gemini_cli"},
      {"gemini-cli-tool.jsonl", "gemini_cli"}, {"openai-sdk.jsonl", "sdk_openai"},
      {"anthropic-sdk.jsonl", "sdk_anthropic"}, {"genai-sdk.jsonl", "sdk_genai"},
  };
  for (const Case& c : cases) {
    int checked = 0;
    for (const auto& r : LoadClientRecords(c.file)) {
      // Claude Code probes the base URL with a bare HEAD / from its runtime
      // ("Bun/1.4.0"); that request carries no key and is not an API call.
      if (r.method != "POST" && r.method != "GET") continue;
      std::string ua = r.Header("User-Agent");
      ASSERT_FALSE(ua.empty()) << c.file;
      EXPECT_EQ(ClientFamily(ua), c.family) << c.file << ": " << ua;
      ++checked;
    }
    EXPECT_GT(checked, 0) << c.file;
  }
}

TEST(ClientFamily, OtherSpellings) {
  EXPECT_EQ(ClientFamily("codex_cli_rs/0.50.0 (Mac OS 15.1; arm64) iTerm.app/3.5"), "codex");
  EXPECT_EQ(ClientFamily("claude-code/1.0 vscode"), "claude_code");
  EXPECT_EQ(ClientFamily("Bun/1.4.0"), "other");
  EXPECT_EQ(ClientFamily("curl/8.5.0"), "other");
  EXPECT_EQ(ClientFamily(""), "other");
  // A CLI built on an SDK is the CLI, not the SDK.
  EXPECT_EQ(ClientFamily("GeminiCLI/0.1.0 google-genai-sdk/1.30.0"), "gemini_cli");
}

KeyPolicy Alice() {
  KeyPolicy p;
  p.name = "alice";
  p.sha256 = HashClientKey("tk-alice-secret-value");
  p.tenant = "u1";
  return p;
}

KeyContext Ctx(std::string tenant = "u1", std::string model = "gpt-4o", std::string ua = "OpenAI/JS 6.49.0") {
  KeyContext c;
  c.now = 1'800'000'000;
  c.tenant_of_path = std::move(tenant);
  c.model = std::move(model);
  c.user_agent = std::move(ua);
  return c;
}

void ExpectNoSecret(const KeyDecision& d) {
  EXPECT_EQ(d.message.find("tk-alice-secret-value"), std::string::npos);
  EXPECT_EQ(d.message.find(Alice().sha256), std::string::npos);
}

TEST(EvaluateKey, AllowsWithinPolicy) {
  KeyDecision d = EvaluateKey(Alice(), Ctx());
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(d.status, 200);
  // Root paths (no UID) are allowed; the key's tenant applies.
  EXPECT_TRUE(EvaluateKey(Alice(), Ctx("")).allow);
}

TEST(EvaluateKey, WrongTenantIs403) {
  KeyDecision d = EvaluateKey(Alice(), Ctx("u2"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 403);
  EXPECT_NE(d.message.find("tenant \"u1\""), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("/u2/"), std::string::npos) << d.message;
  ExpectNoSecret(d);
  // An operator key (no tenant) works under any tenant.
  KeyPolicy op = Alice();
  op.tenant.clear();
  EXPECT_TRUE(EvaluateKey(op, Ctx("u2")).allow);
}

TEST(EvaluateKey, ExpiredIs401AndSaysExpired) {
  KeyPolicy p = Alice();
  p.expires_at = 1'800'000'000;  // the context's now: expiry is inclusive
  KeyDecision d = EvaluateKey(p, Ctx());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 401);
  EXPECT_NE(d.message.find("expired at 2027-01-15T08:00:00Z"), std::string::npos) << d.message;
  ExpectNoSecret(d);
  p.expires_at = 1'800'000'001;
  EXPECT_TRUE(EvaluateKey(p, Ctx()).allow);
}

TEST(EvaluateKey, DisabledIs401AndSaysDisabled) {
  KeyPolicy p = Alice();
  p.disabled = true;
  p.expires_at = 1;  // disabled wins: it is the operator's explicit action
  KeyDecision d = EvaluateKey(p, Ctx());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 401);
  EXPECT_NE(d.message.find("is disabled"), std::string::npos) << d.message;
  EXPECT_EQ(d.message.find("expired"), std::string::npos) << d.message;
  ExpectNoSecret(d);
}

TEST(EvaluateKey, ModelGlobs) {
  KeyPolicy p = Alice();
  p.allowed_models = {"claude-*", "gpt-4o-mini", "gemini-?.5-flash"};
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "claude-sonnet-4-5")).allow);
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "gpt-4o-mini")).allow);
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "gemini-2.5-flash")).allow);
  EXPECT_FALSE(EvaluateKey(p, Ctx("u1", "gemini-2.5-flash-lite")).allow);
  KeyDecision d = EvaluateKey(p, Ctx("u1", "gpt-4o"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 403);
  EXPECT_NE(d.message.find("model \"gpt-4o\""), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("claude-*"), std::string::npos) << d.message;
  ExpectNoSecret(d);
  // An empty model (not known yet) skips the check; KeyAllowsModel does it later.
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "")).allow);
  EXPECT_FALSE(KeyAllowsModel(p, "gpt-4o"));
}

TEST(EvaluateKey, ClientFamiliesWithRealUserAgents) {
  KeyPolicy p = Alice();
  p.allowed_clients = {"claude_code", "codex"};
  auto first_ua = [](const char* file) {
    for (const auto& r : LoadClientRecords(file))
      if (r.method == "POST") return r.Header("User-Agent");
    return std::string();
  };
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "m", first_ua("claude-code.jsonl"))).allow);
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "m", first_ua("codex.jsonl"))).allow);
  KeyDecision d = EvaluateKey(p, Ctx("u1", "m", first_ua("gemini-cli.jsonl")));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 403);
  EXPECT_NE(d.message.find("claude_code, codex"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("gemini_cli"), std::string::npos) << d.message;
  EXPECT_FALSE(EvaluateKey(p, Ctx("u1", "m", first_ua("openai-sdk.jsonl"))).allow);
  ExpectNoSecret(d);

  p.allowed_clients = {"re:^Cherry ?Studio/", "gemini_cli"};
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "m", "CherryStudio/1.5.0")).allow);
  EXPECT_TRUE(EvaluateKey(p, Ctx("u1", "m", first_ua("gemini-cli-tool.jsonl"))).allow);
  EXPECT_FALSE(EvaluateKey(p, Ctx("u1", "m", "xCherryStudio/1.5.0")).allow);
}

TEST(ReadKeyPolicy, ParsesAndHashesAndNamesErrors) {
  setenv("TETHER_TEST_ALICE_KEY", "tk-from-env", 1);
  auto text = SubstituteEnv(R"({"name":"alice","key":"${TETHER_TEST_ALICE_KEY}","tenant":"u1","models":["claude-*"],
      "rpm":60,"tpm":100000,"max_concurrent":4,"clients":["claude_code","re:^Foo/"],"expires_at":2000000000,
      "daily_budget_usd":5,"monthly_budget_usd":100})");
  ASSERT_TRUE(text.ok());
  auto json = ParseJson(*text);
  ASSERT_TRUE(json.ok());
  ConfigErrors errors("hub.json");
  KeyPolicy p = ReadKeyPolicy(ConfigNode(json->get(), "keys[0]", &errors));
  ASSERT_TRUE(errors.ok()) << errors.ToStatus().message();
  EXPECT_EQ(p.sha256, HashClientKey("tk-from-env"));
  EXPECT_EQ(p.tenant, "u1");
  EXPECT_EQ(p.rpm, 60);
  EXPECT_EQ(p.tpm, 100000);
  EXPECT_EQ(p.max_concurrent, 4);
  EXPECT_EQ(p.allowed_clients.size(), 2u);
  EXPECT_EQ(p.expires_at, 2000000000);
  EXPECT_DOUBLE_EQ(p.monthly_budget_usd, 100);
  // The JSON form round-trips and never carries the key text.
  std::string out = KeyPolicyToJson(p);
  EXPECT_EQ(out.find("tk-from-env"), std::string::npos);
  auto back = ParseJson(out);
  ASSERT_TRUE(back.ok());
  ConfigErrors e2("x");
  KeyPolicy q = ReadKeyPolicy(ConfigNode(back->get(), "k", &e2));
  ASSERT_TRUE(e2.ok()) << e2.ToStatus().message();
  EXPECT_EQ(q.sha256, p.sha256);
  EXPECT_EQ(q.allowed_models, p.allowed_models);
  EXPECT_EQ(q.allowed_clients, p.allowed_clients);

  for (const char* bad : {R"({"name":"b","sha256":"abc"})", R"({"name":"b","key":"k","clients":["cursor"]})",
                          R"({"name":"b","key":"k","clients":["re:(unclosed"]})", R"({"name":"b"})",
                          R"({"name":"b","key":"k","rpm":-1})"}) {
    auto j = ParseJson(bad);
    ASSERT_TRUE(j.ok());
    ConfigErrors e("hub.json");
    ReadKeyPolicy(ConfigNode(j->get(), "keys[3]", &e));
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.ToStatus().message().find("hub.json: keys[3]."), std::string::npos) << e.ToStatus().message();
  }
}

TEST(KeyStore, StaticKeysLookupByKey) {
  std::vector<KeyPolicy> keys;
  std::vector<std::string> texts;
  for (int i = 0; i < 2000; ++i) {
    texts.push_back(GenerateClientKey());
    KeyPolicy p;
    p.name = "k" + std::to_string(i);
    p.sha256 = HashClientKey(texts.back());
    keys.push_back(p);
  }
  auto store = KeyStore::Open("", keys);
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->size(), 2000u);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 2000; ++i) {
    auto p = (*store)->Find(texts[i]);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->name, "k" + std::to_string(i));
  }
  double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / 2000;
  std::printf("KeyStore::Find (hash + lookup, 2000 keys): %.2f us\n", us);
  EXPECT_EQ((*store)->Find("tk-unknown"), nullptr);
  EXPECT_FALSE((*store)->Create(Alice()).ok());  // no data_dir

  keys.push_back(keys[5]);  // duplicate name
  auto dup = KeyStore::Open("", keys);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("k5"), std::string::npos);
}

TEST(KeyStore, CreateListRevokePersist) {
  std::string dir = TempDir("db");
  KeyPolicy st;
  st.name = "static";
  st.sha256 = HashClientKey("tk-static");
  std::string alice_key;
  {
    auto store = KeyStore::Open(dir, {st});
    ASSERT_TRUE(store.ok()) << store.status().message();
    KeyPolicy p = Alice();
    p.allowed_models = {"claude-*"};
    p.rpm = 30;
    auto k = (*store)->Create(p);
    ASSERT_TRUE(k.ok()) << k.status().message();
    alice_key = *k;
    EXPECT_EQ(alice_key.substr(0, 3), "tk-");
    auto found = (*store)->Find(alice_key);
    ASSERT_NE(found, nullptr);
    EXPECT_EQ(found->name, "alice");
    EXPECT_EQ(found->sha256, HashClientKey(alice_key));
    EXPECT_FALSE((*store)->Create(Alice()).ok());  // name taken
    auto names = (*store)->List();
    ASSERT_EQ(names.size(), 2u);
    EXPECT_EQ(names[0].name, "alice");
    EXPECT_EQ(names[1].name, "static");
    EXPECT_FALSE((*store)->Revoke("static").ok());  // config keys change in the config
    EXPECT_FALSE((*store)->Revoke("nobody").ok());
    auto held = (*store)->Find(alice_key);  // a request in flight
    ASSERT_TRUE((*store)->Revoke("alice").ok());
    EXPECT_FALSE(held->disabled);  // its snapshot is unchanged
    KeyDecision d = EvaluateKey(*(*store)->Find(alice_key), Ctx());
    EXPECT_EQ(d.status, 401);
    EXPECT_NE(d.message.find("disabled"), std::string::npos);
  }
  // The database keeps only the hash, and reopening restores policy and state.
  std::string raw;
  {
    std::ifstream f(dir + "/keys.db", std::ios::binary);
    raw.assign(std::istreambuf_iterator<char>(f), {});
  }
  EXPECT_EQ(raw.find(alice_key), std::string::npos);
  EXPECT_NE(raw.find(HashClientKey(alice_key)), std::string::npos);
  auto again = KeyStore::Open(dir, {st});
  ASSERT_TRUE(again.ok()) << again.status().message();
  auto p = (*again)->Find(alice_key);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->disabled);
  EXPECT_EQ(p->rpm, 30);
  EXPECT_EQ(p->allowed_models, std::vector<std::string>{"claude-*"});
  EXPECT_EQ(p->tenant, "u1");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tether
