// End-to-end tests of the tunnel: real clients (the openai SDK, curl, raw
// node:http) → edge → TLS → hub → mock_provider, all real processes on
// loopback. Timing assertions check behaviour (no buffering), with wide
// margins, not performance.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import OpenAI from 'openai';
import * as h from './lib/harness.mjs';

const AUTH = { authorization: `Bearer ${h.CLIENT_KEY}` };
const JSON_HEADERS = { 'content-type': 'application/json', ...AUTH };
const chatBody = (text, extra = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: text }], ...extra });

function headerValues(req, name) {
  return req.headers.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}

// Content deltas of an OpenAI chat stream body.
function chatText(body) {
  return h.sseData(body).filter((d) => typeof d === 'object' && d.choices?.length)
    .map((d) => d.choices[0].delta?.content ?? '').join('');
}

describe('tunnel: one edge, one hub, mock provider', { timeout: 120000 }, () => {
  let s;
  before(async () => {
    s = await h.startStack({ hubExtra: { tenants: ['u1'] } });
  });
  after(async () => { if (s) await s.cleanup(); });
  const edge = (p) => `${s.edge.url}${p}`;
  const withLogs = (msg) => `${msg}\n${s.logs()}`;

  test('(a) openai SDK chat, non-stream and stream, through the edge', async () => {
    const client = new OpenAI({ apiKey: h.CLIENT_KEY, baseURL: edge('/v1'), maxRetries: 0, timeout: 10000 });
    const r = await client.chat.completions.create(chatBody('hello sdk'));
    assert.equal(r.choices[0].message.content, 'echo: hello sdk\n0 1 2 ', withLogs('non-stream content'));
    assert.ok(r.usage.prompt_tokens > 0);
    assert.equal(r.usage.completion_tokens, 3);

    const stream = await client.chat.completions.create(chatBody('hello stream', { stream: true, stream_options: { include_usage: true } }));
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'echo: hello stream\n0 1 2 ');
    assert.ok(usage, withLogs('stream usage chunk missing'));
    assert.equal(usage.completion_tokens, 3);
    assert.equal(usage.total_tokens, usage.prompt_tokens + 3);
  });

  test('(b) curl through the edge, non-stream and -N stream', async () => {
    const base = ['curl', '-sS', '--max-time', '10', '-H', `Authorization: Bearer ${h.CLIENT_KEY}`, '-H', 'Content-Type: application/json'];
    let r = await h.runCommand([...base, '-d', JSON.stringify(chatBody('hi curl')), edge('/v1/chat/completions')]);
    assert.equal(r.code, 0, withLogs(`curl failed: ${r.stderr}`));
    assert.equal(JSON.parse(r.stdout).choices[0].message.content, 'echo: hi curl\n0 1 2 ');

    r = await h.runCommand([...base, '-N', '-d', JSON.stringify(chatBody('hi curl stream', { stream: true })), edge('/v1/chat/completions')]);
    assert.equal(r.code, 0, withLogs(`curl -N failed: ${r.stderr}`));
    assert.equal(chatText(r.stdout), 'echo: hi curl stream\n0 1 2 ');
    assert.match(r.stdout, /data: \[DONE\]/);
  });

  test('(c) UID-prefixed path /u1/v1/chat/completions', async () => {
    await s.mock.clearRequests();
    const r = await h.httpRequest(edge('/u1/v1/chat/completions'), { method: 'POST', headers: JSON_HEADERS, body: chatBody('tenant') });
    assert.equal(r.status, 200, withLogs(`status ${r.status}: ${r.body}`));
    assert.equal(r.json().choices[0].message.content, 'echo: tenant\n0 1 2 ');
    const reqs = await s.mock.requests();
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].path, '/v1/chat/completions', 'the hub strips the UID before the provider');
  });

  test('(d) SSE chunks 50 ms apart upstream arrive ~50 ms apart (no buffering)', async () => {
    const events = [];  // arrival time of every content delta
    const r = await h.httpRequest(edge('/v1/chat/completions'), {
      method: 'POST', timeoutMs: 10000,
      headers: { ...JSON_HEADERS, 'x-mock-chunks': '10', 'x-mock-interval': '50' },
      body: chatBody('timing', { stream: true }),
      onChunk: (c) => {
        for (const d of h.sseData(c.data)) {
          if (typeof d === 'object' && d.choices?.[0]?.delta?.content) events.push(c.t);
        }
      },
    });
    assert.equal(r.status, 200);
    assert.equal(events.length, 10, `expected 10 content deltas, got ${events.length} (the relay must not split or merge SSE events across reads in a way that loses them)`);
    const gaps = events.slice(1).map((t, i) => t - events[i]);
    const med = h.median(gaps);
    assert.ok(med >= 30 && med <= 90, `median gap ${med.toFixed(1)} ms, gaps ${gaps.map((g) => g.toFixed(0)).join(',')}`);
    assert.ok(events[9] - events[0] >= 300, `first delta at ${events[0].toFixed(0)} ms, last at ${events[9].toFixed(0)} ms: buffered`);
  });

  test('(e) headers pass unchanged; X-Request-Id; provider key injected, client key never forwarded', async () => {
    await s.mock.clearRequests();
    const big = 'v'.repeat(1024);
    const r = await h.httpRequest(edge('/v1/chat/completions'), {
      method: 'POST',
      headers: {
        ...JSON_HEADERS, session_id: 'sess-123', 'anthropic-beta': 'tools-2024-04-04,context-1m-2025-08-07',
        'X-Stainless-Lang': 'js', 'x-stainless-package-version': '7.0.0', 'x-big-value': big,
      },
      body: chatBody('headers'),
    });
    assert.equal(r.status, 200, withLogs(r.body));
    const generated = r.headers['x-request-id'];
    assert.ok(generated, 'edge generates X-Request-Id when absent and returns it');
    assert.equal(r.rawHeaders.filter((v, i) => i % 2 === 0 && v.toLowerCase() === 'x-request-id').length, 1,
      `exactly one X-Request-Id to the client, got ${JSON.stringify(r.rawHeaders)}`);

    const [seen] = await s.mock.requests();
    const names = seen.headers.map(([k]) => k);
    assert.ok(names.includes('session_id'), `underscore header name kept: ${JSON.stringify(names)}`);
    assert.deepEqual(headerValues(seen, 'session_id'), ['sess-123']);
    assert.deepEqual(headerValues(seen, 'anthropic-beta'), ['tools-2024-04-04,context-1m-2025-08-07']);
    assert.deepEqual(headerValues(seen, 'x-stainless-lang'), ['js']);
    assert.deepEqual(headerValues(seen, 'x-stainless-package-version'), ['7.0.0']);
    assert.deepEqual(headerValues(seen, 'x-big-value'), [big]);
    assert.deepEqual(headerValues(seen, 'x-request-id'), [generated], 'provider sees the same request id');
    assert.deepEqual(headerValues(seen, 'authorization'), [`Bearer ${h.PROVIDER_KEY}`]);
    assert.ok(!JSON.stringify(seen).includes(h.CLIENT_KEY), `client key reached the provider: ${JSON.stringify(seen)}`);

    await s.mock.clearRequests();
    const r2 = await h.httpRequest(edge('/v1/chat/completions'), {
      method: 'POST', headers: { ...JSON_HEADERS, 'X-Request-Id': 'client-id-42' }, body: chatBody('rid'),
    });
    assert.equal(r2.status, 200);
    assert.equal(r2.headers['x-request-id'], 'client-id-42', `kept and echoed: ${JSON.stringify(r2.rawHeaders)}`);
    const [seen2] = await s.mock.requests();
    assert.deepEqual(headerValues(seen2, 'x-request-id'), ['client-id-42']);
  });

  test('(h) client disconnect mid-stream frees the hub→provider call', async () => {
    const before = await s.mock.stats();
    // /debug/info counts itself as in flight, so compare with an idle baseline.
    const hubIdle = (await s.hub.info()).requests.in_flight;
    const edgeIdle = (await s.edge.info()).requests.in_flight;
    let aborted = false;
    let deltas = 0;
    await assert.rejects(h.httpRequest(edge('/v1/chat/completions'), {
      method: 'POST', timeoutMs: 15000,
      headers: { ...JSON_HEADERS, 'x-mock-chunks': '200', 'x-mock-interval': '20' },
      body: chatBody('long', { stream: true }),
      onChunk: (c, req) => {
        deltas += h.sseData(c.data).length;
        if (deltas >= 3 && !aborted) {
          aborted = true;
          req.destroy(new Error('client gave up'));
        }
      },
    }));
    assert.ok(aborted, 'stream started');
    await h.waitFor('mock active_responses back to 0 after the client left', async () => {
      const st = await s.mock.stats();
      return st.active_responses === 0 && st.open_connections <= before.open_connections + 1;
    }, { timeoutMs: 5000, procs: [s.hub.proc, s.edge.proc] });
    await h.waitFor(`hub in_flight back to ${hubIdle}`, async () => (await s.hub.info()).requests.in_flight === hubIdle, { timeoutMs: 5000 });
    await h.waitFor(`edge in_flight back to ${edgeIdle}`, async () => (await s.edge.info()).requests.in_flight === edgeIdle, { timeoutMs: 5000 });
  });

  test('(i) HEAD / is fast; GET /, /debug/info, /metrics shapes', async () => {
    const t0 = performance.now();
    const head = await h.httpRequest(edge('/'), { method: 'HEAD', timeoutMs: 2000 });
    const ms = performance.now() - t0;
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.ok(ms < 500, `HEAD / took ${ms.toFixed(0)} ms`);

    const root = await h.getJson(edge('/'));
    assert.equal(root.status, 200);
    assert.equal(root.body.ok, true);
    assert.equal(root.body.role, 'edge');
    assert.equal(root.body.hub, 'up');
    assert.equal(typeof root.body.version, 'string');

    const info = await h.getJson(edge('/debug/info'));
    assert.equal(info.status, 200);
    assert.equal(info.body.role, 'edge');
    assert.ok(Array.isArray(info.body.hubs) && info.body.hubs.length === 1, JSON.stringify(info.body));
    assert.equal(info.body.hubs[0].state, 'up');
    // Edge and hub prefer AES-128-GCM where the CPU has AES-NI and
    // carry-less multiply, else ChaCha20-Poly1305; either way our own code
    // seals the records, not mbedTLS.
    const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const aesni = /^flags\s*:.*\baes\b/m.test(cpu) && /^flags\s*:.*\bpclmulqdq\b/m.test(cpu);
    assert.equal(info.body.hubs[0].cipher_suite,
      aesni ? 'TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256' : 'TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256');
    assert.equal(info.body.hubs[0].fast_records, true);
    for (const k of ['idle', 'in_use', 'size']) assert.equal(typeof info.body.pool?.[k], 'number', `pool.${k}`);
    // Nothing else is running in this test: the info request does not count itself.
    assert.equal(info.body.requests?.in_flight, 0, JSON.stringify(info.body.requests));

    const metrics = await h.httpRequest(edge('/metrics'));
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers['content-type'], /^text\/plain/);
    assert.match(metrics.body, /^# TYPE tether_edge_up gauge$/m);
    assert.match(metrics.body, /^tether_edge_up 1$/m);
    assert.match(metrics.body, /^tether_edge_hub_up 1$/m);
  });
});

describe('tunnel: hub outage and recovery', { timeout: 120000 }, () => {
  let s;
  before(async () => { s = await h.startStack(); });
  after(async () => { if (s) await s.cleanup(); });

  test('(f) hub SIGKILLed and restarted on the same port; the edge recovers by itself', async () => {
    const url = `${s.edge.url}/v1/chat/completions`;
    const post = (text) => h.httpRequest(url, { method: 'POST', headers: JSON_HEADERS, body: chatBody(text), timeoutMs: 20000 });
    assert.equal((await post('before')).status, 200);
    const edgePid = s.edge.proc.pid;

    await s.hub.proc.kill9();
    const t0 = performance.now();
    const during = await post('during');
    const ms = performance.now() - t0;
    assert.ok(during.status >= 500 && during.status <= 599, `outage answer ${during.status}: ${during.body}\n${s.logs()}`);
    assert.doesNotThrow(() => JSON.parse(during.body), `outage answer is JSON: ${during.body}`);
    assert.ok(ms < 15000, `outage answer took ${ms.toFixed(0)} ms`);
    await h.waitFor('edge /healthz 503 during the outage', async () => (await s.edge.healthz()) === 503, { timeoutMs: 10000, procs: [s.edge.proc] });

    s.hub = await h.startHub(s.hub.config, { dir: path.dirname(s.hub.file) });
    await h.waitFor('edge /healthz back to 200', async () => (await s.edge.healthz()) === 200, { timeoutMs: 20000, procs: [s.edge.proc, s.hub.proc] });
    const afterR = await post('after');
    assert.equal(afterR.status, 200, `${afterR.body}\n${s.logs()}`);
    assert.equal(afterR.json().choices[0].message.content, 'echo: after\n0 1 2 ');
    assert.equal(s.edge.proc.pid, edgePid);
    assert.ok(s.edge.proc.running, 'edge kept running');
  });
});

describe('tunnel: edge admission', { timeout: 120000 }, () => {
  let s;
  const extra = [];
  before(async () => { s = await h.startStack(); });
  after(async () => {
    await Promise.all(extra.map((p) => p.stop()));
    if (s) await s.cleanup();
  });

  test('(g) an edge trusting another CA cannot connect', async () => {
    const other = await h.makeCerts(path.join(s.dir, 'other-certs'));
    const cfg = h.edgeConfig({ certs: s.certs, ca: other.ca, listenPort: await h.freePort(), hubPort: s.hub.port });
    const e = await h.startEdge(cfg, { dir: path.join(s.dir, 'edge-wrong-ca'), waitHub: false });
    extra.push(e);
    await s.mock.clearRequests();
    await h.sleep(1500);
    assert.equal(await e.healthz(), 503, e.proc.logs());
    const r = await h.httpRequest(`${e.url}/v1/chat/completions`, { method: 'POST', headers: JSON_HEADERS, body: chatBody('x'), timeoutMs: 15000 });
    assert.ok([502, 503].includes(r.status), `status ${r.status}: ${r.body}\n${e.proc.logs()}`);
    assert.doesNotThrow(() => JSON.parse(r.body), `error body is JSON: ${r.body}`);
    assert.equal((await s.mock.requests()).length, 0, 'nothing reached the provider');
  });

  test('(g) an edge with no client certificate and no valid token is refused by the hub', async () => {
    // With neither, the edge refuses its own config before it listens.
    const none = h.edgeConfig({ certs: s.certs, useCert: false, token: '', listenPort: await h.freePort(), hubPort: s.hub.port });
    await assert.rejects(h.startEdge(none, { dir: path.join(s.dir, 'edge-none'), waitHub: false, timeoutMs: 5000 }), /exited/);

    const cfg = h.edgeConfig({ certs: s.certs, useCert: false, token: 'not-a-known-token', listenPort: await h.freePort(), hubPort: s.hub.port });
    const e = await h.startEdge(cfg, { dir: path.join(s.dir, 'edge-anon'), waitHub: false });
    extra.push(e);
    await s.mock.clearRequests();
    await h.sleep(1500);
    const r = await h.httpRequest(`${e.url}/v1/chat/completions`, { method: 'POST', headers: JSON_HEADERS, body: chatBody('x'), timeoutMs: 15000 });
    assert.ok([401, 403, 502, 503].includes(r.status), `status ${r.status}: ${r.body}\n${e.proc.logs()}\n${s.hub.proc.logs()}`);
    assert.equal((await s.mock.requests()).length, 0, 'nothing reached the provider');

    // The same, straight at the hub's TLS port: a TLS alert or a 401, nothing else.
    const answer = await new Promise((resolve) => {
      const sock = tls.connect({ host: '127.0.0.1', port: s.hub.port, servername: 'localhost', ca: fs.readFileSync(s.certs.ca) });
      let data = '';
      const timer = setTimeout(() => { sock.destroy(); resolve({ timeout: true }); }, 5000);
      sock.on('secureConnect', () => {
        sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${h.CLIENT_KEY}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
      });
      sock.on('data', (d) => { data += d; });
      sock.on('error', (err) => { clearTimeout(timer); resolve({ error: err.message, data }); });
      sock.on('close', () => { clearTimeout(timer); resolve({ data }); });
    });
    assert.ok(!answer.timeout, 'hub answered or closed');
    if (answer.data) assert.match(answer.data, /^HTTP\/1\.1 401/, `hub answered an unadmitted peer: ${answer.data.slice(0, 200)}`);
    assert.equal((await s.mock.requests()).length, 0, 'nothing reached the provider');
  });

  test('(g) an edge with the token but no client certificate is admitted', async () => {
    const cfg = h.edgeConfig({ certs: s.certs, useCert: false, token: h.EDGE_TOKEN, listenPort: await h.freePort(), hubPort: s.hub.port });
    const e = await h.startEdge(cfg, { dir: path.join(s.dir, 'edge-token'), waitHub: true });
    extra.push(e);
    const r = await h.httpRequest(`${e.url}/v1/chat/completions`, { method: 'POST', headers: JSON_HEADERS, body: chatBody('token edge') });
    assert.equal(r.status, 200, `${r.body}\n${e.proc.logs()}\n${s.hub.proc.logs()}`);
  });
});
