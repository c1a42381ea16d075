#include "common/process.h"

#include <malloc.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/metrics.h"
#include "common/net.h"

namespace tether {

CommandLine ParseCommandLine(int argc, char** argv) {
  CommandLine c;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 >= argc) {
        c.error = a + " needs a file name";
        return c;
      }
      c.config = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      c.config = a.substr(9);
    } else if (a == "--check") {
      c.check = true;
    } else if (a == "--version" || a == "-V") {
      c.version = true;
    } else if (a == "--help" || a == "-h") {
      c.help = true;
    } else {
      c.rest.push_back(a);
    }
  }
  return c;
}

void RaiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

void ReexecWithMallocCache(char** argv, int per_size) {
  const char* current = std::getenv("GLIBC_TUNABLES");
  std::string tunables = current ? current : "";
  if (tunables.find("glibc.malloc.tcache_count") != std::string::npos) return;  // set by the operator, or done
  tunables += (tunables.empty() ? "" : ":") + std::string("glibc.malloc.tcache_count=") + std::to_string(per_size);
  if (setenv("GLIBC_TUNABLES", tunables.c_str(), 1) != 0) return;
  // The binary's own path, so that ps and top show "hub" or "edge" rather
  // than the "exe" of /proc/self/exe; that link is the fallback (for a binary
  // replaced on disk since it started, say).
  char self[4096];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    execv(self, argv);
  }
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with the default cache.
  if (current) setenv("GLIBC_TUNABLES", current, 1);
  else unsetenv("GLIBC_TUNABLES");
}

void KeepLargeBuffersOnHeap() {
  mallopt(M_MMAP_THRESHOLD, kLargeBufferBytes);
  mallopt(M_TRIM_THRESHOLD, 4 * kLargeBufferBytes);
}

void HardenProcess() {
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

SignalWatcher::SignalWatcher(uv_loop_t* loop, std::function<void()> on_stop, std::function<void()> on_reload)
    : on_stop_(std::move(on_stop)), on_reload_(std::move(on_reload)) {
  std::signal(SIGPIPE, SIG_IGN);
  term_ = new uv_signal_t;
  intr_ = new uv_signal_t;
  hup_ = new uv_signal_t;
  for (uv_signal_t* s : {term_, intr_, hup_}) {
    uv_signal_init(loop, s);
    s->data = this;
  }
  uv_signal_start(term_, OnSignal, SIGTERM);
  uv_signal_start(intr_, OnSignal, SIGINT);
  uv_signal_start(hup_, OnSignal, SIGHUP);
}

SignalWatcher::~SignalWatcher() { Close(); }

void SignalWatcher::Close() {
  for (uv_signal_t** s : {&term_, &intr_, &hup_}) {
    if (!*s) continue;
    uv_close(reinterpret_cast<uv_handle_t*>(*s), [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_signal_t*>(h); });
    *s = nullptr;
  }
}

void SignalWatcher::OnSignal(uv_signal_t* s, int signum) noexcept {
  auto* self = static_cast<SignalWatcher*>(s->data);
  if (signum == SIGHUP) {
    if (self->on_reload_) self->on_reload_();
    return;
  }
  if (++self->stops_ > 1) std::_Exit(1);
  if (self->on_stop_) self->on_stop_();
}

Drainer::Drainer(uv_loop_t* loop, uint64_t deadline_ms, std::function<uint64_t()> in_flight,
                 std::function<void()> stopped)
    : timer_(new uv_timer_t), deadline_ms_(deadline_ms), in_flight_(std::move(in_flight)), stopped_(std::move(stopped)) {
  uv_timer_init(loop, timer_);
  timer_->data = this;
}

Drainer::~Drainer() {
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
}

void Drainer::Start() {
  started_ms_ = NowMs();
  uv_timer_start(timer_, OnTick, 0, 100);
}

void Drainer::OnTick(uv_timer_t* t) noexcept {
  auto* self = static_cast<Drainer*>(t->data);
  // Done when nothing is in flight and every response has left the process.
  bool busy = self->in_flight_() > 0 || TotalQueuedBytes() > 0;
  if (busy && NowMs() - self->started_ms_ <= self->deadline_ms_) return;
  uv_timer_stop(t);
  if (self->stopped_) self->stopped_();
  uv_stop(t->loop);
}

}  // namespace tether
