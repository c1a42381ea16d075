#include "common/netmask.h"

#include <arpa/inet.h>

#include <cstring>

namespace tether {

static bool ParseIp(const std::string& ip, unsigned char out[16], int* family) {
  if (inet_pton(AF_INET, ip.c_str(), out) == 1) {
    *family = 4;
    return true;
  }
  if (inet_pton(AF_INET6, ip.c_str(), out) == 1) {
    // IPv4-mapped IPv6 (::ffff:a.b.c.d) is matched as IPv4.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out, kMapped, 12) == 0) {
      std::memmove(out, out + 12, 4);
      *family = 4;
    } else {
      *family = 6;
    }
    return true;
  }
  return false;
}

Status NetworkList::Add(const std::string& cidr) {
  Net n{};
  size_t slash = cidr.find('/');
  std::string ip = cidr.substr(0, slash);
  if (!ParseIp(ip, n.addr, &n.family)) return Status::Error("expected an address or CIDR, got \"" + cidr + "\"");
  int max = n.family == 4 ? 32 : 128;
  n.prefix = max;
  if (slash != std::string::npos) {
    char* end = nullptr;
    long p = std::strtol(cidr.c_str() + slash + 1, &end, 10);
    if (*end || p < 0 || p > max) return Status::Error("bad prefix length in \"" + cidr + "\"");
    n.prefix = static_cast<int>(p);
  }
  nets_.push_back(n);
  return Status::Ok();
}

bool NetworkList::Contains(const std::string& ip) const {
  unsigned char a[16];
  int family;
  if (!ParseIp(ip, a, &family)) return false;
  for (const Net& n : nets_) {
    if (n.family != family) continue;
    int bits = n.prefix, i = 0;
    bool match = true;
    for (; bits >= 8; bits -= 8, ++i)
      if (a[i] != n.addr[i]) { match = false; break; }
    if (match && bits > 0) {
      unsigned char mask = static_cast<unsigned char>(0xff << (8 - bits));
      match = (a[i] & mask) == (n.addr[i] & mask);
    }
    if (match) return true;
  }
  return false;
}

}  // namespace tether
