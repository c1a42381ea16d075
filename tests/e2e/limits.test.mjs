// Admission limits end to end (client → edge → hub → mock provider): tenant
// requests and tokens per minute shared by all of a tenant's keys, per-key
// requests in flight, and the per-key allow-list of clients by User-Agent.
// Every denial is checked in each client format: OpenAI Chat and Responses
// ({"error":{…}}), Anthropic ({"type":"error","error":{…}}) and Gemini
// ({"error":{"code","message","status"}}).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as h from './lib/harness.mjs';

let stack;

const UA = {
  claude_code: 'claude-cli/2.1.0 (external, cli)',
  codex: 'codex_cli_rs/0.50.0 (Debian 12; x86_64) xterm-256color',
  gemini_cli: 'GeminiCLI/0.61.0/gemini-2.5-pro (linux; x64)',
  sdk_openai: 'OpenAI/JS 6.49.0',
};

const keys = [
  // Tenant "ta": one request per minute for both keys together.
  { name: 'ta-one', key: 'tk-lim-ta-one', tenant: 'ta' },
  { name: 'ta-two', key: 'tk-lim-ta-two', tenant: 'ta' },
  // Tenant "tb": ten tokens per minute; any real request overdraws it.
  { name: 'tb-one', key: 'tk-lim-tb-one', tenant: 'tb' },
  { name: 'tb-two', key: 'tk-lim-tb-two', tenant: 'tb' },
  { name: 'single', key: 'tk-lim-single', max_concurrent: 1 },
  { name: 'rpm-conc', key: 'tk-lim-rpm-conc', rpm: 2, max_concurrent: 1 },
  { name: 'cc-only', key: 'tk-lim-cc', clients: ['claude_code'] },
  { name: 'codex-only', key: 'tk-lim-codex', clients: ['codex'] },
  { name: 'gemini-only', key: 'tk-lim-gemini', clients: ['gemini_cli'] },
  { name: 'in-house', key: 'tk-lim-custom', clients: ['re:^InHouseTool/[0-9]+'] },
  { name: 'cc-or-codex', key: 'tk-lim-two', clients: ['claude_code', 'codex'] },
];

before(async () => {
  stack = await h.startStack({
    hubExtra: {
      data_dir: `${h.tmpDir('tether-limits-')}/data`,
      keys,
      tenants: [{ id: 'ta', rpm: 1 }, { id: 'tb', tpm: 10 }, 'tc'],
    },
  });
});

after(async () => { await stack?.cleanup(); });

const FORMATS = ['openai', 'responses', 'anthropic', 'gemini'];

const bodyText = (q) => (typeof q.body === 'string' ? q.body : JSON.stringify(q.body ?? ''));

// One request in a client format; `prefix` is a "/ta"-style tenant path.
function call(format, key, { prefix = '', model, ua, stream = false } = {}) {
  const url = stack.edge.url;
  const agent = ua ? { 'user-agent': ua } : {};
  const json = { 'content-type': 'application/json' };
  if (format === 'openai') {
    return h.httpRequest(`${url}${prefix}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, ...json, ...agent },
      body: JSON.stringify({ model: model || 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'hi' }] }),
    });
  }
  if (format === 'responses') {
    return h.httpRequest(`${url}${prefix}/v1/responses`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, ...json, ...agent },
      body: JSON.stringify({ model: model || 'gpt-4o-mini', stream, input: 'hi' }),
    });
  }
  if (format === 'anthropic') {
    return h.httpRequest(`${url}${prefix}/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', ...json, ...agent },
      body: JSON.stringify({ model: model || 'claude-sonnet-4-6', max_tokens: 16, stream, messages: [{ role: 'user', content: 'hi' }] }),
    });
  }
  const method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
  return h.httpRequest(`${url}${prefix}/v1beta/models/${model || 'gemini-2.5-flash'}:${method}`, {
    method: 'POST', headers: { 'x-goog-api-key': key, ...json, ...agent },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
  });
}

const GEMINI_STATUS = { 403: 'PERMISSION_DENIED', 429: 'RESOURCE_EXHAUSTED' };
const ANTHROPIC_TYPE = { 403: 'permission_error', 429: 'rate_limit_error' };

// The denial has the status, the client's own error shape, a message
// matching `pattern`, and for 429 a Retry-After of at least a second.
function assertDenied(format, r, status, pattern) {
  assert.equal(r.status, status, `${format}: ${r.status} ${r.body}`);
  assert.match(r.headers['content-type'] || '', /application\/json/, format);
  const b = JSON.parse(r.body);
  if (format === 'openai' || format === 'responses') {
    assert.equal(typeof b.error, 'object', r.body);
    assert.equal(typeof b.error.message, 'string', r.body);
    assert.equal(b.type, undefined, r.body);
  } else if (format === 'anthropic') {
    assert.equal(b.type, 'error', r.body);
    assert.equal(b.error?.type, ANTHROPIC_TYPE[status], r.body);
  } else {
    assert.equal(b.error?.code, status, r.body);
    assert.equal(b.error?.status, GEMINI_STATUS[status], r.body);
  }
  assert.match(b.error.message, pattern, `${format}: ${b.error.message}`);
  if (status === 429) {
    const ra = Number(r.headers['retry-after']);
    assert.ok(Number.isInteger(ra) && ra >= 1, `${format}: Retry-After ${r.headers['retry-after']}`);
  }
}

test('tenant rpm is shared by every key of the tenant: 429 with Retry-After in each format', async () => {
  const ok = await call('openai', 'tk-lim-ta-one');
  assert.equal(ok.status, 200, ok.body);
  // The other key of the tenant has made no request, yet the tenant's
  // minute is used up; on the tenant path and on root paths alike.
  for (const f of FORMATS) {
    assertDenied(f, await call(f, 'tk-lim-ta-two'), 429, /tenant ta/);
    assertDenied(f, await call(f, 'tk-lim-ta-two', { prefix: '/ta' }), 429, /^rate limit of 1 requests per minute for tenant ta reached/);
  }
  assertDenied('openai', await call('openai', 'tk-lim-ta-two', { stream: true }), 429, /tenant ta/);
  // Another tenant is not affected.
  assert.equal((await call('openai', h.CLIENT_KEY, { prefix: '/tc' })).status, 200);
});

test('tenant tpm: the tokens one key spent stop the tenant\'s other keys, in each format', async () => {
  const ok = await call('anthropic', 'tk-lim-tb-one');
  assert.equal(ok.status, 200, ok.body);
  const used = JSON.parse(ok.body).usage;
  assert.ok(used.input_tokens + used.output_tokens > 10, `the mock reports more than the 10 tpm: ${JSON.stringify(used)}`);
  for (const f of FORMATS) assertDenied(f, await call(f, 'tk-lim-tb-two'), 429, /^token rate limit of 10 tokens per minute for tenant tb is used up/);
  assertDenied('gemini', await call('gemini', 'tk-lim-tb-one', { stream: true }), 429, /tenant tb/);
});

test('max_concurrent: a second request while one is in flight is 429 in each format, and the slot frees', async () => {
  await stack.mock.clearRequests();
  // Held at the provider for a while: the slot stays taken until it ends.
  const slow = call('openai', 'tk-lim-single', { model: 'gpt-4o-mini@stall_ms=3000' });
  await h.waitFor('the slow request to reach the provider', async () =>
    (await stack.mock.requests()).some((q) => bodyText(q).includes('stall_ms=3000')), { timeoutMs: 5000 });
  for (const f of FORMATS) assertDenied(f, await call(f, 'tk-lim-single'), 429, /single.*in flight/);
  const first = await slow;
  assert.equal(first.status, 200, first.body);
  const again = await call('anthropic', 'tk-lim-single');
  assert.equal(again.status, 200, again.body);
});

test('a request refused for concurrency gives its rpm unit back', async () => {
  // rpm 2: the held request takes one; the refused ones must not take the other.
  await stack.mock.clearRequests();
  const slow = call('openai', 'tk-lim-rpm-conc', { model: 'gpt-4o-mini@stall_ms=2500' });
  await h.waitFor('the slow request to reach the provider', async () =>
    (await stack.mock.requests()).some((q) => bodyText(q).includes('stall_ms=2500')), { timeoutMs: 5000 });
  for (let i = 0; i < 4; i++) assertDenied('openai', await call('openai', 'tk-lim-rpm-conc'), 429, /rpm-conc.*in flight/);
  assert.equal((await slow).status, 200);
  const second = await call('openai', 'tk-lim-rpm-conc');
  assert.equal(second.status, 200, second.body);
  assertDenied('openai', await call('openai', 'tk-lim-rpm-conc'), 429, /2 requests per minute for key rpm-conc/);
});

// Opens a request we can cut, and resolves once the provider has it.
async function abandonable(base, body, marker) {
  const req = http.request(`${base}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: 'Bearer tk-lim-single', 'content-type': 'application/json' },
  });
  req.on('error', () => { /* cut on purpose */ });
  req.on('response', (res) => res.on('data', () => {}).on('error', () => {}));
  req.end(JSON.stringify(body));
  await h.waitFor(`the request to reach the provider (${marker})`, async () =>
    (await stack.mock.requests()).some((q) => bodyText(q).includes(marker)), { timeoutMs: 5000 });
  return req;
}

test('max_concurrent: a stream the client abandons gives its slot back', async () => {
  await stack.mock.clearRequests();
  // Ten seconds of deltas; the client leaves after the first ones.
  const model = 'gpt-4o-mini@chunks=50,interval=200';
  const req = await abandonable(stack.edge.url, { model, stream: true, messages: [{ role: 'user', content: 'x' }] }, 'interval=200');
  assertDenied('openai', await call('openai', 'tk-lim-single'), 429, /single.*in flight/);
  req.destroy();
  await h.waitFor('the slot to free after the client left', async () =>
    (await call('openai', 'tk-lim-single')).status === 200, { timeoutMs: 5000 });
});

for (const [where, base] of [['hub listener', () => stack.hub.plainUrl], ['through the edge', () => stack.edge.url]]) {
  test(`max_concurrent: a request abandoned before its first byte frees the slot (${where})`, async () => {
    // The provider stalls for 20 s; the client leaves long before. Through
    // the edge, the client's FIN must cancel the hub request too.
    await stack.mock.clearRequests();
    const marker = `stall_ms=2000${where.length}`;
    const req = await abandonable(base(), { model: `gpt-4o-mini@${marker}`, messages: [{ role: 'user', content: 'x' }] }, marker);
    assertDenied('openai', await call('openai', 'tk-lim-single'), 429, /single.*in flight/);
    req.destroy();
    await h.waitFor('the slot to free after the client left', async () =>
      (await call('openai', 'tk-lim-single')).status === 200, { timeoutMs: 5000 });
  });
}

test('allowed clients by family: the named CLI passes, any other client is 403 in each format', async () => {
  const cases = [
    { key: 'tk-lim-cc', family: 'claude_code', format: 'anthropic' },
    { key: 'tk-lim-codex', family: 'codex', format: 'responses' },
    { key: 'tk-lim-gemini', family: 'gemini_cli', format: 'gemini' },
  ];
  for (const c of cases) {
    const ok = await call(c.format, c.key, { ua: UA[c.family] });
    assert.equal(ok.status, 200, `${c.family}: ${ok.body}`);
    for (const f of FORMATS) {
      for (const [family, ua] of Object.entries(UA)) {
        if (family === c.family) continue;
        assertDenied(f, await call(f, c.key, { ua }), 403, new RegExp(`may only be used from ${c.family}.*came from ${family}`));
      }
      assertDenied(f, await call(f, c.key), 403, /came from other/);  // no User-Agent at all
    }
  }
});

test('allowed clients by regular expression on the User-Agent, and a list of families', async () => {
  assert.equal((await call('openai', 'tk-lim-custom', { ua: 'InHouseTool/42 (build 7)' })).status, 200);
  assert.equal((await call('gemini', 'tk-lim-custom', { ua: 'InHouseTool/3' })).status, 200);
  for (const f of FORMATS) {
    // Anchored: the name must start the User-Agent, and needs a version.
    assertDenied(f, await call(f, 'tk-lim-custom', { ua: 'NotInHouseTool/42' }), 403, /InHouseTool/);
    assertDenied(f, await call(f, 'tk-lim-custom', { ua: 'InHouseTool/beta' }), 403, /InHouseTool/);
    assertDenied(f, await call(f, 'tk-lim-custom', { ua: UA.claude_code }), 403, /claude_code/);
  }
  assert.equal((await call('anthropic', 'tk-lim-two', { ua: UA.claude_code })).status, 200);
  assert.equal((await call('responses', 'tk-lim-two', { ua: UA.codex })).status, 200);
  for (const f of FORMATS) assertDenied(f, await call(f, 'tk-lim-two', { ua: UA.gemini_cli }), 403, /claude_code, codex|claude_code.*codex/);
});
