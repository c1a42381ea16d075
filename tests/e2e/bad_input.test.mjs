// Hostile and malformed input, sent as raw bytes: each gets the right status
// and a clear error, and the processes keep serving everyone else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { startStack, CLIENT_KEY, httpRequest } from './lib/harness.mjs';

let stack;
before(async () => { stack = await startStack({ edgeExtra: { limits: {
  max_header_bytes: 16384, max_body_bytes: 1048576, client_idle_timeout_sec: 60, header_timeout_sec: 2,
  upstream_first_byte_timeout_sec: 30, upstream_idle_timeout_sec: 30 } } }); });
after(async () => { await stack?.cleanup(); });

// Sends raw bytes and collects everything until the peer closes or the time is up.
function raw(port, bytes, { timeoutMs = 5000, keepOpenMs = 0 } = {}) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    let done = false;
    const finish = (why) => { if (!done) { done = true; s.destroy(); resolve({ out, why }); } };
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('close', () => finish('closed'));
    s.on('error', () => finish('error'));
    s.on('connect', () => {
      if (typeof bytes === 'function') bytes(s); else s.write(bytes);
      if (keepOpenMs) setTimeout(() => finish('kept'), keepOpenMs);
    });
    setTimeout(() => finish('timeout'), timeoutMs);
  });
}

const statusOf = (out) => Number((/^HTTP\/1\.1 (\d{3})/.exec(out) || [])[1]);
const bodyOf = (out) => out.slice(out.indexOf('\r\n\r\n') + 4);

async function stillServing() {
  const r = await httpRequest(`${stack.edge.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still there?' }] }),
  });
  assert.equal(r.status, 200, r.body);
  assert.match(r.body, /echo: still there\?/);
}

test('malformed request line → 400 JSON error, connection closed', async () => {
  const { out } = await raw(stack.edge.port, 'GARBAGE\r\n\r\n');
  assert.equal(statusOf(out), 400, out);
  assert.match(JSON.parse(bodyOf(out)).error.message, /malformed HTTP request/);
  await stillServing();
});

test('unknown method → 400', async () => {
  const { out } = await raw(stack.edge.port, 'BREW /v1/models HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(statusOf(out), 400, out);
});

test('oversized header block → 431', async () => {
  const { out } = await raw(stack.edge.port, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
  assert.equal(statusOf(out), 431, out);
  await stillServing();
});

test('declared body over the limit → 413 in the client format, before reading it', async () => {
  const { out } = await raw(stack.edge.port,
    'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{');
  assert.equal(statusOf(out), 413, out);
  const b = JSON.parse(bodyOf(out));
  assert.equal(b.type, 'error');
  assert.equal(b.error.type, 'request_too_large');
});

test('chunked body over the limit → 413', async () => {
  const chunk = 'x'.repeat(65536);
  const { out } = await raw(stack.edge.port, (s) => {
    s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let i = 0; i < 20; i++) s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
  });
  assert.equal(statusOf(out), 413, out.slice(0, 300));
  await stillServing();
});

test('request smuggling: Content-Length with Transfer-Encoding, and duplicate Content-Length → 400', async () => {
  let { out } = await raw(stack.edge.port,
    'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  assert.equal(statusOf(out), 400, out);
  ({ out } = await raw(stack.edge.port,
    'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde'));
  assert.equal(statusOf(out), 400, out);
});

test('CR/LF injection in a header value is refused', async () => {
  const { out } = await raw(stack.edge.port, 'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: a\rInjected: 1\r\n\r\n');
  assert.equal(statusOf(out), 400, out);
});

test('slowloris: a head that never completes is cut after the header timeout', async () => {
  const t0 = Date.now();
  const { out, why } = await raw(stack.edge.port, 'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Slow: 1', { timeoutMs: 8000 });
  const ms = Date.now() - t0;
  assert.notEqual(why, 'timeout', 'the edge must close a stalled head');
  assert.ok(ms >= 1500, `closed after ${ms} ms`);
  assert.equal(statusOf(out), 408, out);
});

test('invalid and deeply nested JSON → 400 in the client format', async () => {
  const post = (path, body, headers) => httpRequest(`${stack.edge.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  let r = await post('/v1/messages', '{"model": "claude-sonnet-4-6", "messages": [', { 'x-api-key': CLIENT_KEY });
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.body).error.type, 'invalid_request_error');
  r = await post('/v1/chat/completions', `{"model":"gpt-4o-mini","x":${'['.repeat(5000)}${']'.repeat(5000)}}`, { authorization: `Bearer ${CLIENT_KEY}` });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /nested deeper/);
  // Invalid UTF-8 inside a JSON string: relayed or refused, never a crash.
  const bad = Buffer.concat([Buffer.from('{"contents":[{"role":"user","parts":[{"text":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}]}')]);
  r = await post('/v1beta/models/gemini-2.5-flash:generateContent', bad, { 'x-goog-api-key': CLIENT_KEY });
  assert.ok(r.status === 400 || r.status === 200, `status ${r.status}: ${r.body}`);
  if (r.status === 400) assert.equal(JSON.parse(r.body).error.status, 'INVALID_ARGUMENT');
  await stillServing();
});

test('path traversal or junk in the UID segment → 404 naming the problem', async () => {
  for (const p of ['/..%2F..%2Fetc/v1/chat/completions', '/a.b/v1/chat/completions', `/${'u'.repeat(65)}/v1/chat/completions`]) {
    const r = await httpRequest(`${stack.edge.url}${p}`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    assert.equal(r.status, 404, `${p}: ${r.body}`);
    assert.match(JSON.parse(r.body).error.message, /tenant|path/);
  }
});

test('TLS garbage on the hub port is dropped; plain HTTP there gets nothing useful', async () => {
  const { out, why } = await raw(stack.hub.port, Buffer.from('\x16\x03\x01\x00\x05garbage-not-tls'), { timeoutMs: 5000 });
  assert.notEqual(why, 'timeout', 'the hub must close a connection that is not TLS');
  assert.ok(!out.includes('HTTP/1.1 200'), out);
  const plain = await raw(stack.hub.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5000 });
  assert.ok(!plain.out.includes('"role":"hub"'), 'no answer in clear text on the TLS port');
  await stillServing();
});

test('a TLS client without edge credentials gets 401 from the hub', async () => {
  const out = await new Promise((resolve) => {
    const s = tls.connect({ port: stack.hub.port, host: '127.0.0.1', ca: [], rejectUnauthorized: false, servername: 'localhost' }, () => {
      s.write('GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' + CLIENT_KEY + '\r\n\r\n');
    });
    let buf = '';
    s.on('data', (d) => { buf += d; });
    s.on('close', () => resolve(buf));
    s.on('error', () => resolve(buf));
    setTimeout(() => { s.destroy(); resolve(buf); }, 5000);
  });
  assert.equal(statusOf(out), 401, out);
  assert.match(out, /edges only/);
});

test('pipelined requests are answered in order on one connection', async () => {
  const { out } = await raw(stack.edge.port,
    'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ' + CLIENT_KEY + '\r\n\r\n',
    { keepOpenMs: 1500, timeoutMs: 4000 });
  const statuses = [...out.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  assert.deepEqual(statuses, [200, 200, 200], out.slice(0, 500));
  const i1 = out.indexOf('"hub":"up"'), i2 = out.indexOf('"role":"edge"'), i3 = out.indexOf('"object":"list"');
  assert.ok(i1 >= 0 && i1 < i2 && i2 < i3, 'answers in request order');
});
