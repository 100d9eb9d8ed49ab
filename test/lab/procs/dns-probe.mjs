// Lab DNS probe: asks the lab's DNS server for one name every `interval_ms` from the namespace it runs
// in and writes 250 ms bins {t, sent, answered, failed, answers: {ip: n}} to a JSON-lines file:
// whether the data plane kept answering (e.g. while the control plane replica it follows dies).
// Bounded in count and time. Plain JS (no tsx) so it starts in milliseconds.
//
//   node dns-probe.mjs '{"server":"10.90.0.1","hostname":"app.lab.test","interval_ms":100,"duration_ms":60000,"stats":"/tmp/x.jsonl"}'
import { appendFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const BIN_MS = 250;
const resolver = new Resolver({ timeout: cfg.timeout_ms ?? 500, tries: 1 });
resolver.setServers([cfg.server]);
const started = Date.now();
const deadline = started + (cfg.duration_ms ?? 60_000);
const maxQueries = cfg.max_queries ?? 2000;
let sent = 0;
let bins = new Map();
const bin = (t) => {
  const k = Math.floor(t / BIN_MS) * BIN_MS;
  if (!bins.has(k)) bins.set(k, { t: k, sent: 0, answered: 0, failed: 0, answers: {} });
  return bins.get(k);
};
function flush(all) {
  const cutoff = Math.floor(Date.now() / BIN_MS) * BIN_MS - (all ? -BIN_MS : 2 * BIN_MS);
  for (const [k, b] of [...bins].sort((x, y) => x[0] - y[0])) {
    if (k >= cutoff) break;
    appendFileSync(cfg.stats, `${JSON.stringify(b)}\n`);
    bins.delete(k);
  }
}
const flusher = setInterval(() => flush(false), BIN_MS);
const ask = async () => {
  const at = Date.now();
  const b = bin(at);
  b.sent++;
  sent++;
  try {
    const ips = await resolver.resolve4(cfg.hostname);
    b.answered++;
    for (const ip of ips) b.answers[ip] = (b.answers[ip] ?? 0) + 1;
  } catch {
    b.failed++;
  }
};
const timer = setInterval(() => {
  if (Date.now() > deadline || sent >= maxQueries) return stop();
  void ask();
}, cfg.interval_ms ?? 100);
function stop() {
  clearInterval(timer);
  setTimeout(() => {
    clearInterval(flusher);
    flush(true);
    process.exit(0);
  }, (cfg.timeout_ms ?? 500) + 100);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
