// loadgen: a small single-threaded HTTP/1.1 load client for tests/bench.
// wrk cannot run an exact number of requests at concurrency 1 or time SSE
// events, so the benchmark uses this for every path (direct, nginx, Tether),
// which keeps the client cost identical across them.
//
//   loadgen MODE --url http://127.0.0.1:PORT/path [-H 'Name: value']...
//           [--body JSON] [-n N] [-c C] [--seconds S] [--hold-ms MS] [--pids P,P]
// Modes (one JSON line on stdout):
//   latency  N requests over C keep-alive connections (after N/20 warm-up):
//            {"requests","errors","p50_us","p99_us","mean_us","rps"}
//   rps      C connections for S seconds: same fields
//   sse      N streams one after another: time to the response head (mean
//            and median), the mean arrival time of each "data:" event since
//            the request, and, for events the mock stamped (x-mock-stamp: 1,
//            ": sent_us=T" comments), how long each took from the mock to
//            here — the relay's per-chunk delay:
//            {"streams","errors","ttfb_us","ttfb_p50_us","mean_event_us","events",
//             "chunk_delay_p50_us","chunk_delay_p99_us","chunk_delay_mean_us","stamped"}
//   hold     C concurrent streams; once every one has its first event, samples
//            VmRSS of --pids, waits hold-ms, samples again:
//            {"streams","rss_kb":[[pid,kb],...],"rss_kb_end":[...]}
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/http.h"
#include "common/net.h"

using namespace tether;

namespace {

struct Options {
  std::string mode, host = "127.0.0.1", path = "/", method = "GET", body;
  int port = 80;
  std::vector<std::string> headers;
  int n = 1000, c = 1;
  double seconds = 10;
  int hold_ms = 2000;
  std::vector<int> pids;
};

uint64_t NowUs() { return uv_hrtime() / 1000; }

long RssKb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

class Load;

// One keep-alive connection sending requests back to back.
class Conn : public StreamHandler {
 public:
  Conn(Load* load) : load_(load), parser_(HttpParser::Kind::kResponse, HttpLimits{}, Callbacks()) {}
  void Start();
  void OnStreamOpen(Stream*) override {}
  void OnStreamData(Stream* s, const char* data, size_t len) override;
  void OnStreamClosed(Stream* s, const Status& why) override;
  void Send();

  bool got_event = false;

 private:
  HttpParser::Callbacks Callbacks();
  Load* load_;
  Stream* stream_ = nullptr;
  HttpParser parser_;
  uint64_t sent_us_ = 0;
  bool in_request_ = false;
  bool done_ = false;
};

class Load {
 public:
  Load(uv_loop_t* loop, Options o) : loop(loop), opt(std::move(o)) {
    request = opt.method + " " + opt.path + " HTTP/1.1\r\nHost: " + opt.host + ":" + std::to_string(opt.port) + "\r\n";
    for (const auto& h : opt.headers) request += h + "\r\n";
    if (!opt.body.empty()) {
      bool has_type = false;
      for (const auto& h : opt.headers) has_type |= EqualsIgnoreCase(h.substr(0, 13), "content-type:");
      if (!has_type) request += "Content-Type: application/json\r\n";
      request += "Content-Length: " + std::to_string(opt.body.size()) + "\r\n";
    }
    request += "\r\n" + opt.body;
  }

  // True when another request may start (counts it as started).
  bool Next() {
    if (opt.mode == "rps") return NowUs() < deadline_us;
    if (opt.mode == "hold") return false;
    if (started >= total) return false;
    ++started;
    return true;
  }
  void Record(uint64_t us, bool ok) {
    if (!ok) {
      ++errors;
    } else if (completed++ >= warmup) {
      lat.push_back(us);
    }
  }
  void ConnDone() {
    if (--live == 0) uv_stop(loop);
  }

  uv_loop_t* loop;
  Options opt;
  std::string request;
  int total = 0, warmup = 0, started = 0, completed = 0, errors = 0, live = 0;
  uint64_t deadline_us = 0, t0 = 0;
  std::vector<uint64_t> lat;        // request latencies (latency, rps)
  std::vector<uint64_t> ttfb;       // sse: head arrival
  std::vector<std::vector<uint64_t>> stream_events;  // sse: event arrival times per stream
  std::vector<uint64_t> chunk_delays;  // sse: arrival minus the mock's stamp, after the warm-up stream
  int streams_with_event = 0;
};

HttpParser::Callbacks Conn::Callbacks() {
  HttpParser::Callbacks cb;
  cb.on_head = [this] {
    if (load_->opt.mode == "sse") {
      load_->ttfb.push_back(NowUs() - sent_us_);
      load_->stream_events.emplace_back();
    }
    return true;
  };
  cb.on_body = [this](std::string_view part) {
    if (load_->opt.mode != "sse" && load_->opt.mode != "hold") return true;
    size_t pos = 0;
    uint64_t arrived = NowUs();
    uint64_t now = arrived - sent_us_;
    if (load_->opt.mode == "sse" && load_->stream_events.size() > 1) {
      for (size_t at = part.find(": sent_us="); at != std::string_view::npos; at = part.find(": sent_us=", at + 1)) {
        uint64_t sent = std::strtoull(std::string(part.substr(at + 10, 20)).c_str(), nullptr, 10);
        if (sent && sent <= arrived) load_->chunk_delays.push_back(arrived - sent);
      }
    }
    while ((pos = part.find("data:", pos)) != std::string_view::npos) {
      pos += 5;
      if (load_->opt.mode == "sse") {
        load_->stream_events.back().push_back(now);
      } else if (!got_event) {
        got_event = true;
        if (++load_->streams_with_event == load_->opt.c) uv_stop(load_->loop);
      }
    }
    return true;
  };
  cb.on_complete = [this] {
    in_request_ = false;
    int status = parser_.response().status;
    load_->Record(NowUs() - sent_us_, status >= 200 && status < 400);
  };
  return cb;
}

void Conn::Start() {
  ++load_->live;
  stream_ = Stream::Connect(load_->loop, load_->opt.host, load_->opt.port, nullptr, "", this);
  Send();
}

void Conn::Send() {
  if (!load_->Next() && !(load_->opt.mode == "hold" && !sent_us_)) {
    done_ = true;
    stream_->Close();
    return;
  }
  in_request_ = true;
  parser_.Reset();
  sent_us_ = NowUs();
  stream_->Write(load_->request);
}

void Conn::OnStreamData(Stream*, const char* data, size_t len) {
  while (len > 0) {
    size_t used = parser_.Feed(data, len);
    if (parser_.error() != HttpParser::Error::kNone) {
      load_->Record(0, false);
      in_request_ = false;
      stream_->Close();
      return;
    }
    data += used;
    len -= used;
    if (parser_.paused()) {
      if (!parser_.keep_alive()) {  // server closes: reconnect for the next request
        stream_->set_handler(nullptr);
        stream_->Close();
        --load_->live;
        Start();
        return;
      }
      parser_.Resume();
      Send();
      if (done_) return;
    }
  }
}

void Conn::OnStreamClosed(Stream*, const Status& why) {
  if (in_request_ && !done_) {
    load_->Record(0, false);
    if (load_->errors < 5) std::fprintf(stderr, "loadgen: connection closed mid-request: %s\n", why.message().c_str());
  }
  stream_ = nullptr;
  load_->ConnDone();
}

bool ParseUrl(const std::string& url, Options* o) {
  if (url.rfind("http://", 0) != 0) return false;
  std::string rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string hp = rest.substr(0, slash);
  o->path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hp.rfind(':');
  o->host = hp.substr(0, colon);
  o->port = colon == std::string::npos ? 80 : std::atoi(hp.c_str() + colon + 1);
  return true;
}

uint64_t Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double Mean(const std::vector<uint64_t>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (uint64_t x : v) s += static_cast<double>(x);
  return s / static_cast<double>(v.size());
}

std::string RssJson(const std::vector<int>& pids) {
  std::string out = "[";
  for (size_t i = 0; i < pids.size(); ++i)
    out += (i ? ",[" : "[") + std::to_string(pids[i]) + "," + std::to_string(RssKb(pids[i])) + "]";
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr, "usage: loadgen latency|rps|sse|hold --url URL [-H h]... [--body JSON] [-n N] [-c C] [--seconds S] [--hold-ms MS] [--pids P,P]\n");
    return 2;
  }
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    std::string v = i + 1 < argc ? argv[i + 1] : "";
    ++i;
    if (a == "--url") {
      if (!ParseUrl(v, &o)) {
        std::fprintf(stderr, "loadgen: only http:// URLs\n");
        return 2;
      }
    } else if (a == "-H") {
      o.headers.push_back(v);
    } else if (a == "--body") {
      o.body = v;
      o.method = "POST";
    } else if (a == "-n") {
      o.n = std::atoi(v.c_str());
    } else if (a == "-c") {
      o.c = std::atoi(v.c_str());
    } else if (a == "--seconds") {
      o.seconds = std::atof(v.c_str());
    } else if (a == "--hold-ms") {
      o.hold_ms = std::atoi(v.c_str());
    } else if (a == "--pids") {
      for (size_t p = 0; p < v.size();) {
        size_t comma = v.find(',', p);
        if (comma == std::string::npos) comma = v.size();
        o.pids.push_back(std::atoi(v.substr(p, comma - p).c_str()));
        p = comma + 1;
      }
    } else {
      std::fprintf(stderr, "loadgen: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t* loop = uv_default_loop();
  Load load(loop, o);
  if (o.mode == "latency" || o.mode == "sse") {
    load.warmup = o.mode == "latency" ? std::max(1, o.n / 20) : 1;
    load.total = o.n + load.warmup;
  } else if (o.mode == "rps") {
    load.deadline_us = NowUs() + static_cast<uint64_t>(o.seconds * 1e6);
  } else if (o.mode != "hold") {
    std::fprintf(stderr, "loadgen: unknown mode %s\n", o.mode.c_str());
    return 2;
  }
  if (o.mode == "sse") o.c = 1;
  std::vector<std::unique_ptr<Conn>> conns;
  load.t0 = NowUs();
  for (int i = 0; i < o.c; ++i) {
    conns.push_back(std::make_unique<Conn>(&load));
    conns.back()->Start();
  }
  uv_run(loop, UV_RUN_DEFAULT);
  double secs = static_cast<double>(NowUs() - load.t0) / 1e6;
  if (o.mode == "hold") {
    std::string first = RssJson(o.pids);
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, [](uv_timer_t* h) noexcept { uv_stop(h->loop); }, static_cast<uint64_t>(o.hold_ms), 0);
    uv_run(loop, UV_RUN_DEFAULT);
    std::printf("{\"streams\":%d,\"rss_kb\":%s,\"rss_kb_end\":%s}\n", load.streams_with_event, first.c_str(),
                RssJson(o.pids).c_str());
    std::fflush(stdout);
    std::_Exit(0);  // the streams are open on purpose; the kernel closes them
  }
  if (o.mode == "sse") {
    // Stream 0 was the warm-up.
    std::vector<uint64_t> ev, tt;
    for (size_t i = 1; i < load.stream_events.size(); ++i) {
      ev.insert(ev.end(), load.stream_events[i].begin(), load.stream_events[i].end());
      tt.push_back(load.ttfb[i]);
    }
    const std::vector<uint64_t>& cd = load.chunk_delays;
    std::printf("{\"streams\":%zu,\"errors\":%d,\"ttfb_us\":%.0f,\"ttfb_p50_us\":%llu,\"mean_event_us\":%.0f,\"events\":%zu,"
                "\"chunk_delay_p50_us\":%llu,\"chunk_delay_p99_us\":%llu,\"chunk_delay_mean_us\":%.0f,\"stamped\":%zu}\n",
                tt.size(), load.errors, Mean(tt), static_cast<unsigned long long>(Percentile(tt, 0.50)), Mean(ev), ev.size(),
                static_cast<unsigned long long>(Percentile(cd, 0.50)), static_cast<unsigned long long>(Percentile(cd, 0.99)),
                Mean(cd), cd.size());
    return load.errors ? 1 : 0;
  }
  std::printf("{\"requests\":%zu,\"errors\":%d,\"p50_us\":%llu,\"p99_us\":%llu,\"mean_us\":%.0f,\"rps\":%.0f}\n",
              load.lat.size(), load.errors, static_cast<unsigned long long>(Percentile(load.lat, 0.50)),
              static_cast<unsigned long long>(Percentile(load.lat, 0.99)), Mean(load.lat),
              static_cast<double>(load.completed) / secs);
  return 0;
}
