# Process helpers shared by the bench scripts. Source it after setting DIR
# (the run's temp folder) and BENCH_NAME (for messages); every process
# started with `start` is stopped by PID when the script exits.
PIDS=()

bench_cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for _ in $(seq 1 20); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  rm -rf "$DIR"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# A port free a moment ago, below the kernel's range for outgoing
# connections' local ports (a port from that range can be taken by a
# connection before the server binds it).
free_port() {
  node -e '
const net = require("net");
let lo = 32768;
try { lo = Number(require("fs").readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || lo; } catch {}
const base = lo > 12000 ? 10000 : 1024;
(function next(left) {
  const port = base + Math.floor(Math.random() * Math.max(1, lo - base));
  const s = net.createServer();
  s.once("error", () => { if (left > 0) next(left - 1); else process.exit(1); });
  s.listen(port, "127.0.0.1", () => { console.log(port); s.close(); });
})(200);'
}

wait_port() {  # PORT NAME
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$BENCH_NAME: $2 did not listen on port $1" >&2
  tail -20 "$DIR/$2.err" "$DIR/$2.out" >&2 2>/dev/null
  exit 1
}

start() {  # NAME CMD...: runs in the background, remembers the PID in NAME_PID
  local name=$1
  shift
  "$@" >"$DIR/$name.out" 2>"$DIR/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  printf -v "${name}_PID" '%s' "$pid"
}

# An edge config in front of one hub on loopback, with the certificates
# `hub certs init` and `hub certs issue-edge edge` wrote to $DIR/certs.
write_edge_config() {  # FILE EDGE_PORT HUB_TLS_PORT
  cat >"$1" <<EOF_EDGE
{
  "listen": "127.0.0.1:$2",
  "hubs": [{ "address": "127.0.0.1:$3", "server_name": "localhost" }],
  "hub_tls": { "ca": "$DIR/certs/ca.pem", "pin_sha256": "", "cert": "$DIR/certs/edge.pem",
               "key": "$DIR/certs/edge.key", "insecure": false },
  "edge_token": "",
  "pool": { "min_idle": 8, "max": 1024, "ping_interval_sec": 15, "connect_timeout_sec": 5 },
  "limits": { "max_header_bytes": 65536, "max_body_bytes": 33554432, "client_idle_timeout_sec": 120,
              "upstream_first_byte_timeout_sec": 300, "upstream_idle_timeout_sec": 300 },
  "debug_allow": ["127.0.0.0/8"]
}
EOF_EDGE
}
