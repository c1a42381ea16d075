#!/usr/bin/env bash
# `make run`: a local hub + edge pair on loopback with the default configs.
# Creates certificates on first run (run/certs, git-ignored), starts the mock
# provider when no provider key is in the environment, prints what to curl,
# and stops everything it started on Ctrl-C.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
mkdir -p run
if [ ! -f run/certs/hub.pem ]; then
  "$BUILD/hub" certs init --dir run/certs >/dev/null
  "$BUILD/hub" certs issue-edge edge --dir run/certs >/dev/null
  echo "created certificates in run/certs"
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap cleanup EXIT INT TERM

HUB_CONFIG=etc/hub.json
if [ -n "${OPENAI_API_KEY:-}${ANTHROPIC_API_KEY:-}${GEMINI_API_KEY:-}" ]; then
  # Real providers: keys stay in the environment; the config names them.
  providers=()
  [ -n "${OPENAI_API_KEY:-}" ] && providers+=('{"id":"openai","type":"openai","base_url":"https://api.openai.com/v1","keys":["${OPENAI_API_KEY}"],"models":["gpt-4o-mini","gpt-4o","gpt-4.1","gpt-4.1-mini"],"model_globs":["gpt-*","o1*","o3*","o4*"]}')
  [ -n "${ANTHROPIC_API_KEY:-}" ] && providers+=('{"id":"anthropic","type":"anthropic","base_url":"https://api.anthropic.com","keys":["${ANTHROPIC_API_KEY}"],"models":["claude-sonnet-4-5","claude-haiku-4-5","claude-opus-4-5"],"model_globs":["claude-*"]}')
  [ -n "${GEMINI_API_KEY:-}" ] && providers+=('{"id":"gemini","type":"gemini","base_url":"https://generativelanguage.googleapis.com","keys":["${GEMINI_API_KEY}"],"models":["gemini-2.5-flash","gemini-2.5-pro"],"model_globs":["gemini-*"]}')
  joined=$(IFS=,; echo "${providers[*]}")
  cat > run/hub.json <<JSON
{
  "listen": "127.0.0.1:8443",
  "tls": { "cert": "run/certs/hub.pem", "key": "run/certs/hub.key", "client_ca": "run/certs/ca.pem" },
  "plain_listen": "127.0.0.1:8080",
  "client_keys": ["sk-tether-local"],
  "providers": [ $joined ]
}
JSON
  HUB_CONFIG=run/hub.json
  echo "using real providers from the environment"
else
  "$BUILD/mock_provider" --port 9000 --key mock-provider-key > run/mock.log 2>&1 &
  pids+=($!)
  echo "no provider key in the environment: started the mock provider on 127.0.0.1:9000"
fi

"$BUILD/hub" --config "$HUB_CONFIG" 2> >(sed 's/^/[hub] /' >&2) &
pids+=($!)
"$BUILD/edge" --config etc/edge.json 2> >(sed 's/^/[edge] /' >&2) &
pids+=($!)

for _ in $(seq 1 50); do
  curl -sf http://127.0.0.1:8000/healthz >/dev/null 2>&1 && break
  sleep 0.1
done
cat <<TXT

Tether is running: edge on http://127.0.0.1:8000 -> hub on 127.0.0.1:8443 (TLS).
Try:
  curl -s http://127.0.0.1:8000/
  curl -s http://127.0.0.1:8000/debug/info
  curl -s http://127.0.0.1:8000/metrics
  curl -s http://127.0.0.1:8000/v1/chat/completions -H 'Authorization: Bearer sk-tether-local' \\
       -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
  curl -sN http://127.0.0.1:8000/u1/v1/chat/completions -H 'Authorization: Bearer sk-tether-local' \\
       -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
Press Ctrl-C to stop.
TXT
wait
