// tether hub: owns provider credentials, client keys and translation; admits
// edges over TLS. Also: `hub certs init|issue-edge` to create certificates.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "common/log.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/version.h"
#include "hub/admin.h"
#include "hub/hub_server.h"
#include "hub/services.h"

using namespace tether;

namespace {

constexpr uint64_t kDrainDeadlineMs = 30000;

void Usage() {
  std::fprintf(stderr,
               "usage: hub --config FILE [--check]\n"
               "       hub certs init [--dir DIR] [--hub-name DNS[,DNS]] [--hub-ip IP[,IP]]\n"
               "       hub certs issue-edge NAME [--dir DIR]\n"
               "       hub keys create --name NAME [--tenant UID] [--models 'glob,glob'] [--rpm N] [--tpm N]\n"
               "                [--max-concurrent N] [--clients 'fam,fam'] [--expires-at UNIX]\n"
               "                [--daily-budget USD] [--monthly-budget USD] [--config FILE]\n"
               "       hub keys list [--config FILE]\n"
               "       hub keys revoke NAME [--config FILE]\n"
               "       hub usage [--by key|tenant|model|provider] [--since 7d] [--json] [--config FILE]\n"
               "         (keys and usage use the config's data_dir; --config defaults to etc/hub.json)\n"
               "       hub --version\n"
               "env overrides: PORT, TETHER_EDGE_TOKEN, UPSTREAM_TIMEOUT_SEC, DEBUG_LOG=1\n");
}

std::string FlagValue(const std::vector<std::string>& args, const std::string& flag, const std::string& fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag) return args[i + 1];
  return fallback;
}

int Certs(const std::vector<std::string>& args) {
  std::string dir = FlagValue(args, "--dir", "certs");
  ::mkdir(dir.c_str(), 0700);
  if (args.size() >= 2 && args[1] == "init") {
    CertRequest ca;
    ca.common_name = "Tether CA";
    ca.is_ca = true;
    ca.days = 3650;
    if (Status st = GenerateCa(ca, dir + "/ca.pem", dir + "/ca.key"); !st.ok()) {
      std::fprintf(stderr, "hub certs init: %s\n", st.message().c_str());
      return 1;
    }
    CertRequest hub;
    hub.common_name = "tether-hub";
    hub.dns_names = FlagValue(args, "--hub-name", "localhost");
    hub.ip_addresses = FlagValue(args, "--hub-ip", "127.0.0.1,::1");
    if (Status st = IssueCert(hub, dir + "/ca.pem", dir + "/ca.key", dir + "/hub.pem", dir + "/hub.key"); !st.ok()) {
      std::fprintf(stderr, "hub certs init: %s\n", st.message().c_str());
      return 1;
    }
    auto pin = CertFileSha256(dir + "/hub.pem");
    std::printf("wrote %s/ca.pem, ca.key, hub.pem, hub.key\nhub certificate sha256 pin: %s\n", dir.c_str(),
                pin.ok() ? pin->c_str() : "?");
    return 0;
  }
  if (args.size() >= 3 && args[1] == "issue-edge") {
    CertRequest edge;
    edge.common_name = args[2];
    edge.client_auth = true;
    std::string base = dir + "/" + args[2];
    if (Status st = IssueCert(edge, dir + "/ca.pem", dir + "/ca.key", base + ".pem", base + ".key"); !st.ok()) {
      std::fprintf(stderr, "hub certs issue-edge: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("wrote %s.pem and %s.key (copy them and %s/ca.pem to the edge)\n", base.c_str(), base.c_str(), dir.c_str());
    return 0;
  }
  Usage();
  return 2;
}

bool HasFlag(const std::vector<std::string>& args, const std::string& flag) {
  for (const std::string& a : args)
    if (a == flag) return true;
  return false;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// The config the admin commands read data_dir from.
Result<HubConfig> AdminConfig(const std::string& path) { return LoadHubConfig(path.empty() ? "etc/hub.json" : path); }

int Keys(const std::vector<std::string>& args, const std::string& config_path) {
  auto config = AdminConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "hub keys: config error: %s\n", config.status().message().c_str());
    return 1;
  }
  if (Status st = EnsureDir(config->data_dir); !st.ok()) {
    std::fprintf(stderr, "hub keys: %s\n", st.message().c_str());
    return 1;
  }
  auto store = KeyStore::Open(config->data_dir, config->keys);
  if (!store.ok()) {
    std::fprintf(stderr, "hub keys: %s\n", store.status().message().c_str());
    return 1;
  }
  std::string cmd = args.size() >= 2 ? args[1] : "";
  if (cmd == "create") {
    JsonPtr o = JsonNewObj();
    JsonAddStr(o.get(), "name", FlagValue(args, "--name", ""));
    if (std::string t = FlagValue(args, "--tenant", ""); !t.empty()) JsonAddStr(o.get(), "tenant", t);
    auto add_list = [&](const char* flag, const char* key) {
      std::string v = FlagValue(args, flag, "");
      if (v.empty()) return;
      cJSON* arr = JsonAddArr(o.get(), key);
      for (const std::string& item : SplitList(v)) JsonAddStr(arr, nullptr, item);
    };
    add_list("--models", "models");
    add_list("--clients", "clients");
    auto add_num = [&](const char* flag, const char* key) {
      std::string v = FlagValue(args, flag, "");
      if (!v.empty()) JsonAddNum(o.get(), key, std::strtod(v.c_str(), nullptr));
    };
    add_num("--rpm", "rpm");
    add_num("--tpm", "tpm");
    add_num("--max-concurrent", "max_concurrent");
    add_num("--expires-at", "expires_at");
    add_num("--daily-budget", "daily_budget_usd");
    add_num("--monthly-budget", "monthly_budget_usd");
    auto policy = KeyPolicyFromJson(o.get());
    if (!policy.ok()) {
      std::fprintf(stderr, "hub keys create: %s\n", policy.status().message().c_str());
      return 2;
    }
    if (!config->usage_booking && (policy->daily_budget_usd > 0 || policy->monthly_budget_usd > 0)) {
      std::fprintf(stderr, "hub keys create: usage_booking is off in the hub config, so a budget could not be enforced; create the key without one\n");
      return 2;
    }
    std::string name = policy->name;
    auto key = (*store)->Create(std::move(policy.value()));
    if (!key.ok()) {
      std::fprintf(stderr, "hub keys create: %s\n", key.status().message().c_str());
      return 1;
    }
    std::fprintf(stderr, "created key \"%s\"; it is shown once, store it now:\n", name.c_str());
    std::printf("%s\n", key->c_str());
    return 0;
  }
  if (cmd == "list") {
    for (const KeyPolicy& p : (*store)->List()) std::printf("%s\n", KeyPolicyToJson(p).c_str());
    return 0;
  }
  if (cmd == "revoke" && args.size() >= 3) {
    if (Status st = (*store)->Revoke(args[2]); !st.ok()) {
      std::fprintf(stderr, "hub keys revoke: %s\n", st.message().c_str());
      return 1;
    }
    std::printf("revoked %s (a running hub applies it at once for unknown keys, or on SIGHUP)\n", args[2].c_str());
    return 0;
  }
  Usage();
  return 2;
}

int UsageReport(const std::vector<std::string>& args, const std::string& config_path) {
  auto config = AdminConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "hub usage: config error: %s\n", config.status().message().c_str());
    return 1;
  }
  std::string by = FlagValue(args, "--by", "key");
  auto group = ParseUsageGroup(by);
  auto since = ParseSince(FlagValue(args, "--since", "30d"), static_cast<double>(std::time(nullptr)));
  if (!group.ok() || !since.ok()) {
    std::fprintf(stderr, "hub usage: %s\n", (!group.ok() ? group.status() : since.status()).message().c_str());
    return 2;
  }
  if (Status st = EnsureDir(config->data_dir); !st.ok()) {
    std::fprintf(stderr, "hub usage: %s\n", st.message().c_str());
    return 1;
  }
  auto ledger = UsageLedger::Open(config->data_dir + "/usage.db");
  if (!ledger.ok()) {
    std::fprintf(stderr, "hub usage: %s\n", ledger.status().message().c_str());
    return 1;
  }
  auto rows = (*ledger)->Query(*group, *since);
  if (!rows.ok()) {
    std::fprintf(stderr, "hub usage: %s\n", rows.status().message().c_str());
    return 1;
  }
  if (HasFlag(args, "--json")) {
    std::printf("%s\n", UsageTotalsJson(*rows, by, *since).c_str());
    return 0;
  }
  std::printf("%-24s %9s %12s %12s %12s %12s %10s\n", by.c_str(), "requests", "input", "output", "cache_read", "cache_write", "cost_usd");
  for (const UsageTotals& r : *rows)
    std::printf("%-24s %9lld %12lld %12lld %12lld %12lld %10.4f\n", r.group.c_str(), static_cast<long long>(r.requests),
                static_cast<long long>(r.input_tokens), static_cast<long long>(r.output_tokens),
                static_cast<long long>(r.cache_read_tokens), static_cast<long long>(r.cache_write_tokens), r.cost_usd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ReexecWithMallocCache(argv, 128);
  CommandLine cl = ParseCommandLine(argc, argv);
  if (cl.version) {
    std::printf("tether hub %s\n", kTetherVersion);
    return 0;
  }
  if (!cl.rest.empty() && cl.rest[0] == "certs") return Certs(cl.rest);
  if (!cl.rest.empty() && cl.rest[0] == "keys") return Keys(cl.rest, cl.config);
  if (!cl.rest.empty() && cl.rest[0] == "usage") return UsageReport(cl.rest, cl.config);
  if (cl.help || !cl.error.empty() || !cl.rest.empty()) {
    if (!cl.error.empty()) std::fprintf(stderr, "hub: %s\n", cl.error.c_str());
    else if (!cl.rest.empty()) std::fprintf(stderr, "hub: unknown command %s\n", cl.rest[0].c_str());
    Usage();
    return cl.help ? 0 : 2;
  }
  auto config = LoadHubConfig(cl.config);
  if (!config.ok()) {
    std::fprintf(stderr, "hub: config error: %s\n", config.status().message().c_str());
    return 1;
  }
  if (cl.check) {
    std::printf("hub: %s is valid\n", cl.config.empty() ? "configuration" : cl.config.c_str());
    return 0;
  }
  if (config->debug_log) SetLogLevel(LogLevel::kDebug);
  RaiseFileLimit();
  KeepLargeBuffersOnHeap();
  HardenProcess();
  if (config->keys.empty())
    LogWarn("hub", "no client keys in the config: unless keys were created with `hub keys create`, any client may use this hub");

  uv_loop_t* loop = uv_default_loop();
  HubServer server(loop, std::move(config.value()));
  if (Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "hub: %s\n", st.message().c_str());
    return 1;
  }
  LogInfo("hub", "listening for edges on " + server.config().listen_host + ":" + std::to_string(server.tls_port()) +
                     (server.plain_port() ? ", plain on " + server.config().plain_host + ":" + std::to_string(server.plain_port()) : ""));

  // SIGTERM: stop accepting, let in-flight requests finish, then leave the loop.
  Drainer drain(loop, kDrainDeadlineMs, [&] { return server.stats().requests_in_flight; }, nullptr);
  SignalWatcher signals(
      loop,
      [&] {
        LogInfo("hub", "stopping: no new connections, draining in-flight requests (30 s at most)");
        server.StopAccepting();
        drain.Start();
      },
      [&] {
        auto fresh = LoadHubConfig(cl.config);
        if (!fresh.ok()) {
          LogError("hub", "reload rejected, keeping the running config: " + fresh.status().message());
          return;
        }
        server.Reload(std::move(fresh.value()));
        LogInfo("hub", "reloaded: keys, providers and model maps apply to new requests; listeners and TLS files need a restart");
      });
  BatchLogLinesOnLoop(loop);
  uv_run(loop, UV_RUN_DEFAULT);
  BatchLogLines(false);
  // Every booked request reaches the disk before the process ends.
  if (Status st = server.services().ledger().Flush(); !st.ok()) LogError("hub", "usage ledger: " + st.message());
  LogInfo("hub", "stopped");
  return 0;
}
