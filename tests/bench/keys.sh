#!/usr/bin/env bash
# What client keys, limits and usage booking cost per request (`make bench`,
# after the relay table). Three hubs against one mock provider:
#   booking_on   1,000 configured keys (sha256 only), each with rpm, tpm and
#                max_concurrent limits; usage_booking on
#   booking_off  the same keys and limits; usage_booking false
#   baseline     one key without limits; usage_booking false (the least
#                policy the hub runs with short of an open hub)
# Each hub is measured two ways:
#   relay   client → edge → warm TLS pool → hub → mock: the relay bench's
#           own c=1 and c=64 runs, which is what the targets speak of
#   hub     client → the hub's plain loopback listener → mock, no edge: only
#           the hub's work, so the policy's share of it shows more (stricter)
# Every request presents the same one of the 1,000 keys (loadgen sends one
# header set); lookups are by hash, so which key it is does not matter.
# Measures latency at concurrency 1 and requests/s at concurrency 64 in
# short rounds where the cases take turns, so a burst of noise on a shared
# machine hits one round of every case rather than all of one case; the
# report takes medians, and the differences and ratios are medians of the
# per-round ones. It also reports the hub's CPU time per request (all
# threads, from /proc/PID/task/*/schedstat), which other load on the machine
# disturbs less than requests/s. Targets (on the relay path): booking_on −
# baseline added p50 ≤ 20 µs, booking_on / booking_off requests/s ≥ 0.95.
#   tests/bench/keys.sh BUILD_DIR
# Knobs (env): BENCH_KEYS_N (2000 requests at c1 per round),
# BENCH_KEYS_SECONDS (2 s at c64 per round), BENCH_KEYS_ROUNDS (5),
# BENCH_KEYS_COUNT (1000 keys). Starts every process itself and stops only
# those, by PID.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

N=${BENCH_KEYS_N:-2000}
SECS=${BENCH_KEYS_SECONDS:-2}
ROUNDS=${BENCH_KEYS_ROUNDS:-5}
COUNT=${BENCH_KEYS_COUNT:-1000}
PROVIDER_KEY=bench-provider-key
BODY='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'

for b in mock_provider hub edge loadgen; do
  [ -x "$BUILD/$b" ] || { echo "bench-keys: $BUILD/$b is missing (make all)" >&2; exit 2; }
done
command -v node >/dev/null || { echo "bench-keys: node is needed" >&2; exit 2; }
ulimit -n 8192 2>/dev/null || true

DIR=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench-keys.XXXXXX")
RES="$DIR/results"
mkdir -p "$RES" "$DIR/certs"
BENCH_NAME=bench-keys
. "$ROOT/tests/bench/lib.sh"

LG="$BUILD/loadgen"
MOCK_PORT=$(free_port)
start mock "$BUILD/mock_provider" --port "$MOCK_PORT" --key "$PROVIDER_KEY"
wait_port "$MOCK_PORT" mock

"$BUILD/hub" certs init --dir "$DIR/certs" >/dev/null 2>"$DIR/certs.err" &&
  "$BUILD/hub" certs issue-edge edge --dir "$DIR/certs" >/dev/null 2>>"$DIR/certs.err" ||
  { echo "bench-keys: hub certs failed" >&2; cat "$DIR/certs.err" >&2; exit 1; }

# hub.json for one case: keys (a JSON array), usage_booking, own ports and data_dir.
write_config() {  # NAME TLS_PORT PLAIN_PORT KEYS_JSON BOOKING
  cat >"$DIR/$1.json" <<EOF2
{
  "listen": "127.0.0.1:$2",
  "plain_listen": "127.0.0.1:$3",
  "tls": { "cert": "$DIR/certs/hub.pem", "key": "$DIR/certs/hub.key", "client_ca": "$DIR/certs/ca.pem" },
  "edge_tokens": [],
  "keys": $(cat "$4"),
  "usage_booking": $5,
  "data_dir": "$DIR/data-$1",
  "prices": "$ROOT/etc/prices.json",
  "upstream_timeout_sec": 300,
  "providers": [
    { "id": "mock", "type": "openai", "base_url": "http://127.0.0.1:$MOCK_PORT/v1",
      "keys": ["$PROVIDER_KEY"], "models": ["gpt-4o-mini"] }
  ]
}
EOF2
}

# COUNT keys tk-bench-N, stored as sha256 like a production config. Limits
# high enough never to refuse during the run, but set, so every request
# goes through the rate window, the token window and the concurrency count.
node -e '
const crypto = require("crypto");
const n = Number(process.argv[1]);
const keys = [];
for (let i = 0; i < n; i++) {
  keys.push({ name: `bench-${i}`, sha256: crypto.createHash("sha256").update(`tk-bench-${i}`).digest("hex"),
              rpm: 100000000, tpm: 2000000000, max_concurrent: 10000 });
}
process.stdout.write(JSON.stringify(keys));
' "$COUNT" >"$DIR/keys-many.json"
echo '[{ "name": "solo", "key": "tk-bench-solo" }]' >"$DIR/keys-one.json"
LIMITED_KEY="tk-bench-$((COUNT / 2))"

HUBS=(booking_on booking_off baseline)
declare -A URL KEY HUB_PID EDGE_PID PLAIN
for h in "${HUBS[@]}"; do
  tls_port=$(free_port)
  PLAIN[$h]=$(free_port)
  case $h in
    booking_on) write_config "$h" "$tls_port" "${PLAIN[$h]}" "$DIR/keys-many.json" true; KEY[$h]=$LIMITED_KEY ;;
    booking_off) write_config "$h" "$tls_port" "${PLAIN[$h]}" "$DIR/keys-many.json" false; KEY[$h]=$LIMITED_KEY ;;
    baseline) write_config "$h" "$tls_port" "${PLAIN[$h]}" "$DIR/keys-one.json" false; KEY[$h]=tk-bench-solo ;;
  esac
  start "$h" "$BUILD/hub" --config "$DIR/$h.json"
  wait_port "${PLAIN[$h]}" "$h"
  edge_port=$(free_port)
  write_edge_config "$DIR/edge_$h.json" "$edge_port" "$tls_port"
  start "edge_$h" "$BUILD/edge" --config "$DIR/edge_$h.json"
  wait_port "$edge_port" "edge_$h"
  pid=${h}_PID; epid=edge_${h}_PID
  # Case names: PATH.HUB (relay.booking_on, hub.baseline, ...).
  URL[hub.$h]="http://127.0.0.1:${PLAIN[$h]}/v1/chat/completions"
  URL[relay.$h]="http://127.0.0.1:$edge_port/v1/chat/completions"
  for p in hub relay; do
    KEY[$p.$h]=${KEY[$h]}
    HUB_PID[$p.$h]=${!pid}
  done
  EDGE_PID[relay.$h]=${!epid}
done
CASES=(relay.booking_on relay.booking_off relay.baseline hub.booking_on hub.booking_off hub.baseline)

# CPU time of a process in ns, all threads (the ledger's writer included):
# less disturbed by other load on the machine than requests/s.
cpu_ns() {
  local total=0 t v
  [ -n "$1" ] || { echo 0; return; }
  for t in /proc/"$1"/task/*/schedstat; do
    read -r v _ <"$t" 2>/dev/null && total=$((total + v))
  done
  echo "$total"
}
measure() {  # CASE ROUND MODE ARGS...: loadgen output plus the hub's and the edge's CPU ns
  local c=$1 i=$2 mode=$3 hub0 hub1 edge0 edge1
  shift 3
  hub0=$(cpu_ns "${HUB_PID[$c]}")
  edge0=$(cpu_ns "${EDGE_PID[$c]:-}")
  "$LG" "$mode" --url "${URL[$c]}" -H "Authorization: Bearer ${KEY[$c]}" -H 'x-mock-chunks: 1' --body "$BODY" "$@" \
    >"$RES/$c.$mode.$i.raw"
  hub1=$(cpu_ns "${HUB_PID[$c]}")
  edge1=$(cpu_ns "${EDGE_PID[$c]:-}")
  sed -e "s/}\$/,\"hub_cpu_ns\":$((hub1 - hub0)),\"edge_cpu_ns\":$((edge1 - edge0))}/" "$RES/$c.$mode.$i.raw" >"$RES/$c.$mode.$i.json"
}

# Each path must answer before it is measured (the edges once their pools are up).
for c in "${CASES[@]}"; do
  out=
  for _ in $(seq 1 50); do
    out=$(curl -s --max-time 5 -H "Authorization: Bearer ${KEY[$c]}" -H 'Content-Type: application/json' -d "$BODY" "${URL[$c]}")
    case "$out" in *'echo: hello'*) break ;; esac
    sleep 0.1
  done
  case "$out" in
    *'echo: hello'*) ;;
    *) echo "bench-keys: $c does not answer: $out" >&2; tail -5 "$DIR"/*.err >&2; exit 1 ;;
  esac
done

for c in "${CASES[@]}"; do
  echo "bench-keys: $c: warm-up (c=64, 1 s)" >&2
  "$LG" rps --url "${URL[$c]}" -H "Authorization: Bearer ${KEY[$c]}" -H 'x-mock-chunks: 1' --body "$BODY" -c 64 --seconds 1 >/dev/null
done
# The order rotates every round, so no case always runs first or last.
for i in $(seq 1 "$ROUNDS"); do
  k=$((i % ${#CASES[@]}))
  order=("${CASES[@]:$k}" "${CASES[@]:0:$k}")
  for c in "${order[@]}"; do
    echo "bench-keys: $c: latency round $i/$ROUNDS (n=$N, c=1)" >&2
    measure "$c" "$i" latency -n "$N" -c 1
  done
  for c in "${order[@]}"; do
    echo "bench-keys: $c: throughput round $i/$ROUNDS (c=64, ${SECS} s)" >&2
    measure "$c" "$i" rps -c 64 --seconds "$SECS"
  done
done
# What each hub booked (its /debug/info usage counters), to show the switch
# did what it says.
for h in "${HUBS[@]}"; do
  curl -s --max-time 5 "http://127.0.0.1:${PLAIN[$h]}/debug/info" >"$RES/$h.info.json"
done

node tests/bench/keys-report.mjs "$RES" "$N" "$SECS" "$ROUNDS" "$COUNT"
