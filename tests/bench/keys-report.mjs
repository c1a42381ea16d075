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

const hubs = ['booking_on', 'booking_off', 'baseline'];
const paths = ['relay', 'hub'];
const label = {
  booking_on: `${keyCount} keys + limits, booking on`,
  booking_off: `${keyCount} keys + limits, booking off`,
  baseline: '1 key, no limits, booking off',
};
const pathLabel = {
  relay: 'Relay path: client → edge → warm TLS pool → hub → mock (the relay bench\'s c=1 and c=64 runs)',
  hub: 'Hub alone: client → the hub\'s plain loopback listener → mock (no edge; stricter, the policy is a larger share)',
};
const errors = [];
const round = {};  // "path.hub" → [{p50, p99, rps, cpu1, cpu64}] by round
for (const p of paths) {
  for (const h of hubs) {
    const c = `${p}.${h}`;
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
const yes = (ok) => (ok === undefined ? '—' : ok ? 'yes' : 'no');

for (const p of paths) {
  const c = (h) => `${p}.${h}`;
  console.log('');
  console.log(`${pathLabel[p]}:`);
  console.log('');
  console.log('| case | p50 c=1 (µs) | p99 c=1 (µs) | req/s c=64 | added p50 vs baseline (µs) | added p99 vs baseline (µs) | req/s vs baseline | hub CPU/req c=1 (µs) | hub CPU/req c=64 (µs) | added CPU/req c=64 (µs) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const h of hubs) {
    const addedCpu = paired(c(h), c('baseline'), diff('cpu64'));
    console.log(`| ${label[h]} | ${fmt(med(c(h), 'p50'))} | ${fmt(med(c(h), 'p99'))} | ${fmt(med(c(h), 'rps'))} | ` +
      `${signed(paired(c(h), c('baseline'), diff('p50')))} | ${signed(paired(c(h), c('baseline'), diff('p99')))} | ` +
      `${times(paired(c(h), c('baseline'), ratio('rps')))} | ${fmt(med(c(h), 'cpu1'), 1)} | ${fmt(med(c(h), 'cpu64'), 1)} | ` +
      `${addedCpu === undefined ? '—' : addedCpu.toFixed(1)} |`);
  }
}

const target = (p) => ({
  added: paired(`${p}.booking_on`, `${p}.baseline`, diff('p50')),
  keep: paired(`${p}.booking_on`, `${p}.booking_off`, ratio('rps')),
  bookingOnly: paired(`${p}.booking_on`, `${p}.booking_off`, diff('p50')),
  cpuKeep: paired(`${p}.booking_off`, `${p}.booking_on`, ratio('cpu64')),
});
const relay = target('relay');
const hub = target('hub');
console.log('');
console.log('| target | relay path | met | hub alone (stricter) | met |');
console.log('|---|---:|:---:|---:|:---:|');
const row = (what, f, unit, ok) =>
  console.log(`| ${what} | ${f(relay)}${unit} | ${yes(ok(relay))} | ${f(hub)}${unit} | ${yes(ok(hub))} |`);
const check = (v, test) => (v === undefined ? undefined : test(v));
row('auth + limits + booking, added p50 (booking on − baseline) ≤ 20 µs', (t) => signed(t.added), ' µs', (t) => check(t.added, (v) => v <= 20));
row('req/s at c=64, booking on / booking off ≥ 0.95', (t) => times(t.keep), '', (t) => check(t.keep, (v) => v >= 0.95));
console.log(`| (booking alone, added p50: on − off) | ${signed(relay.bookingOnly)} µs | | ${signed(hub.bookingOnly)} µs | |`);
console.log(`| (req/s on / off implied by hub CPU per request at c=64) | ${times(relay.cpuKeep)} | | ${times(hub.cpuKeep)} | |`);
// The per-round ratios behind the medians: how much this machine's noise
// moves the target from one 2-second run to the next.
const perRound = (p) => round[`${p}.booking_on`].map((ra, i) => {
  const rb = round[`${p}.booking_off`][i];
  return ra.rps && rb.rps ? (ra.rps / rb.rps).toFixed(3) : '—';
}).join(', ');
console.log(`| (req/s on / off, each round) | ${perRound('relay')} | | ${perRound('hub')} | |`);
const info = read('booking_on.info.json');
console.log('');
console.log(`Rows booked by the booking-on hub over both paths: ${fmt(info?.usage?.booked)} (dropped ${fmt(info?.usage?.dropped)}); ` +
  `the booking-off hubs: ${fmt(read('booking_off.info.json')?.usage?.booked)} and ${fmt(read('baseline.info.json')?.usage?.booked)}.`);
console.log(`OpenAI Chat passthrough, one of the keys on every request. ${rounds} rounds; per round and case ${n} requests at c=1, ` +
  `then ${secs} s at c=64; the cases take turns.`);
if (errors.length) console.log(`errors: ${errors.join('; ')}`);
