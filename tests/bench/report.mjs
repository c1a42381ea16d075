// Prints the benchmark's Markdown table from the JSON files tests/bench/run.sh
// wrote. Usage: node tests/bench/report.mjs RESULTS_DIR HOLD N SECONDS
import fs from 'node:fs';
import path from 'node:path';

const [dir, hold, n, secs, rounds = '1', bigBytes = ''] = process.argv.slice(2);
const read = (f) => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch { return null; }
};
const median = (xs) => {
  const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!v.length) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
// Round files NAME.1.json, NAME.2.json, …: each numeric field's median over
// the rounds (errors: the sum), so one noisy round does not decide a ratio.
const readRounds = (name) => {
  const runs = [];
  for (let i = 1; i <= Number(rounds); i++) {
    const x = read(`${name}.${i}.json`);
    if (x) runs.push(x);
  }
  if (!runs.length) return read(`${name}.json`);
  const out = { rounds: runs.length };
  for (const k of Object.keys(runs[0])) out[k] = k === 'errors' ? runs.reduce((a, x) => a + (x[k] || 0), 0) : median(runs.map((x) => x[k]));
  return out;
};
const paths = ['direct', 'nginx', 'tether'];
const r = {};
for (const p of paths) r[p] = { big: readRounds(`${p}.biglat`), lat: readRounds(`${p}.latency`), rps: readRounds(`${p}.rps`), sse: read(`${p}.sse.json`), hold: read(`${p}.hold.json`) };
const idle = read('rss_idle.json') || {};
const load = read('rss_load.json') || {};

const fmt = (v, digits = 0) => (v === undefined || v === null || Number.isNaN(v) ? '—' : Number(v).toFixed(digits));
const ratio = (t, x) => (t === undefined || x === undefined || t === null || x === null || !x ? '—' : `${(t / x).toFixed(2)}×`);
const rows = [];
const row = (name, d, g, t, note = '') => rows.push(`| ${name} | ${fmt(d)} | ${fmt(g)} | ${fmt(t)} | ${ratio(t, g)} |${note ? ` ${note}` : ''}`);

const us = (p, k) => r[p].lat?.[k];
const roundNote = Number(rounds) > 1 ? `, median of ${rounds} rounds` : '';
row(`latency p50, c=1, n=${n}${roundNote} (µs)`, us('direct', 'p50_us'), us('nginx', 'p50_us'), us('tether', 'p50_us'));
row(`latency p99, c=1, n=${n}${roundNote} (µs)`, us('direct', 'p99_us'), us('nginx', 'p99_us'), us('tether', 'p99_us'));
const added = (p, k) => (us(p, k) !== undefined && us('direct', k) !== undefined ? us(p, k) - us('direct', k) : undefined);
row('added p50 over direct (µs)', 0, added('nginx', 'p50_us'), added('tether', 'p50_us'));
row('added p99 over direct (µs)', 0, added('nginx', 'p99_us'), added('tether', 'p99_us'));
const big = (p, k) => r[p].big?.[k];
const bigAdded = (p, k) => (big(p, k) !== undefined && big('direct', k) !== undefined ? big(p, k) - big('direct', k) : undefined);
const kb = bigBytes ? `${Math.round(Number(bigBytes) / 1000)} KB` : 'large';
row(`latency p50, c=1, ${kb} body (Claude Code-sized)${roundNote} (µs)`, big('direct', 'p50_us'), big('nginx', 'p50_us'), big('tether', 'p50_us'));
row(`added p50 over direct, ${kb} body (µs)`, 0, bigAdded('nginx', 'p50_us'), bigAdded('tether', 'p50_us'));
row(`requests/s, c=64, ${secs} s${roundNote}`, r.direct.rps?.rps, r.nginx.rps?.rps, r.tether.rps?.rps);
row('p99 at c=64 (µs)', r.direct.rps?.p99_us, r.nginx.rps?.p99_us, r.tether.rps?.p99_us);
const sse = (p, k) => r[p].sse?.[k];
row('SSE time to first byte, median (µs)', sse('direct', 'ttfb_p50_us'), sse('nginx', 'ttfb_p50_us'), sse('tether', 'ttfb_p50_us'));
row('SSE time to first byte, mean (µs)', sse('direct', 'ttfb_us'), sse('nginx', 'ttfb_us'), sse('tether', 'ttfb_us'));
// Each event carries the mock's send time: delay = arrival − send, per event.
row('SSE per-chunk delay mock → client, p50 (µs)', sse('direct', 'chunk_delay_p50_us'), sse('nginx', 'chunk_delay_p50_us'), sse('tether', 'chunk_delay_p50_us'));
row('SSE per-chunk delay mock → client, p99 (µs)', sse('direct', 'chunk_delay_p99_us'), sse('nginx', 'chunk_delay_p99_us'), sse('tether', 'chunk_delay_p99_us'));
const sseAdded = (p, k) => (sse(p, k) !== undefined && sse('direct', k) !== undefined ? sse(p, k) - sse('direct', k) : undefined);
row('SSE added per-chunk delay over direct, p50 (µs)', 0, sseAdded('nginx', 'chunk_delay_p50_us'), sseAdded('tether', 'chunk_delay_p50_us'));
row('RSS idle, edge (KiB)', undefined, idle.nginx_edge, idle.tether_edge);
row('RSS idle, hub (KiB)', undefined, idle.nginx_hub, idle.tether_hub);
row('RSS after load, edge (KiB)', undefined, load.nginx_edge, load.tether_edge);
row('RSS after load, hub (KiB)', undefined, load.nginx_hub, load.tether_hub);
const perStream = (p, which) => {
  const h = r[p].hold;
  if (!h || !h.raw || !h.streams) return undefined;
  const during = h.raw.rss_kb?.[which === 'edge' ? 0 : 1]?.[1];
  const before = which === 'edge' ? h.edge_before : h.hub_before;
  return during === undefined ? undefined : (during - before) / h.streams;
};
row(`edge RSS per active stream, ${hold} held (KiB)`, undefined, perStream('nginx', 'edge'), perStream('tether', 'edge'));
row(`hub RSS per active stream, ${hold} held (KiB)`, undefined, perStream('nginx', 'hub'), perStream('tether', 'hub'));

const errors = paths.flatMap((p) => ['lat', 'big', 'rps', 'sse'].map((k) => (r[p][k]?.errors ? `${p} ${k}: ${r[p][k].errors} errors` : null))).filter(Boolean);
const missing = paths.flatMap((p) => ['lat', 'rps', 'sse'].map((k) => (r[p][k] ? null : `${p} ${k}`))).filter(Boolean);

console.log('');
console.log('| metric | direct | nginx pair | tether | tether / nginx |');
console.log('|---|---:|---:|---:|---:|');
for (const line of rows) console.log(line);
console.log('');
console.log('Loopback, same mock upstream for every path. nginx: edge → HTTPS keep-alive upstream → hub, both');
console.log('worker_processes 1, proxy_buffering off, TLS 1.2; RSS of nginx is master + worker (per-stream: worker).');
console.log('Per-stream RSS = (RSS with the streams open − RSS before) / streams held.');
if (hold) {
  for (const p of ['nginx', 'tether']) {
    const h = r[p].hold;
    if (!h || h.streams < Number(hold)) console.log(`note: ${p}: only ${h?.streams ?? 0} of ${hold} streams were established`);
  }
}
if (errors.length) console.log(`errors: ${errors.join('; ')}`);
if (missing.length) console.log(`missing results: ${missing.join(', ')}`);
