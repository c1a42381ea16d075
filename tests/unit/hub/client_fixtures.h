// Real client requests captured in ../shared/fixtures/clients (override with
// TETHER_FIXTURES): headers as (name, value) pairs in arrival order, and the
// JSON body when there is one. Run the tests from the repo root.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"

namespace tether::testutil {

struct ClientRecord {
  std::string method, path;
  std::vector<std::pair<std::string, std::string>> headers;
  JsonPtr body;  // null without a JSON body

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k.size() == name.size() && strncasecmp(k.c_str(), name.data(), name.size()) == 0) return v;
    return "";
  }
};

inline std::vector<ClientRecord> LoadClientRecords(const std::string& file) {
  const char* env = std::getenv("TETHER_FIXTURES");
  std::string dir = env && *env ? env : "../shared/fixtures/clients";
  std::ifstream f(dir + "/" + file);
  EXPECT_TRUE(f.good()) << "fixture " << file << " not found under " << dir;
  std::vector<ClientRecord> out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    auto rec = ParseJson(line);
    EXPECT_TRUE(rec.ok()) << file;
    if (!rec.ok()) continue;
    ClientRecord r;
    r.method = JsonStrOr(rec->get(), "method", "");
    r.path = JsonStrOr(rec->get(), "path", "");
    const cJSON* h;
    cJSON_ArrayForEach(h, JsonArr(rec->get(), "headers")) {
      const cJSON* k = cJSON_GetArrayItem(h, 0);
      const cJSON* v = cJSON_GetArrayItem(h, 1);
      if (cJSON_IsString(k) && cJSON_IsString(v)) r.headers.emplace_back(k->valuestring, v->valuestring);
    }
    const cJSON* body = JsonGet(rec->get(), "body");
    if (cJSON_IsObject(body)) {
      r.body.reset(cJSON_Duplicate(body, 1));
    } else if (cJSON_IsString(body)) {
      auto b = ParseJson(body->valuestring);
      if (b.ok()) r.body = std::move(*b);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace tether::testutil
