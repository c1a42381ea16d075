// tether hub: owns provider credentials, client keys and translation; admits
// edges over TLS. Also: `hub certs init|issue-edge` to create certificates.
#include <sys/stat.h>

#include <cstdio>

#include "common/log.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/version.h"
#include "hub/hub_server.h"

using namespace tether;

namespace {

constexpr uint64_t kDrainDeadlineMs = 30000;

void Usage() {
  std::fprintf(stderr,
               "usage: hub --config FILE [--check]\n"
               "       hub certs init [--dir DIR] [--hub-name DNS[,DNS]] [--hub-ip IP[,IP]]\n"
               "       hub certs issue-edge NAME [--dir DIR]\n"
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

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl = ParseCommandLine(argc, argv);
  if (cl.version) {
    std::printf("tether hub %s\n", kTetherVersion);
    return 0;
  }
  if (!cl.rest.empty() && cl.rest[0] == "certs") return Certs(cl.rest);
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
  if (config->client_keys.empty()) LogWarn("hub", "no client_keys configured: any client may use this hub");

  uv_loop_t* loop = uv_default_loop();
  HubServer server(loop, std::move(config.value()));
  if (Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "hub: %s\n", st.message().c_str());
    return 1;
  }
  LogInfo("hub", "listening for edges on " + server.config().listen_host + ":" + std::to_string(server.tls_port()) +
                     (server.plain_port() ? ", plain on " + server.config().plain_host + ":" + std::to_string(server.plain_port()) : ""));

  struct Drain {
    HubServer* server;
    uint64_t started_ms = 0;
    uv_timer_t timer;
  };
  Drain drain;
  drain.server = &server;
  uv_timer_init(loop, &drain.timer);
  drain.timer.data = &drain;
  SignalWatcher signals(
      loop,
      [&] {
        LogInfo("hub", "stopping: no new connections, draining in-flight requests (30 s at most)");
        server.StopAccepting();
        drain.started_ms = NowMs();
        uv_timer_start(&drain.timer, [](uv_timer_t* t) noexcept {
          auto* d = static_cast<Drain*>(t->data);
          if (d->server->stats().requests_in_flight == 0 || NowMs() - d->started_ms > kDrainDeadlineMs) uv_stop(t->loop);
        }, 0, 100);
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
  uv_run(loop, UV_RUN_DEFAULT);
  LogInfo("hub", "stopped");
  return 0;
}
