// A burst above pool.max: with every hub link busy, a request queues until a
// link comes back (longer than connect_timeout_sec, which is about reaching
// the hub), while a request that finds no hub still fails after
// connect_timeout_sec. pool.max 1 and a 1 s connect timeout keep it short.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, CLIENT_KEY, httpRequest, waitFor } from './lib/harness.mjs';

let stack;
before(async () => {
  stack = await startStack({
    edgeExtra: { pool: { min_idle: 1, max: 1, ping_interval_sec: 15, connect_timeout_sec: 1, queue_timeout_sec: 20 } },
  });
});
after(async () => { await stack?.cleanup(); });

const chat = (headers = {}, stream = false) => httpRequest(`${stack.edge.url}/v1/chat/completions`, {
  method: 'POST', timeoutMs: 15000,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, ...headers },
  body: { model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'x' }] },
});

test('with the only link busy past connect_timeout_sec, the next request waits for it and is served', async () => {
  // Holds the single link for about 2.5 s (5 deltas, 500 ms apart).
  const t0 = Date.now();
  const holder = chat({ 'x-mock-chunks': '5', 'x-mock-interval': '500' }, true);
  await waitFor('the holder to take the link', async () => (await stack.edge.info()).pool.in_use === 1,
    { timeoutMs: 3000, intervalMs: 20 });
  const queued = chat();
  await waitFor('the second request to queue', async () => (await stack.edge.info()).pool.waiting_requests === 1,
    { timeoutMs: 2000, intervalMs: 20 });
  const [h, q] = await Promise.all([holder, queued]);
  const ms = Date.now() - t0;
  assert.equal(h.status, 200, h.body);
  assert.equal(q.status, 200, q.body);
  assert.equal(q.json().object, 'chat.completion');
  assert.ok(ms >= 2000, `served after ${ms} ms: it should have waited for the holder`);
  const info = await stack.edge.info();
  assert.equal(info.pool.waiting_requests, 0);
  assert.equal(info.pool.links_opened, 1, 'no link beyond pool.max was opened');
});

test('with the hub down, a request still gets 503 after connect_timeout_sec', async () => {
  await stack.hub.stop();
  await waitFor('the edge to see the hub gone', async () => (await stack.edge.healthz()) === 503, { timeoutMs: 5000 });
  const t0 = Date.now();
  const r = await chat();
  const ms = Date.now() - t0;
  assert.equal(r.status, 503, r.body);
  assert.match(r.json().error.message, /no hub reachable/);
  assert.ok(ms < 4000, `took ${ms} ms`);
});
