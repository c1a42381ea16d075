// Config loading: ${ENV} substitution, file errors, typed reads with key paths.
#include "common/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace tether {
namespace {

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() { unsetenv(name_); }

 private:
  const char* name_;
};

// A file under the test temp dir, removed afterwards.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content)
      : path_(testing::TempDir() + "tether_config_test_" + std::to_string(getpid()) + "_" + name) {
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

JsonPtr Doc(const std::string& text) {
  auto r = ParseJson(text);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r.value()) : JsonPtr();
}

bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// ------------------------------------------------------- ${ENV} substitution

TEST(SubstituteEnvTest, ReplacesSetVariables) {
  ScopedEnv a("TETHER_CFG_TEST_KEY", "sk-abc123");
  ScopedEnv b("TETHER_CFG_TEST_PORT", "8443");
  auto r = SubstituteEnv(
      R"({"key":"${TETHER_CFG_TEST_KEY}","url":"https://h:${TETHER_CFG_TEST_PORT}/v1","k2":"x${TETHER_CFG_TEST_KEY}${TETHER_CFG_TEST_KEY}"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, R"({"key":"sk-abc123","url":"https://h:8443/v1","k2":"xsk-abc123sk-abc123"})");
}

TEST(SubstituteEnvTest, LeavesOtherDollarsAlone) {
  auto r = SubstituteEnv(R"({"a":"$HOME","b":"$","c":"$ {X}","d":"{}","e":"cost $5"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, R"({"a":"$HOME","b":"$","c":"$ {X}","d":"{}","e":"cost $5"})");
}

TEST(SubstituteEnvTest, UnsetVariableIsAnErrorNamingIt) {
  ScopedEnv a("TETHER_CFG_TEST_UNSET", nullptr);
  auto r = SubstituteEnv(R"({"key":"${TETHER_CFG_TEST_UNSET}"})");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), "TETHER_CFG_TEST_UNSET")) << r.status().message();
}

TEST(SubstituteEnvTest, EmptyValueIsNotUnset) {
  ScopedEnv a("TETHER_CFG_TEST_EMPTY", "");
  auto r = SubstituteEnv(R"({"key":"${TETHER_CFG_TEST_EMPTY}"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, R"({"key":""})");
}

TEST(SubstituteEnvTest, UnterminatedReferenceIsAnError) {
  auto r = SubstituteEnv(R"({"key":"${TETHER_CFG_TEST_KEY"})");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(SubstituteEnv("${").ok());
}

TEST(SubstituteEnvTest, ValuesWithQuotesAndBackslashesStayValidJson) {
  const std::string nasty = "a\"b\\c\nd\te\x01 \"},\"injected\":\"1";
  ScopedEnv a("TETHER_CFG_TEST_NASTY", nasty.c_str());
  auto r = SubstituteEnv(R"({"secret":"${TETHER_CFG_TEST_NASTY}"})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  auto doc = ParseJson(*r);
  ASSERT_TRUE(doc.ok()) << doc.status().message() << " in " << *r;
  EXPECT_EQ(JsonStrOr(doc->get(), "secret", "?"), nasty);
  EXPECT_EQ(JsonGet(doc->get(), "injected"), nullptr);
  EXPECT_EQ(cJSON_GetArraySize(doc->get()), 1);
}

TEST(SubstituteEnvTest, NonAsciiValueIsKept) {
  ScopedEnv a("TETHER_CFG_TEST_UTF8", "h\xc3\xa9llo \xe2\x9c\x93");
  auto r = SubstituteEnv(R"({"v":"${TETHER_CFG_TEST_UTF8}"})");
  ASSERT_TRUE(r.ok());
  auto doc = ParseJson(*r);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(JsonStrOr(doc->get(), "v", "?"), "h\xc3\xa9llo \xe2\x9c\x93");
}

// ------------------------------------------------------------ config files

TEST(LoadConfigFileTest, LoadsAnObjectWithSubstitution) {
  ScopedEnv a("TETHER_CFG_TEST_TOKEN", "tok\"en");
  TempFile f("ok.json", "{\n  \"_comment\": \"x\",\n  \"token\": \"${TETHER_CFG_TEST_TOKEN}\"\n}\n");
  auto r = LoadConfigFile(f.path());
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(JsonStrOr(r->get(), "token", "?"), "tok\"en");
}

TEST(LoadConfigFileTest, MissingFileNamesTheFile) {
  std::string path = testing::TempDir() + "tether_config_test_does_not_exist.json";
  auto r = LoadConfigFile(path);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), path)) << r.status().message();
}

TEST(LoadConfigFileTest, InvalidJsonNamesTheFileAndByteOffset) {
  TempFile f("bad.json", "{\"a\": 1,\n \"b\": x}");
  auto r = LoadConfigFile(f.path());
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_EQ(m.rfind(f.path() + ": ", 0), 0u) << m;
  EXPECT_TRUE(Contains(m, "byte 15")) << m;  // the x
}

TEST(LoadConfigFileTest, TrailingGarbageIsAnError) {
  TempFile f("trailing.json", "{\"a\": 1} x");
  auto r = LoadConfigFile(f.path());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), f.path())) << r.status().message();
  EXPECT_TRUE(Contains(r.status().message(), "byte 9")) << r.status().message();
}

TEST(LoadConfigFileTest, TopLevelMustBeAnObject) {
  for (const char* text : {"[1, 2]", "\"str\"", "42", "null"}) {
    TempFile f("array.json", text);
    auto r = LoadConfigFile(f.path());
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_TRUE(Contains(r.status().message(), f.path())) << r.status().message();
    EXPECT_TRUE(Contains(r.status().message(), "object")) << r.status().message();
  }
}

TEST(LoadConfigFileTest, EmptyFileIsAnError) {
  TempFile f("empty.json", "");
  auto r = LoadConfigFile(f.path());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), f.path()));
}

TEST(LoadConfigFileTest, UnsetVariableNamesFileAndVariable) {
  ScopedEnv a("TETHER_CFG_TEST_MISSING", nullptr);
  TempFile f("env.json", R"({"key": "${TETHER_CFG_TEST_MISSING}"})");
  auto r = LoadConfigFile(f.path());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Contains(r.status().message(), f.path())) << r.status().message();
  EXPECT_TRUE(Contains(r.status().message(), "TETHER_CFG_TEST_MISSING")) << r.status().message();
}

// ------------------------------------------------------------ typed reads

const char kHub[] = R"({
  "listen": {"port": 70000, "host": "0.0.0.0", "workers": 1.5, "debug": "yes", "ratio": "x"},
  "providers": [
    {"name": "a", "base_url": "https://a"},
    {"name": "b", "base_url": "https://b"},
    {"name": "c", "base_url": 42}
  ],
  "keys": ["k1", "k2"],
  "one_key": "k",
  "mixed": ["k1", 2, "k3"],
  "nothing": null,
  "big": 1e300,
  "neg_big": -1e300,
  "huge_exp": 1e999
})";

TEST(ConfigNodeTest, StringTypeErrorNamesFileAndPath) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("hub.json");
  ConfigNode root(doc.get(), "", &errors);
  ConfigNode providers = root.Child("providers");
  ASSERT_EQ(providers.Size(), 3);
  EXPECT_EQ(providers.At(0).String("base_url", ""), "https://a");
  EXPECT_TRUE(errors.ok());
  EXPECT_EQ(providers.At(2).String("base_url", "fallback"), "fallback");
  EXPECT_FALSE(errors.ok());
  EXPECT_EQ(errors.ToStatus().message(), "hub.json: providers[2].base_url: expected a string");
  EXPECT_EQ(errors.file(), "hub.json");
}

TEST(ConfigNodeTest, FirstErrorIsReported) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("hub.json");
  ConfigNode root(doc.get(), "", &errors);
  EXPECT_TRUE(errors.ToStatus().ok());
  root.Child("listen").Bool("debug", false);
  root.Child("providers").At(2).String("base_url", "");
  EXPECT_EQ(errors.ToStatus().message(), "hub.json: listen.debug: expected true or false");
}

TEST(ConfigNodeTest, IntRangeAndWholeNumberErrors) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("hub.json");
  ConfigNode listen = ConfigNode(doc.get(), "", &errors).Child("listen");
  EXPECT_EQ(listen.Int("port", 8000, 1, 65535), 8000);
  EXPECT_EQ(errors.ToStatus().message(), "hub.json: listen.port: expected a number from 1 to 65535");

  ConfigErrors e2("hub.json");
  ConfigNode l2 = ConfigNode(doc.get(), "", &e2).Child("listen");
  EXPECT_EQ(l2.Int("port", 1, 1, 70000), 70000);
  EXPECT_TRUE(e2.ok());
  EXPECT_EQ(l2.Int("port", 1, 70000, 70000), 70000) << "bounds are inclusive";
  EXPECT_TRUE(e2.ok());
  EXPECT_EQ(l2.Int("missing", 77, 1, 10), 77) << "a missing key gives the fallback";
  EXPECT_TRUE(e2.ok());
  EXPECT_EQ(l2.Int("workers", 4, 1, 64), 4);
  EXPECT_EQ(e2.ToStatus().message(), "hub.json: listen.workers: expected a whole number");

  ConfigErrors e3("hub.json");
  EXPECT_EQ(ConfigNode(doc.get(), "", &e3).Child("listen").Int("host", 3, 0, 10), 3);
  EXPECT_FALSE(e3.ok()) << "a string is not a number";
}

TEST(ConfigNodeTest, IntOutsideLongLongRangeIsARangeError) {
  JsonPtr doc = Doc(kHub);
  for (const char* key : {"big", "neg_big", "huge_exp"}) {
    ConfigErrors errors("hub.json");
    ConfigNode root(doc.get(), "", &errors);
    EXPECT_EQ(root.Int(key, 5, LLONG_MIN, LLONG_MAX), 5) << key;
    ASSERT_FALSE(errors.ok()) << key;
    EXPECT_EQ(errors.ToStatus().message(),
              std::string("hub.json: ") + key +
                  ": expected a number from -9223372036854775808 to 9223372036854775807");
  }
}

TEST(ConfigNodeTest, NumberAndBoolErrors) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("edge.json");
  ConfigNode listen = ConfigNode(doc.get(), "", &errors).Child("listen");
  EXPECT_EQ(listen.Number("workers", 0), 1.5);
  EXPECT_TRUE(errors.ok());
  EXPECT_EQ(listen.Number("ratio", 0.25), 0.25);
  EXPECT_EQ(errors.ToStatus().message(), "edge.json: listen.ratio: expected a number");
  ConfigErrors e2("edge.json");
  EXPECT_TRUE(ConfigNode(doc.get(), "", &e2).Child("listen").Bool("debug", true));
  EXPECT_EQ(e2.ToStatus().message(), "edge.json: listen.debug: expected true or false");
}

TEST(ConfigNodeTest, RequiredStringAndNulls) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("hub.json");
  ConfigNode root(doc.get(), "", &errors);
  EXPECT_EQ(root.RequiredString("one_key"), "k");
  EXPECT_TRUE(errors.ok());
  EXPECT_FALSE(root.Has("nothing")) << "null counts as absent";
  EXPECT_TRUE(root.Has("keys"));
  EXPECT_FALSE(root.Has("absent"));
  EXPECT_TRUE(root.Child("nothing").IsNull());
  EXPECT_TRUE(root.Child("absent").IsNull());
  EXPECT_EQ(root.String("nothing", "fb"), "fb");
  EXPECT_TRUE(errors.ok());
  EXPECT_EQ(root.RequiredString("nothing"), "");
  EXPECT_EQ(errors.ToStatus().message(), "hub.json: nothing: is required");
}

TEST(ConfigNodeTest, StringsFromStringOrArray) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("hub.json");
  ConfigNode root(doc.get(), "", &errors);
  EXPECT_EQ(root.Strings("keys"), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(root.Strings("one_key"), (std::vector<std::string>{"k"}));
  EXPECT_TRUE(root.Strings("absent").empty());
  EXPECT_TRUE(errors.ok());
  EXPECT_EQ(root.Strings("mixed"), (std::vector<std::string>{"k1", "k3"}));
  EXPECT_EQ(errors.ToStatus().message(), "hub.json: mixed[1]: expected a string");
  ConfigErrors e2("hub.json");
  EXPECT_TRUE(ConfigNode(doc.get(), "", &e2).Strings("big").empty());
  EXPECT_EQ(e2.ToStatus().message(), "hub.json: big: expected a string or an array of strings");
}

TEST(ConfigNodeTest, SizeAndAsString) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("hub.json");
  ConfigNode root(doc.get(), "", &errors);
  EXPECT_EQ(root.Child("absent").Size(), 0);
  EXPECT_TRUE(errors.ok());
  EXPECT_EQ(root.Child("keys").At(1).AsString(), "k2");
  EXPECT_EQ(root.Child("keys").At(1).path(), "keys[1]");
  EXPECT_TRUE(root.Child("keys").At(5).IsNull());
  EXPECT_TRUE(errors.ok());
  EXPECT_EQ(root.Child("listen").Size(), 0);
  EXPECT_EQ(errors.ToStatus().message(), "hub.json: listen: expected an array");
  ConfigErrors e2("hub.json");
  EXPECT_EQ(ConfigNode(doc.get(), "", &e2).Child("mixed").At(1).AsString(), "");
  EXPECT_EQ(e2.ToStatus().message(), "hub.json: mixed[1]: expected a string");
}

TEST(ConfigNodeTest, CheckKeysFlagsUnknownKeysButAllowsComments) {
  JsonPtr doc = Doc(R"({"listne": 1, "_comment": "ok", "port": 2, "edge": {"hub": 1, "tokne": 2}})");
  ConfigErrors errors("edge.json");
  ConfigNode root(doc.get(), "", &errors);
  root.CheckKeys({"port", "edge"});
  EXPECT_EQ(errors.ToStatus().message(), "edge.json: listne: unknown key");
  ConfigErrors e2("edge.json");
  ConfigNode r2(doc.get(), "", &e2);
  r2.CheckKeys({"port", "edge", "listne"});
  EXPECT_TRUE(e2.ok()) << e2.ToStatus().message();
  r2.Child("edge").CheckKeys({"hub"});
  EXPECT_EQ(e2.ToStatus().message(), "edge.json: edge.tokne: unknown key");
}

TEST(ConfigNodeTest, ErrorAndErrorAtUseThePath) {
  JsonPtr doc = Doc(kHub);
  ConfigErrors errors("hub.json");
  ConfigNode p = ConfigNode(doc.get(), "", &errors).Child("providers").At(1);
  p.ErrorAt("base_url", "expected a URL");
  EXPECT_EQ(errors.ToStatus().message(), "hub.json: providers[1].base_url: expected a URL");
  ConfigErrors e2("hub.json");
  ConfigNode(doc.get(), "", &e2).Error("top-level problem");
  EXPECT_EQ(e2.ToStatus().message(), "hub.json: top-level problem");
}

// -------------------------------------------------------------- host:port

TEST(ParseHostPortTest, Accepted) {
  struct Case {
    const char* text;
    const char* host;
    int port;
  } cases[] = {
      {"127.0.0.1:8000", "127.0.0.1", 8000}, {"hub.example.com:443", "hub.example.com", 443},
      {"[::1]:8000", "::1", 8000},           {"[2001:db8::1]:1", "2001:db8::1", 1},
      {":8000", "0.0.0.0", 8000},            {"localhost:65535", "localhost", 65535},
  };
  for (const Case& c : cases) {
    auto r = ParseHostPort(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().message();
    EXPECT_EQ(r->host, c.host) << c.text;
    EXPECT_EQ(r->port, c.port) << c.text;
  }
}

TEST(ParseHostPortTest, Rejected) {
  for (const char* text : {"", "8000", "host", "host:", "host:0", "host:65536", "host:-1",
                           "host:80x", "host:abc", "[::1]", "[::1]:", "[::1]8000", "[::1:8000",
                           "host:99999999999999999999"}) {
    auto r = ParseHostPort(text);
    EXPECT_FALSE(r.ok()) << "\"" << text << "\" gave " << (r.ok() ? r->host : "") << " "
                         << (r.ok() ? r->port : 0);
    if (!r.ok() && *text) {
      EXPECT_TRUE(Contains(r.status().message(), text)) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace tether
