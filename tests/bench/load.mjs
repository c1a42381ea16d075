// Load and soak through real edge + hub processes on loopback (not part of
// `make test`):
//   node tests/bench/load.mjs --streams 1000 --seconds 60     (make load)
//   node tests/bench/load.mjs --soak --seconds 1800           (make soak)
// Load: N concurrent streaming requests, each lasting the whole run, every
// SSE event numbered by the mock; counts failed requests and lost or
// reordered events, samples edge/hub RSS. Soak: mixed stream and non-stream
// traffic at bounded concurrency; reports RSS growth between the end of
// warm-up and the end of the run (target under 5%).
import http from 'node:http';
import fs from 'node:fs';
import { startStack, CLIENT_KEY } from '../e2e/lib/harness.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const soak = args.includes('--soak');
const seconds = opt('seconds', soak ? 1800 : 60);
const streams = opt('streams', soak ? 50 : 1000);
const intervalMs = 50;

const rssKb = (pid) => {
  try { return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return 0; }
};

const stack = await startStack({
  hubExtra: { upstream_timeout_sec: 600 },
  edgeExtra: {
    pool: { min_idle: 8, max: streams + 100, ping_interval_sec: 15, connect_timeout_sec: 10 },
    limits: { max_header_bytes: 65536, max_body_bytes: 33554432, client_idle_timeout_sec: 600,
      upstream_first_byte_timeout_sec: 600, upstream_idle_timeout_sec: 600 },
  },
});
const agent = new http.Agent({ keepAlive: true, maxSockets: streams + 10 });
const edgePid = stack.edge.proc.pid, hubPid = stack.hub.proc.pid;
const stats = { ok: 0, failed: 0, events: 0, lost: 0, reordered: 0, errors: [] };
const samples = [];
const t0 = Date.now();
const deadline = t0 + seconds * 1000;

// One streaming request whose deltas are "0 ", "1 ", … every intervalMs.
function stream(id, chunks) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `load${id}` }] });
    const req = http.request(`${stack.edge.url}/v1/chat/completions`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`,
        'x-mock-chunks': String(chunks), 'x-mock-interval': String(intervalMs), 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let buf = '', next = 0, done = false;
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i); buf = buf.slice(i + 2);
          const line = ev.split('\n').find((l) => l.startsWith('data: '));
          if (!line) continue;
          const data = line.slice(6);
          if (data === '[DONE]') { done = true; continue; }
          const c = JSON.parse(data).choices?.[0]?.delta?.content;
          if (c === undefined) continue;
          for (const tok of c.replace(/^echo: load\d+\n/, '').trim().split(/\s+/).filter(Boolean)) {
            const n = Number(tok);
            stats.events++;
            if (n > next) stats.lost += n - next;
            if (n < next) stats.reordered++;
            next = n + 1;
          }
        }
      });
      res.on('end', () => {
        if (res.statusCode === 200 && done && next === chunks) stats.ok++;
        else { stats.failed++; if (stats.errors.length < 5) stats.errors.push(`status ${res.statusCode}, ${next}/${chunks} events, done=${done}`); }
        resolve();
      });
      res.on('error', (e) => { stats.failed++; stats.errors.push(e.message); resolve(); });
    });
    req.on('error', (e) => { stats.failed++; if (stats.errors.length < 5) stats.errors.push(e.message); resolve(); });
    req.end(body);
  });
}

function nonStream(id) {
  return new Promise((resolve) => {
    const body = JSON.stringify({ model: 'claude-sonnet-4-6', messages: [{ role: 'user', content: `ns${id}` }] });
    const req = http.request(`${stack.edge.url}/v1/chat/completions`, {
      method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { if (res.statusCode === 200 && text.includes(`echo: ns${id}`)) stats.ok++; else stats.failed++; resolve(); });
    });
    req.on('error', () => { stats.failed++; resolve(); });
    req.end(body);
  });
}

const sampler = setInterval(() => samples.push({ t: (Date.now() - t0) / 1000, edge: rssKb(edgePid), hub: rssKb(hubPid) }), 5000);
samples.push({ t: 0, edge: rssKb(edgePid), hub: rssKb(hubPid) });

if (!soak) {
  const chunks = Math.floor((seconds * 1000) / intervalMs);
  await Promise.all([...Array(streams).keys()].map((i) => stream(i, chunks)));
} else {
  // Each worker alternates short streams and translated non-stream calls until the deadline.
  let n = 0;
  await Promise.all([...Array(streams).keys()].map(async () => {
    while (Date.now() < deadline) {
      const id = n++;
      await (id % 2 ? stream(id, 20) : nonStream(id));
    }
  }));
}
clearInterval(sampler);
samples.push({ t: (Date.now() - t0) / 1000, edge: rssKb(edgePid), hub: rssKb(hubPid) });
const info = await stack.edge.info();
await stack.cleanup();

const peak = (k) => Math.max(...samples.map((s) => s[k]));
const warm = samples.find((s) => s.t >= Math.min(300, seconds / 6)) || samples[1] || samples[0];
const last = samples[samples.length - 1];
const growth = (k) => (warm[k] ? ((last[k] - warm[k]) / warm[k]) * 100 : 0);
const report = {
  mode: soak ? 'soak' : 'load', streams, seconds, ...stats,
  edge_failed: info.requests.failed,
  rss_kb: { edge_start: samples[0].edge, edge_peak: peak('edge'), edge_end: last.edge, hub_start: samples[0].hub, hub_peak: peak('hub'), hub_end: last.hub },
  rss_growth_after_warmup_pct: { edge: Number(growth('edge').toFixed(2)), hub: Number(growth('hub').toFixed(2)) },
};
console.log(JSON.stringify(report, null, 2));
const pass = stats.failed === 0 && stats.lost === 0 && stats.reordered === 0 &&
  (!soak || (report.rss_growth_after_warmup_pct.edge < 5 && report.rss_growth_after_warmup_pct.hub < 5));
console.log(pass ? 'PASS' : 'FAIL');
process.exit(pass ? 0 : 1);
