// The hub as a universal translator: each official SDK (OpenAI chat,
// OpenAI Responses, Anthropic, Google GenAI) against each provider type
// (OpenAI, OpenAI Responses, Anthropic, Gemini) through edge → hub → mock,
// stream and non-stream, with a tool-call round trip, plus errors in the
// client's own format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { startStack, CLIENT_KEY, PROVIDER_KEY, httpRequest } from './lib/harness.mjs';

let stack;
// One model name per provider type; the hub routes by name.
const PROVIDERS = {
  openai: 'gpt-4o-mini',
  responses: 'gpt-5-codex',
  anthropic: 'claude-sonnet-4-6',
  gemini: 'gemini-2.5-flash',
};

before(async () => { stack = await startStack(); });

after(async () => { await stack?.cleanup(); });

function providersFor(mockUrl) {
  return [
    { id: 'p-openai', type: 'openai', base_url: `${mockUrl}/v1`, keys: [PROVIDER_KEY], models: [PROVIDERS.openai] },
    { id: 'p-responses', type: 'openai-responses', base_url: `${mockUrl}/v1`, keys: [PROVIDER_KEY], models: [PROVIDERS.responses] },
    { id: 'p-anthropic', type: 'anthropic', base_url: mockUrl, keys: [PROVIDER_KEY], models: [PROVIDERS.anthropic] },
    { id: 'p-gemini', type: 'gemini', base_url: mockUrl, keys: [PROVIDER_KEY], models: [PROVIDERS.gemini] },
  ];
}

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

// ---- clients, each returning {text, toolCall?} for one turn --------------

const clients = {
  async openaiChat(base, model, { stream, tools, history }) {
    const c = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${base}/v1`, maxRetries: 0, timeout: 15000 });
    const messages = history || [{ role: 'user', content: 'hello there' }];
    const body = { model, messages, ...(tools ? { tools: [{ type: 'function', function: { name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.schema } }] } : {}) };
    if (!stream) {
      const r = await c.chat.completions.create(body);
      const m = r.choices[0].message;
      return { text: m.content || '', toolCall: m.tool_calls?.[0] && { id: m.tool_calls[0].id, name: m.tool_calls[0].function.name, args: JSON.parse(m.tool_calls[0].function.arguments) }, message: m, usage: r.usage };
    }
    const s = await c.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let text = '', usage; const calls = {};
    for await (const chunk of s) {
      if (chunk.usage) usage = chunk.usage;
      const d = chunk.choices[0]?.delta;
      if (!d) continue;
      text += d.content || '';
      for (const tc of d.tool_calls || []) {
        calls[tc.index] ??= { id: '', name: '', args: '' };
        if (tc.id) calls[tc.index].id = tc.id;
        if (tc.function?.name) calls[tc.index].name += tc.function.name;
        if (tc.function?.arguments) calls[tc.index].args += tc.function.arguments;
      }
    }
    const tc = calls[0];
    return { text, usage, toolCall: tc && { id: tc.id, name: tc.name, args: JSON.parse(tc.args) }, message: tc ? { role: 'assistant', content: null, tool_calls: [{ id: tc.id, type: 'function', function: { name: tc.name, arguments: tc.args } }] } : undefined };
  },

  async openaiResponses(base, model, { stream, tools, history }) {
    const c = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${base}/v1`, maxRetries: 0, timeout: 15000 });
    const body = { model, input: history || 'hello there', ...(tools ? { tools: [{ type: 'function', name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.schema }] } : {}) };
    let resp;
    if (!stream) resp = await c.responses.create(body);
    else {
      const s = await c.responses.create({ ...body, stream: true });
      for await (const ev of s) if (ev.type === 'response.completed') resp = ev.response;
      assert.ok(resp, 'stream ended with response.completed');
    }
    const call = resp.output.find((o) => o.type === 'function_call');
    const text = resp.output.filter((o) => o.type === 'message').flatMap((o) => o.content).map((p) => p.text || '').join('');
    return { text, usage: resp.usage, toolCall: call && { id: call.call_id, name: call.name, args: JSON.parse(call.arguments) }, item: call };
  },

  async anthropic(base, model, { stream, tools, history }) {
    const c = new Anthropic({ apiKey: CLIENT_KEY, baseURL: base, maxRetries: 0, timeout: 15000 });
    const body = { model, max_tokens: 256, messages: history || [{ role: 'user', content: 'hello there' }], ...(tools ? { tools: [{ name: weatherTool.name, description: weatherTool.description, input_schema: weatherTool.schema }] } : {}) };
    const msg = stream ? await c.messages.stream(body).finalMessage() : await c.messages.create(body);
    const tu = msg.content.find((b) => b.type === 'tool_use');
    const text = msg.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
    return { text, usage: msg.usage, toolCall: tu && { id: tu.id, name: tu.name, args: tu.input }, content: msg.content, stopReason: msg.stop_reason };
  },

  async genai(base, model, { stream, tools, history }) {
    const c = new GoogleGenAI({ apiKey: CLIENT_KEY, httpOptions: { baseUrl: base, timeout: 15000 } });
    const req = { model, contents: history || [{ role: 'user', parts: [{ text: 'hello there' }] }], ...(tools ? { config: { tools: [{ functionDeclarations: [{ name: weatherTool.name, description: weatherTool.description, parametersJsonSchema: weatherTool.schema }] }] } } : {}) };
    const parts = [];
    let usage;
    if (!stream) {
      const r = await c.models.generateContent(req);
      parts.push(...(r.candidates?.[0]?.content?.parts || []));
      usage = r.usageMetadata;
    } else {
      for await (const chunk of await c.models.generateContentStream(req)) {
        parts.push(...(chunk.candidates?.[0]?.content?.parts || []));
        if (chunk.usageMetadata) usage = chunk.usageMetadata;
      }
    }
    const fc = parts.find((p) => p.functionCall);
    return { text: parts.map((p) => p.text || '').join(''), usage, toolCall: fc && { id: fc.functionCall.id, name: fc.functionCall.name, args: fc.functionCall.args }, parts };
  },
};

// The second turn: the tool result in each client's own shape.
function historyWithToolResult(client, first, result) {
  switch (client) {
    case 'openaiChat':
      return [{ role: 'user', content: 'weather?' }, first.message, { role: 'tool', tool_call_id: first.toolCall.id, content: result }];
    case 'openaiResponses':
      return [{ role: 'user', content: 'weather?' }, { type: 'function_call', call_id: first.toolCall.id, name: first.toolCall.name, arguments: JSON.stringify(first.toolCall.args) }, { type: 'function_call_output', call_id: first.toolCall.id, output: result }];
    case 'anthropic':
      return [{ role: 'user', content: 'weather?' }, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: first.toolCall.id, content: result }] }];
    case 'genai':
      return [{ role: 'user', parts: [{ text: 'weather?' }] }, { role: 'model', parts: first.parts }, { role: 'user', parts: [{ functionResponse: { name: first.toolCall.name, id: first.toolCall.id, response: { output: result } } }] }];
    default:
      throw new Error(client);
  }
}

test('hub uses a config with all four provider types', async () => {
  // Swap the hub's providers through a SIGHUP reload, the same way an operator would.
  const fs = await import('node:fs');
  const cfg = JSON.parse(fs.readFileSync(stack.hub.file, 'utf8'));
  cfg.providers = providersFor(stack.mock.url);
  fs.writeFileSync(stack.hub.file, JSON.stringify(cfg));
  process.kill(stack.hub.proc.pid, 'SIGHUP');
  const deadline = Date.now() + 5000;
  let ids = [];
  while (Date.now() < deadline) {
    const info = await stack.hub.info();
    ids = info.providers.map((p) => p.id);
    if (ids.includes('p-responses')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(ids, ['p-openai', 'p-responses', 'p-anthropic', 'p-gemini']);
});

for (const client of Object.keys(clients)) {
  for (const [ptype, model] of Object.entries(PROVIDERS)) {
    for (const stream of [false, true]) {
      test(`${client} → ${ptype} provider, ${stream ? 'stream' : 'non-stream'}: text`, async () => {
        const r = await clients[client](stack.edge.url, model, { stream });
        assert.match(r.text, /echo: hello there/, `${client}/${ptype}: ${JSON.stringify(r)}\n${stack.logs().slice(-2000)}`);
      });
      test(`${client} → ${ptype} provider, ${stream ? 'stream' : 'non-stream'}: tool-call round trip`, async () => {
        const first = await clients[client](stack.edge.url, model, { stream, tools: true });
        assert.ok(first.toolCall, `expected a tool call, got ${JSON.stringify(first)}`);
        assert.equal(first.toolCall.name, 'get_weather');
        assert.deepEqual(first.toolCall.args, { city: 'Paris' });
        const history = historyWithToolResult(client, first, 'sunny, 21C');
        const second = await clients[client](stack.edge.url, model, { stream, tools: true, history });
        assert.equal(second.toolCall, undefined, `no second call expected: ${JSON.stringify(second)}`);
        assert.match(second.text, /tool result: .*sunny, 21C/, JSON.stringify(second));
      });
    }
  }
}

test("OpenAI SDK with Gemini's OpenAI-compatible base URL (/v1beta/openai), to a Gemini provider", async () => {
  // What users copy from Google's docs: baseURL .../v1beta/openai/ with the OpenAI SDK.
  const c = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${stack.edge.url}/v1beta/openai/`, maxRetries: 0, timeout: 15000 });
  const r = await c.chat.completions.create({ model: PROVIDERS.gemini, messages: [{ role: 'user', content: 'hello there' }] });
  assert.match(r.choices[0].message.content, /echo: hello there/);
  const s = await c.chat.completions.create({ model: PROVIDERS.gemini, stream: true, messages: [{ role: 'user', content: 'hello there' }] });
  let text = '';
  for await (const chunk of s) text += chunk.choices[0]?.delta?.content || '';
  assert.match(text, /echo: hello there/);
  const models = await c.models.list();
  assert.ok(models.data.some((m) => m.id === PROVIDERS.gemini), JSON.stringify(models.data));
});

test('the provider sees the hub key, never the client key', async () => {
  await stack.mock.clearRequests();
  await clients.anthropic(stack.edge.url, PROVIDERS.openai, { stream: false });
  const reqs = await stack.mock.requests();
  assert.ok(reqs.length >= 1);
  const last = reqs[reqs.length - 1];
  const headers = Object.fromEntries(last.headers.map(([k, v]) => [k.toLowerCase(), v]));
  assert.equal(headers.authorization, `Bearer ${PROVIDER_KEY}`);
  assert.ok(!JSON.stringify(last).includes(CLIENT_KEY), 'client key leaked upstream');
});

test('unknown model: 404 in each client format, naming the model', async () => {
  const post = (path, body, headers) => httpRequest(`${stack.edge.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  let r = await post('/v1/chat/completions', { model: 'nope-1', messages: [] }, { authorization: `Bearer ${CLIENT_KEY}` });
  assert.equal(r.status, 404);
  assert.match(JSON.parse(r.body).error.message, /nope-1/);
  r = await post('/v1/messages', { model: 'nope-2', max_tokens: 5, messages: [] }, { 'x-api-key': CLIENT_KEY });
  assert.equal(r.status, 404);
  const a = JSON.parse(r.body);
  assert.equal(a.type, 'error');
  assert.equal(a.error.type, 'not_found_error');
  assert.match(a.error.message, /nope-2/);
  r = await post('/v1beta/models/nope-3:generateContent', { contents: [] }, { 'x-goog-api-key': CLIENT_KEY });
  assert.equal(r.status, 404);
  const g = JSON.parse(r.body);
  assert.equal(g.error.code, 404);
  assert.equal(g.error.status, 'NOT_FOUND');
});

test('bad key → 401 and invalid JSON → 400, in the client format', async () => {
  let r = await httpRequest(`${stack.edge.url}/v1/messages`, { method: 'POST', body: '{}', headers: { 'x-api-key': 'wrong-key-123456' } });
  assert.equal(r.status, 401);
  assert.equal(JSON.parse(r.body).error.type, 'authentication_error');
  assert.ok(!r.body.includes('wrong-key-123456'), 'the key must not be echoed in full');
  r = await httpRequest(`${stack.edge.url}/v1/chat/completions`, { method: 'POST', body: '{"model":', headers: { authorization: `Bearer ${CLIENT_KEY}` } });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /JSON/);
});

test('provider 429 keeps its status and Retry-After across translation', async () => {
  // "provider/model" routes explicitly; the mock reads the @status suffix.
  const r = await httpRequest(`${stack.edge.url}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ model: `p-openai/${PROVIDERS.openai}@status=429`, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
  });
  assert.equal(r.status, 429, r.body);
  assert.equal(r.headers['retry-after'], '1');
  const a = JSON.parse(r.body);
  assert.equal(a.type, 'error');
  assert.equal(a.error.type, 'rate_limit_error');
});

test('model listing in each shape', async () => {
  const auth = { authorization: `Bearer ${CLIENT_KEY}` };
  let r = await httpRequest(`${stack.edge.url}/v1/models`, { headers: auth });
  assert.equal(r.status, 200);
  const o = JSON.parse(r.body);
  assert.equal(o.object, 'list');
  assert.ok(o.data.some((m) => m.id === PROVIDERS.anthropic));
  r = await httpRequest(`${stack.edge.url}/v1/models`, { headers: { 'x-api-key': CLIENT_KEY, 'anthropic-version': '2023-06-01' } });
  const a = JSON.parse(r.body);
  assert.equal(a.has_more, false);
  assert.ok(a.data.every((m) => m.type === 'model'));
  r = await httpRequest(`${stack.edge.url}/v1beta/models`, { headers: { 'x-goog-api-key': CLIENT_KEY } });
  const g = JSON.parse(r.body);
  assert.ok(g.models.some((m) => m.name === `models/${PROVIDERS.gemini}`));
});

test('count_tokens: estimated locally when the provider has no such endpoint, fast', async () => {
  const r = await httpRequest(`${stack.edge.url}/v1/messages/count_tokens`, {
    method: 'POST',
    headers: { 'x-api-key': CLIENT_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ model: PROVIDERS.openai, messages: [{ role: 'user', content: 'a'.repeat(400) }] }),
  });
  assert.equal(r.status, 200);
  const n = JSON.parse(r.body).input_tokens;
  assert.ok(n >= 100 && n <= 130, `estimate ${n}`);
});

// Codex groups tools in namespaces and declares freeform (custom) tools; a
// provider without either still gets callable functions, and the calls come
// back as the items Codex declared, stream and non-stream, then the tool
// results go back the same way.
test('codex namespace and custom tools through chat, anthropic and gemini providers', async () => {
  const c = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${stack.edge.url}/v1`, maxRetries: 0, timeout: 15000 });
  const namespaced = [{ type: 'namespace', name: 'weather_ns', description: 'Weather tools.',
    tools: [{ type: 'function', name: weatherTool.name, description: weatherTool.description, parameters: weatherTool.schema }] }];
  const custom = [{ type: 'custom', name: 'apply_patch', description: 'Edit files.',
    format: { type: 'grammar', syntax: 'lark', definition: 'start: "*** Begin Patch" /(.|\\n)*/' } }];
  const run = async (body, stream) => {
    if (!stream) return c.responses.create(body);
    const s = await c.responses.create({ ...body, stream: true });
    let done; const types = new Set();
    for await (const ev of s) { types.add(ev.type); if (ev.type === 'response.completed') done = ev.response; }
    assert.ok(done, 'stream ended with response.completed');
    done.eventTypes = types;
    return done;
  };
  for (const model of [PROVIDERS.openai, PROVIDERS.anthropic, PROVIDERS.gemini]) {
    for (const stream of [false, true]) {
      const where = `${model} stream=${stream}`;
      let r = await run({ model, input: 'weather?', tools: namespaced }, stream);
      const call = r.output.find((o) => o.type === 'function_call');
      assert.ok(call, `${where}: ${JSON.stringify(r.output)}`);
      assert.equal(call.namespace, 'weather_ns', where);
      assert.equal(call.name, 'get_weather', where);
      assert.deepEqual(JSON.parse(call.arguments), { city: 'Paris' }, where);
      r = await run({ model, tools: namespaced, input: [{ role: 'user', content: 'weather?' },
        { type: 'function_call', call_id: call.call_id, namespace: call.namespace, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: 'sunny' }] }, stream);
      assert.match(r.output_text ?? r.output.filter((o) => o.type === 'message').flatMap((o) => o.content).map((p) => p.text).join(''),
        /tool result: sunny/, where);

      r = await run({ model, input: 'patch it', tools: custom }, stream);
      const ctc = r.output.find((o) => o.type === 'custom_tool_call');
      assert.ok(ctc, `${where}: ${JSON.stringify(r.output)}`);
      assert.equal(ctc.name, 'apply_patch', where);
      assert.equal(typeof ctc.input, 'string', where);
      assert.ok(ctc.call_id, where);
      if (stream) assert.ok(r.eventTypes.has('response.custom_tool_call_input.done'), where);
      r = await run({ model, tools: custom, input: [{ role: 'user', content: 'patch it' },
        { type: 'custom_tool_call', call_id: ctc.call_id, name: 'apply_patch', input: '*** Begin Patch\n*** End Patch\n' },
        { type: 'custom_tool_call_output', call_id: ctc.call_id, output: 'Done!' }] }, stream);
      assert.match(r.output.filter((o) => o.type === 'message').flatMap((o) => o.content).map((p) => p.text).join(''),
        /tool result: Done!/, where);
    }
  }
});
