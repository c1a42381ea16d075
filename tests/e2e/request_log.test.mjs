// The opt-in request log end to end: with "request_log" in hub.json, each
// API request through edge → hub → mock leaves one JSON line with its body
// and the answer, and no client key or provider key anywhere in the files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

let stack;
let logDir;
const SECRET = 'tk-reqlog-alice-0123456789abcdef';
const LIMIT = 600;  // request_log.max_body_bytes

before(async () => {
  logDir = path.join(h.tmpDir('tether-reqlog-'), 'requests');
  stack = await h.startStack({
    hubExtra: {
      data_dir: path.join(h.tmpDir('tether-reqlog-data-'), 'data'),
      keys: [{ name: 'alice', key: SECRET, tenant: 'u1' }],
      tenants: ['u1'],
      request_log: { dir: logDir, max_body_bytes: LIMIT },
    },
  });
});

after(async () => { await stack?.cleanup(); });

function readLog() {
  const files = fs.existsSync(logDir) ? fs.readdirSync(logDir) : [];
  const text = files.map((f) => fs.readFileSync(path.join(logDir, f), 'utf8')).join('');
  return { text, lines: text.split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

const waitForLine = (what, pred) => h.waitFor(what, () => readLog().lines.find(pred), { timeoutMs: 5000, procs: [stack.hub.proc] });

test('a request with its key in Authorization is logged with its body, without the key', async () => {
  const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'the marker phrase 4711' }] });
  const r = await h.httpRequest(`${stack.edge.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json', 'user-agent': 'OpenAI/JS 6.49.0' }, body,
  });
  assert.equal(r.status, 200, r.body);
  const rid = r.headers['x-request-id'];
  const line = await waitForLine('the log line', (l) => l.id === rid);
  assert.equal(line.key, 'alice');
  assert.equal(line.tenant, 'u1');
  assert.equal(line.method, 'POST');
  assert.equal(line.path, '/v1/chat/completions');
  assert.equal(line.status, 200);
  assert.equal(line.model, 'gpt-4o-mini');
  assert.equal(line.client, 'sdk_openai');
  assert.deepEqual(line.request, { bytes: body.length, truncated: false, body });
  assert.equal(line.response.body, r.body);
  assert.equal(line.response.truncated, false);
  assert.equal(line.headers.authorization, `Bearer ****${SECRET.slice(-4)}`);
  const { text } = readLog();
  assert.ok(!text.includes(SECRET), 'no client key in the log');
  assert.ok(!text.includes(SECRET.slice(0, -4)), 'not even part of it');
  assert.ok(!text.includes(h.PROVIDER_KEY), 'no provider key in the log');
  assert.ok(!text.includes(h.EDGE_TOKEN), 'no edge token in the log');
});

test('key in the query and a denied request: masked path, the denial logged', async () => {
  const url = `${stack.edge.url}/v1beta/models/gemini-2.5-flash:generateContent?key=${SECRET}`;
  const r = await h.httpRequest(url, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'via query' }] }] }),
  });
  assert.equal(r.status, 200, r.body);
  const line = await waitForLine('the query-key line', (l) => l.id === r.headers['x-request-id']);
  assert.equal(line.path, `/v1beta/models/gemini-2.5-flash:generateContent?key=****${SECRET.slice(-4)}`);
  const bad = await h.httpRequest(`${stack.edge.url}/u1/v1/messages`, {
    method: 'POST', headers: { 'x-api-key': 'tk-unknown-key-zzzz9999', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }),
  });
  assert.equal(bad.status, 401);
  const denied = await waitForLine('the 401 line', (l) => l.id === bad.headers['x-request-id']);
  assert.equal(denied.status, 401);
  assert.equal(denied.headers['x-api-key'], '****9999');
  assert.equal(denied.response.body, bad.body);
  const { text } = readLog();
  assert.ok(!text.includes(SECRET) && !text.includes('tk-unknown-key-zzzz'), 'no key text in the log');
});

test('bodies over max_body_bytes are cut and marked, streams included', async () => {
  const long = 'x'.repeat(2000);
  const body = JSON.stringify({ model: 'gpt-4o-mini@chunks=20', stream: true, messages: [{ role: 'user', content: long }] });
  const r = await h.httpRequest(`${stack.edge.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body,
  });
  assert.equal(r.status, 200, r.body);
  const line = await waitForLine('the stream line', (l) => l.id === r.headers['x-request-id']);
  assert.equal(line.stream, true);
  assert.equal(line.request.truncated, true);
  assert.equal(line.request.bytes, body.length);
  assert.equal(line.request.body, body.slice(0, LIMIT));
  assert.ok(r.body.length > LIMIT, 'the stream is longer than the limit');
  assert.equal(line.response.truncated, true);
  assert.equal(line.response.bytes, r.body.length);
  assert.equal(line.response.body, r.body.slice(0, LIMIT));
  const info = await stack.hub.info();
  assert.ok(info.request_log.written >= 1 && info.request_log.dropped === 0, JSON.stringify(info.request_log));
});

test('SIGTERM writes out every queued line', async () => {
  const before = readLog().lines.length;
  const r = await h.httpRequest(`${stack.edge.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'last words' }] }),
  });
  assert.equal(r.status, 200);
  await stack.hub.stop();
  const { lines } = readLog();
  assert.equal(lines.length, before + 1);
  assert.equal(lines.at(-1).id, r.headers['x-request-id']);
});
