// Source-network allow lists ("127.0.0.0/8", "::1/128") for local endpoints.
#pragma once
#include <string>
#include <vector>

#include "common/status.h"

namespace tether {

class NetworkList {
 public:
  Status Add(const std::string& cidr);  // "a.b.c.d/n", "v6/n", or a bare address
  bool Contains(const std::string& ip) const;  // false for unparsable input
  bool empty() const { return nets_.empty(); }

 private:
  struct Net {
    unsigned char addr[16];
    int family;  // 4 or 6
    int prefix;
  };
  std::vector<Net> nets_;
};

}  // namespace tether
