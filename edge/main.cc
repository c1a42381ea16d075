// tether edge: relays client requests to the hub over warm TLS links.
#include <cstdio>

#include "common/log.h"
#include "common/metrics.h"
#include "common/process.h"
#include "common/version.h"
#include "edge/edge_server.h"

using namespace tether;

namespace {

constexpr uint64_t kDrainDeadlineMs = 30000;

void Usage() {
  std::fprintf(stderr,
               "usage: edge --config FILE [--check]\n"
               "       edge --version\n"
               "env overrides: PORT, TETHER_HUB (host:port[,host:port]), TETHER_EDGE_TOKEN,\n"
               "               UPSTREAM_TIMEOUT_SEC, DEBUG_LOG=1\n");
}

}  // namespace

int main(int argc, char** argv) {
  CommandLine cl = ParseCommandLine(argc, argv);
  if (cl.version) {
    std::printf("tether edge %s\n", kTetherVersion);
    return 0;
  }
  if (cl.help || !cl.error.empty() || !cl.rest.empty()) {
    if (!cl.error.empty()) std::fprintf(stderr, "edge: %s\n", cl.error.c_str());
    else if (!cl.rest.empty()) std::fprintf(stderr, "edge: unexpected argument %s\n", cl.rest[0].c_str());
    Usage();
    return cl.help ? 0 : 2;
  }
  auto config = LoadEdgeConfig(cl.config);
  if (!config.ok()) {
    std::fprintf(stderr, "edge: config error: %s\n", config.status().message().c_str());
    return 1;
  }
  if (cl.check) {
    std::printf("edge: %s is valid\n", cl.config.empty() ? "configuration" : cl.config.c_str());
    return 0;
  }
  if (config->debug_log) SetLogLevel(LogLevel::kDebug);
  RaiseFileLimit();
  KeepLargeBuffersOnHeap();
  HardenProcess();

  uv_loop_t* loop = uv_default_loop();
  EdgeServer server(loop, *config);
  if (Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "edge: %s\n", st.message().c_str());
    return 1;
  }
  LogInfo("edge", "listening on " + config->listen_host + ":" + std::to_string(server.bound_port()) + ", " +
                      std::to_string(config->hubs.size()) + " hub address(es)");

  // SIGTERM: stop accepting, let in-flight requests finish, then leave the loop.
  Drainer drain(loop, kDrainDeadlineMs, [&] { return server.stats().requests_in_flight; }, [&] { server.Stop(); });
  SignalWatcher signals(
      loop,
      [&] {
        LogInfo("edge", "stopping: no new connections, draining in-flight requests (30 s at most)");
        server.StopAccepting();
        drain.Start();
      },
      [&] {
        auto fresh = LoadEdgeConfig(cl.config);
        if (!fresh.ok()) LogError("edge", "reload rejected, keeping the running config: " + fresh.status().message());
        else LogInfo("edge", "reload: config is valid; listen address, hubs and TLS files take effect on restart");
      });
  BatchLogLinesOnLoop(loop);
  uv_run(loop, UV_RUN_DEFAULT);
  BatchLogLines(false);
  LogInfo("edge", "stopped");
  return 0;
}
