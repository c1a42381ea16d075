// TLS records sealed and opened by Tether's own ChaCha20-Poly1305 after the
// mbedTLS handshake, against OpenSSL peers and with bodies of many records:
// curl (OpenSSL) as the client of the edge's HTTPS listener, once per
// cipher suite, and large bodies edge → hub → provider byte for byte.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startMock, makeCerts, hubConfig, edgeConfig, startHub, startEdge, freePort, tmpDir, runCommand, CLIENT_KEY,
} from './lib/harness.mjs';

let dir, mock, hub, edge, certs, edgePort;

before(async () => {
  dir = tmpDir('tether-tls-');
  mock = await startMock({});
  certs = await makeCerts(path.join(dir, 'certs'));
  const [hubPort, plainPort] = [await freePort(), await freePort()];
  edgePort = await freePort();
  hub = await startHub(hubConfig({ certs, mockUrl: mock.url, listenPort: hubPort, plainPort }), { dir: path.join(dir, 'hub') });
  // The edge serves its clients over HTTPS too, with the hub's certificate
  // (issued for localhost).
  const cfg = edgeConfig({ certs, listenPort: edgePort, hubPort, extra: { tls: { cert: certs.hubCert, key: certs.hubKey } } });
  edge = await startEdge(cfg, { dir: path.join(dir, 'edge'), waitHub: false });
  // /healthz over HTTPS once a hub link is up.
  for (let i = 0; i < 100; i++) {
    const r = await curl(['-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${edgePort}/healthz`]);
    if (r.stdout === '200') break;
    await new Promise((res) => setTimeout(res, 100));
  }
});

after(async () => {
  await Promise.all([edge, hub, mock].filter(Boolean).map((p) => p.proc.stop()));
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function curl(args, input) {
  return runCommand(['curl', '-sS', '--max-time', '20', '--tlsv1.2', '--tls-max', '1.2', '--cacert', certs.ca,
    '--resolve', `localhost:${edgePort}:127.0.0.1`, ...args], { input });
}

// A chat request whose system prompt makes the body `bytes` long, with a
// marker at each end so truncation or corruption anywhere shows.
function bigChat(bytes) {
  const filler = 'x'.repeat(bytes);
  return JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: `BEGIN${filler}END` }, { role: 'user', content: 'hello there' }] });
}

for (const cipher of ['ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384']) {
  test(`curl (OpenSSL) over HTTPS to the edge with ${cipher}: a 300 KB request and its answer`, async () => {
    await mock.clearRequests();
    const body = bigChat(300 * 1024);
    const r = await curl(['--ciphers', cipher, '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${CLIENT_KEY}`,
      '-H', 'Content-Type: application/json', '--data-binary', '@-', `https://localhost:${edgePort}/v1/chat/completions`], body);
    assert.equal(r.code, 0, r.stderr);
    const [answer, status] = [r.stdout.slice(0, r.stdout.lastIndexOf('\n')), r.stdout.slice(r.stdout.lastIndexOf('\n') + 1)];
    assert.equal(status, '200', answer);
    assert.match(JSON.parse(answer).choices[0].message.content, /echo: hello there/);
    // The provider got the body byte for byte (the hub rewrote nothing: same model).
    const reqs = await mock.requests();
    const got = reqs[reqs.length - 1].body;
    assert.equal(got.length, body.length);
    assert.ok(got === body, 'body changed on the way');
  });
}

test('streamed answer over HTTPS: every event arrives, in order, for a body of many records', async () => {
  const body = JSON.stringify({ ...JSON.parse(bigChat(100 * 1024)), stream: true });
  const r = await curl(['-N', '-H', `Authorization: Bearer ${CLIENT_KEY}`, '-H', 'Content-Type: application/json',
    '-H', 'x-mock-chunks: 200', '--data-binary', '@-', `https://localhost:${edgePort}/v1/chat/completions`], body);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.split('\n\n').filter((b) => b.startsWith('data: '));
  assert.equal(events[events.length - 1], 'data: [DONE]');
  const text = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content || '').join('');
  assert.match(text, /echo: hello there/);
  assert.ok(events.length >= 200, `only ${events.length} events`);
});
