#include "hub/request_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/json.h"

namespace tether {
namespace {

std::string TempDir(const char* tag) {
  static int n = 0;
  std::string dir = ::testing::TempDir() + "reqlog_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

const char* kClientKey = "sk-tether-very-secret-key-7788";

RequestLogEntry SampleEntry() {
  RequestLogEntry e;
  e.unix_ms = 1735689600123;  // 2025-01-01T00:00:00.123Z
  e.request_id = "req-1";
  e.key_name = "alice";
  e.tenant = "u1";
  e.client_family = "claude_code";
  e.method = "POST";
  e.target = "/u1/v1/messages";
  e.headers = {{"Authorization", std::string("Bearer ") + kClientKey},
               {"x-api-key", kClientKey},
               {"User-Agent", "claude-cli/2.1.0 (external, cli)"}};
  e.status = 200;
  e.model = "claude-sonnet-4-6";
  e.provider = "anthropic";
  e.account = "acct0";
  e.ttfb_ms = 12;
  e.duration_ms = 34;
  e.request = {R"({"model":"claude-sonnet-4-6","messages":[]})", 41};
  e.response = {R"({"type":"message"})", 18};
  return e;
}

TEST(RequestLogMask, CredentialHeadersKeepAtMostTheLastFourCharacters) {
  EXPECT_EQ(MaskHeaderValue("Authorization", std::string("Bearer ") + kClientKey), "Bearer ****7788");
  for (const char* name : {"x-api-key", "X-Goog-Api-Key", "api-key", "X-Tether-Edge-Token", "Cookie", "x-amz-security-token"})
    EXPECT_EQ(MaskHeaderValue(name, kClientKey), "****7788") << name;
  EXPECT_EQ(MaskHeaderValue("x-api-key", "short"), "****");  // too short to show any of it
  EXPECT_EQ(MaskHeaderValue("Authorization", "opaque-token-without-scheme"), "****heme");
  EXPECT_EQ(MaskHeaderValue("User-Agent", "OpenAI/JS 6.49.0"), "OpenAI/JS 6.49.0");
  EXPECT_EQ(MaskHeaderValue("anthropic-version", "2023-06-01"), "2023-06-01");
}

TEST(RequestLogMask, KeyLikeQueryParametersAreMasked) {
  EXPECT_EQ(MaskTarget("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=AIzaSyVerySecret9876"),
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=****9876");
  EXPECT_EQ(MaskTarget("/x?KEY=abcdefghijkl&api_key=mnopqrstuvwx&token=t"), "/x?KEY=****ijkl&api_key=****uvwx&token=****");
  EXPECT_EQ(MaskTarget("/v1/chat/completions"), "/v1/chat/completions");
  EXPECT_EQ(MaskTarget("/x?monkey=banana&key"), "/x?monkey=banana&key");  // no value, nothing to hide
}

TEST(RequestLogFormat, OneParseableLineWithMaskedHeadersAndNoSecret) {
  RequestLogEntry e = SampleEntry();
  e.target = "/v1beta/models/g:generateContent?key=" + std::string(kClientKey);
  std::string line = FormatRequestLogLine(e, 1024);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  EXPECT_EQ(line.find(kClientKey), std::string::npos) << line;
  EXPECT_EQ(line.find("very-secret"), std::string::npos) << line;
  auto j = ParseJson(line);
  ASSERT_TRUE(j.ok()) << line;
  EXPECT_EQ(JsonStrOr(j->get(), "time", ""), "2025-01-01T00:00:00.123Z");
  EXPECT_EQ(JsonStrOr(j->get(), "id", ""), "req-1");
  EXPECT_EQ(JsonStrOr(j->get(), "key", ""), "alice");
  EXPECT_EQ(JsonStrOr(j->get(), "tenant", ""), "u1");
  EXPECT_EQ(JsonStrOr(j->get(), "path", ""), "/v1beta/models/g:generateContent?key=****7788");
  EXPECT_EQ(JsonNum(j->get(), "status", 0), 200);
  EXPECT_EQ(JsonNum(j->get(), "ttfb_ms", -1), 12);
  const cJSON* h = JsonObj(j->get(), "headers");
  EXPECT_EQ(JsonStrOr(h, "Authorization", ""), "Bearer ****7788");
  EXPECT_EQ(JsonStrOr(h, "x-api-key", ""), "****7788");
  EXPECT_EQ(JsonStrOr(h, "User-Agent", ""), "claude-cli/2.1.0 (external, cli)");
  const cJSON* req = JsonObj(j->get(), "request");
  EXPECT_EQ(JsonStrOr(req, "body", ""), e.request.text);
  EXPECT_FALSE(JsonBool(req, "truncated", true));
  EXPECT_EQ(JsonNum(req, "bytes", 0), 41);
  EXPECT_EQ(JsonStrOr(JsonObj(j->get(), "response"), "body", ""), R"({"type":"message"})");
}

TEST(RequestLogFormat, LongBodiesAreCutAndSaySo) {
  RequestLogEntry e = SampleEntry();
  e.request = {std::string(5000, 'a'), 5000};
  // A capture that kept 100 of 9000 bytes is marked truncated as well.
  e.response = {std::string(100, 'b'), 9000};
  auto j = ParseJson(FormatRequestLogLine(e, 100));
  ASSERT_TRUE(j.ok());
  const cJSON* req = JsonObj(j->get(), "request");
  EXPECT_TRUE(JsonBool(req, "truncated", false));
  EXPECT_EQ(JsonNum(req, "bytes", 0), 5000);
  EXPECT_EQ(JsonStrOr(req, "body", ""), std::string(100, 'a'));
  const cJSON* resp = JsonObj(j->get(), "response");
  EXPECT_TRUE(JsonBool(resp, "truncated", false));
  EXPECT_EQ(JsonNum(resp, "bytes", 0), 9000);
  EXPECT_EQ(JsonStrOr(resp, "body", ""), std::string(100, 'b'));
}

TEST(RequestLogFormat, CutsOnUtf8BoundariesAndReplacesInvalidBytes) {
  RequestLogEntry e = SampleEntry();
  std::string text;
  for (int i = 0; i < 10; ++i) text += "\xE2\x82\xAC";  // "€", three bytes each
  e.request = {text, text.size()};
  e.response = {std::string("ok\xFF\xC3(\x01"), 6};
  // 7 bytes would end inside the third "€": the cut backs up to 6.
  std::string line = FormatRequestLogLine(e, 7);
  auto j = ParseJson(line);
  ASSERT_TRUE(j.ok()) << line;
  const cJSON* req = JsonObj(j->get(), "request");
  EXPECT_EQ(JsonStrOr(req, "body", ""), "\xE2\x82\xAC\xE2\x82\xAC");
  EXPECT_TRUE(JsonBool(req, "truncated", false));
  EXPECT_EQ(JsonStrOr(JsonObj(j->get(), "response"), "body", ""), "ok\xEF\xBF\xBD\xEF\xBF\xBD(\x01");
  EXPECT_NE(line.find("\\u0001"), std::string::npos);
}

TEST(RotatingFile, KeepsMaxFilesAndRotatesBetweenLines) {
  std::string dir = TempDir("rotate");
  auto f = RotatingFile::Open(dir, 100, 3);
  ASSERT_TRUE(f.ok()) << f.status().message();
  // 40-byte lines: two fit in 100 bytes, the third starts a new file.
  auto line = [](int i) {
    std::string s = "line " + std::to_string(i) + " ";
    s.resize(39, 'x');
    return s + "\n";
  };
  for (int i = 1; i <= 9; ++i) ASSERT_TRUE((*f)->Append(line(i)).ok());
  ASSERT_TRUE((*f)->Append(line(10)).ok());
  EXPECT_EQ((*f)->rotations(), 4u);
  EXPECT_EQ(ReadFile(dir + "/requests.jsonl"), line(9) + line(10));
  EXPECT_EQ(ReadFile(dir + "/requests.1.jsonl"), line(7) + line(8));
  EXPECT_EQ(ReadFile(dir + "/requests.2.jsonl"), line(5) + line(6));
  EXPECT_FALSE(std::filesystem::exists(dir + "/requests.3.jsonl"));
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_LE(std::filesystem::file_size(entry.path()), 100u) << entry.path();
  }
  EXPECT_EQ(files, 3u);
}

TEST(RotatingFile, ABatchRotatesInsideAndAnOversizedLineGetsItsOwnFile) {
  std::string dir = TempDir("batch");
  auto f = RotatingFile::Open(dir, 100, 5);
  ASSERT_TRUE(f.ok());
  std::string small(59, 's'), big(249, 'B');
  ASSERT_TRUE((*f)->Append(small + "\n" + small + "\n" + big + "\n" + small + "\n").ok());
  EXPECT_EQ((*f)->rotations(), 3u);
  EXPECT_EQ(ReadFile(dir + "/requests.3.jsonl"), small + "\n");
  EXPECT_EQ(ReadFile(dir + "/requests.2.jsonl"), small + "\n");
  EXPECT_EQ(ReadFile(dir + "/requests.1.jsonl"), big + "\n");
  EXPECT_EQ(ReadFile(dir + "/requests.jsonl"), small + "\n");
}

TEST(RotatingFile, ContinuesAnExistingFile) {
  std::string dir = TempDir("reopen");
  {
    auto f = RotatingFile::Open(dir, 100, 2);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(std::string(59, 'a') + "\n").ok());
  }
  auto f = RotatingFile::Open(dir, 100, 2);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(std::string(59, 'b') + "\n").ok());  // 120 > 100: rotates first
  EXPECT_EQ((*f)->rotations(), 1u);
  EXPECT_EQ(ReadFile(dir + "/requests.1.jsonl"), std::string(59, 'a') + "\n");
}

TEST(RequestLog, WritesOneLinePerEntryAndFlushes) {
  RequestLogConfig c;
  c.dir = TempDir("log") + "/nested/requests";  // created on open
  auto log = RequestLog::Open(c);
  ASSERT_TRUE(log.ok()) << log.status().message();
  for (int i = 0; i < 3; ++i) {
    RequestLogEntry e = SampleEntry();
    e.request_id = "req-" + std::to_string(i);
    EXPECT_TRUE((*log)->Record(std::move(e)));
  }
  ASSERT_TRUE((*log)->Flush().ok());
  std::vector<std::string> lines = Lines(ReadFile(c.dir + "/requests.jsonl"));
  ASSERT_EQ(lines.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    auto j = ParseJson(lines[i]);
    ASSERT_TRUE(j.ok()) << lines[i];
    EXPECT_EQ(JsonStrOr(j->get(), "id", ""), "req-" + std::to_string(i));
  }
  RequestLog::Stats st = (*log)->stats();
  EXPECT_EQ(st.recorded, 3u);
  EXPECT_EQ(st.written, 3u);
  EXPECT_EQ(st.dropped, 0u);
  EXPECT_EQ(std::filesystem::status(c.dir + "/requests.jsonl").permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
}

TEST(RequestLog, DestructorWritesWhatIsQueued) {
  RequestLogConfig c;
  c.dir = TempDir("stop");
  {
    auto log = RequestLog::Open(c);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 5; ++i) (*log)->Record(SampleEntry());
  }
  EXPECT_EQ(Lines(ReadFile(c.dir + "/requests.jsonl")).size(), 5u);
}

// A sink that blocks until released: a stalled disk.
struct StalledSink {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  size_t lines = 0;
  Status Write(std::string_view batch) {
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
    for (char ch : batch) lines += ch == '\n';
    return Status::Ok();
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

TEST(RequestLog, AFullQueueDropsAndCountsInsteadOfBlocking) {
  StalledSink sink;
  RequestLogConfig c;
  c.max_body_bytes = 1024;
  auto log = RequestLog::OpenWithSink(c, 16 * 1024, [&](std::string_view b) { return sink.Write(b); });
  ASSERT_TRUE(log->Record(SampleEntry()));
  sink.WaitEntered();  // the writer holds the first entry and is stuck
  uint64_t accepted = 0, refused = 0;
  for (int i = 0; i < 200; ++i) {
    if (log->Record(SampleEntry())) ++accepted;
    else ++refused;
  }
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(refused, 0u);
  RequestLog::Stats st = log->stats();
  EXPECT_EQ(st.dropped, refused);
  EXPECT_EQ(st.recorded, accepted + 1);
  sink.Release();
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(sink.lines, accepted + 1);
  EXPECT_EQ(log->stats().written, accepted + 1);
  EXPECT_TRUE(log->Record(SampleEntry())) << "room again once the writer caught up";
}

TEST(RequestLogConfig, ParsedFromHubJsonAndOffByDefault) {
  auto write = [](const std::string& extra) {
    static int n = 0;
    std::string path = ::testing::TempDir() + "reqlog_cfg_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".json";
    std::ofstream(path) << R"({"tls":{"cert":"c","key":"k","client_ca":"ca"})" << extra << "}";
    return path;
  };
  auto off = LoadHubConfig(write(""));
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_TRUE(off->request_log.dir.empty());
  auto on = LoadHubConfig(write(R"(,"request_log":{"dir":"/tmp/r","max_body_bytes":100,"max_files":2})"));
  ASSERT_TRUE(on.ok()) << on.status().message();
  EXPECT_EQ(on->request_log.dir, "/tmp/r");
  EXPECT_EQ(on->request_log.max_body_bytes, 100u);
  EXPECT_EQ(on->request_log.max_file_bytes, 10u << 20);
  EXPECT_EQ(on->request_log.max_files, 2);
  auto typo = LoadHubConfig(write(R"(,"request_log":{"dir":"/tmp/r","max_file":2})"));
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("request_log.max_file"), std::string::npos) << typo.status().message();
  auto nodir = LoadHubConfig(write(R"(,"request_log":{"max_files":2})"));
  ASSERT_FALSE(nodir.ok());
  EXPECT_NE(nodir.status().message().find("request_log.dir"), std::string::npos) << nodir.status().message();
}

}  // namespace
}  // namespace tether
