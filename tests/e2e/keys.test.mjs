// Client keys, tenants, limits, account pools, combos, usage booking and the
// admin API, end to end: client → edge → hub → mock provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as h from './lib/harness.mjs';

const ADMIN = 'admin-secret-test';
let stack;
let dataDir;

const keys = [
  { name: 'u2key', key: 'tk-test-u2', tenant: 'u2' },
  { name: 'expired', key: 'tk-test-expired', expires_at: 1000 },
  { name: 'off', key: 'tk-test-disabled', disabled: true },
  { name: 'broke', key: 'tk-test-broke', daily_budget_usd: 0.000001 },
  { name: 'slow', key: 'tk-test-slow', rpm: 1 },
  { name: 'meter', key: 'tk-test-meter' },
  { name: 'meter-anthropic', key: 'tk-test-meter-a' },
  { name: 'meter-gemini', key: 'tk-test-meter-g' },
  { name: 'meter-responses', key: 'tk-test-meter-r' },
];

before(async () => {
  dataDir = path.join(h.tmpDir('tether-keys-'), 'data');
  stack = await h.startStack({
    hubExtra: {
      data_dir: dataDir,
      keys,
      tenants: ['u1', 'u2'],
      admin_token: ADMIN,
      combos: { fallback: ['mock-openai/gpt-4o-mini@fail_first=1', 'mock-anthropic/claude-sonnet-4-6'] },
    },
  });
  // A provider with two accounts: the preferred one holds a wrong key.
  const cfg = stack.hub.config;
  cfg.providers.push({ id: 'pool', type: 'openai', base_url: `${stack.mock.url}/v1`, models: ['pool-model'],
    accounts: [{ id: 'bad', key: 'wrong-provider-key', priority: 0 }, { id: 'good', key: h.PROVIDER_KEY, priority: 1 }] });
  cfg.providers.push({ id: 'mock-responses', type: 'openai-responses', base_url: `${stack.mock.url}/v1`, keys: [h.PROVIDER_KEY],
    models: ['responses-model'] });
  await restartHub(cfg);
});

after(async () => { await stack?.cleanup(); });

async function restartHub(cfg) {
  await stack.hub.stop();
  stack.hub = await h.startHub(cfg, { dir: path.join(stack.dir, 'hub') });
  await h.waitFor('edge relinked', async () => (await stack.edge.healthz()) === 200, { timeoutMs: 10000 });
}

// One request in the given client format; `prefix` is a "/u1"-style tenant.
function call(format, key, { prefix = '', model = 'gpt-4o-mini', stream = false, base } = {}) {
  const url = base || stack.edge.url;
  if (format === 'openai') {
    return h.httpRequest(`${url}${prefix}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream, ...(stream ? { stream_options: { include_usage: true } } : {}) }),
    });
  }
  if (format === 'anthropic') {
    return h.httpRequest(`${url}${prefix}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    });
  }
  return h.httpRequest(`${url}${prefix}/v1beta/models/${model}:generateContent`, {
    method: 'POST', headers: { 'x-goog-api-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
  });
}

// The error is in the client's own format and carries the status.
function assertError(format, r, status, pattern) {
  assert.equal(r.status, status, `${format}: ${r.body}`);
  const b = JSON.parse(r.body);
  if (format === 'openai') assert.ok(b.error?.message, r.body);
  if (format === 'anthropic') assert.equal(b.type, 'error', r.body);
  if (format === 'gemini') assert.equal(b.error?.code, status, r.body);
  const msg = b.error?.message || '';
  if (pattern) assert.match(msg, pattern);
}

const FORMATS = ['openai', 'anthropic', 'gemini'];

test('denials in every client format: tenant, expired, disabled', async () => {
  for (const f of FORMATS) {
    assertError(f, await call(f, 'tk-test-u2', { prefix: '/u1' }), 403, /tenant/);
    assertError(f, await call(f, 'tk-test-expired'), 401, /expired/);
    assertError(f, await call(f, 'tk-test-disabled'), 401, /disabled/);
    assertError(f, await call(f, 'tk-nobody'), 401);
  }
  // The bound key works on its own tenant and on root paths.
  assert.equal((await call('openai', 'tk-test-u2', { prefix: '/u2' })).status, 200);
  assert.equal((await call('openai', 'tk-test-u2')).status, 200);
});

test('unknown UID is 404', async () => {
  const r = await call('openai', h.CLIENT_KEY, { prefix: '/u9' });
  assert.equal(r.status, 404, r.body);
  assert.match(JSON.parse(r.body).error.message, /u9/);
});

test('over budget is 402 naming the budget, in every format', async () => {
  assert.equal((await call('openai', 'tk-test-broke')).status, 200);  // spends past the tiny budget
  for (const f of FORMATS) assertError(f, await call(f, 'tk-test-broke'), 402, /budget/);
});

test('over rate is 429 with Retry-After, in every format', async () => {
  assert.equal((await call('openai', 'tk-test-slow')).status, 200);
  for (const f of FORMATS) {
    const r = await call(f, 'tk-test-slow');
    assertError(f, r, 429);
    assert.ok(Number(r.headers['retry-after']) >= 1, JSON.stringify(r.headers));
  }
});

test('a combo falls back to its second entry when the first answers 429', async () => {
  await stack.mock.clearRequests();
  const r = await call('openai', h.CLIENT_KEY, { model: 'fallback' });
  assert.equal(r.status, 200, r.body);
  const seen = (await stack.mock.requests()).map((q) => q.path);
  assert.ok(seen.some((p) => p.endsWith('/chat/completions')), JSON.stringify(seen));
  assert.ok(seen.some((p) => p.endsWith('/v1/messages')), JSON.stringify(seen));
});

test('an account the provider refuses is disabled and skipped', async () => {
  await stack.mock.clearRequests();
  const r = await call('openai', h.CLIENT_KEY, { model: 'pool-model' });
  assert.equal(r.status, 200, r.body);  // failed over within the request
  const info = await stack.hub.info();
  const accts = info.accounts.pool.accounts;
  assert.equal(accts.find((a) => a.id === 'bad').state, 'disabled', JSON.stringify(accts));
  assert.equal(accts.find((a) => a.id === 'good').state, 'healthy');
  assert.ok(!JSON.stringify(info).includes('wrong-provider-key'), 'no secrets in /debug/info');
  await stack.mock.clearRequests();
  assert.equal((await call('openai', h.CLIENT_KEY, { model: 'pool-model' })).status, 200);
  const auths = (await stack.mock.requests()).map((q) => q.headers.find(([k]) => k.toLowerCase() === 'authorization')?.[1]);
  assert.deepEqual(auths, [`Bearer ${h.PROVIDER_KEY}`]);
});

test('usage rows match the provider-reported tokens and survive a restart', async () => {
  const a = await call('openai', 'tk-test-meter');
  assert.equal(a.status, 200, a.body);
  const u1 = JSON.parse(a.body).usage;
  const s = await call('openai', 'tk-test-meter', { stream: true });
  assert.equal(s.status, 200, s.body);
  const u2 = h.sseData(s.body).find((e) => e && e.usage)?.usage;
  assert.ok(u1 && u2, 'the mock reports usage');
  const want = { requests: 2, input_tokens: u1.prompt_tokens + u2.prompt_tokens, output_tokens: u1.completion_tokens + u2.completion_tokens };
  const admin = async () => {
    const r = await h.httpRequest(`${stack.hub.plainUrl}/admin/usage?by=key&since=1d`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(r.status, 200, r.body);
    const row = JSON.parse(r.body).rows.find((x) => x.group === 'meter');
    return row && { requests: row.requests, input_tokens: row.input_tokens, output_tokens: row.output_tokens };
  };
  assert.deepEqual(await admin(), want);
  await stack.hub.stop();  // SIGTERM flushes the ledger
  const cli = await h.runCommand([h.bin('hub'), 'usage', '--by', 'key', '--since', '1d', '--json', '--config', stack.hub.file]);
  assert.equal(cli.code, 0, cli.stderr);
  const row = JSON.parse(cli.stdout).rows.find((x) => x.group === 'meter');
  assert.deepEqual({ requests: row.requests, input_tokens: row.input_tokens, output_tokens: row.output_tokens }, want);
  await restartHub(stack.hub.config);
  assert.deepEqual(await admin(), want);
});

test('passthrough streams book the usage each provider format reported, read from its usage events only', async () => {
  // The hub decodes only the events that hold a usage object; the rest
  // (content deltas, Responses' "usage":null events) pass untouched. Three
  // events each, so the usage events sit among others.
  const post = (p, key, body, headers) => h.httpRequest(`${stack.edge.url}${p}`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-mock-chunks': '3', ...headers(key) }, body: JSON.stringify(body) });
  const cases = [
    {
      name: 'meter-anthropic', key: 'tk-test-meter-a',
      send: (key) => post('/v1/messages', key, { model: 'claude-sonnet-4-6', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi there' }] },
        (k) => ({ 'x-api-key': k, 'anthropic-version': '2023-06-01' })),
      reported: (events) => ({
        input_tokens: events.find((e) => e.type === 'message_start').message.usage.input_tokens,
        output_tokens: events.find((e) => e.type === 'message_delta').usage.output_tokens,
      }),
    },
    {
      name: 'meter-gemini', key: 'tk-test-meter-g',
      send: (key) => post('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', key,
        { contents: [{ role: 'user', parts: [{ text: 'hi there' }] }] }, (k) => ({ 'x-goog-api-key': k })),
      reported: (events) => {
        const u = events.filter((e) => e.usageMetadata).at(-1).usageMetadata;
        return { input_tokens: u.promptTokenCount, output_tokens: u.candidatesTokenCount };
      },
    },
    {
      name: 'meter-responses', key: 'tk-test-meter-r',
      send: (key) => post('/v1/responses', key, { model: 'responses-model', stream: true, input: 'hi there' },
        (k) => ({ authorization: `Bearer ${k}` })),
      reported: (events) => {
        const u = events.find((e) => e.type === 'response.completed').response.usage;
        return { input_tokens: u.input_tokens, output_tokens: u.output_tokens };
      },
    },
  ];
  const want = {};
  for (const c of cases) {
    const r = await c.send(c.key);
    assert.equal(r.status, 200, `${c.name}: ${r.body}`);
    const events = h.sseData(r.body).filter((e) => e && typeof e === 'object');
    assert.ok(events.length >= 3, `${c.name}: a stream of several events: ${r.body}`);
    want[c.name] = { requests: 1, ...c.reported(events) };
    assert.ok(want[c.name].input_tokens > 0 && want[c.name].output_tokens > 0, `${c.name}: the mock reports usage`);
  }
  // Responses streams say "usage":null before the end: those events are
  // not usage. A second request, the same size, must book the same again.
  const again = await cases[2].send('tk-test-meter-r');
  assert.match(again.body, /"usage":null/);
  const one = want['meter-responses'];
  want['meter-responses'] = { requests: 2, input_tokens: 2 * one.input_tokens, output_tokens: 2 * one.output_tokens };
  await h.waitFor('usage rows written', async () => {
    const r = await h.httpRequest(`${stack.hub.plainUrl}/admin/usage?by=key&since=1d`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const rows = JSON.parse(r.body).rows;
    return cases.every((c) => rows.some((x) => x.group === c.name && x.requests === want[c.name].requests));
  }, { timeoutMs: 10000 });
  const r = await h.httpRequest(`${stack.hub.plainUrl}/admin/usage?by=key&since=1d`, { headers: { authorization: `Bearer ${ADMIN}` } });
  const rows = JSON.parse(r.body).rows;
  for (const c of cases) {
    const row = rows.find((x) => x.group === c.name);
    assert.deepEqual({ requests: row.requests, input_tokens: row.input_tokens, output_tokens: row.output_tokens }, want[c.name], c.name);
  }
});

test('hub keys create prints a tk- key that works through the edge', async () => {
  const r = await h.runCommand([h.bin('hub'), 'keys', 'create', '--name', 'cli-made', '--tenant', 'u1', '--config', stack.hub.file]);
  assert.equal(r.code, 0, r.stderr);
  const key = r.stdout.trim();
  assert.match(key, /^tk-[A-Za-z0-9_-]{43}$/);
  await h.sleep(1100);  // the hub re-reads keys.db on an unknown key at most once a second
  assert.equal((await call('openai', key, { prefix: '/u1' })).status, 200);
  assertError('openai', await call('openai', key, { prefix: '/u2' }), 403);
  const list = await h.runCommand([h.bin('hub'), 'keys', 'list', '--config', stack.hub.file]);
  assert.ok(list.stdout.includes('"cli-made"') && !list.stdout.includes(key), list.stdout);
});

test('admin API: refuses without the token, 404 through the edge, works with it', async () => {
  const url = `${stack.hub.plainUrl}/admin/keys`;
  assert.equal((await h.httpRequest(url)).status, 401);
  assert.equal((await h.httpRequest(url, { headers: { authorization: 'Bearer nope' } })).status, 401);
  assert.equal((await h.httpRequest(`${stack.edge.url}/admin/keys`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 404);
  const auth = { authorization: `Bearer ${ADMIN}` };
  let r = await h.httpRequest(url, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'api-made', rpm: 5 }) });
  assert.equal(r.status, 201, r.body);
  const key = JSON.parse(r.body).key;
  assert.equal((await call('openai', key)).status, 200);
  r = await h.httpRequest(url, { headers: auth });
  assert.ok(JSON.parse(r.body).keys.some((k) => k.name === 'api-made'));
  r = await h.httpRequest(`${url}/api-made`, { method: 'DELETE', headers: auth });
  assert.equal(r.status, 200, r.body);
  assertError('openai', await call('openai', key), 401, /disabled/);
});
