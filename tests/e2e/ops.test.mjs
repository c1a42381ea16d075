// Operations: SIGTERM drains in-flight streams and exits 0; SIGHUP with an
// invalid config keeps the running one; --check validates; secrets stay out
// of logs and /debug/info.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startStack, CLIENT_KEY, PROVIDER_KEY, httpRequest, runCommand, bin, sleep } from './lib/harness.mjs';

const chat = (url, headers = {}, body = {}) => httpRequest(`${url}/v1/chat/completions`, {
  method: 'POST', timeoutMs: 20000,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, ...headers },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ops' }], ...body }),
});

test('SIGTERM on the hub: the in-flight stream finishes, then exit code 0', async () => {
  const stack = await startStack();
  try {
    const inflight = chat(stack.edge.url, { 'x-mock-chunks': '20', 'x-mock-interval': '50' }, { stream: true });
    await sleep(200);
    process.kill(stack.hub.proc.pid, 'SIGTERM');
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.ok(r.body.trimEnd().endsWith('data: [DONE]'), `the stream was allowed to finish: ${r.status} ${r.body.slice(-300)}`);
    const { code, signal } = await stack.hub.proc.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, stack.hub.proc.logs());
  } finally {
    await stack.cleanup();
  }
});

test('SIGTERM on the edge drains too and exits 0', async () => {
  const stack = await startStack();
  try {
    const inflight = chat(stack.edge.url, { 'x-mock-chunks': '10', 'x-mock-interval': '50' }, { stream: true });
    await sleep(150);
    process.kill(stack.edge.proc.pid, 'SIGTERM');
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.ok(r.body.includes('[DONE]'), `status ${r.status}: ${r.body.slice(-300)}`);
    const { code } = await stack.edge.proc.exited;
    assert.equal(code, 0, stack.edge.proc.logs());
  } finally {
    await stack.cleanup();
  }
});

test('SIGHUP with an invalid config is rejected and logged; the hub keeps serving with the old one', async () => {
  const stack = await startStack();
  try {
    const good = fs.readFileSync(stack.hub.file, 'utf8');
    fs.writeFileSync(stack.hub.file, '{"providers": [ {"id": "x", "type": "nope"} ]');
    process.kill(stack.hub.proc.pid, 'SIGHUP');
    await sleep(300);
    assert.match(stack.hub.proc.logs(), /reload rejected/);
    const r = await chat(stack.edge.url);
    assert.equal(r.status, 200, r.body);
    fs.writeFileSync(stack.hub.file, good);
  } finally {
    await stack.cleanup();
  }
});

test('--check validates a config and names the file and key path on error', async () => {
  const dir = fs.mkdtempSync('/tmp/tether-check-');
  fs.writeFileSync(`${dir}/bad.json`, JSON.stringify({ listen: '127.0.0.1:1', tls: { cert: 'c', key: 'k', client_ca: 'ca' }, providers: [{ id: 'p', type: 'openai', base_url: 'ftp://x' }] }));
  const r = await runCommand([bin('hub'), '--config', `${dir}/bad.json`, '--check']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /bad\.json: providers\[0\]\.base_url/);
  const e = await runCommand([bin('edge'), '--config', `${dir}/missing.json`, '--check']);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /missing\.json: cannot open/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('secrets never appear in logs or /debug/info', async () => {
  const stack = await startStack();
  try {
    await chat(stack.edge.url);
    await chat(stack.edge.url, { authorization: 'Bearer sk-wrong-secret-value-9876' });
    const infos = JSON.stringify(await stack.edge.info()) + JSON.stringify(await stack.hub.info());
    const logs = stack.hub.proc.logs() + stack.edge.proc.logs();
    for (const secret of [CLIENT_KEY, PROVIDER_KEY, 'sk-wrong-secret-value-9876', 'edge-token-test']) {
      assert.ok(!infos.includes(secret), `${secret} in /debug/info`);
      assert.ok(!logs.includes(secret), `${secret} in the logs`);
    }
  } finally {
    await stack.cleanup();
  }
});
