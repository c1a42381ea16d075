#!/usr/bin/env bash
# Tether against Portkey's open-source gateway (@portkey-ai/gateway from npm),
# on loopback, against the same mock provider. Called at the end of
# tests/bench/run.sh (`make bench`); runs alone too:
#   tests/bench/portkey.sh BUILD_DIR
# Two cases, each through
#   direct   client → mock_provider (the matching provider endpoint)
#   portkey  client → Portkey (node, on the hub host) → mock
#   hub      client → hub plain_listen → mock (hub overhead alone)
#   edge     client → edge → warm TLS pool → hub → mock (the full path)
# passthrough: OpenAI Chat client → OpenAI provider (/v1/chat/completions)
# translated:  OpenAI Chat client → Anthropic provider (/v1/messages upstream)
# Measures latency at concurrency 1, requests/s at concurrency 64 and resident
# memory, and prints a Markdown table with the ratios Tether targets
# (hub added p50 / Portkey added p50 ≤ 0.1; edge+hub rps / Portkey rps ≥ 20).
# Knobs (env): BENCH_PK_N (1000 requests at c1 per round), BENCH_PK_ROUNDS (3),
# BENCH_PK_SECONDS (8 s at c64), BENCH_PK_WARMUP (2 s), BENCH_PK_WARMUP_PORTKEY (10 s).
# Portkey is installed from tests/bench/portkey/package-lock.json (`npm ci`)
# when its node_modules is missing. Starts every process itself and stops
# only those, by PID.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

N=${BENCH_PK_N:-1000}
SECS=${BENCH_PK_SECONDS:-8}
PROVIDER_KEY=bench-provider-key
CLIENT_KEY=sk-bench-client
OPENAI_MODEL=gpt-4o-mini
ANTHROPIC_MODEL=claude-3-5-haiku-latest
PK_DIR="$ROOT/tests/bench/portkey"
PK_MAIN="$PK_DIR/node_modules/@portkey-ai/gateway/build/start-server.js"

for b in mock_provider hub edge loadgen; do
  [ -x "$BUILD/$b" ] || { echo "bench-portkey: $BUILD/$b is missing (make all)" >&2; exit 2; }
done
command -v node >/dev/null || { echo "bench-portkey: node is needed" >&2; exit 2; }
ulimit -n 8192 2>/dev/null || true

if [ ! -f "$PK_MAIN" ]; then
  command -v npm >/dev/null || { echo "bench-portkey: npm is needed to install @portkey-ai/gateway" >&2; exit 2; }
  echo "bench-portkey: installing @portkey-ai/gateway (npm ci in tests/bench/portkey)" >&2
  # --ignore-scripts: its only install script is patch-package, which finds no
  # patches in the published package.
  (cd "$PK_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 ||
    { echo "bench-portkey: npm ci failed (the registry must be reachable once)" >&2; exit 1; }
fi
PK_VERSION=$(node -p "require('$PK_DIR/node_modules/@portkey-ai/gateway/package.json').version")

DIR=$(mktemp -d "${TMPDIR:-/tmp}/tether-bench-portkey.XXXXXX")
RES="$DIR/results"
mkdir -p "$RES" "$DIR/certs"
BENCH_NAME=bench-portkey
. "$ROOT/tests/bench/lib.sh"

kb() {  # PID FIELD (VmRSS | VmHWM)
  awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

LG="$BUILD/loadgen"

# ---- start everything ----
MOCK_PORT=$(free_port)
start mock "$BUILD/mock_provider" --port "$MOCK_PORT" --key "$PROVIDER_KEY"
wait_port "$MOCK_PORT" mock

# Portkey as its README runs it (`npx @portkey-ai/gateway` = node
# build/start-server.js): --port, --headless (no web UI), NODE_ENV=production.
# Its CLI has no bind address and listens on every interface, so loopback.mjs
# is preloaded to bind the listener to 127.0.0.1.
PK_PORT=$(free_port)
start portkey env NODE_ENV=production node --import "$PK_DIR/loopback.mjs" "$PK_MAIN" --port="$PK_PORT" --headless
wait_port "$PK_PORT" portkey

"$BUILD/hub" certs init --dir "$DIR/certs" >/dev/null 2>"$DIR/certs.err" &&
  "$BUILD/hub" certs issue-edge edge --dir "$DIR/certs" >/dev/null 2>>"$DIR/certs.err" ||
  { echo "bench-portkey: hub certs failed" >&2; cat "$DIR/certs.err" >&2; exit 1; }

HUB_PORT=$(free_port)
HUB_PLAIN_PORT=$(free_port)
EDGE_PORT=$(free_port)
cat >"$DIR/hub.json" <<EOF
{
  "listen": "127.0.0.1:$HUB_PORT",
  "plain_listen": "127.0.0.1:$HUB_PLAIN_PORT",
  "tls": { "cert": "$DIR/certs/hub.pem", "key": "$DIR/certs/hub.key", "client_ca": "$DIR/certs/ca.pem" },
  "edge_tokens": [],
  "client_keys": ["$CLIENT_KEY"],
  "data_dir": "$DIR/data",
  "upstream_timeout_sec": 300,
  "providers": [
    { "id": "mock-openai", "type": "openai", "base_url": "http://127.0.0.1:$MOCK_PORT/v1",
      "keys": ["$PROVIDER_KEY"], "models": ["$OPENAI_MODEL"] },
    { "id": "mock-anthropic", "type": "anthropic", "base_url": "http://127.0.0.1:$MOCK_PORT",
      "keys": ["$PROVIDER_KEY"], "models": ["$ANTHROPIC_MODEL"] }
  ]
}
EOF
write_edge_config "$DIR/edge.json" "$EDGE_PORT" "$HUB_PORT"
start hub "$BUILD/hub" --config "$DIR/hub.json"
wait_port "$HUB_PORT" hub
wait_port "$HUB_PLAIN_PORT" hub
start edge "$BUILD/edge" --config "$DIR/edge.json"
wait_port "$EDGE_PORT" edge
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EDGE_PORT/healthz")" = 200 ] && break
  sleep 0.1
done

# ---- the paths: URL, request body and headers (one per line) ----
msg='"messages":[{"role":"user","content":"hello"}]'
CHAT_OPENAI="{\"model\":\"$OPENAI_MODEL\",$msg}"
CHAT_ANTHROPIC="{\"model\":\"$ANTHROPIC_MODEL\",$msg}"
# What a gateway sends upstream for CHAT_ANTHROPIC (max_tokens is required there).
MESSAGES="{\"model\":\"$ANTHROPIC_MODEL\",\"max_tokens\":1024,$msg}"
declare -A URL BODY HDRS
PATHS=(direct_openai portkey_openai hub_openai edge_openai direct_anthropic portkey_anthropic hub_anthropic edge_anthropic)
URL[direct_openai]="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
BODY[direct_openai]=$CHAT_OPENAI
HDRS[direct_openai]="Authorization: Bearer $PROVIDER_KEY"
URL[direct_anthropic]="http://127.0.0.1:$MOCK_PORT/v1/messages"
BODY[direct_anthropic]=$MESSAGES
HDRS[direct_anthropic]="x-api-key: $PROVIDER_KEY
anthropic-version: 2023-06-01"
# Portkey's headers: x-portkey-provider picks the provider's format, and
# x-portkey-custom-host replaces the provider's base URL, which includes the
# version path (api.openai.com/v1, api.anthropic.com/v1); the client's bearer
# token is passed on as the provider key (anthropic: as x-api-key).
for c in openai anthropic; do
  URL[portkey_$c]="http://127.0.0.1:$PK_PORT/v1/chat/completions"
  HDRS[portkey_$c]="Authorization: Bearer $PROVIDER_KEY
x-portkey-provider: $c
x-portkey-custom-host: http://127.0.0.1:$MOCK_PORT/v1"
  URL[hub_$c]="http://127.0.0.1:$HUB_PLAIN_PORT/v1/chat/completions"
  HDRS[hub_$c]="Authorization: Bearer $CLIENT_KEY"
  URL[edge_$c]="http://127.0.0.1:$EDGE_PORT/v1/chat/completions"
  HDRS[edge_$c]="Authorization: Bearer $CLIENT_KEY"
done
for p in portkey hub edge; do
  BODY[${p}_openai]=$CHAT_OPENAI
  BODY[${p}_anthropic]=$CHAT_ANTHROPIC
done

hargs() {  # PATH -> loadgen / curl header arguments in the array HA
  HA=()
  local line
  while IFS= read -r line; do [ -n "$line" ] && HA+=(-H "$line"); done <<<"${HDRS[$1]}"
}
# No x-mock-* control headers: Portkey does not pass them on (the hub does), so
# every path gets the mock's default reply.

# Each path must answer before it is measured: an OpenAI Chat completion (an
# Anthropic message for the direct Anthropic baseline) echoing the prompt, with
# the id of the mock endpoint that was meant to serve it (chatcmpl-mock-N from
# /v1/chat/completions, msg_mock_N from /v1/messages).
for p in "${PATHS[@]}"; do
  hargs "$p"
  out=$(curl -s --max-time 10 "${HA[@]}" -H 'Content-Type: application/json' -d "${BODY[$p]}" "${URL[$p]}")
  [ -n "${BENCH_PK_VERBOSE:-}" ] && echo "bench-portkey: $p answers: $out" >&2
  case "$p" in
    direct_anthropic) id='"id":"msg_mock_' shape='"type":"message"' ;;
    *_anthropic) id='"id":"msg_mock_' shape='"object":"chat.completion"' ;;
    *) id='"id":"chatcmpl-mock-' shape='"object":"chat.completion"' ;;
  esac
  ok=0
  case "$out" in *"$id"*) case "$out" in *"$shape"*'echo: hello'*) ok=1 ;; esac ;; esac
  if [ $ok = 0 ]; then
    echo "bench-portkey: $p does not answer as expected (want $id… $shape … echo: hello): $out" >&2
    for f in "$DIR"/*.err; do echo "--- $f" >&2; tail -5 "$f" >&2; done
    exit 1
  fi
done

rss_json() {  # FILE: RSS and peak RSS of every relay process
  echo "{\"portkey\":$(kb "$portkey_PID" VmRSS),\"portkey_peak\":$(kb "$portkey_PID" VmHWM),\
\"hub\":$(kb "$hub_PID" VmRSS),\"hub_peak\":$(kb "$hub_PID" VmHWM),\
\"edge\":$(kb "$edge_PID" VmRSS),\"edge_peak\":$(kb "$edge_PID" VmHWM)}" >"$1"
}
rss_json "$RES/rss_idle.json"

# ---- measure ----
# Per case: every path is warmed up at c=64 first, Portkey for WARM_PK seconds
# (node's JIT: its throughput climbs for about 10 s of load, from ~300 to
# ~1,000 requests/s here) and the others for WARM seconds. Then the four paths
# take turns: ROUNDS rounds of N requests at c=1 (the report takes the median
# of the rounds' p50 and p99), and 2 rounds of SECS/2 seconds at c=64 (the
# report adds them up), so a burst of noise on the shared machine does not
# land on one path only.
ROUNDS=${BENCH_PK_ROUNDS:-3}
WARM=${BENCH_PK_WARMUP:-2}
WARM_PK=${BENCH_PK_WARMUP_PORTKEY:-10}
HALF=$(awk -v s="$SECS" 'BEGIN {print s / 2}')
for c in openai anthropic; do
  for r in direct portkey hub edge; do
    p=${r}_$c
    hargs "$p"
    w=$WARM
    [ "$r" = portkey ] && w=$WARM_PK
    echo "bench-portkey: $p: warm-up (c=64, ${w}s)" >&2
    "$LG" rps --url "${URL[$p]}" "${HA[@]}" --body "${BODY[$p]}" -c 64 --seconds "$w" >/dev/null
  done
  for i in $(seq 1 "$ROUNDS"); do
    for r in direct portkey hub edge; do
      p=${r}_$c
      hargs "$p"
      echo "bench-portkey: $p: latency round $i/$ROUNDS (n=$N, c=1)" >&2
      "$LG" latency --url "${URL[$p]}" "${HA[@]}" --body "${BODY[$p]}" -n "$N" -c 1 >"$RES/$p.latency.$i.json"
    done
  done
  for i in 1 2; do
    for r in direct portkey hub edge; do
      p=${r}_$c
      hargs "$p"
      echo "bench-portkey: $p: throughput round $i/2 (c=64, ${HALF}s)" >&2
      "$LG" rps --url "${URL[$p]}" "${HA[@]}" --body "${BODY[$p]}" -c 64 --seconds "$HALF" >"$RES/$p.rps.$i.json"
    done
  done
done
rss_json "$RES/rss_load.json"

node tests/bench/portkey-report.mjs "$RES" "$N" "$SECS" "$PK_VERSION" "$ROUNDS"
