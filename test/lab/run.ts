// Runs one scenario: build the world, print where things are, run the scenario's script (which measures
// and checks), write result.json, the chart and the RTT table, and take the world down again.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Recorder, type ScenarioResult } from './measure.ts';
import { loadScenario, type ScenarioSpec } from './scenario.ts';
import { capacitySpill } from './scripts/capacity-spill.ts';
import { dnsFailover } from './scripts/dns-failover.ts';
import { keepaliveSpill } from './scripts/keepalive-spill.ts';
import { healthVantage } from './scripts/health-vantage.ts';
import { latencyLearning } from './scripts/latency-learning.ts';
import { PORTS, World } from './world.ts';

export interface RunOptions {
  scenarioFile: string;
  stateDir: string;
  outDir: string;
  /** After the script: keep the world up until this promise resolves (lab up without --exit). */
  holdUntil?: Promise<unknown>;
  log?: (line: string) => void;
  /** Resolves when the world is built (for callers that want to interrupt mid-way). */
  onReady?: (world: World) => void;
}

const SCRIPTS: Record<ScenarioSpec['kind'], ((w: World, r: Recorder, out: string) => Promise<void>) | null> = {
  'capacity-spill': capacitySpill,
  'latency-learning': latencyLearning,
  'dns-failover': dnsFailover,
  'keepalive-spill': keepaliveSpill,
  'health-vantage': healthVantage,
  idle: null,
};

export function describeWorld(world: World): string {
  const s = world.state;
  // With TLS the bridges carry HTTPS: curl checks the lab CA and presents the lab's certificate.
  const curl = (sock: string | undefined) => (s.tls ? `curl --unix-socket ${sock} --cacert ${s.tls.ca} --cert ${s.tls.cert} --key ${s.tls.key} https://${s.tls.servername}` : `curl --unix-socket ${sock} http://lab`);
  const lines = [
    `lab "${world.spec.name}" is up (state: ${s.state_dir}/lab-state.json)${s.tls ? ', every link over TLS' : ''}`,
    ...s.namespaces.map((n) => `  netns ${n.name.padEnd(28)} ${world.addr(n.label).padEnd(12)} ${roles(world, n.label)}`),
    `  control plane  ${s.urls.control_plane}  (from here: ${curl(s.sockets.control_plane)}/api/v1/... -H 'authorization: Bearer ${s.token}')`,
    `  prometheus     ${s.urls.prometheus}  (from here: ${curl(s.sockets.prometheus)}/api/v1/query?query=...)`,
    ...(s.urls.dns ? [`  dns            ${s.urls.dns}  (ip netns exec <client netns> dig @${s.urls.dns.split(':')[0]} ${world.spec.load_balancer.dns?.hostname} A)`] : []),
    `  logs           ${s.state_dir}/logs/    measurements: ${s.state_dir}/stats/`,
    '  sluice lab status / sluice lab down',
  ];
  return lines.join('\n');
}

function roles(world: World, label: string): string {
  const r: string[] = [];
  if (label === world.spec.core) r.push(`control-plane:${PORTS.controlPlane} prometheus:${PORTS.prometheus}${world.spec.load_balancer.dns || world.spec.dns_server ? ` dns:${PORTS.dns}` : ''}`);
  for (const o of world.spec.origins) if (o.namespace === label) r.push(`origin ${o.name}:${o.port} + agent:${PORTS.agent}`);
  for (const e of world.spec.edges) if (e.namespace === label) r.push(`edge ${e.name} (haproxy ${world.spec.load_balancer.listeners.map((l) => `${l.vip}:${l.port}`).join(',')}, edge-sync:${PORTS.edgeSync}, agent:${PORTS.agent})`);
  return r.join('; ') || 'clients';
}

export async function runScenario(opts: RunOptions): Promise<ScenarioResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const spec = loadScenario(opts.scenarioFile);
  mkdirSync(opts.outDir, { recursive: true });
  for (const f of ['result.json', 'load.svg', 'rtt.md', 'decisions.json', 'predictions.json']) rmSync(join(opts.outDir, f), { force: true });
  const started = Date.now();
  const world = await World.build(spec, { stateDir: resolve(opts.stateDir), scenarioFile: resolve(opts.scenarioFile), log });
  const rec = new Recorder(log);
  let failure: Error | null = null;
  try {
    log(describeWorld(world));
    log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    opts.onReady?.(world);
    const script = SCRIPTS[spec.kind];
    if (script) {
      try {
        await script(world, rec, opts.outDir);
      } catch (err) {
        failure = err as Error;
        rec.check('script ran to the end', false, `${failure.message}${(await world.diagnose().catch(() => '')) ? ` — ${await world.diagnose().catch(() => '')}` : ''}`);
      }
    }
    if (opts.holdUntil) await opts.holdUntil;
  } finally {
    const left = await world.destroy();
    rec.check('teardown left nothing behind', left.length === 0, left.length === 0 ? 'no namespace, process or TUN device left' : left.join('; '));
  }
  const result: ScenarioResult = {
    scenario: spec.name,
    kind: spec.kind,
    started_at: new Date(started).toISOString(),
    duration_s: Math.round((Date.now() - started) / 100) / 10,
    checks: rec.checks,
    numbers: rec.numbers,
    events: rec.events,
    files: { chart: join(opts.outDir, 'load.svg'), rtt: join(opts.outDir, 'rtt.md'), logs: join(world.dir, 'logs') },
  };
  writeFileSync(join(opts.outDir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  log(`${result.checks.filter((c) => c.pass).length}/${result.checks.length} checks passed in ${result.duration_s} s; results in ${opts.outDir}`);
  return result;
}
