// Prints an OpenAI Chat Completions body the size and shape of a real Claude
// Code request (about 80 KB: a long system prompt, tool definitions with JSON
// schemas, prior turns), for the benchmark's large-body latency rows. Built
// from ../shared/fixtures/clients/claude-code-tool.jsonl when it is there,
// else from generated text of the same size and shape.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = process.env.TETHER_FIXTURES
  ? path.join(process.env.TETHER_FIXTURES, 'clients', 'claude-code-tool.jsonl')
  : path.join(here, '../../../shared/fixtures/clients/claude-code-tool.jsonl');

const text = (blocks) => (Array.isArray(blocks) ? blocks.map((b) => (b.type === 'text' ? b.text : JSON.stringify(b))).join('\n') : blocks ?? '');

function fromFixture() {
  const lines = fs.readFileSync(fixture, 'utf8').trim().split('\n');
  const claude = lines.map((l) => JSON.parse(l)).filter((r) => r.body && r.body.messages).pop().body;
  const messages = [{ role: 'system', content: text(claude.system) }];
  for (const m of claude.messages) messages.push({ role: m.role === 'assistant' ? 'assistant' : 'user', content: text(m.content) });
  messages.push({ role: 'user', content: 'hello' });
  const tools = (claude.tools || []).map((t) => ({ type: 'function', function: { name: t.name, description: t.description || '', parameters: t.input_schema || {} } }));
  return { model: 'gpt-4o-mini', messages, tools, max_tokens: 32000, temperature: 1 };
}

function generated() {
  const words = 'the relay keeps every request byte for byte and forwards it over a warm link to the hub'.split(' ');
  const prose = (n) => Array.from({ length: n }, (_, i) => words[i % words.length]).join(' ');
  const tools = Array.from({ length: 24 }, (_, i) => ({
    type: 'function',
    function: {
      name: `tool_${i}`,
      description: prose(250),
      parameters: { type: 'object', properties: { path: { type: 'string', description: prose(20) }, limit: { type: 'number' } }, required: ['path'] },
    },
  }));
  return { model: 'gpt-4o-mini', messages: [{ role: 'system', content: prose(9000) }, { role: 'user', content: 'hello' }], tools, max_tokens: 32000 };
}

let body;
try { body = fromFixture(); } catch { body = generated(); }
process.stdout.write(JSON.stringify(body));
