#!/usr/bin/env bash
# Relay benchmark on loopback (`make bench`): the same mock upstream reached
#   direct  client → mock_provider
#   nginx   client → nginx "edge" → HTTPS keep-alive → nginx "hub" → mock
#   tether  client → edge → warm TLS pool → hub → mock
# Measures latency at concurrency 1, throughput at concurrency 64, SSE time to
# first byte and per-chunk delay, and resident memory (idle, after load, per
# held stream), then prints a Markdown table with ratios against nginx.
#   tests/bench/run.sh BUILD_DIR
# Knobs (env): BENCH_N (2000 requests at c1), BENCH_SECONDS (5 s at c64),
# BENCH_ROUNDS (3 interleaved rounds of both), BENCH_SSE_STREAMS (10),
# BENCH_HOLD (200 concurrent streams), BENCH_BIG_N (400 requests with an 80 KB body at c1).
# At the end it runs tests/bench/portkey.sh (Tether vs Portkey's gateway).
# Starts every process itself and stops only those, by PID.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

N=${BENCH_N:-2000}
SECONDS_C64=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-3}
SSE_STREAMS=${BENCH_SSE_STREAMS:-10}
HOLD=${BENCH_HOLD:-200}
PROVIDER_KEY=bench-provider-key
CLIENT_KEY=sk-bench-client
BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
SSE_BODY='{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hello"}]}'
# A request the size and shape of a real Claude Code one (about 80 KB).
BIG_BODY=$(node "$ROOT/tests/bench/big_body.mjs")
BIG_N=${BENCH_BIG_N:-400}

for b in mock_provider hub edge loadgen; do
  [ -x "$BUILD/$b" ] || { echo "bench: $BUILD/$b is missing (make all)" >&2; exit 2; }
done
command -v nginx >/dev/null || { echo "bench: nginx is not installed (apt-get install nginx-light)" >&2; exit 2; }
command -v node >/dev/null || { echo "bench: node is needed for the report" >&2; exit 2; }
ulimit -n 8192 2>/dev/null || true

DIR=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench.XXXXXX")
RES="$DIR/results"
mkdir -p "$RES" "$DIR/certs"
BENCH_NAME=bench
. "$ROOT/tests/bench/lib.sh"

# Resident KiB of a process plus its direct children (nginx master + worker).
rss_kb() {
  local total=0 p kids
  kids=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
  for p in $1 $kids; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

worker_of() {  # nginx master PID -> worker PID
  local kids
  kids=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
  echo "${kids%% *}"
}

LG="$BUILD/loadgen"

# ---- start everything ----
MOCK_PORT=$(free_port)
start mock "$BUILD/mock_provider" --port "$MOCK_PORT" --key "$PROVIDER_KEY"
wait_port "$MOCK_PORT" mock

"$BUILD/hub" certs init --dir "$DIR/certs" >/dev/null 2>"$DIR/certs.err" &&
  "$BUILD/hub" certs issue-edge edge --dir "$DIR/certs" >/dev/null 2>>"$DIR/certs.err" ||
  { echo "bench: hub certs failed" >&2; cat "$DIR/certs.err" >&2; exit 1; }

NGX_HUB_PORT=$(free_port)
NGX_EDGE_PORT=$(free_port)
for role in hub edge; do
  sed -e "s|@DIR@|$DIR|g" -e "s|@HUB_PORT@|$NGX_HUB_PORT|g" -e "s|@EDGE_PORT@|$NGX_EDGE_PORT|g" \
      -e "s|@MOCK_PORT@|$MOCK_PORT|g" -e "s|@CA@|$DIR/certs/ca.pem|g" -e "s|@CERT@|$DIR/certs/hub.pem|g" \
      -e "s|@KEY@|$DIR/certs/hub.key|g" -e "s|@PROVIDER_KEY@|$PROVIDER_KEY|g" \
      "tests/bench/nginx/$role.conf.in" >"$DIR/nginx-$role.conf"
done
start ngxhub nginx -p "$DIR" -e "$DIR/nginx-hub.startup.log" -c "$DIR/nginx-hub.conf"
wait_port "$NGX_HUB_PORT" ngxhub
start ngxedge nginx -p "$DIR" -e "$DIR/nginx-edge.startup.log" -c "$DIR/nginx-edge.conf"
wait_port "$NGX_EDGE_PORT" ngxedge

HUB_PORT=$(free_port)
EDGE_PORT=$(free_port)
cat >"$DIR/hub.json" <<EOF
{
  "listen": "127.0.0.1:$HUB_PORT",
  "tls": { "cert": "$DIR/certs/hub.pem", "key": "$DIR/certs/hub.key", "client_ca": "$DIR/certs/ca.pem" },
  "edge_tokens": [],
  "client_keys": ["$CLIENT_KEY"],
  "data_dir": "$DIR/data",
  "upstream_timeout_sec": 300,
  "providers": [
    { "id": "mock", "type": "openai", "base_url": "http://127.0.0.1:$MOCK_PORT/v1",
      "keys": ["$PROVIDER_KEY"], "models": ["gpt-4o-mini"] }
  ]
}
EOF
write_edge_config "$DIR/edge.json" "$EDGE_PORT" "$HUB_PORT"
start hub "$BUILD/hub" --config "$DIR/hub.json"
wait_port "$HUB_PORT" hub
start edge "$BUILD/edge" --config "$DIR/edge.json"
wait_port "$EDGE_PORT" edge
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EDGE_PORT/healthz")" = 200 ] && break
  sleep 0.1
done

# Each path must answer before it is measured.
declare -A URL AUTH
URL[direct]="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"; AUTH[direct]="Authorization: Bearer $PROVIDER_KEY"
URL[nginx]="http://127.0.0.1:$NGX_EDGE_PORT/v1/chat/completions"; AUTH[nginx]="Authorization: Bearer $CLIENT_KEY"
URL[tether]="http://127.0.0.1:$EDGE_PORT/v1/chat/completions"; AUTH[tether]="Authorization: Bearer $CLIENT_KEY"
for p in direct nginx tether; do
  out=$(curl -s --max-time 5 -H "${AUTH[$p]}" -H 'Content-Type: application/json' -d "$BODY" "${URL[$p]}")
  case "$out" in
    *'echo: hello'*) ;;
    *) echo "bench: $p path does not answer: $out" >&2
       for f in "$DIR"/*.err "$DIR"/nginx-*.error.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done
       exit 1 ;;
  esac
done

echo "{\"nginx_edge\":$(rss_kb "$ngxedge_PID"),\"nginx_hub\":$(rss_kb "$ngxhub_PID"),\"tether_edge\":$(rss_kb "$edge_PID"),\"tether_hub\":$(rss_kb "$hub_PID")}" >"$RES/rss_idle.json"

# Memory per active stream, measured first so the relays' heaps are not yet
# grown by the load tests: RSS while HOLD slow streams are open, minus RSS before.
hold() {  # path edge_pid hub_pid
  local before_e before_h
  before_e=$(rss_kb "$2")
  before_h=$(rss_kb "$3")
  echo "bench: $1: holding $HOLD concurrent streams" >&2
  "$LG" hold --url "${URL[$1]}" -H "${AUTH[$1]}" -H 'x-mock-chunks: 100' -H 'x-mock-interval: 200' \
    --body "$SSE_BODY" -c "$HOLD" --hold-ms 1000 --pids "$2,$3" >"$DIR/hold.out" 2>"$DIR/hold.err" &
  local lg=$!
  local waited=0
  while kill -0 "$lg" 2>/dev/null && [ $waited -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
  kill -9 "$lg" 2>/dev/null
  local streams
  streams=$(sed -n 's/.*"streams":\([0-9]*\).*/\1/p' "$DIR/hold.out")
  # loadgen sampled the PIDs it was given; for nginx those are the workers,
  # so sample the whole process trees here too while the streams are open.
  echo "{\"streams\":${streams:-0},\"edge_before\":$before_e,\"hub_before\":$before_h,\"raw\":$(cat "$DIR/hold.out" 2>/dev/null || echo null)}" >"$RES/$1.hold.json"
  sleep 1.5  # let the relays notice the closed streams
}
ngx_edge_worker=$(worker_of "$ngxedge_PID")
ngx_hub_worker=$(worker_of "$ngxhub_PID")
hold nginx "$ngx_edge_worker" "$ngx_hub_worker"
hold tether "$edge_PID" "$hub_PID"


# ---- measure ----
# Rounds interleave the paths (direct, nginx, tether, direct, …) so a burst
# of load from elsewhere on the machine lands on all of them alike; the
# report takes each metric's median over the rounds.
for r in $(seq 1 "$ROUNDS"); do
  for p in direct nginx tether; do
    echo "bench: round $r/$ROUNDS: $p: latency (n=$N, c=1)" >&2
    "$LG" latency --url "${URL[$p]}" -H "${AUTH[$p]}" -H 'x-mock-chunks: 1' --body "$BODY" -n "$N" -c 1 >"$RES/$p.latency.$r.json"
    echo "bench: round $r/$ROUNDS: $p: latency, ${#BIG_BODY}-byte body (n=$BIG_N, c=1)" >&2
    "$LG" latency --url "${URL[$p]}" -H "${AUTH[$p]}" -H 'x-mock-chunks: 1' --body "$BIG_BODY" -n "$BIG_N" -c 1 >"$RES/$p.biglat.$r.json"
    echo "bench: round $r/$ROUNDS: $p: throughput (c=64, ${SECONDS_C64}s)" >&2
    "$LG" rps --url "${URL[$p]}" -H "${AUTH[$p]}" -H 'x-mock-chunks: 1' --body "$BODY" -c 64 --seconds "$SECONDS_C64" >"$RES/$p.rps.$r.json"
  done
done
# SSE: the mock stamps each delta with its send time, so the per-chunk delay
# is measured per event (mock → client), not inferred from arrival times.
for p in direct nginx tether; do
  echo "bench: $p: SSE (chunks=50, interval=20 ms, $SSE_STREAMS streams)" >&2
  "$LG" sse --url "${URL[$p]}" -H "${AUTH[$p]}" -H 'x-mock-chunks: 50' -H 'x-mock-interval: 20' -H 'x-mock-stamp: 1' \
    --body "$SSE_BODY" -n "$SSE_STREAMS" >"$RES/$p.sse.json"
done
echo "{\"nginx_edge\":$(rss_kb "$ngxedge_PID"),\"nginx_hub\":$(rss_kb "$ngxhub_PID"),\"tether_edge\":$(rss_kb "$edge_PID"),\"tether_hub\":$(rss_kb "$hub_PID")}" >"$RES/rss_load.json"

node tests/bench/report.mjs "$RES" "$HOLD" "$N" "$SECONDS_C64" "$ROUNDS" "${#BIG_BODY}"
[ "${BENCH_KEYS:-1}" != 0 ] && "$ROOT/tests/bench/keys.sh" "$BUILD"  # cost of keys, limits and usage booking; BENCH_KEYS=0 skips

# Then Tether against Portkey's gateway (tests/bench/portkey.sh, its own mock,
# hub, edge and Portkey). This run's processes are stopped first so they do not
# share the CPU. BENCH_PORTKEY=0 skips it.
if [ "${BENCH_PORTKEY:-1}" != 0 ]; then
  bench_cleanup
  trap - EXIT
  exec "$ROOT/tests/bench/portkey.sh" "$BUILD"
fi
