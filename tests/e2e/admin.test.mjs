// What a key sees in the model lists, the operator re-enabling a provider
// account that a 401/403 disabled, and the usage_booking switch, end to
// end: client → edge → hub → mock provider.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as h from './lib/harness.mjs';

const ADMIN = 'admin-secret-e2e';
const auth = { authorization: `Bearer ${ADMIN}` };
let stack;
let dataRoot;

before(async () => {
  dataRoot = h.tmpDir('tether-admin-');
  stack = await h.startStack({
    hubExtra: {
      data_dir: path.join(dataRoot, 'data'),
      admin_token: ADMIN,
      tenants: ['u1', { id: 'gem', providers: ['mock-gemini'] }],
      keys: [
        { name: 'claude-only', key: 'tk-claude-only', models: ['claude-*'] },
        { name: 'gem-tenant', key: 'tk-gem-tenant', tenant: 'gem' },
      ],
    },
  });
  // A provider with a single account, so a refusal leaves nothing to fail
  // over to.
  const cfg = stack.hub.config;
  cfg.providers.push({ id: 'solo', type: 'openai', base_url: `${stack.mock.url}/v1`, models: ['solo-model'],
    model_globs: ['solo-*'], accounts: [{ id: 'only', key: h.PROVIDER_KEY }] });
  await restartHub(cfg);
});

after(async () => {
  await stack?.cleanup();
  if (dataRoot) fs.rmSync(dataRoot, { recursive: true, force: true });
});

async function restartHub(cfg) {
  await stack.hub.stop();
  stack.hub = await h.startHub(cfg, { dir: path.join(stack.dir, 'hub') });
  await h.waitFor('edge relinked', async () => (await stack.edge.healthz()) === 200, { timeoutMs: 10000 });
}

// The model ids of GET /v1/models (OpenAI or Anthropic shape) or GET
// /v1beta/models (Gemini), after checking the shape.
async function listModels(shape, key, prefix = '') {
  let r;
  if (shape === 'openai') {
    r = await h.httpRequest(`${stack.edge.url}${prefix}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  } else if (shape === 'anthropic') {
    r = await h.httpRequest(`${stack.edge.url}${prefix}/v1/models`, { headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' } });
  } else {
    r = await h.httpRequest(`${stack.edge.url}${prefix}/v1beta/models`, { headers: { 'x-goog-api-key': key } });
  }
  assert.equal(r.status, 200, `${shape}: ${r.body}`);
  const b = JSON.parse(r.body);
  if (shape === 'openai') {
    assert.equal(b.object, 'list');
    return b.data.map((m) => { assert.equal(m.object, 'model'); return m.id; });
  }
  if (shape === 'anthropic') {
    assert.equal(b.has_more, false);
    const ids = b.data.map((m) => { assert.equal(m.type, 'model'); return m.id; });
    if (ids.length) assert.deepEqual([b.first_id, b.last_id], [ids[0], ids.at(-1)]);
    return ids;
  }
  return b.models.map((m) => { assert.match(m.name, /^models\//); return m.name.slice('models/'.length); });
}

function chat(key, model) {
  return h.httpRequest(`${stack.edge.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

const SHAPES = ['openai', 'anthropic', 'gemini'];

test('a key limited to claude-* lists only claude models, in every shape', async () => {
  for (const shape of SHAPES) {
    const all = await listModels(shape, h.CLIENT_KEY);
    assert.ok(all.includes('gpt-4o-mini') && all.includes('gemini-2.5-flash') && all.includes('claude-sonnet-4-6'), `${shape}: ${all}`);
    const mine = await listModels(shape, 'tk-claude-only');
    assert.deepEqual(mine, all.filter((m) => m.startsWith('claude-')), shape);
    assert.ok(mine.length > 0, shape);
  }
  // What is listed is what the key may call, and nothing else.
  assert.equal((await chat('tk-claude-only', 'claude-sonnet-4-6')).status, 200);
  assert.equal((await chat('tk-claude-only', 'gpt-4o-mini')).status, 403);
});

test("a tenant's provider list limits the model list too", async () => {
  for (const shape of SHAPES) {
    const all = await listModels(shape, h.CLIENT_KEY);
    const gem = await listModels(shape, 'tk-gem-tenant');
    assert.deepEqual(gem, ['gemini-2.5-flash'], shape);
    // The operator key under the tenant's path acts for that tenant.
    assert.deepEqual(await listModels(shape, h.CLIENT_KEY, '/gem'), gem, shape);
    assert.deepEqual(await listModels(shape, h.CLIENT_KEY, '/u1'), all, shape);
  }
});

async function accountState(provider, id) {
  const r = await h.httpRequest(`${stack.hub.plainUrl}/admin/accounts`, { headers: auth });
  assert.equal(r.status, 200, r.body);
  assert.ok(!r.body.includes(h.PROVIDER_KEY) && !r.body.includes('"key"'), `no credentials: ${r.body}`);
  return JSON.parse(r.body).providers[provider].accounts.find((a) => a.id === id);
}

test('a 403 disables an account until POST /admin/accounts/…/enable, then it serves again', async () => {
  assert.equal((await accountState('solo', 'only')).state, 'healthy');
  assert.equal((await chat(h.CLIENT_KEY, 'solo-model')).status, 200);

  const refused = await chat(h.CLIENT_KEY, 'solo-model@status=403');
  assert.equal(refused.status, 403, refused.body);
  const st = await accountState('solo', 'only');
  assert.equal(st.state, 'disabled');
  assert.match(st.disabled_reason, /403/);
  // Nothing else to try: the provider stays closed while the account is off.
  await stack.mock.clearRequests();
  const closed = await chat(h.CLIENT_KEY, 'solo-model');
  assert.equal(closed.status, 503, closed.body);
  assert.ok(JSON.parse(closed.body).error?.message, closed.body);
  assert.equal((await stack.mock.requests()).length, 0, 'a disabled account is not called');

  // The admin API answers only with the token, and only for real accounts.
  const url = `${stack.hub.plainUrl}/admin/accounts/solo/only/enable`;
  assert.equal((await h.httpRequest(url, { method: 'POST' })).status, 401);
  assert.equal((await h.httpRequest(`${stack.edge.url}/admin/accounts/solo/only/enable`, { method: 'POST', headers: auth })).status, 404);
  assert.equal((await h.httpRequest(`${stack.hub.plainUrl}/admin/accounts/solo/other/enable`, { method: 'POST', headers: auth })).status, 404);
  assert.equal((await accountState('solo', 'only')).state, 'disabled');

  const r = await h.httpRequest(url, { method: 'POST', headers: auth });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(JSON.parse(r.body), { provider: 'solo', enabled: 'only' });
  assert.equal((await accountState('solo', 'only')).state, 'healthy');
  const back = await chat(h.CLIENT_KEY, 'solo-model');
  assert.equal(back.status, 200, back.body);
  assert.equal((await stack.mock.requests()).length, 1);
});

async function keyUsage(name) {
  const r = await h.httpRequest(`${stack.hub.plainUrl}/admin/usage?by=key&since=1d`, { headers: auth });
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body).rows.find((x) => x.group === name)?.requests ?? 0;
}

test('usage_booking: false books nothing; a budget key is refused at load', async () => {
  const before = await keyUsage('claude-only');
  assert.equal((await chat('tk-claude-only', 'claude-sonnet-4-6')).status, 200);
  assert.equal(await keyUsage('claude-only'), before + 1);

  const cfg = { ...stack.hub.config, usage_booking: false };
  const check = await h.runCommand([h.bin('hub'), '--check', '--config', writeTemp({ ...cfg, keys: [...cfg.keys, { name: 'capped', key: 'tk-capped', daily_budget_usd: 1 }] })]);
  assert.notEqual(check.code, 0);
  assert.match(check.stderr + check.stdout, /usage_booking.*"capped".*budget/);

  await restartHub(cfg);
  const info = await stack.hub.info();
  assert.equal(info.usage.booking, false);
  assert.equal((await chat('tk-claude-only', 'claude-sonnet-4-6')).status, 200);
  assert.equal(await keyUsage('claude-only'), before + 1, 'no row while booking is off');
  const r = await h.httpRequest(`${stack.hub.plainUrl}/admin/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'later', daily_budget_usd: 1 }) });
  assert.equal(r.status, 400, r.body);
  assert.match(JSON.parse(r.body).error.message, /usage_booking/);
  // The CLI refuses the same, and creates nothing.
  const file = writeTemp(cfg);
  const cli = await h.runCommand([h.bin('hub'), 'keys', 'create', '--name', 'cli-capped', '--daily-budget', '1', '--config', file]);
  assert.equal(cli.code, 2, cli.stderr);
  assert.match(cli.stderr, /usage_booking is off/);
  const list = await h.runCommand([h.bin('hub'), 'keys', 'list', '--config', file]);
  assert.ok(!list.stdout.includes('cli-capped'), list.stdout);
});

function writeTemp(config) {
  const file = path.join(stack.dir, 'check-hub.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}
