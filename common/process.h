// Process plumbing shared by both binaries: command-line flags, signal
// handling on the loop (SIGTERM/SIGINT drain, SIGHUP reload).
#pragma once
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tether {

struct CommandLine {
  std::string config;  // --config FILE
  bool check = false;  // --check: validate and exit
  bool version = false;
  bool help = false;
  std::vector<std::string> rest;  // positional words (subcommands)
  std::string error;              // set when the flags do not parse
};
CommandLine ParseCommandLine(int argc, char** argv);

// Raises the soft open-files limit to the hard limit: each relayed request
// holds two sockets, and the usual soft limit of 1024 caps a relay at ~500.
void RaiseFileLimit();

// Restarts the process image once (same PID, same arguments) with glibc's
// per-thread cache of freed blocks raised from 7 to `per_size` chunks per
// size class, unless GLIBC_TUNABLES already sets it. A JSON-translating hub
// frees and reallocates hundreds of small blocks per request; with the
// default cache most of them take malloc's slow path (about a sixth fewer
// instructions per translated request with 128). Call first thing in main,
// before any thread exists. Returns only if nothing was done or exec failed.
void ReexecWithMallocCache(char** argv, int per_size);

// Request bodies pass through 64 KiB-256 KiB buffers (a Claude Code request
// is about 80 KB). glibc serves blocks from 128 KiB up with a fresh mmap and
// trims the heap top after 128 KiB of frees, so each such request paid page
// faults and zeroing on every buffer (about a sixth of the edge's CPU on a
// 78 KB request). Heap blocks up to kLargeBufferBytes and a trim threshold
// of 4x that keep them resident; RSS after a burst holds at most the trim
// threshold more. Call once at start, before threads.
inline constexpr int kLargeBufferBytes = 1 << 20;
void KeepLargeBuffersOnHeap();

// Keeps secrets out of core dumps and away from same-user ptrace: core size
// 0 and PR_SET_DUMPABLE off. Called once at start by both binaries.
void HardenProcess();

// Runs on the loop thread. on_stop is called once for SIGTERM or SIGINT (a
// second one exits at once); on_reload for every SIGHUP.
class SignalWatcher {
 public:
  SignalWatcher(uv_loop_t* loop, std::function<void()> on_stop, std::function<void()> on_reload);
  ~SignalWatcher();
  void Close();  // lets the loop exit

 private:
  static void OnSignal(uv_signal_t* s, int signum) noexcept;
  uv_signal_t* term_;
  uv_signal_t* intr_;
  uv_signal_t* hup_;
  std::function<void()> on_stop_, on_reload_;
  int stops_ = 0;
};

// Graceful stop after SIGTERM: polls `in_flight` every 100 ms and, once it
// is zero or `deadline_ms` has passed, calls `stopped` and leaves the loop.
// REQUIRES: loop outlives this object.
class Drainer {
 public:
  Drainer(uv_loop_t* loop, uint64_t deadline_ms, std::function<uint64_t()> in_flight,
          std::function<void()> stopped);
  ~Drainer();
  void Start();

 private:
  static void OnTick(uv_timer_t* t) noexcept;
  uv_timer_t* timer_;
  uint64_t deadline_ms_;
  uint64_t started_ms_ = 0;
  std::function<uint64_t()> in_flight_;
  std::function<void()> stopped_;
};

}  // namespace tether
