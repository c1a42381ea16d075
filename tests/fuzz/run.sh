#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into BUILD_DIR/fuzz/, seeds their
# corpora from the recorded client requests (../shared/fixtures/clients or
# $TETHER_FIXTURES) plus a few hand-made inputs, runs each target for
# SECONDS and prints the executions per target.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# Corpora grow in BUILD_DIR/fuzz/corpus/<target> across runs; crashes land in
# BUILD_DIR/fuzz/artifacts/. Exits non-zero when any target finds a crash.
set -euo pipefail

BUILD=${1:-build}
SECONDS_PER_TARGET=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
ALL_TARGETS=(http_parser_fuzz sse_fuzz json_fuzz config_fuzz)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$BUILD"
OUT=$(cd "$BUILD" && pwd)/fuzz
FIXTURES=${TETHER_FIXTURES:-$ROOT/../shared/fixtures/clients}
[ -d "$FIXTURES" ] || FIXTURES=/work/shared/fixtures/clients
LLHTTP_INC=/usr/share/include/llhttp
LLHTTP_SRC=/usr/share/llhttp

CXX=${FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}
CC=${FUZZ_CC:-$(command -v clang || command -v clang-14 || true)}
if [ -z "$CXX" ] || [ -z "$CC" ]; then
  echo "fuzz: clang/clang++ not found (apt-get install clang)" >&2
  exit 2
fi

SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer"
CXXFLAGS="-std=c++20 -g -O1 -Wall -Wextra -I$ROOT -I$LLHTTP_INC $SAN -fsanitize=fuzzer-no-link"
CFLAGS="-g -O1 -w -I$LLHTTP_INC $SAN -fsanitize=fuzzer-no-link"
LDFLAGS="$SAN -fsanitize=fuzzer"

# ------------------------------------------------------------------- build
mkdir -p "$OUT/obj" "$OUT/seeds" "$OUT/corpus" "$OUT/artifacts"
# llhttp's sources come from the system and are built once; ours every run
# (a few seconds), so header changes are never missed.
for c in llhttp api http; do
  [ -f "$OUT/obj/llhttp_$c.o" ] || $CC $CFLAGS -c "$LLHTTP_SRC/$c.c" -o "$OUT/obj/llhttp_$c.o"
done
for m in http sse json json_scan config; do $CXX $CXXFLAGS -c "$ROOT/common/$m.cc" -o "$OUT/obj/common_$m.o"; done

deps_of() {
  case $1 in
    http_parser_fuzz) echo "common_http llhttp_llhttp llhttp_api llhttp_http" ;;
    sse_fuzz) echo "common_sse" ;;
    json_fuzz) echo "common_json common_json_scan" ;;
    config_fuzz) echo "common_config common_json common_json_scan" ;;
  esac
}
for t in "${TARGETS[@]}"; do
  $CXX $CXXFLAGS -c "$ROOT/tests/fuzz/$t.cc" -o "$OUT/obj/$t.o"
  objs=("$OUT/obj/$t.o")
  for d in $(deps_of "$t"); do objs+=("$OUT/obj/$d.o"); done
  $CXX $LDFLAGS "${objs[@]}" -lcjson -o "$OUT/$t"
done

# ------------------------------------------------------------------- seeds
# Generated here rather than committed: requests recorded from real clients
# become HTTP messages (Content-Length and chunked variants) and JSON bodies.
rm -rf "$OUT/seeds"
mkdir -p "$OUT/seeds"/{http_parser_fuzz,sse_fuzz,json_fuzz,config_fuzz}
if command -v node >/dev/null && ls "$FIXTURES"/*.jsonl >/dev/null 2>&1; then
  node - "$FIXTURES" "$OUT/seeds" <<'EOF'
const fs = require('fs'), path = require('path');
const [fixtures, seeds] = process.argv.slice(2);
let n = 0;
// Byte 0 of an HTTP seed picks the mode (0 = request), byte 1 the split size.
const write = (dir, buf) => fs.writeFileSync(path.join(seeds, dir, `fixture-${n++}`), buf);
for (const f of fs.readdirSync(fixtures).filter((f) => f.endsWith('.jsonl'))) {
  for (const line of fs.readFileSync(path.join(fixtures, f), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    // Large bodies are cut to a few KB of their JSON so the fuzzer stays fast.
    let body = r.body === undefined ? '' : JSON.stringify(r.body);
    if (body.length > 0) write('json_fuzz', Buffer.from(body));
    if (body.length > 4096 && r.body && typeof r.body === 'object') {
      for (const [k, v] of Object.entries(r.body)) {
        const s = JSON.stringify({ [k]: v });
        if (s.length <= 4096) write('json_fuzz', Buffer.from(s));
      }
      body = body.slice(0, 2048);
    }
    const keep = r.headers.filter(([k]) => !/^(content-length|transfer-encoding)$/i.test(k));
    const head = (extra) =>
      `${r.method} ${r.path} ${r.http_version || 'HTTP/1.1'}\r\n` +
      [...keep, ...extra].map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n';
    const b = Buffer.from(body);
    const lengthMsg = Buffer.concat([Buffer.from(head(b.length ? [['Content-Length', String(b.length)]] : [])), b]);
    write('http_parser_fuzz', Buffer.concat([Buffer.from([0, 7]), lengthMsg]));
    if (b.length) {
      let chunked = head([['Transfer-Encoding', 'chunked']]);
      for (let i = 0; i < b.length; i += 700) {
        const piece = b.subarray(i, i + 700);
        chunked += piece.length.toString(16) + (i === 0 ? ';ext=1' : '') + '\r\n' + piece.toString('latin1') + '\r\n';
      }
      chunked += '0\r\nX-Trailer: t\r\n\r\n';
      write('http_parser_fuzz', Buffer.concat([Buffer.from([0, 3]), Buffer.from(chunked, 'latin1'), lengthMsg]));
    }
  }
}
console.log(`fuzz: ${n} seeds from ${fixtures}`);
EOF
else
  echo "fuzz: no node or no fixtures in $FIXTURES; hand-made seeds only" >&2
fi

seed() { printf '%b' "$2" > "$OUT/seeds/$1/$3"; }
# HTTP: byte 0 = mode (bit 0 response, bit 1 HEAD response, bit 2 small limits), byte 1 = split.
seed http_parser_fuzz '\x00\x01GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n' get
seed http_parser_fuzz '\x01\x05HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\ne\r\ndata: {"a":1}\n\n\r\n0\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 2\r\n\r\n{}' resp-chunked
seed http_parser_fuzz '\x01\x02HTTP/1.1 200 OK\r\n\r\nuntil close' resp-eof
seed http_parser_fuzz '\x03\x02HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n' resp-head
seed http_parser_fuzz '\x01\x01HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' resp-100
seed http_parser_fuzz '\x04\x03POST / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 1\r\n\r\nx' limits
seed sse_fuzz '\x03event: message_start\ndata: {"type":"message_start"}\n\n: ping\r\n\r\ndata: a\r\ndata: b\r\rid: 1\ndata\n\n' anthropic
seed sse_fuzz '\x01data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n' openai
seed sse_fuzz '\x07event: response.output_text.delta\ndata: {"delta":"x"}\n\nevent: response.completed\ndata: {}' responses
seed sse_fuzz '\x02message_delta\x00line one\rline two\r\nline three\n' format
seed json_fuzz '{"a":[1,2.5e3,-0,true,false,null,"\\u00e9\\ud83d\\ude00\\n"],"b":{}}' mixed
seed config_fuzz '{"_comment":"x","listen":":8000","port":8443,"name":"${FUZZ_A}","base_url":"https://${FUZZ_B}/v1","keys":["${FUZZ_D}",1],"providers":[{"name":"a","port":1e300}]}' config
seed config_fuzz '{"name":"${FUZZ_UNSET}"}' unset

# --------------------------------------------------------------------- run
status=0
summary=""
for t in "${TARGETS[@]}"; do
  mkdir -p "$OUT/corpus/$t"
  dict=()
  if [ "$t" = http_parser_fuzz ]; then
    printf '%s\n' '"HTTP/1.1"' '"HTTP/1.0"' '"\x0d\x0a"' '"Content-Length: "' '"Transfer-Encoding: chunked"' \
      '"Connection: close"' '"Connection: keep-alive"' '"Upgrade: "' '"0\x0d\x0a\x0d\x0a"' '";ext="' '"GET "' \
      '"POST "' '"HEAD "' '"CONNECT "' '"Trailer: "' > "$OUT/http.dict"
    dict=(-dict="$OUT/http.dict")
  fi
  log="$OUT/$t.log"
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s"
  if ! "$OUT/$t" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$t-" "$OUT/corpus/$t" "$OUT/seeds/$t" >"$log" 2>&1; then
    status=1
    echo "fuzz: $t FAILED, see $log and $OUT/artifacts/" >&2
    grep -E "ERROR|runtime error|deadly signal|==[0-9]+==" "$log" | head -5 >&2 || true
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
  corpus=$(find "$OUT/corpus/$t" -type f | wc -l)
  summary+=$(printf '%-18s %12s executions  corpus %s\n' "$t" "$runs" "$corpus")$'\n'
done
printf '\n%s' "$summary"
exit $status
