// SigV4 against AWS's published Signature Version 4 test suite (2015 edition:
// AKIDEXAMPLE, us-east-1, service "service", 20150830T123600Z) and the IAM
// ListUsers example from the AWS General Reference. The expected canonical
// requests, strings to sign and Authorization headers are the suite's
// .creq / .sts / .authz files; the suite signs without x-amz-content-sha256.
#include "hub/providers/sigv4.h"

#include <gtest/gtest.h>

#include <string>

namespace tether {
namespace {

constexpr time_t kSuiteTime = 1440938160;  // 2015-08-30T12:36:00Z
constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAuthPrefix[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

SigV4Credentials SuiteCredentials() {
  return {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
}

SigV4Request SuiteRequest(std::string method, std::string path, std::string query = "") {
  SigV4Request r;
  r.method = std::move(method);
  r.host = "example.amazonaws.com";
  r.path = std::move(path);
  r.query = std::move(query);
  r.region = "us-east-1";
  r.service = "service";
  r.add_content_sha256 = false;
  return r;
}

std::string Header(const SigV4Signed& s, const std::string& name) {
  for (const auto& [n, v] : s.headers) {
    if (n == name) return v;
  }
  return "<missing>";
}

std::string Sts(const std::string& creq_hash) {
  return "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" + creq_hash;
}

TEST(SigV4Suite, GetVanilla) {
  SigV4Signed s = SignV4(SuiteCredentials(), SuiteRequest("GET", "/"), kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            std::string("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptySha);
  EXPECT_EQ(s.string_to_sign, Sts("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"));
  EXPECT_EQ(Header(s, "Authorization"),
            std::string(kAuthPrefix) +
                "SignedHeaders=host;x-amz-date, "
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  EXPECT_EQ(Header(s, "X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(Header(s, "X-Amz-Content-Sha256"), "<missing>");
  EXPECT_EQ(Header(s, "X-Amz-Security-Token"), "<missing>");
}

TEST(SigV4Suite, GetVanillaQueryOrderKeyCase) {
  SigV4Signed s =
      SignV4(SuiteCredentials(), SuiteRequest("GET", "/", "Param2=value2&Param1=value1"), kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            std::string("GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                kEmptySha);
  EXPECT_EQ(s.string_to_sign, Sts("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"));
  EXPECT_EQ(Header(s, "Authorization"),
            std::string(kAuthPrefix) +
                "SignedHeaders=host;x-amz-date, "
                "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Suite, PostXWwwFormUrlencoded) {
  SigV4Request r = SuiteRequest("POST", "/");
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  r.payload = "Param1=value1";
  SigV4Signed s = SignV4(SuiteCredentials(), r, kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\n"
            "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(s.string_to_sign, Sts("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"));
  EXPECT_EQ(Header(s, "Authorization"),
            std::string(kAuthPrefix) +
                "SignedHeaders=content-type;host;x-amz-date, "
                "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

TEST(SigV4Suite, GetUtf8) {
  SigV4Signed s = SignV4(SuiteCredentials(), SuiteRequest("GET", "/\xE1\x88\xB4"), kSuiteTime);
  EXPECT_EQ(s.canonical_request, std::string("GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\n"
                                             "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n") +
                                     kEmptySha);
  EXPECT_EQ(s.string_to_sign, Sts("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"));
  EXPECT_EQ(Header(s, "Authorization"),
            std::string(kAuthPrefix) +
                "SignedHeaders=host;x-amz-date, "
                "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4Suite, GetHeaderValueTrim) {
  SigV4Request r = SuiteRequest("GET", "/");
  r.headers = {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}};
  SigV4Signed s = SignV4(SuiteCredentials(), r, kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            std::string("GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
                        "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n") +
                kEmptySha);
  EXPECT_EQ(s.string_to_sign, Sts("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"));
  EXPECT_EQ(Header(s, "Authorization"),
            std::string(kAuthPrefix) +
                "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
                "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

// Further suite cases checked through their .authz (signature) alone.
struct AuthzCase {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  std::vector<std::pair<std::string, std::string>> headers;
  const char* signed_headers;
  const char* signature;
};

TEST(SigV4Suite, AuthorizationHeaders) {
  const std::vector<AuthzCase> cases = {
      {"post-vanilla", "POST", "/", "", {}, "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query", "POST", "/", "Param1=value1", {}, "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", {},
       "host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-vanilla-query-unreserved", "GET", "/",
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
       "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
       {}, "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query", "GET", "/", "\xE1\x88\xB4=bar", {}, "host;x-amz-date",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"post-header-key-sort", "POST", "/", "", {{"My-Header1", "value1"}}, "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-key-case", "POST", "/", "", {}, "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-header-value-case", "POST", "/", "", {{"My-Header1", "VALUE1"}}, "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      // Repeated header lines join with ',' in the order given, unsorted.
      {"get-header-value-order", "GET", "/", "",
       {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}},
       "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-key-duplicate", "GET", "/", "",
       {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}},
       "host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
  };
  for (const AuthzCase& c : cases) {
    SigV4Request r = SuiteRequest(c.method, c.path, c.query);
    r.headers = c.headers;
    SigV4Signed s = SignV4(SuiteCredentials(), r, kSuiteTime);
    EXPECT_EQ(Header(s, "Authorization"), std::string(kAuthPrefix) + "SignedHeaders=" + c.signed_headers +
                                              ", Signature=" + c.signature)
        << c.name << "\n" << s.canonical_request;
  }
}

// post-sts-header-before: temporary credentials sign x-amz-security-token.
TEST(SigV4Suite, PostStsHeaderBefore) {
  SigV4Credentials creds = SuiteCredentials();
  creds.session_token =
      "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YU"
      "uwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE"
      "8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2"
      "ICCR/oLxBA==";
  SigV4Signed s = SignV4(creds, SuiteRequest("POST", "/"), kSuiteTime);
  EXPECT_EQ(Header(s, "Authorization"),
            std::string(kAuthPrefix) +
                "SignedHeaders=host;x-amz-date;x-amz-security-token, "
                "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead");
  EXPECT_EQ(Header(s, "X-Amz-Security-Token"), creds.session_token);
}

// AWS General Reference, "Signature Version 4 signing process" worked example.
TEST(SigV4, IamListUsersExample) {
  SigV4Request r;
  r.method = "GET";
  r.host = "iam.amazonaws.com";
  r.path = "/";
  r.query = "Action=ListUsers&Version=2010-05-08";
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.region = "us-east-1";
  r.service = "iam";
  r.add_content_sha256 = false;
  SigV4Signed s = SignV4(SuiteCredentials(), r, kSuiteTime);
  EXPECT_EQ(s.canonical_request,
            std::string("GET\n/\nAction=ListUsers&Version=2010-05-08\n"
                        "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\n"
                        "x-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n") +
                kEmptySha);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\n"
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  EXPECT_EQ(s.signature, "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4, ContentSha256HeaderIsSentAndSigned) {
  SigV4Request r = SuiteRequest("POST", "/");
  r.add_content_sha256 = true;
  r.payload = "Param1=value1";
  SigV4Signed s = SignV4(SuiteCredentials(), r, kSuiteTime);
  EXPECT_EQ(Header(s, "X-Amz-Content-Sha256"), "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_NE(s.canonical_request.find(
                "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"),
            std::string::npos);
  EXPECT_NE(s.canonical_request.find("\nhost;x-amz-content-sha256;x-amz-date\n"), std::string::npos);
}

TEST(SigV4, SignerHeadersFromTheCallerAreIgnored) {
  SigV4Request r = SuiteRequest("GET", "/");
  r.headers = {{"X-Amz-Date", "19990101T000000Z"}, {"Authorization", "Bearer x"}, {"Host", "evil"}};
  SigV4Signed s = SignV4(SuiteCredentials(), r, kSuiteTime);
  EXPECT_EQ(Header(s, "Authorization"),
            std::string(kAuthPrefix) +
                "SignedHeaders=host;x-amz-date, "
                "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

// The suite's normalisation cases (get-slash, get-slashes, get-relative,
// get-relative-relative, get-slash-dot-slash, get-slash-pointless-dot, get-space).
TEST(SigV4, CanonicalUriNormalisesOutsideS3) {
  EXPECT_EQ(CanonicalUri("//", false), "/");
  EXPECT_EQ(CanonicalUri("//example//", false), "/example/");
  EXPECT_EQ(CanonicalUri("/example/..", false), "/");
  EXPECT_EQ(CanonicalUri("/example1/example2/../..", false), "/");
  EXPECT_EQ(CanonicalUri("/./", false), "/");
  EXPECT_EQ(CanonicalUri("/./example", false), "/example");
  EXPECT_EQ(CanonicalUri("/example space/", false), "/example%20space/");
  EXPECT_EQ(CanonicalUri("", false), "/");
  // A wire path already encoded once is encoded again (Bedrock model ids).
  EXPECT_EQ(CanonicalUri("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke", false),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/invoke");
  // S3 signs the path as sent.
  EXPECT_EQ(CanonicalUri("/bucket/a//b/../c%3A", true), "/bucket/a//b/../c%3A");
}

TEST(SigV4, CanonicalQuery) {
  EXPECT_EQ(CanonicalQuery(""), "");
  EXPECT_EQ(CanonicalQuery("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(CanonicalQuery("flag&x="), "flag=&x=");
  EXPECT_EQ(CanonicalQuery("k=a%2fb&sp=a%20b"), "k=a%2Fb&sp=a%20b");
  EXPECT_EQ(CanonicalQuery("k=a b+c"), "k=a%20b%2Bc");
  EXPECT_EQ(CanonicalQuery("bad=%zz"), "bad=%25zz");
  EXPECT_EQ(CanonicalQuery("&&a=1&"), "a=1");
}

TEST(SigV4, Pieces) {
  EXPECT_EQ(AmzDate(kSuiteTime), "20150830T123600Z");
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
  EXPECT_EQ(Sha256Hex(""), kEmptySha);
  EXPECT_EQ(UriEncode("a b/c~d:", false), "a%20b%2Fc~d%3A");
  EXPECT_EQ(UriEncode("a b/c~d:", true), "a%20b/c~d%3A");
}

}  // namespace
}  // namespace tether
