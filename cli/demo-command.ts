// `sluice demo`: the README's main job. Starts the control plane on the embedded defaults (SQLite in a
// temp dir, the REST API on loopback), creates a load balancer, origins and edges from a simulated
// world, and runs the real scheduler loop — lease, solver worker, damping, publish, decision log —
// with the world standing in for Prometheus. Shows the loop live in the terminal, then writes the
// chart. No root, no Prometheus, nothing beyond `npm ci`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { tokenSets } from '../api/auth.ts';
import { createApiMetrics } from '../api/metrics.ts';
import { buildServer } from '../api/server.ts';
import { openSqliteStore } from '../api/store/sqlite.ts';
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import type { Edge, Origin } from '../model/index.ts';
import { parseDuration, parseHostPort } from '../model/primitives.ts';
import { renderFrame } from './demo/render.ts';
import { SimulatedReader } from './demo/simulated-reader.ts';
import { SchedulerLoop } from '../scheduler/loop/loop.ts';
import { DEFAULT_MERGE_RESOLUTION_MS } from '../scheduler/solver/merge.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';
import { toCsv } from '../scheduler/simulate/csv.ts';
import { loadScenario, type Scenario } from '../scheduler/simulate/scenario.ts';
import { summarise } from '../scheduler/simulate/summary.ts';
import { toSvg } from '../scheduler/simulate/svg.ts';
import { DEFAULT_GAIN } from '../scheduler/core/index.ts';
import { DecisionWorker } from '../scheduler/solver/client.ts';

const DEFAULT_SCENARIO = fileURLToPath(new URL('../examples/demo.yaml', import.meta.url));

const USAGE = `usage: sluice demo [--scenario FILE] [--cycles N] [--interval DURATION] [--listen HOST:PORT]
                   [--data-dir DIR] [--out DIR] [--plain]

Runs the control plane and the real scheduler loop against a simulated world, live in the terminal.
  --scenario FILE    world to simulate (default examples/demo.yaml; see examples/scenarios/)
  --cycles N         cycles to run (default: the scenario's, then on until every origin's load has
                     settled — the recovery complete — for at most as many cycles again)
  --interval D       wall time per cycle, e.g. 300ms (default 300ms; 0 runs flat out)
  --listen H:P       where the REST API listens during the demo (default 127.0.0.1:8080, or a free port)
  --data-dir DIR     keep the SQLite store here (default: a temp dir, removed at the end)
  --out DIR          where the chart and CSV go (default ./sluice-demo)
  --plain            one line per cycle instead of a redrawn screen`;

function toName(id: string): string {
  const name = id.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  if (!name) throw new UsageError(`scenario id "${id}" has no letters or digits to name it by`);
  return name.slice(0, 63);
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommandLine(
    argv,
    { scenario: { type: 'string' }, cycles: { type: 'string' }, interval: { type: 'string' }, listen: { type: 'string' }, 'data-dir': { type: 'string' }, out: { type: 'string' }, plain: { type: 'boolean' } },
    USAGE,
  );
  if (!args) return 0;
  const scenario = loadScenario(args.values.scenario ?? DEFAULT_SCENARIO);
  const cycles = args.values.cycles === undefined ? scenario.cycles : Number(args.values.cycles);
  // Without --cycles the demo runs on past the scenario until the loads settle (a recovered origin is
  // walked back at max_shift per cycle, which outlasts the scenario), bounded.
  const untilSettled = args.values.cycles === undefined;
  if (!Number.isInteger(cycles) || cycles < 1) throw new UsageError(`--cycles: expected a whole number >= 1, got "${args.values.cycles}"`);
  const intervalText = args.values.interval ?? '300ms';
  const intervalMs = intervalText === '0' ? 0 : parseDuration(intervalText);
  if (intervalMs === null) throw new UsageError(`--interval: expected a duration such as 300ms or 1s, got "${args.values.interval}"`);
  const listen = parseHostPort(args.values.listen ?? '127.0.0.1:8080');
  if (!listen) throw new UsageError(`--listen: expected HOST:PORT, got "${args.values.listen}"`);
  const plain = args.values.plain === true || !process.stdout.isTTY;
  const outDir = args.values.out ?? 'sluice-demo';

  const tempData = args.values['data-dir'] ? undefined : mkdtempSync(join(tmpdir(), 'sluice-demo-'));
  const store = openSqliteStore(args.values['data-dir'] ?? tempData!);
  const metrics = createApiMetrics();
  const app = await buildServer({ store, tokens: tokenSets({ admin_tokens: [], read_tokens: [] }), metrics, docs: true });
  let url: string;
  try {
    url = await app.listen({ host: listen.host, port: listen.port });
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE' || args.values.listen) throw err;
    url = await app.listen({ host: listen.host, port: 0 });
  }

  const solver = new DecisionWorker();
  let loop: SchedulerLoop | undefined;
  try {
    const s = scenario.scheduler;
    const lb = await store.createLoadBalancer({
      name: toName(scenario.name),
      listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }],
      policy: s.policy,
      max_latency_ms: s.max_latency_ms,
      min_samples: 1,
      max_shift: s.max_shift,
      deadband: s.deadband,
      gain: s.gain ?? DEFAULT_GAIN,
      enabled: true,
    });
    // Documentation addresses (RFC 5737): the demo never sends a packet.
    const origins = new Map<string, Origin>();
    for (const [i, o] of scenario.origins.entries()) {
      origins.set(
        o.id,
        await store.createOrigin(lb.id, {
          name: toName(o.id),
          region: toName(o.id),
          addresses: [`198.51.100.${i + 1}`],
          port: 443,
          location: o.location ?? { lat: 0, lon: 0 },
          target_rps: o.target_rps ?? o.max_rps,
          max_rps: o.max_rps,
          admin_state: o.admin_state,
          static_weight: o.static_weight,
          priority: Math.max(0, o.priority),
        }),
      );
    }
    const edges = new Map<string, Edge>();
    for (const [i, src] of scenario.sources.entries()) {
      edges.set(src.id, await store.createEdge({ name: toName(src.id), region: toName(src.id), address: `203.0.113.${i + 1}`, location: src.location ?? { lat: 0, lon: 0 } }));
    }
    const reader = new SimulatedReader(scenario, store, edges, origins);
    loop = new SchedulerLoop({
      store,
      reader,
      solve: (p) => solver.decide(p),
      log: pino({ level: 'silent' }),
      metrics: createSchedulerMetrics(metrics.registry),
      intervalMs: intervalMs,
      inputTimeoutMs: 10_000,
      leaseTtlMs: 60_000,
      holdCycles: 8,
      latencyTtlMs: 3_600_000,
      locate: () => undefined,
      // As `sluice control-plane` runs (its config's default): the demo shows the product, not a variant.
      mergeResolutionMs: DEFAULT_MERGE_RESOLUTION_MS,
    });

    const header = `sluice demo — ${scenario.description || scenario.name}\nAPI: ${url}/api/v1/load-balancers/${lb.id}/weights  ·  ${url}/api/v1/decisions  ·  ${url}/docs`;
    if (plain) process.stdout.write(`${header}\n`);
    const settings = { policy: scenario.scheduler.policy, max_shift: scenario.scheduler.max_shift, deadband: scenario.scheduler.deadband, max_latency_ms: scenario.scheduler.max_latency_ms };
    const unsettled = () => Object.entries(summarise(reader.result(settings))).filter(([, x]) => x.settled_at === null).map(([id]) => id);
    for (let k = 0; k < (untilSettled ? 2 * cycles : cycles); k++) {
      if (k >= cycles && unsettled().length === 0) break;
      const report = await loop.cycle();
      const result = report.results[0];
      const c = reader.cycles[reader.cycles.length - 1]!;
      const d = result?.decision;
      const decisionLine = `  decision: ${result?.outcome ?? 'none'}${d ? ` (${d.reason}; step ${(d.step.fraction * 100).toFixed(0)}% of the way to the plan, limited by ${d.step.limited_by}; overload ${d.overload_rps.toFixed(1)} rps)` : ''} — ${result?.detail ?? ''}`;
      if (plain) {
        const loads = Object.entries(c.origins).map(([id, o]) => `${id} ${o.load_rps.toFixed(0)}/${o.max_rps.toFixed(0)}${o.healthy ? '' : ' DOWN'}`).join('  ');
        process.stdout.write(`cycle ${String(c.cycle).padStart(3)}  demand ${c.demand_rps.toFixed(0).padStart(4)} rps  ${loads}  [${result?.outcome ?? "-"}${d ? ` ${d.reason}` : ""}${result?.outcome === "held" ? `: ${result.detail}` : ""}]\n`);
      } else {
        process.stdout.write(`\x1b[H\x1b[2J${renderFrame(c, header, decisionLine)}\n`);
      }
      if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs)); // pacing for human eyes, not a wait for a condition
    }

    mkdirSync(outDir, { recursive: true });
    const result = reader.result(settings);
    const ran = result.cycles.length;
    const still = unsettled();
    const extension =
      ran > cycles
        ? still.length === 0
          ? `ran ${ran - cycles} cycle(s) past the scenario's ${cycles} until every origin's load settled (the recovery complete)`
          : `stopped ${ran - cycles} cycle(s) past the scenario's ${cycles}: ${still.join(', ')} still moving (not within 2 % for 5 cycles)`
        : still.length > 0
          ? `${still.join(', ')} still moving at the end (run without --cycles to let them settle)`
          : '';
    const demandNote = demandExplanation(reader, scenario, result);
    const svg = join(outDir, `${scenario.name}.svg`);
    const csv = join(outDir, `${scenario.name}.csv`);
    writeFileSync(svg, toSvg([result], { title: `sluice demo (live loop): ${scenario.description || scenario.name}`, note: demandNote.legend }));
    writeFileSync(csv, toCsv([result]));
    process.stdout.write('\nper origin (measured in the simulated world):\n');
    for (const [id, s] of Object.entries(summarise(result))) {
      process.stdout.write(`  ${id.padEnd(12)} final ${s.final_rps.toFixed(1).padStart(7)} rps  peak ${s.peak_rps.toFixed(1).padStart(7)}  above max ${s.cycles_above_max} cycle(s)  settled ${s.settled_at === null ? 'never' : `at cycle ${s.settled_at}`}\n`);
    }
    if (extension) process.stdout.write(`${extension}\n`);
    for (const line of demandNote.summary) process.stdout.write(`${line}\n`);
    const decisions = (await store.listDecisions({ limit: 1, load_balancer_id: lb.id })).items[0];
    process.stdout.write(`decisions logged: ${reader.cycles.length} cycles, last ${decisions?.reason ?? 'none'}\nwrote ${svg}\nwrote ${csv}\n`);
    return 0;
  } finally {
    await loop?.stop();
    await solver.close();
    await app.close();
    await store.close();
    if (tempData) rmSync(tempData, { recursive: true, force: true });
  }
}

/**
 * What moved the total demand: with RTT feedback (closed-loop clients) demand is the nominal demand ×
 * (reference RTT / RTT)^elasticity, so sending clients farther away (a failover) lowers what they ask
 * for. Said in the summary and the chart's legend, with the numbers of this run.
 */
function demandExplanation(reader: SimulatedReader, scenario: Scenario, result: ReturnType<SimulatedReader['result']>): { summary: string[]; legend: string[] } {
  const nominal = (k: number) => scenario.sources.reduce((sum, _s, i) => sum + reader.world.nominalDemand(i, k), 0);
  const rows = result.cycles.map((c) => ({ k: c.cycle, served: c.demand_rps, nominal: nominal(c.cycle), rtt: c.mean_rtt_ms, events: c.events }));
  const elastic = scenario.sources.filter((s) => s.feedback && s.feedback.elasticity > 0);
  if (rows.length === 0) return { summary: [], legend: [] };
  if (elastic.length === 0) return { summary: ['total demand follows the scenario\'s nominal curve (no RTT feedback)'], legend: [] };
  // Cycle 0 runs on static weights, before the loop's first decision: not what the scheduler did.
  const decided = rows.length > 1 ? rows.slice(1) : rows;
  const worst = decided.reduce((a, b) => (b.served / b.nominal < a.served / a.nominal ? b : a));
  const cause = rows.filter((r) => r.k <= worst.k && r.events.length > 0).at(-1);
  const last = rows[rows.length - 1]!;
  const e = [...new Set(elastic.map((s) => s.feedback!.elasticity))].join('/');
  return {
    summary: [
      `total demand: ${worst.served.toFixed(0)} of a nominal ${worst.nominal.toFixed(0)} rps at its lowest (cycle ${worst.k}, mean RTT ${worst.rtt.toFixed(0)} ms${cause ? `, after cycle ${cause.k}: ${cause.events.join('; ')}` : ''}), ${last.served.toFixed(0)} of ${last.nominal.toFixed(0)} at the end (mean RTT ${last.rtt.toFixed(0)} ms).`,
      `  What moves it: ${elastic.length} of ${scenario.sources.length} sources are closed-loop clients (elasticity ${e}): demand = nominal × (reference RTT / RTT)^elasticity,`,
      '  so clients sent farther away (a failover, a spill) issue fewer requests. Nothing is dropped: served = what they ask for.',
    ],
    legend: [`total demand falls with RTT: clients are`, `closed-loop (demand × (ref RTT / RTT)^${e})`],
  };
}
