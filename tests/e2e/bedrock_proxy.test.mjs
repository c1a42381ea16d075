// Amazon Bedrock as a provider and outbound proxies, end to end: the official
// Anthropic and OpenAI SDKs → edge → hub → mock_provider's Bedrock routes
// (SigV4-signed InvokeModel, AWS event-stream responses), and providers
// reached through build/mock_proxy as an HTTP CONNECT and a SOCKS5 proxy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import * as h from './lib/harness.mjs';

const BEDROCK_ID = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const AWS_KEY_ID = 'AKIDTETHERTEST';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const PROXY_USER = 'tester';
const PROXY_PASS = 'hunter2-proxy-secret';

async function startProxy() {
  const proc = new h.Proc('mock_proxy', [h.bin('mock_proxy'), '--port', '0', '--user', PROXY_USER, '--pass', PROXY_PASS]);
  const port = await h.waitFor('mock_proxy to print its port', () => {
    const m = /listening on [^\s:]+:(\d+)/.exec(proc.out);
    return m && Number(m[1]);
  }, { procs: [proc], timeoutMs: 5000 });
  return {
    proc, port,
    async stats() { return (await h.getJson(`http://127.0.0.1:${port}/_proxy/stats`)).body; },
  };
}

describe('bedrock provider and outbound proxies', { timeout: 120000 }, () => {
  let mock, proxy, bedrockProxy, hub, edge, dir, deadPort;
  const logs = () => [mock, proxy, bedrockProxy, hub, edge].filter(Boolean).map((p) => p.proc.logs()).join('');
  const anthropic = () => new Anthropic({ apiKey: h.CLIENT_KEY, baseURL: edge.url, maxRetries: 0, timeout: 15000 });
  const openai = () => new OpenAI({ apiKey: h.CLIENT_KEY, baseURL: `${edge.url}/v1`, maxRetries: 0, timeout: 15000 });
  const ask = { max_tokens: 256, messages: [{ role: 'user', content: 'hello there' }] };
  const chat = { messages: [{ role: 'user', content: 'hello there' }] };

  before(async () => {
    dir = h.tmpDir();
    mock = await h.startMock({ key: h.PROVIDER_KEY });
    proxy = await startProxy();
    // Its own proxy: same origin and proxy would share pooled tunnels, which
    // would blur the tunnel counts of the proxy tests below.
    bedrockProxy = await startProxy();
    deadPort = await h.freePort();  // nothing listens here
    const certs = await h.makeCerts(path.join(dir, 'certs'));
    const [hubPort, plainPort, edgePort] = [await h.freePort(), await h.freePort(), await h.freePort()];
    const via = (scheme, port = proxy.port) => `${scheme}://${PROXY_USER}:${PROXY_PASS}@127.0.0.1:${port}`;
    const providers = [
      { id: 'bedrock', type: 'bedrock', region: 'us-east-1', aws_access_key_id: AWS_KEY_ID,
        aws_secret_access_key: '${TETHER_TEST_AWS_SECRET}', aws_session_token: 'session-token-test',
        endpoint: mock.url, models: [{ name: BEDROCK_ID, alias: 'claude-sonnet-4-5' }] },
      { id: 'bedrock-key', type: 'bedrock', region: 'us-west-2', api_key: h.PROVIDER_KEY, endpoint: mock.url,
        proxy: via('http', bedrockProxy.port), models: [{ name: 'us.anthropic.claude-haiku-4-5-v1:0', alias: 'claude-haiku-bedrock' }] },
      { id: 'direct', type: 'openai', base_url: `${mock.url}/v1`, keys: [h.PROVIDER_KEY], models: ['gpt-direct'] },
      { id: 'via-http', type: 'openai', base_url: `${mock.url}/v1`, keys: [h.PROVIDER_KEY], models: ['gpt-via-http'], proxy: via('http') },
      { id: 'via-socks', type: 'anthropic', base_url: mock.url, keys: [h.PROVIDER_KEY], models: ['claude-via-socks'], proxy: via('socks5') },
      { id: 'dead-proxy', type: 'openai', base_url: `${mock.url}/v1`, keys: [h.PROVIDER_KEY], models: ['gpt-dead-proxy'],
        proxy: `http://${PROXY_USER}:${PROXY_PASS}@127.0.0.1:${deadPort}` },
      // HTTPS through the tunnel to the hub's own TLS port: its certificate is
      // not in the system CA bundle, so verification must fail, which shows
      // the TLS handshake ran inside the tunnel.
      { id: 'tls-tunnel', type: 'openai', base_url: `https://localhost:${hubPort}/v1`, keys: ['x'], models: ['gpt-tls-tunnel'], proxy: via('http') },
    ];
    hub = await h.startHub(h.hubConfig({ certs, mockUrl: mock.url, listenPort: hubPort, plainPort, extra: { providers } }),
      { dir: path.join(dir, 'hub'), env: { TETHER_TEST_AWS_SECRET: AWS_SECRET } });
    edge = await h.startEdge(h.edgeConfig({ certs, listenPort: edgePort, hubPort }), { dir: path.join(dir, 'edge') });
  });

  after(async () => {
    await Promise.all([mock, proxy, bedrockProxy, hub, edge].filter(Boolean).map((p) => p.proc.stop()));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const lastMockRequest = async () => {
    const reqs = await mock.requests();
    const r = reqs[reqs.length - 1];
    return { ...r, header: (n) => r.headers.find(([k]) => k.toLowerCase() === n)?.[1] };
  };

  test('anthropic SDK → bedrock, non-stream: text, usage, a SigV4-signed InvokeModel', async () => {
    await mock.clearRequests();
    const msg = await anthropic().messages.create({ model: 'claude-sonnet-4-5', ...ask },
      { headers: { 'anthropic-beta': 'context-1m-2025-08-07' } });
    assert.equal(msg.content[0].text, 'echo: hello there\n0 1 2 ', logs());
    assert.ok(msg.usage.input_tokens > 0);
    assert.equal(msg.usage.output_tokens, 3);
    const r = await lastMockRequest();
    assert.equal(r.path, '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke');
    assert.match(r.header('authorization'),
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${AWS_KEY_ID}/\\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`));
    assert.equal(r.header('x-amz-security-token'), 'session-token-test');
    assert.match(r.header('x-amz-date'), /^\d{8}T\d{6}Z$/);
    const body = JSON.parse(r.body);
    assert.equal(body.anthropic_version, 'bedrock-2023-05-31');
    assert.deepEqual(body.anthropic_beta, ['context-1m-2025-08-07']);
    assert.equal(body.model, undefined);
    assert.ok(!JSON.stringify(r).includes(h.CLIENT_KEY), 'client key leaked upstream');
    assert.ok(!JSON.stringify(r).includes(AWS_SECRET), 'AWS secret sent upstream');
  });

  test('anthropic SDK → bedrock, stream: event-stream frames become Anthropic SSE', async () => {
    const stream = anthropic().messages.stream({ model: 'claude-sonnet-4-5', ...ask });
    let deltas = 0;
    stream.on('text', () => { deltas += 1; });
    const msg = await stream.finalMessage();
    assert.equal(msg.content[0].text, 'echo: hello there\n0 1 2 ', logs());
    assert.equal(deltas, 3);
    assert.ok(msg.usage.input_tokens > 0);
    assert.equal(msg.usage.output_tokens, 3);
    assert.equal(msg.stop_reason, 'end_turn');
    const r = await lastMockRequest();
    assert.equal(r.path, '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream');
  });

  test('openai SDK → bedrock, non-stream and stream: translated, with usage', async () => {
    const r = await openai().chat.completions.create({ model: 'claude-sonnet-4-5', ...chat });
    assert.equal(r.choices[0].message.content, 'echo: hello there\n0 1 2 ', logs());
    assert.ok(r.usage.prompt_tokens > 0);
    assert.equal(r.usage.completion_tokens, 3);
    const s = await openai().chat.completions.create({ model: 'claude-sonnet-4-5', ...chat, stream: true, stream_options: { include_usage: true } });
    let text = '', usage;
    for await (const chunk of s) {
      text += chunk.choices[0]?.delta?.content || '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'echo: hello there\n0 1 2 ', logs());
    assert.ok(usage && usage.prompt_tokens > 0, JSON.stringify(usage));
    assert.equal(usage.completion_tokens, 3);
  });

  test('openai SDK → bedrock: a tool call streams through', async () => {
    const s = await openai().chat.completions.create({
      model: 'claude-sonnet-4-5', stream: true, messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
    });
    let name = '', args = '';
    for await (const chunk of s) {
      for (const tc of chunk.choices[0]?.delta?.tool_calls || []) {
        name += tc.function?.name || '';
        args += tc.function?.arguments || '';
      }
    }
    assert.equal(name, 'get_weather');
    assert.deepEqual(JSON.parse(args), { city: 'Paris' });
  });

  test('bedrock ThrottlingException as an HTTP error → 429 in each client format', async () => {
    const model = 'bedrock/us.anthropic.throttled@status=429';
    await assert.rejects(anthropic().messages.create({ model, ...ask }), (e) => {
      assert.equal(e.status, 429, String(e));
      assert.equal(e.error?.error?.type, 'rate_limit_error', JSON.stringify(e.error));
      assert.match(e.error.error.message, /ThrottlingException/);
      return true;
    });
    await assert.rejects(openai().chat.completions.create({ model, ...chat }), (e) => {
      assert.ok(e instanceof OpenAI.RateLimitError, String(e));
      assert.match(e.message, /ThrottlingException/);
      return true;
    });
  });

  test('bedrock 429 keeps the Retry-After Bedrock gives and invents none', async () => {
    const post = (p, body) => h.httpRequest(`${edge.url}${p}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.CLIENT_KEY}`, 'content-type': 'application/json' },
      body,
    });
    for (const [suffix, want] of [['status=429,retry_after=7', '7'], ['status=429', undefined]]) {
      const model = `bedrock/us.anthropic.throttled@${suffix}`;
      const answers = {
        anthropic: await post('/v1/messages', { model, ...ask }),
        chat: await post('/v1/chat/completions', { model, ...chat }),
        responses: await post('/v1/responses', { model, input: 'hello there' }),
      };
      for (const [format, r] of Object.entries(answers)) {
        assert.equal(r.status, 429, `${format} ${suffix}: ${r.body}`);
        assert.equal(r.headers['retry-after'], want, `${format} ${suffix}`);
        const body = JSON.parse(r.body);
        if (format === 'anthropic') assert.equal(body.error.type, 'rate_limit_error', r.body);
        else assert.match(body.error.message, /ThrottlingException/, r.body);
      }
    }
  });

  test('bedrock throttlingException frame before any event → HTTP 429 on a stream', async () => {
    const model = 'bedrock/us.anthropic.m@exception=throttlingException';
    await assert.rejects(openai().chat.completions.create({ model, ...chat, stream: true }), (e) => {
      assert.equal(e.status, 429, String(e));
      assert.match(e.message, /throttlingException/);
      return true;
    });
    await assert.rejects(anthropic().messages.create({ model, ...ask, stream: true }), (e) => {
      assert.equal(e.status, 429, String(e));
      assert.equal(e.error?.error?.type, 'rate_limit_error');
      return true;
    });
  });

  test('bedrock throttlingException mid-stream → an error event in the client format', async () => {
    const model = 'bedrock/us.anthropic.m@exception=throttlingException,exception_after=1,chunks=4';
    // Anthropic: `event: error` with rate_limit_error after the first text.
    let text = '';
    await assert.rejects((async () => {
      const stream = anthropic().messages.stream({ model, ...ask });
      stream.on('text', (t) => { text += t; });
      await stream.finalMessage();
    })(), (e) => {
      assert.equal(e.error?.error?.type, 'rate_limit_error', `${e}\n${JSON.stringify(e.error)}`);
      assert.match(e.error.error.message, /throttlingException/);
      return true;
    });
    assert.match(text, /^echo: hello there/);
    // OpenAI: a data chunk with "error" after the first content chunk.
    text = '';
    await assert.rejects((async () => {
      const s = await openai().chat.completions.create({ model, ...chat, stream: true });
      for await (const chunk of s) text += chunk.choices[0]?.delta?.content || '';
    })(), (e) => {
      assert.match(e.message, /throttlingException/, String(e));
      return true;
    });
    assert.match(text, /^echo: hello there/);
  });

  test('bedrock with an API key (Bearer), through the HTTP proxy', async () => {
    const before = await bedrockProxy.stats();
    const msg = await anthropic().messages.create({ model: 'claude-haiku-bedrock', ...ask });
    assert.equal(msg.content[0].text, 'echo: hello there\n0 1 2 ', logs());
    const r = await lastMockRequest();
    assert.equal(r.header('authorization'), `Bearer ${h.PROVIDER_KEY}`);
    assert.equal(r.path, '/model/us.anthropic.claude-haiku-4-5-v1%3A0/invoke');
    const afterStats = await bedrockProxy.stats();
    assert.ok(afterStats.http_tunnels > before.http_tunnels, JSON.stringify({ before, afterStats }));
  });

  test('HTTP CONNECT and SOCKS5 proxies carry their providers; pooled connections do not mix routes', async () => {
    // A direct call first leaves a pooled connection to the mock's origin;
    // the proxied providers must open tunnels of their own regardless.
    const d = await openai().chat.completions.create({ model: 'gpt-direct', ...chat });
    assert.match(d.choices[0].message.content, /echo: hello there/);
    const s0 = await proxy.stats();
    const r1 = await openai().chat.completions.create({ model: 'gpt-via-http', ...chat });
    assert.match(r1.choices[0].message.content, /echo: hello there/, logs());
    const s1 = await proxy.stats();
    assert.equal(s1.http_tunnels, s0.http_tunnels + 1, JSON.stringify({ s0, s1 }));
    assert.equal(s1.socks_tunnels, s0.socks_tunnels);
    const stream = anthropic().messages.stream({ model: 'claude-via-socks', ...ask });
    const msg = await stream.finalMessage();
    assert.equal(msg.content[0].text, 'echo: hello there\n0 1 2 ', logs());
    const s2 = await proxy.stats();
    assert.equal(s2.socks_tunnels, s1.socks_tunnels + 1, JSON.stringify({ s1, s2 }));
    assert.equal(s2.http_tunnels, s1.http_tunnels);
    // Keep-alive inside the tunnel: a second call reuses it.
    await openai().chat.completions.create({ model: 'gpt-via-http', ...chat });
    const s3 = await proxy.stats();
    assert.equal(s3.http_tunnels, s2.http_tunnels, 'the pooled tunnel is reused');
  });

  test('a dead proxy → clean 502 naming the proxy, never its password', async () => {
    const r = await h.httpRequest(`${edge.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.CLIENT_KEY}`, 'content-type': 'application/json' },
      body: { model: 'gpt-dead-proxy', ...chat },
    });
    assert.equal(r.status, 502, r.body);
    const message = JSON.parse(r.body).error.message;
    assert.ok(message.includes(`http://${PROXY_USER}:***@127.0.0.1:${deadPort}`), message);
    assert.match(message, /ECONNREFUSED/);
    assert.ok(!r.body.includes(PROXY_PASS), r.body);
    assert.ok(!hub.proc.err.includes(PROXY_PASS), 'proxy password in hub logs');
    assert.ok(!hub.proc.err.includes(AWS_SECRET), 'AWS secret in hub logs');
  });

  test('HTTPS provider through a proxy: TLS runs inside the tunnel', async () => {
    const s0 = await proxy.stats();
    const r = await h.httpRequest(`${edge.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.CLIENT_KEY}`, 'content-type': 'application/json' },
      body: { model: 'gpt-tls-tunnel', ...chat },
    });
    assert.equal(r.status, 502, r.body);
    const message = JSON.parse(r.body).error.message;
    // The hub's test certificate is not in the system CA bundle.
    assert.match(message, /TLS handshake with localhost: .*(certificate|verif)/i, message);
    assert.match(message, /via proxy http:\/\/tester:\*\*\*@/, message);
    const s1 = await proxy.stats();
    assert.equal(s1.http_tunnels, s0.http_tunnels + 1);
  });
});
