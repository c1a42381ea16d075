// Helpers for the translator tests: client fixtures, golden files, and
// running SSE through a decoder/encoder whole or one byte at a time.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/sse.h"
#include "hub/formats/translate.h"

namespace tether::testutil {

inline std::string FixturesDir() {
  const char* env = std::getenv("TETHER_FIXTURES");
  return env && *env ? env : "../shared/fixtures/clients";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string Golden(const std::string& name) {
  std::string text = ReadFile("tests/unit/hub/formats/golden/" + name);
  EXPECT_FALSE(text.empty()) << "missing golden file " << name << " (run from the repo root)";
  return text;
}

// Parses JSON text; a parse failure fails the test and returns an empty object.
inline JsonPtr J(std::string_view text) {
  auto r = ParseJson(text);
  EXPECT_TRUE(r.ok()) << r.status().message() << " in: " << text.substr(0, 200);
  return r.ok() ? std::move(*r) : JsonNewObj();
}

struct Captured {
  std::string file, path;
  JsonPtr body;
};

// Request bodies from a fixture file (one JSON object per line). "body" may
// be an object or a JSON string; records without a body are skipped.
inline std::vector<Captured> LoadRequests(const std::string& file) {
  std::vector<Captured> out;
  std::string text = ReadFile(FixturesDir() + "/" + file);
  EXPECT_FALSE(text.empty()) << "fixture " << file << " not found under " << FixturesDir();
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    JsonPtr rec = J(line);
    const cJSON* body = JsonGet(rec.get(), "body");
    JsonPtr b;
    if (cJSON_IsObject(body)) b.reset(cJSON_Duplicate(body, true));
    else if (cJSON_IsString(body)) b = J(body->valuestring);
    else continue;
    out.push_back({file, JsonStrOr(rec.get(), "path", ""), std::move(b)});
  }
  return out;
}

// "created" is the wall clock; everything else in a chunk is deterministic.
inline std::string StableChunk(const cJSON* chunk) {
  JsonPtr c(cJSON_Duplicate(chunk, true));
  cJSON_DeleteItemFromObjectCaseSensitive(c.get(), "created");
  return PrintJson(c.get());
}

// Feeds `sse` through a fresh decoder (whole, or one byte per Feed) and
// returns the pivot chunks, each printed without "created".
inline std::vector<std::string> Decode(ApiFormat provider, std::string_view sse, bool bytewise) {
  auto dec = NewStreamDecoder(provider);
  std::vector<JsonPtr> chunks;
  SseParser parser([&](const SseEvent& ev) { dec->Decode(ev, &chunks); });
  if (bytewise) {
    for (char c : sse) parser.Feed(std::string_view(&c, 1));
  } else {
    parser.Feed(sse);
  }
  parser.Finish();
  dec->Finish(&chunks);
  std::vector<std::string> out;
  for (const auto& c : chunks) out.push_back(StableChunk(c.get()));
  return out;
}

struct Ev {
  std::string event, data;
};
// Splits SSE text into events, one byte at a time (proves the framing).
inline std::vector<Ev> SplitSse(std::string_view sse) {
  std::vector<Ev> out;
  SseParser parser([&](const SseEvent& ev) { out.push_back({ev.event, ev.data}); });
  for (char c : sse) parser.Feed(std::string_view(&c, 1));
  parser.Finish();
  return out;
}

// Lines of a golden .jsonl file (blank lines skipped).
inline std::vector<std::string> GoldenLines(const std::string& name) {
  std::vector<std::string> out;
  std::istringstream in(Golden(name));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace tether::testutil
