// `sluice lab up|status|down`: the whole loop on real parts in network namespaces (root needed).
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseCommandLine, UsageError } from '../../lib/cli-args.ts';
import { runScenario } from './run.ts';
import { DEFAULT_STATE_DIR, isSameProcess, leftovers, readState, teardown, type LabState } from './state.ts';
import { LabApi } from './unix-http.ts';
import { rateOf, readBins, settledNow } from './world.ts';

const USAGE = `usage: sluice lab up --scenario FILE [--state DIR] [--out DIR] [--keep]
       sluice lab status [--state DIR]
       sluice lab down [--state DIR]

The whole loop on real parts, several regions on one machine (root: network namespaces joined by the
TUN delay line). "up" builds the scenario's world (origins + agents, HAProxy edges + edge-sync + agents,
Prometheus, control plane, sluice dns, clients), prints where everything is, runs the scenario's script
(measuring at the origins and checking the results) and takes the world down when the script ends
(--keep: stay up until interrupted). Exit code 0 when every check passed.
"status": per origin measured load, capacity, health and weight; per client subnet the chosen origin
and learned RTTs. "down": removes every namespace and process of the lab in --state, also after a crash.

options:
  --scenario FILE  test/lab/scenarios/*.yaml
  --state DIR      state directory (default ${DEFAULT_STATE_DIR})
  --out DIR        where result.json, load.svg and rtt.md go (default <state>/out)
  --keep           stay up after the script until SIGINT/SIGTERM`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return sub ? 0 : 2;
  }
  const args = parseCommandLine(rest, { scenario: { type: 'string' }, state: { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean' } }, USAGE);
  if (!args) return 0;
  const stateDir = resolve(args.values.state ?? DEFAULT_STATE_DIR);
  if (sub === 'down') return down(stateDir);
  if (sub === 'status') return status(stateDir);
  if (sub !== 'up') throw new UsageError(`unknown lab command "${sub}"\n\n${USAGE}`);
  if (!args.values.scenario) throw new UsageError(`up needs --scenario FILE\n\n${USAGE}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    process.stderr.write('sluice lab: needs root (network namespaces, TUN devices)\n');
    return 2;
  }
  const previous = readState(stateDir);
  if (previous && previous.status !== 'stopped') {
    const left = leftovers(previous);
    if (left.length > 0) {
      process.stderr.write(`sluice lab: a lab from ${stateDir} still exists (${left.slice(0, 3).join('; ')}${left.length > 3 ? '; …' : ''}); run "sluice lab down --state ${stateDir}" first\n`);
      return 1;
    }
  }
  // A fresh state directory per run: old measurements must not leak into new results.
  for (const sub of ['logs', 'stats', 'etc', 'ctl', 'prometheus-data', 'pki']) rmSync(join(stateDir, sub), { recursive: true, force: true });
  for (const d of ['cp-data-1', 'cp-data-2', 'cp-data-3']) rmSync(join(stateDir, d), { recursive: true, force: true });

  // Ctrl-C / SIGTERM: with the world built, end the hold (or the script's wait) and let the normal path
  // take it down; while it is still being built, tear down from the state file and exit.
  let interrupted: () => void = () => undefined;
  const stop = new Promise<void>((r) => (interrupted = r));
  let signalled = false;
  let built = false;
  const onSignal = (sig: string) => {
    if (signalled) return;
    signalled = true;
    process.stderr.write(`sluice lab: ${sig}: taking the lab down\n`);
    interrupted();
    if (built && args.values.keep) return;
    const st = readState(stateDir);
    if (st) void teardown({ ...st, lab: { ...st.lab, pid: process.pid } }).then(() => process.exit(130));
    else process.exit(130);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  const result = await runScenario({
    scenarioFile: resolve(args.values.scenario),
    stateDir,
    outDir: resolve(args.values.out ?? join(stateDir, 'out')),
    ...(args.values.keep ? { holdUntil: stop.then(() => undefined) } : {}),
    onReady: () => {
      built = true;
    },
  });
  process.stdout.write(`${JSON.stringify({ scenario: result.scenario, passed: result.checks.every((c) => c.pass), duration_s: result.duration_s, numbers: result.numbers }, null, 2)}\n`);
  for (const c of result.checks) process.stdout.write(`${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}\n`);
  return result.checks.every((c) => c.pass) ? 0 : 1;
}

async function down(stateDir: string): Promise<number> {
  const state = readState(stateDir);
  if (!state) {
    process.stdout.write(`no lab state in ${stateDir}: nothing to remove\n`);
    return 0;
  }
  const left = await teardown(state, (l) => process.stdout.write(`${l}\n`));
  if (left.length > 0) {
    process.stderr.write(`left behind:\n${left.map((l) => `  ${l}`).join('\n')}\n`);
    return 1;
  }
  process.stdout.write(`lab in ${stateDir} is down: no namespace, process or TUN device left\n`);
  return 0;
}

interface Origin {
  id: string;
  name: string;
  max_rps: number;
  target_rps: number;
}

async function status(stateDir: string): Promise<number> {
  const state = readState(stateDir);
  if (!state) {
    process.stdout.write(`no lab state in ${stateDir}\n`);
    return 1;
  }
  if (state.status !== 'running' || !isSameProcess(state.lab) || !state.load_balancer || !existsSync(state.sockets.control_plane ?? '')) {
    process.stdout.write(`lab in ${stateDir}: ${state.status}${isSameProcess(state.lab) ? '' : ' (lab process not running)'}\n`);
    return 1;
  }
  process.stdout.write(await statusText(state));
  return 0;
}

/** The status tables: from the control plane API and the origins' own counters. */
export async function statusText(state: LabState): Promise<string> {
  const api = new LabApi(state.sockets.control_plane!, state.token, state.tls);
  const lbId = state.load_balancer!.id;
  const [origins, health, weights, latency, edges] = await Promise.all([
    api.get<{ items: Origin[] }>(`/api/v1/load-balancers/${lbId}/origins?limit=500`).then((b) => b.items),
    api.get<{ items: { origin_id: string; healthy: boolean }[] }>('/api/v1/health').then((b) => b.items),
    api.get<{ version: number; edges: Record<string, Record<string, number>>; subnets: Record<string, Record<string, number>> }>(`/api/v1/load-balancers/${lbId}/weights`).catch(() => null),
    api.get<{ items: { subnet: string; origin_id: string; rtt_ms: number; samples: number }[] }>('/api/v1/latency?limit=500').then((b) => b.items),
    api.get<{ items: { id: string; name: string; address: string }[] }>('/api/v1/edges?limit=500').then((b) => b.items),
  ]);
  const nameOf = new Map(origins.map((o) => [o.id, o.name]));
  const now = settledNow() + 250;
  const out: string[] = [];
  out.push(`lab ${state.scenario}  load balancer ${state.load_balancer!.name}  weights version ${weights?.version ?? '— (none published yet)'}`);
  out.push('');
  out.push(`${'origin'.padEnd(18)}${'healthy'.padEnd(9)}${'load rps'.padStart(10)}${'target'.padStart(9)}${'max'.padStart(9)}${'util'.padStart(8)}   weight (per source)`);
  for (const o of origins) {
    const rec = state.origins.find((x) => x.name === o.name);
    const load = rec ? rateOf(readBins(rec.stats), 'served', now - 2250, now - 250) : NaN;
    const healthy = health.find((h) => h.origin_id === o.id)?.healthy ?? true;
    const shares = [
      ...Object.entries(weights?.edges ?? {}).map(([e, w]) => `edge ${edges.find((x) => x.id === e)?.name ?? e} ${((w[o.id] ?? 0) * 100).toFixed(1)}%`),
      ...Object.entries(weights?.subnets ?? {}).map(([s, w]) => `${s} ${((w[o.id] ?? 0) * 100).toFixed(1)}%`),
    ];
    out.push(`${o.name.padEnd(18)}${String(healthy).padEnd(9)}${load.toFixed(1).padStart(10)}${String(o.target_rps).padStart(9)}${String(o.max_rps).padStart(9)}${`${((load / o.max_rps) * 100).toFixed(0)}%`.padStart(8)}   ${shares.join(', ') || '—'}`);
  }
  out.push('');
  out.push('load rps: measured at the origin (its own request counter, last 2 s); weight: the shares the scheduler published.');
  const subnets = [...new Set([...Object.keys(weights?.subnets ?? {}), ...latency.map((l) => l.subnet)])].sort();
  if (subnets.length > 0) {
    out.push('');
    out.push(`${'client subnet'.padEnd(20)}${'chosen origin'.padEnd(24)}learned RTT per origin`);
    for (const s of subnets) {
      const w = weights?.subnets[s] ?? {};
      const best = Object.entries(w).sort((a, b) => b[1] - a[1])[0];
      const edge = edges.find((e) => subnetOfAddress(e.address) === s);
      const chosen = best ? `${nameOf.get(best[0]) ?? best[0]} (${(best[1] * 100).toFixed(0)}%)` : edge ? `edge ${edge.name}: see weights` : '— (geo/static)';
      const rtts = latency.filter((l) => l.subnet === s).map((l) => `${nameOf.get(l.origin_id) ?? l.origin_id} ${l.rtt_ms.toFixed(1)} ms (${l.samples})`);
      out.push(`${s.padEnd(20)}${chosen.padEnd(24)}${rtts.join(', ') || '—'}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** The /24 an IPv4 address is in (the agents' default aggregation). */
function subnetOfAddress(address: string): string {
  return `${address.split('.').slice(0, 3).join('.')}.0/24`;
}
