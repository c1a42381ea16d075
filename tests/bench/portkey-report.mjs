// Prints the Tether vs Portkey table from the JSON files tests/bench/portkey.sh
// wrote. Usage: node tests/bench/portkey-report.mjs RESULTS_DIR N SECONDS PORTKEY_VERSION ROUNDS
// Latency: the median over the rounds of each round's p50 and p99. Throughput:
// all rounds' requests over all rounds' time; p99 at c=64: the worst round.
import fs from 'node:fs';
import path from 'node:path';

const [dir, n, secs, pkVersion, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg) || 1;
const read = (f) => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch { return null; }
};
const cases = [
  ['openai', 'passthrough: OpenAI client → OpenAI provider'],
  ['anthropic', 'translated: OpenAI client → Anthropic provider'],
];
const relays = ['direct', 'portkey', 'hub', 'edge'];
const r = {};
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
// One path's rounds merged into the shape of a single loadgen result.
const merge = (files, kind) => {
  const got = files.map(read).filter(Boolean);
  if (!got.length) return null;
  const errors = got.reduce((a, g) => a + (g.errors || 0), 0) + (files.length - got.length);
  if (kind === 'lat') return { errors, p50_us: median(got.map((g) => g.p50_us)), p99_us: median(got.map((g) => g.p99_us)) };
  const requests = got.reduce((a, g) => a + g.requests, 0);
  const time = got.reduce((a, g) => a + (g.rps ? g.requests / g.rps : 0), 0);
  return { errors, rps: time ? requests / time : 0, p99_us: Math.max(...got.map((g) => g.p99_us)) };
};
const range = (k) => Array.from({ length: k }, (_, i) => i + 1);
for (const [c] of cases) {
  for (const p of relays) {
    const key = `${p}_${c}`;
    r[key] = { lat: merge(range(rounds).map((i) => `${key}.latency.${i}.json`), 'lat'), rps: merge(range(2).map((i) => `${key}.rps.${i}.json`), 'rps') };
  }
}
const idle = read('rss_idle.json') || {};
const load = read('rss_load.json') || {};

const num = (v) => (v === undefined || v === null || Number.isNaN(v) ? undefined : v);
const fmt = (v, digits = 0) => (num(v) === undefined ? '—' : Number(v).toFixed(digits));
const div = (a, b) => (num(a) === undefined || num(b) === undefined || !b ? undefined : a / b);
const lat = (p, c, k) => num(r[`${p}_${c}`].lat?.[k]);
const added = (p, c, k) => (lat(p, c, k) === undefined || lat('direct', c, k) === undefined ? undefined : lat(p, c, k) - lat('direct', c, k));
const rps = (p, c) => num(r[`${p}_${c}`].rps?.rps);

const P50_TARGET = 0.1;
const RPS_TARGET = 20;
const verdicts = [];

console.log('');
console.log(`Tether vs Portkey AI Gateway ${pkVersion} (@portkey-ai/gateway, node ${process.version}), loopback, same mock upstream`);
for (const [c, title] of cases) {
  console.log('');
  console.log(`**${title}**`);
  console.log('');
  console.log('| metric | direct | portkey | tether hub (plain) | tether edge → hub | hub / portkey | edge+hub / portkey |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const row = (name, d, pk, hub, edge, r1, r2) => {
    const x = (v) => (num(v) === undefined ? '—' : `${v.toFixed(v < 1 ? 3 : 2)}×`);
    console.log(`| ${name} | ${fmt(d)} | ${fmt(pk)} | ${fmt(hub)} | ${fmt(edge)} | ${x(r1)} | ${x(r2)} |`);
  };
  for (const k of ['p50_us', 'p99_us']) {
    row(`latency ${k.slice(0, 3)}, c=1, ${rounds}×${n} (µs)`, lat('direct', c, k), lat('portkey', c, k), lat('hub', c, k), lat('edge', c, k),
      div(lat('hub', c, k), lat('portkey', c, k)), div(lat('edge', c, k), lat('portkey', c, k)));
  }
  for (const k of ['p50_us', 'p99_us']) {
    row(`added ${k.slice(0, 3)} over direct (µs)`, 0, added('portkey', c, k), added('hub', c, k), added('edge', c, k),
      div(added('hub', c, k), added('portkey', c, k)), div(added('edge', c, k), added('portkey', c, k)));
  }
  row(`requests/s, c=64, ${secs} s`, rps('direct', c), rps('portkey', c), rps('hub', c), rps('edge', c),
    div(rps('hub', c), rps('portkey', c)), div(rps('edge', c), rps('portkey', c)));
  row('p99 at c=64 (µs)', num(r[`direct_${c}`].rps?.p99_us), num(r[`portkey_${c}`].rps?.p99_us), num(r[`hub_${c}`].rps?.p99_us),
    num(r[`edge_${c}`].rps?.p99_us), undefined, undefined);

  const p50 = div(added('hub', c, 'p50_us'), added('portkey', c, 'p50_us'));
  const thr = div(rps('edge', c), rps('portkey', c));
  const p50Met = p50 !== undefined && p50 <= P50_TARGET;
  verdicts.push(`${c === 'openai' ? 'passthrough' : 'translated'}: hub added p50 / Portkey added p50 = ` +
    `${p50 === undefined ? '—' : p50.toFixed(3)} (target ≤ ${P50_TARGET}): ${p50 === undefined ? 'NOT MEASURED' : p50Met ? 'MET' : 'NOT MET'}`);
  verdicts.push(`${c === 'openai' ? 'passthrough' : 'translated'}: edge+hub rps / Portkey rps at c=64 = ` +
    `${thr === undefined ? '—' : thr.toFixed(1)} (target ≥ ${RPS_TARGET}): ${thr === undefined ? 'NOT MEASURED' : thr >= RPS_TARGET ? 'MET' : 'NOT MET'}`);
}

console.log('');
console.log('**resident memory (KiB)**');
console.log('');
console.log('| process | idle | after load | peak | vs portkey (after load) |');
console.log('|---|---:|---:|---:|---:|');
for (const [k, name] of [['portkey', 'portkey (node)'], ['hub', 'tether hub'], ['edge', 'tether edge']]) {
  const ratio = div(load[k], load.portkey);
  console.log(`| ${name} | ${fmt(idle[k])} | ${fmt(load[k])} | ${fmt(load[`${k}_peak`])} | ${k === 'portkey' || ratio === undefined ? '—' : `${ratio.toFixed(3)}×`} |`);
}

console.log('');
console.log('Targets, from this run:');
for (const v of verdicts) console.log(`- ${v}`);
console.log('');
console.log('Portkey runs as `node build/start-server.js --headless` (what `npx @portkey-ai/gateway` starts), NODE_ENV=production,');
console.log('routed per request by x-portkey-provider and x-portkey-custom-host to the mock. The hub column is its');
console.log('plain_listen (same host, no TLS); edge → hub adds the edge and the warm TLS link. Added latency is over the');
console.log('matching direct baseline (mock /v1/chat/completions, or /v1/messages for the translated case).');
console.log(`Latency: median of ${rounds} interleaved rounds' p50 / p99; requests/s: 2 interleaved rounds of ${Number(secs) / 2} s`);
console.log('after a warm-up at c=64 (Portkey: long enough for node\'s JIT to reach steady state).');

const errors = [];
const missing = [];
for (const [key, v] of Object.entries(r)) {
  for (const k of ['lat', 'rps']) {
    if (!v[k]) missing.push(`${key} ${k}`);
    else if (v[k].errors) errors.push(`${key} ${k}: ${v[k].errors} errors`);
  }
}
if (errors.length) console.log(`errors: ${errors.join('; ')}`);
if (missing.length) console.log(`missing results: ${missing.join(', ')}`);
