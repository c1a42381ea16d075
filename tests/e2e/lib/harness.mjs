// Test harness: starts the real binaries (mock_provider, hub, edge) on
// loopback, waits until they listen, and stops them by PID. Every process it
// starts is remembered and SIGKILLed when the test process exits, so a failed
// test never leaks one. Stderr of each process is kept (last 64 KiB) and
// appended to failure messages through `proc.logs()`.
//
// Binaries come from $TETHER_BUILD (default "build", relative to the repo
// root; tests run with cwd = repo root).
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const BUILD = path.resolve(ROOT, process.env.TETHER_BUILD || 'build');
export const bin = (name) => path.join(BUILD, name);

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tmpDir(prefix = 'tether-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// The kernel's range for outgoing connections' local ports: a listening
// port picked inside it can be taken by any connection opened before the
// server binds it (tests run in parallel and open many), so ports for
// servers come from below it.
function ephemeralRange() {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch { /* not Linux: the usual default */ }
  return [32768, 60999];
}

function bindable(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// A port that was free a moment ago, outside the range the kernel hands to
// outgoing connections; random, so test files running side by side rarely
// pick the same one.
export async function freePort() {
  const [lo] = ephemeralRange();
  const base = lo > 12000 ? 10000 : 1024;
  const span = Math.max(1, lo - base);
  for (let i = 0; i < 200; i++) {
    const port = base + Math.floor(Math.random() * span);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port below ${lo}`);
}

// One child process with its output kept for failure messages.
export class Proc {
  constructor(name, args, opts = {}) {
    this.name = name;
    this.args = args;
    this.out = '';
    this.err = '';
    this.exitCode = undefined;
    this.signal = undefined;
    this.child = spawn(args[0], args.slice(1), {
      cwd: ROOT,
      env: { ...process.env, ...(opts.env || {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.pid = this.child.pid;
    live.add(this);
    const keep = (s, d) => {
      s += d.toString();
      return s.length > 65536 ? s.slice(-65536) : s;
    };
    this.child.stdout.on('data', (d) => { this.out = keep(this.out, d); });
    this.child.stderr.on('data', (d) => { this.err = keep(this.err, d); });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.signal = signal;
        live.delete(this);
        resolve({ code, signal });
      });
      this.child.on('error', (e) => {
        this.err += `\nspawn error: ${e.message}`;
        this.exitCode = -1;
        live.delete(this);
        resolve({ code: -1, signal: null });
      });
    });
  }

  get running() { return this.exitCode === undefined; }

  logs() {
    const state = this.running ? 'running' : `exited code=${this.exitCode} signal=${this.signal}`;
    return `--- ${this.name} (pid ${this.pid}, ${state}): ${this.args.join(' ')}\n` +
      `${this.err.trim() || '(no stderr)'}\n`;
  }

  // SIGTERM (or `signal`), then SIGKILL after timeoutMs. Resolves on exit.
  async stop(signal = 'SIGTERM', timeoutMs = 3000) {
    if (!this.running) return;
    try { process.kill(this.pid, signal); } catch { return; }
    const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    await this.exited;
    clearTimeout(t);
  }

  async kill9() { return this.stop('SIGKILL', 1000); }
}

// Resolves when `check()` returns truthy; rejects after timeoutMs, or at once
// when `proc` exits. The error names what was awaited and carries the logs.
export async function waitFor(what, check, { timeoutMs = 10000, intervalMs = 50, procs = [] } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    for (const p of procs) {
      if (p && !p.running) throw new Error(`${what}: ${p.name} exited\n${procs.map((q) => q.logs()).join('')}`);
    }
    try {
      const v = await check();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}` +
        (last ? ` (last error: ${last.message})` : '') + `\n${procs.map((q) => q.logs()).join('')}`);
    }
    await sleep(intervalMs);
  }
}

export function tcpOpen(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

// Plain HTTP/1.1 request with node:http, which keeps header names as given
// (underscores, case). Resolves with status, headers, rawHeaders, body and
// `chunks`: [{t, data}] arrival times in ms since the request was sent.
// An abort (timeout or `signal`) rejects.
export function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 10000, agent = false, onChunk } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const t0 = performance.now();
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent,
    }, (res) => {
      const chunks = [];
      res.on('data', (d) => {
        const c = { t: performance.now() - t0, data: d.toString() };
        chunks.push(c);
        if (onChunk) onChunk(c, req, res);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders,
          body: chunks.map((c) => c.data).join(''), chunks, complete: res.complete,
          json() { return JSON.parse(this.body); },
        });
      });
      res.on('error', (e) => { clearTimeout(timer); reject(e); });
      res.on('aborted', () => { clearTimeout(timer); reject(new Error(`${method} ${url}: response aborted`)); });
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${url}: no complete answer in ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    if (body !== undefined) req.end(typeof body === 'string' ? body : JSON.stringify(body));
    else req.end();
  });
}

export async function getJson(url, timeoutMs = 3000) {
  const r = await httpRequest(url, { timeoutMs });
  return { status: r.status, body: JSON.parse(r.body) };
}

// ---- mock provider ----

// Starts build/mock_provider on a free port. opts: {key, host}.
export async function startMock(opts = {}) {
  const host = opts.host || '127.0.0.1';
  const args = [bin('mock_provider'), '--port', String(opts.port ?? 0), '--host', host];
  if (opts.key) args.push('--key', opts.key);
  const proc = new Proc('mock_provider', args);
  const port = await waitFor('mock_provider to print its port', () => {
    const m = /listening on [^\s:]+:(\d+)/.exec(proc.out);
    return m && Number(m[1]);
  }, { procs: [proc], timeoutMs: 5000 });
  const url = `http://${host}:${port}`;
  return {
    proc, port, url,
    async requests() { return (await getJson(`${url}/_mock/requests`)).body; },
    async clearRequests() { await httpRequest(`${url}/_mock/requests`, { method: 'DELETE' }); },
    async stats() { return (await getJson(`${url}/_mock/stats`)).body; },
    stop: () => proc.stop(),
  };
}

// ---- certificates ----

function run(args, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    execFile(args[0], args.slice(1), { cwd: ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// `hub certs init` + `hub certs issue-edge edge` into dir.
export async function makeCerts(dir, edgeName = 'edge') {
  fs.mkdirSync(dir, { recursive: true });
  await run([bin('hub'), 'certs', 'init', '--dir', dir]);
  await run([bin('hub'), 'certs', 'issue-edge', edgeName, '--dir', dir]);
  const p = (f) => path.join(dir, f);
  for (const f of ['ca.pem', 'hub.pem', 'hub.key', `${edgeName}.pem`, `${edgeName}.key`]) {
    if (!fs.existsSync(p(f))) throw new Error(`makeCerts: ${p(f)} was not written`);
  }
  return {
    dir, ca: p('ca.pem'), caKey: p('ca.key'), hubCert: p('hub.pem'), hubKey: p('hub.key'),
    edgeCert: p(`${edgeName}.pem`), edgeKey: p(`${edgeName}.key`),
  };
}

// ---- hub and edge ----

export const PROVIDER_KEY = 'mock-provider-key';
export const CLIENT_KEY = 'sk-tether-test';
export const EDGE_TOKEN = 'edge-token-test';

// Hub config with one provider per API type, all pointing at the mock, each
// accepting every model name (model_globs "*" on the OpenAI one).
export function hubConfig({ certs, mockUrl, listenPort, plainPort, clientCa = true, edgeTokens = [EDGE_TOKEN], extra = {} }) {
  return {
    listen: `127.0.0.1:${listenPort}`,
    tls: { cert: certs.hubCert, key: certs.hubKey, ...(clientCa ? { client_ca: certs.ca } : {}) },
    edge_tokens: edgeTokens,
    ...(plainPort ? { plain_listen: `127.0.0.1:${plainPort}` } : {}),
    client_keys: [CLIENT_KEY],
    upstream_timeout_sec: 30,
    providers: [
      { id: 'mock-openai', type: 'openai', base_url: `${mockUrl}/v1`, keys: [PROVIDER_KEY], models: ['gpt-4o-mini', 'mock-model'], model_globs: ['gpt-*', 'mock-*'] },
      { id: 'mock-anthropic', type: 'anthropic', base_url: mockUrl, keys: [PROVIDER_KEY], models: ['claude-sonnet-4-6'], model_globs: ['claude-*'] },
      { id: 'mock-gemini', type: 'gemini', base_url: mockUrl, keys: [PROVIDER_KEY], models: ['gemini-2.5-flash'], model_globs: ['gemini-*'] },
    ],
    debug_allow: ['127.0.0.0/8', '::1/128'],
    ...extra,
  };
}

export function edgeConfig({ certs, listenPort, hubPort, useCert = true, token = EDGE_TOKEN, ca, extra = {} }) {
  return {
    listen: `127.0.0.1:${listenPort}`,
    hubs: [{ address: `127.0.0.1:${hubPort}`, server_name: 'localhost' }],
    hub_tls: {
      ca: ca || certs.ca,
      pin_sha256: '',
      ...(useCert ? { cert: certs.edgeCert, key: certs.edgeKey } : { cert: '', key: '' }),
      insecure: false,
    },
    edge_token: token || '',
    pool: { min_idle: 2, max: 64, ping_interval_sec: 15, connect_timeout_sec: 3 },
    limits: {
      max_header_bytes: 65536, max_body_bytes: 33554432, client_idle_timeout_sec: 60,
      upstream_first_byte_timeout_sec: 30, upstream_idle_timeout_sec: 30,
    },
    debug_allow: ['127.0.0.0/8', '::1/128'],
    ...extra,
  };
}

function writeConfig(dir, name, config) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

function portOf(hostPort) { return Number(String(hostPort).split(':').pop()); }

// Starts `hub --config FILE`; resolves when its TLS port accepts and, with
// plain_listen, GET /healthz there answers 200.
export async function startHub(config, { dir = tmpDir('tether-hub-'), env } = {}) {
  // Each hub keeps its keys and usage in its own folder unless a test names
  // one, never in the checkout's run/data that `make run` uses.
  if (config.data_dir === undefined) config = { ...config, data_dir: path.join(dir, 'data') };
  const file = writeConfig(dir, 'hub.json', config);
  const proc = new Proc('hub', [bin('hub'), '--config', file], { env });
  const port = portOf(config.listen);
  const plainPort = config.plain_listen ? portOf(config.plain_listen) : 0;
  await waitFor(`hub to listen on ${config.listen}`, async () => {
    if (!(await tcpOpen(port))) return false;
    if (!plainPort) return true;
    const r = await httpRequest(`http://127.0.0.1:${plainPort}/healthz`, { timeoutMs: 1000 });
    return r.status === 200;
  }, { procs: [proc], timeoutMs: 10000 });
  return {
    proc, config, file, port, plainPort,
    plainUrl: plainPort ? `http://127.0.0.1:${plainPort}` : undefined,
    async info() { return (await getJson(`http://127.0.0.1:${plainPort}/debug/info`)).body; },
    stop: () => proc.stop(),
  };
}

// Starts `edge --config FILE`; resolves when it accepts TCP and, unless
// waitHub is false, /healthz is 200 (a hub link is up).
export async function startEdge(config, { dir = tmpDir('tether-edge-'), waitHub = true, env, timeoutMs = 10000 } = {}) {
  const file = writeConfig(dir, 'edge.json', config);
  const proc = new Proc('edge', [bin('edge'), '--config', file], { env });
  const port = portOf(config.listen);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`edge to listen on ${config.listen}`, () => tcpOpen(port), { procs: [proc], timeoutMs });
  if (waitHub) {
    await waitFor('edge /healthz 200 (hub link up)', async () =>
      (await httpRequest(`${url}/healthz`, { timeoutMs: 1000 })).status === 200, { procs: [proc], timeoutMs });
  }
  return {
    proc, config, file, port, url,
    async healthz() { return (await httpRequest(`${url}/healthz`, { timeoutMs: 2000 })).status; },
    async info() { return (await getJson(`${url}/debug/info`)).body; },
    stop: () => proc.stop(),
  };
}

// mock + certs + hub + edge with defaults; `cleanup()` stops all of them.
export async function startStack({ mockKey = PROVIDER_KEY, hubExtra = {}, edgeExtra = {} } = {}) {
  const dir = tmpDir();
  // Reads the current members, so a hub restarted by a test (stack.hub = …)
  // is the one stopped.
  const members = () => [stack.mock, stack.hub, stack.edge].filter(Boolean);
  const stack = {
    dir,
    async cleanup() {
      await Promise.all(members().map((m) => m.proc.stop()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
    logs() { return members().map((m) => m.proc.logs()).join(''); },
  };
  try {
    stack.mock = await startMock({ key: mockKey });
    stack.certs = await makeCerts(path.join(dir, 'certs'));
    const [hubPort, plainPort, edgePort] = [await freePort(), await freePort(), await freePort()];
    stack.hub = await startHub(hubConfig({ certs: stack.certs, mockUrl: stack.mock.url, listenPort: hubPort, plainPort, extra: hubExtra }), { dir: path.join(dir, 'hub') });
    stack.edge = await startEdge(edgeConfig({ certs: stack.certs, listenPort: edgePort, hubPort, extra: edgeExtra }), { dir: path.join(dir, 'edge') });
  } catch (e) {
    await stack.cleanup();
    throw e;
  }
  return stack;
}

// Runs a binary (e.g. curl) with a bounded time; resolves {code, stdout, stderr, ms}.
export function runCommand(args, { timeoutMs = 15000, input } = {}) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(args[0], args.slice(1), { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
    if (input) child.stdin.end(input); else child.stdin.end();
  });
}

// Splits an SSE body into its data payloads (JSON-parsed when possible).
export function sseData(body) {
  const out = [];
  for (const block of body.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/).filter((l) => l.startsWith('data:'));
    if (!lines.length) continue;
    const data = lines.map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    try { out.push(JSON.parse(data)); } catch { out.push(data); }
  }
  return out;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
