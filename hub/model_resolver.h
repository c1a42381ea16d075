// Model resolution, pure: which provider serves a requested model and under
// which name. Order: explicit "provider/model"; the global model_map; a
// provider alias; the first provider listing the model; a provider glob
// ("claude-*"). The winner's own name for the model is what goes upstream.
#pragma once
#include <string>
#include <vector>

#include "hub/hub_config.h"

namespace tether {

struct ResolvedModel {
  int provider = -1;          // index into HubConfig::providers
  std::string upstream_model; // the name sent to the provider
};

// Returns provider -1 when nothing serves the model.
ResolvedModel ResolveModel(const HubConfig& config, const std::string& requested);

// Shell-style match with '*' and '?'.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace tether
