#include "hub/model_resolver.h"

namespace tether {

bool GlobMatch(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

static ResolvedModel ResolveOnce(const HubConfig& c, const std::string& name) {
  size_t slash = name.find('/');
  if (slash != std::string::npos) {
    std::string id = name.substr(0, slash);
    for (size_t i = 0; i < c.providers.size(); ++i)
      if (c.providers[i].id == id) return {static_cast<int>(i), name.substr(slash + 1)};
  }
  for (size_t i = 0; i < c.providers.size(); ++i)
    for (const ModelEntry& m : c.providers[i].models)
      if (!m.alias.empty() && m.alias == name) return {static_cast<int>(i), m.name};
  for (size_t i = 0; i < c.providers.size(); ++i)
    for (const ModelEntry& m : c.providers[i].models)
      if (m.name == name) return {static_cast<int>(i), m.name};
  for (size_t i = 0; i < c.providers.size(); ++i)
    for (const std::string& g : c.providers[i].model_globs)
      if (GlobMatch(g, name)) return {static_cast<int>(i), name};
  return {};
}

ResolvedModel ResolveModel(const HubConfig& c, const std::string& requested) {
  // Explicit provider/model wins over everything, even a mapping.
  size_t slash = requested.find('/');
  if (slash != std::string::npos) {
    std::string id = requested.substr(0, slash);
    for (size_t i = 0; i < c.providers.size(); ++i)
      if (c.providers[i].id == id) return {static_cast<int>(i), requested.substr(slash + 1)};
  }
  auto mapped = c.model_map.find(requested);
  if (mapped != c.model_map.end()) {
    ResolvedModel r = ResolveOnce(c, mapped->second);
    if (r.provider >= 0) return r;
  }
  return ResolveOnce(c, requested);
}

}  // namespace tether
