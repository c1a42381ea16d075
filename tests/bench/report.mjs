// Prints the benchmark's Markdown table from the JSON files tests/bench/run.sh
// wrote. Usage: node tests/bench/report.mjs RESULTS_DIR HOLD N SECONDS
import fs from 'node:fs';
import path from 'node:path';

const [dir, hold, n, secs] = process.argv.slice(2);
const read = (f) => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch { return null; }
};
const paths = ['direct', 'nginx', 'tether'];
const r = {};
for (const p of paths) r[p] = { lat: read(`${p}.latency.json`), rps: read(`${p}.rps.json`), sse: read(`${p}.sse.json`), hold: read(`${p}.hold.json`) };
const idle = read('rss_idle.json') || {};
const load = read('rss_load.json') || {};

const fmt = (v, digits = 0) => (v === undefined || v === null || Number.isNaN(v) ? '—' : Number(v).toFixed(digits));
const ratio = (t, x) => (t === undefined || x === undefined || t === null || x === null || !x ? '—' : `${(t / x).toFixed(2)}×`);
const rows = [];
const row = (name, d, g, t, note = '') => rows.push(`| ${name} | ${fmt(d)} | ${fmt(g)} | ${fmt(t)} | ${ratio(t, g)} |${note ? ` ${note}` : ''}`);

const us = (p, k) => r[p].lat?.[k];
row(`latency p50, c=1, n=${n} (µs)`, us('direct', 'p50_us'), us('nginx', 'p50_us'), us('tether', 'p50_us'));
row(`latency p99, c=1, n=${n} (µs)`, us('direct', 'p99_us'), us('nginx', 'p99_us'), us('tether', 'p99_us'));
const added = (p, k) => (us(p, k) !== undefined && us('direct', k) !== undefined ? us(p, k) - us('direct', k) : undefined);
row('added p50 over direct (µs)', 0, added('nginx', 'p50_us'), added('tether', 'p50_us'));
row('added p99 over direct (µs)', 0, added('nginx', 'p99_us'), added('tether', 'p99_us'));
row(`requests/s, c=64, ${secs} s`, r.direct.rps?.rps, r.nginx.rps?.rps, r.tether.rps?.rps);
row('p99 at c=64 (µs)', r.direct.rps?.p99_us, r.nginx.rps?.p99_us, r.tether.rps?.p99_us);
row('SSE time to first byte (µs)', r.direct.sse?.ttfb_us, r.nginx.sse?.ttfb_us, r.tether.sse?.ttfb_us);
const sseAdded = (p) => (r[p].sse && r.direct.sse ? r[p].sse.mean_event_us - r.direct.sse.mean_event_us : undefined);
row('SSE mean added delay per chunk vs direct (µs)', 0, sseAdded('nginx'), sseAdded('tether'));
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

const errors = paths.flatMap((p) => ['lat', 'rps', 'sse'].map((k) => (r[p][k]?.errors ? `${p} ${k}: ${r[p][k].errors} errors` : null))).filter(Boolean);
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
