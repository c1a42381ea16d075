// Prints the Markdown table of tests/bench/keys.sh. Per case: the median over
// rounds of p50 and p99 at c=1 and of requests/s at c=64. Differences and
// ratios between cases are the medians of the per-round ones: the cases ran
// next to each other within a round, so they saw the same machine.
// Usage: node tests/bench/keys-report.mjs RESULTS_DIR N SECONDS ROUNDS KEYS
import fs from 'node:fs';
import path from 'node:path';

const [dir, n, secs, rounds, keyCount] = process.argv.slice(2);
const read = (f) => {
  try { return JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); } catch { return null; }
};
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const cases = ['booking_on', 'booking_off', 'baseline'];
const label = {
  booking_on: `${keyCount} keys + limits, booking on`,
  booking_off: `${keyCount} keys + limits, booking off`,
  baseline: '1 key, no limits, booking off',
};
const errors = [];
const round = {};  // case → [{p50, p99, rps}] by round
for (const c of cases) {
  round[c] = [];
  for (let i = 1; i <= Number(rounds); i++) {
    const l = read(`${c}.latency.${i}.json`);
    const t = read(`${c}.rps.${i}.json`);
    for (const [what, x] of [['latency', l], ['rps', t]]) {
      if (!x) errors.push(`${c} ${what} round ${i}: missing`);
      else if (x.errors) errors.push(`${c} ${what} round ${i}: ${x.errors} errors`);
    }
    // Hub CPU per request (µs, every thread): what the policy work costs
    // the hub, independent of how much CPU the machine had to spare.
    const cpu = (x) => (x?.hub_cpu_ns && x.requests ? x.hub_cpu_ns / 1000 / x.requests : undefined);
    round[c].push({ p50: l?.p50_us, p99: l?.p99_us, rps: t?.rps, cpu1: cpu(l), cpu64: cpu(t) });
  }
}
const med = (c, k) => median(round[c].map((r) => r[k]));
// Median over rounds of f(a's round, b's round).
const paired = (a, b, f) => median(round[a].map((ra, i) => {
  const rb = round[b][i];
  return ra[f.k] === undefined || rb[f.k] === undefined ? undefined : f.op(ra[f.k], rb[f.k]);
}));
const diff = (k) => ({ k, op: (x, y) => x - y });
const ratio = (k) => ({ k, op: (x, y) => (y ? x / y : undefined) });

const fmt = (v, digits = 0) => (v === undefined || Number.isNaN(v) ? '—' : Number(v).toFixed(digits));
const signed = (v) => (v === undefined ? '—' : `${v >= 0 ? '+' : ''}${v.toFixed(0)}`);
const times = (v) => (v === undefined ? '—' : `${v.toFixed(3)}×`);

console.log('');
console.log('| hub case | p50 c=1 (µs) | p99 c=1 (µs) | req/s c=64 | added p50 vs baseline (µs) | added p99 vs baseline (µs) | req/s vs baseline | hub CPU/req c=1 (µs) | hub CPU/req c=64 (µs) | added CPU/req c=64 (µs) | rows booked (dropped) |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const c of cases) {
  const info = read(`${c}.info.json`);
  console.log(`| ${label[c]} | ${fmt(med(c, 'p50'))} | ${fmt(med(c, 'p99'))} | ${fmt(med(c, 'rps'))} | ` +
    `${signed(paired(c, 'baseline', diff('p50')))} | ${signed(paired(c, 'baseline', diff('p99')))} | ` +
    `${times(paired(c, 'baseline', ratio('rps')))} | ${fmt(med(c, 'cpu1'), 1)} | ${fmt(med(c, 'cpu64'), 1)} | ` +
    `${paired(c, 'baseline', diff('cpu64')) === undefined ? '—' : paired(c, 'baseline', diff('cpu64')).toFixed(1)} | ${fmt(info?.usage?.booked)} (${fmt(info?.usage?.dropped)}) |`);
}
const added = paired('booking_on', 'baseline', diff('p50'));
const keep = paired('booking_on', 'booking_off', ratio('rps'));
const bookingOnly = paired('booking_on', 'booking_off', diff('p50'));
const yes = (ok) => (ok === undefined ? '—' : ok ? 'yes' : 'no');
console.log('');
console.log('| target | measured | met |');
console.log('|---|---:|:---:|');
console.log(`| auth + limits + booking, added p50 (booking on − baseline) ≤ 20 µs | ${signed(added)} µs | ${yes(added === undefined ? undefined : added <= 20)} |`);
console.log(`| req/s at c=64, booking on / booking off ≥ 0.95 | ${times(keep)} | ${yes(keep === undefined ? undefined : keep >= 0.95)} |`);
console.log(`| (booking alone, added p50: on − off) | ${signed(bookingOnly)} µs | |`);
const cpuKeep = paired('booking_off', 'booking_on', ratio('cpu64'));
console.log(`| (req/s on / off implied by hub CPU per request at c=64) | ${times(cpuKeep)} | ${yes(cpuKeep === undefined ? undefined : cpuKeep >= 0.95)} |`);
console.log('');
console.log(`Hub plain loopback listener → mock provider, OpenAI Chat passthrough, one of the keys on every request.`);
console.log(`${rounds} rounds; per round and case ${n} requests at c=1, then ${secs} s at c=64; the cases take turns.`);
if (errors.length) console.log(`errors: ${errors.join('; ')}`);
