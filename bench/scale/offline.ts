// The scale harness's stages that can run in one process, at full size (1M subnets, 1,000 edges,
// 200 origins): what a cycle costs past Prometheus. Prometheus itself is replaced by the series the
// default queries would return (bench/scale/inputs.ts); everything after is the real code:
//
//   agents     each origin's export plan over its learning table (agent/learning/export-plan.ts)
//   inputs     assembleInputs + toCapacityUnit over those series (what PromqlInputReader does with them)
//   cycle      SchedulerLoop.cycle(): problem, solve in the decision worker, publish into SQLite
//   view       GET /api/v1/dns/view through the real API (rendered JSON, bytes)
//   dns index  buildViewIndex of that view (what every sluice dns does per new view), heap it holds
//   answers    choose() for every subnet: coverage = demand-weighted share answered from learned RTT
//
// Heap is measured after a forced GC where the process was started with --expose-gc.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { serialize } from 'node:v8';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { tokenSets } from '../../api/auth.ts';
import { buildServer } from '../../api/server.ts';
import { openSqliteStore } from '../../api/store/sqlite.ts';
import { bytesToV4 } from '../../lib/prefix-table.ts';
import { ipToBytes } from '../../model/primitives.ts';
import type { DnsView } from '../../model/index.ts';
import { densify } from '../../scheduler/core/input.ts';
import type { Policy, SchedulingDecision } from '../../scheduler/core/types.ts';
import { choose, newChoice } from '../../dns/answer/choose.ts';
import { buildViewIndex, type Authority } from '../../dns/answer/view-index.ts';
import { runPaced, type Steps } from '../../lib/steps.ts';
import { assembleInputs, assembleInputsSteps } from '../../scheduler/inputs/assemble.ts';
import { toCapacityUnit, toCapacityUnitSteps } from '../../scheduler/inputs/convert.ts';
import type { ReadContext } from '../../scheduler/inputs/types.ts';
import { createLocator } from '../../scheduler/loop/locate.ts';
import { SchedulerLoop } from '../../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../../scheduler/loop/metrics.ts';
import { StallLog } from '../lib/stall-log.ts';
import { DecisionWorker, type RoundTrip } from '../../scheduler/solver/client.ts';
import { DEFAULT_MERGE_RESOLUTION_MS } from '../../scheduler/solver/merge.ts';
import { DEFAULT_AGGREGATION, simulateAgents } from './agents.ts';
import { geoMappings, rawInputsFromAgents, seedStore } from './inputs.ts';
import { buildWorld, coldStartAssignment, subnetCidr } from './world.ts';

export interface OfflineSpec {
  subnets: number;
  edges: number;
  origins: number;
  budget: number;
  seed?: number;
  /** Scheduler config merge_resolution_ms (default: the config's default). */
  mergeResolutionMs?: number;
  /** Stop after the two cycles (no view, DNS index or answers stages): the decision's numbers only. */
  cyclesOnly?: boolean;
  /** Write each cycle's problem, in the decision worker's flat form (v8.serialize of densify()), to
   * `${dumpProblem}-1.v8` and `-2.v8`: what bench/scale/decide-dump.ts profiles without the harness. */
  dumpProblem?: string;
  log?: (line: string) => void;
}

export interface Stage {
  ms: number;
  heap_mb: number;
  bytes?: number;
}

export interface OfflineResult {
  spec: Omit<OfflineSpec, 'log'>;
  /** view, dns_index and answers are absent when run with cyclesOnly. */
  stages: Record<'world' | 'agents' | 'inputs' | 'cycle' | 'cycle2', Stage> & Partial<Record<'view' | 'dns_index' | 'answers', Stage>>;
  series: number;
  sources: number;
  view_subnets: number;
  solve_ms: number;
  /** The decision worker's own solve time (decide() without packing and transfer), first cycle. */
  worker_solve_ms: number;
  /** The decision worker's heap + typed arrays after a decision, the larger of the two cycles (MB). */
  worker_memory_mb: number;
  /** The second cycle's worker time (starts from the first decision's prices). */
  worker_solve_ms_cycle2: number;
  /** decide()'s stages inside the worker (scheduler/core/decide-stages.ts), wall ms per cycle. */
  worker_stages_ms: { cycle: Record<string, number>; cycle2: Record<string, number> };
  /** Each cycle's solve split by phase and thread (solver/client.ts RoundTrip: worker CPU, GC, stages' CPU). */
  round_trip?: { cycle?: RoundTrip; cycle2?: RoundTrip };
  /** What the solver reported for the first cycle: rows after merging, augmenting paths. */
  solver: SchedulingDecision['solver'];
  /** Longest stall of the main thread's event loop during each cycle (perf_hooks, 10 ms resolution). */
  event_loop_max_ms: { cycle: number; cycle2: number };
  /** Each cycle stage's wall time on the main thread between two yields (scheduler/loop/stage-clock.ts), ms. */
  cycle_stages_ms: { cycle: Record<string, number>; cycle2: Record<string, number> };
  /**
   * The main thread's CPU time in each stage (ms, 10 ms ticks; Linux only, else absent): what a stage
   * costs whatever the load, where its wall time and the stalls it causes grow with the load.
   */
  cycle_stages_cpu_ms?: { cycle: Record<string, number>; cycle2: Record<string, number> };
  /** The load average (1 min) at the start and end of the two cycles: stalls grow with it. */
  loadavg: [number, number];
  /**
   * The peer: the longest stall a 10 ms ticker (as the stall log's) sees beside a busy loop paced as the stages
   * are (runPaced, 20 ms slices, steps of ~0.1 ms), for 3 s before the first cycle and after the second:
   * the floor the machine's load puts under any stall of this thread, whatever the code.
   */
  paced_peer_stall_ms: [number, number];
  /** The main thread's GC pauses during each cycle (perf_hooks 'gc' entries). */
  main_gc: { cycle: GcPauses; cycle2: GcPauses };
  /** A 10 ms ticker's longest late firing, by the stage last reported done when it fired (ms). */
  stalls_after_stage_ms: { cycle: Record<string, number>; cycle2: Record<string, number> };
  /** NaN (null in JSON) when run with cyclesOnly. */
  coverage: number;
  /** The same agents exporting only their busiest `budget` subnets (the peer). */
  coverage_top_n: number;
}

const AUTHORITY: Authority = { primaryNs: 'ns1.scale.example', hostmaster: 'hostmaster@scale.example', nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 3600, retry: 600, expire: 1209600 };

/** This thread's CPU time (user + system, ms) from /proc: the main thread's task has the process id. */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime in USER_HZ (100) ticks
  } catch {
    return undefined;
  }
}

let sink = 0;

/** See OfflineResult.paced_peer_stall_ms. */
async function pacedPeerStall(ms: number): Promise<number> {
  let worst = 0;
  let at = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - at - 10);
    at = now;
  }, 10);
  function* burn(): Steps<void> {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      for (let i = 0; i < 100_000; i++) sink += Math.sqrt(i);
      yield;
    }
  }
  await runPaced(burn());
  clearInterval(ticker);
  return Math.round(worst);
}

function heapMb(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10;
}

/** Main-thread GC while a cycle ran: the longest pause and the sum (ms). */
export interface GcPauses {
  max_ms: number;
  total_ms: number;
}

/**
 * Runs f while watching the event loop: its result, the longest delay seen (ms) and the main thread's
 * GC pauses meanwhile (a stall no stage causes alone: this process also holds the harness's world).
 */
async function watchingLoop<T>(f: () => Promise<T>): Promise<[T, number, GcPauses]> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  const gc: GcPauses = { max_ms: 0, total_ms: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.max_ms = Math.max(gc.max_ms, Math.round(e.duration));
      gc.total_ms += e.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  h.enable();
  try {
    const v = await f();
    // GC entries are delivered asynchronously, and the stall ticker fires every 10 ms: let both catch up.
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc.total_ms = Math.round(gc.total_ms);
    return [v, Math.round(h.max / 1e6), gc];
  } finally {
    h.disable();
    observer.disconnect();
  }
}

async function timed<T>(f: () => Promise<T> | T): Promise<[T, Stage]> {
  const t = performance.now();
  const v = await f();
  const ms = Math.round(performance.now() - t);
  return [v, { ms, heap_mb: heapMb() }];
}

/** Demand-weighted share of subnets a view's record answers from learned RTT. */
function learnedShare(view: DnsView, w: ReturnType<typeof buildWorld>, index = buildViewIndex(view, AUTHORITY)): number {
  const rec = [...index.records.values()][0]!;
  const out = newChoice();
  let learned = 0;
  let all = 0;
  for (let i = 0; i < w.demand.length; i++) {
    const [address, prefix] = subnetCidr(w, i).split('/') as [string, string];
    const bytes = ipToBytes(address)!;
    const v4 = bytes.length === 4;
    choose(rec, 1, { family: v4 ? 4 : 6, v4: v4 ? bytesToV4(bytes) : 0, v6: v4 ? new Uint8Array(16) : bytes, prefix: Number(prefix) }, null, { ipv4: 24, ipv6: 56 }, out);
    all += w.demand[i]!;
    if (out.reason === 'learned_latency') learned += w.demand[i]!;
  }
  return learned / all;
}

export async function runOffline(spec: OfflineSpec): Promise<OfflineResult> {
  const log = spec.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-scale-offline-'));
  const store = openSqliteStore(join(dir, 'data'));
  const solver = new DecisionWorker().start(); // as start.ts: booted before the first cycle
  try {
    const [w, world] = await timed(() => buildWorld({ subnets: spec.subnets, origins: spec.origins, edges: spec.edges, seed: spec.seed ?? 15 }));
    log(`world ${JSON.stringify(world)}`);
    const assign = coldStartAssignment(w);
    const [agents, agentsStage] = await timed(() => simulateAgents(w, assign, spec.budget, DEFAULT_AGGREGATION));
    // The agents' tables are the simulation's, not a cost of the loop: keep only what they export.
    agentsStage.ms = Math.round(agents.reduce((n, a) => n + a.plan_ms, 0));
    log(`agents ${JSON.stringify(agentsStage)} (sum of ${agents.length} plans)`);
    const raw = rawInputsFromAgents(w, agents);
    const series = raw.subnet_demand.length + raw.subnet_rtt.length + raw.subnet_samples.length + raw.edge_demand.length + raw.edge_rtt.length + raw.origin_connections.length;
    for (const a of agents) (a as { table: unknown[] }).table = [];

    const seeded = await seedStore(store, w);
    const ctx: ReadContext = { lb: seeded.lb, origins: await store.allOrigins(seeded.lb.id), edges: await store.allEdges() };
    const counter = { reject: () => undefined };
    const [, inputs] = await timed(() => toCapacityUnit(assembleInputs(raw, ctx, counter), ctx));
    log(`inputs ${JSON.stringify(inputs)} (${series} series)`);

    const peerBefore = await pacedPeerStall(3000);
    log(`paced peer before the cycles: longest stall ${peerBefore} ms (load ${loadavg()[0]!.toFixed(1)})`);
    let stageMs: Record<string, number> = {};
    let stageCpu: Record<string, number> = {};
    let cpuAt = mainThreadCpuMs();
    // The stall log (bench/lib/stall-log.ts), by the stage in progress.
    const stallLog = new StallLog();
    let solveMs = 0;
    let workerMs = 0;
    let workerMb = 0;
    let dumped = 0;
    let workerStages: Record<string, number> = {};
    let roundTrip: RoundTrip | undefined;
    const loop = new SchedulerLoop({
      store,
      // As PromqlInputReader reads them: assembled in steps on the loop's thread.
      reader: { read: async (c) => runPaced(toCapacityUnitSteps(await runPaced(assembleInputsSteps(raw, c, counter)), c)) },
      // As start.ts (SCALE_NO_PREPARE=1: without, to measure what it saves).
      ...(process.env.SCALE_NO_PREPARE ? {} : { prepare: (rows: number, cols: number, policy: Policy) => solver.prepare(rows, cols, policy) }),
      solve: async (p) => {
        if (spec.dumpProblem) writeFileSync(`${spec.dumpProblem}-${++dumped}.v8`, serialize(densify(p)));
        const t = performance.now();
        try {
          const d = await solver.decide(p);
          workerMs = d.solve_ms;
          workerMb = Math.max(workerMb, d.memory_mb ?? 0);
          workerStages = d.stages_ms ?? {};
          roundTrip = d.round_trip;
          return d;
        } finally {
          solveMs = performance.now() - t;
        }
      },
      log: pino({ level: 'silent' }),
      metrics: createSchedulerMetrics(new Registry()),
      intervalMs: 3_600_000,
      inputTimeoutMs: 600_000,
      leaseTtlMs: 3_600_000,
      holdCycles: 0,
      mergeResolutionMs: spec.mergeResolutionMs ?? DEFAULT_MERGE_RESOLUTION_MS,
      latencyTtlMs: 3_600_000,
      onStage: (stage, ms) => {
        stageMs[stage] = Math.round((stageMs[stage] ?? 0) + ms);
        const cpu = mainThreadCpuMs();
        if (cpu !== undefined && cpuAt !== undefined) stageCpu[stage] = (stageCpu[stage] ?? 0) + cpu - cpuAt;
        cpuAt = cpu;
        stallLog.at(stage);
      },
      locate: await createLocator({ cidr_mappings: geoMappings(w) }),
    });
    // timed() outside watchingLoop: its forced GC (the heap figure) is the harness's, not the loop's.
    const loadStart = loadavg()[0]!;
    stallLog.restart(); // the harness's own forced GC just before is not the cycle's
    cpuAt = mainThreadCpuMs();
    const [[report, stall, gc1], cycle] = await timed(async () => {
      const watched = await watchingLoop(() => loop.cycle());
      stallLog.at('harness');
      return watched;
    });
    const stages1 = stageMs;
    const stalls1 = stallLog.stalls;
    const cpu1 = stageCpu;
    stageMs = {};
    stageCpu = {};
    const first = report.results[0]!;
    if (first.outcome !== 'published') throw new Error(`cycle: ${first.outcome}: ${first.detail}`);
    const sources = Object.keys(first.decision!.weights).length;
    const solverInfo = first.decision!.solver;
    log(`cycle ${JSON.stringify(cycle)} solve ${Math.round(solveMs)} ms (worker ${Math.round(workerMs)} ms), ${sources} sources, solver ${JSON.stringify(solverInfo)}, event loop max ${stall} ms (main-thread GC max ${gc1.max_ms} ms, ${gc1.total_ms} ms in all), stages ${JSON.stringify(stages1)}`);
    const firstSolve = Math.round(solveMs);
    const firstWorker = Math.round(workerMs);
    const firstStages = workerStages;
    const firstTrip = roundTrip;
    // A second cycle from the weights in force (the steady state the scheduler runs in).
    stallLog.restart(); // the harness's own forced GC just before is not the cycle's
    cpuAt = mainThreadCpuMs();
    const [[, stall2, gc2], cycle2] = await timed(async () => {
      const watched = await watchingLoop(() => loop.cycle());
      stallLog.at('harness');
      return watched;
    });
    log(`cycle2 ${JSON.stringify(cycle2)} solve ${Math.round(solveMs)} ms (worker ${Math.round(workerMs)} ms, ${workerMb} MB), event loop max ${stall2} ms (main-thread GC max ${gc2.max_ms} ms, ${gc2.total_ms} ms in all), stages ${JSON.stringify(stageMs)}`);
    const secondWorker = Math.round(workerMs);
    log(`worker stages (ms) first ${JSON.stringify(firstStages)} / next ${JSON.stringify(workerStages)}`);
    log(`round trips: first ${JSON.stringify(firstTrip)} / next ${JSON.stringify(roundTrip)}`);
    const stalls2 = stallLog.stalls;
    stallLog.stop();
    const peerAfter = await pacedPeerStall(3000);
    log(`paced peer after the cycles: longest stall ${peerAfter} ms (load ${loadavg()[0]!.toFixed(1)})`);
    const loadEnd = loadavg()[0]!;
    log(`stalls by the stage they followed: ${JSON.stringify(stalls1)} / ${JSON.stringify(stalls2)}`);
    log(`main-thread CPU by stage: ${JSON.stringify(cpu1)} / ${JSON.stringify(stageCpu)}; load ${loadStart.toFixed(1)} -> ${loadEnd.toFixed(1)}`);
    await loop.stop();
    const decisionOnly = {
      spec: { subnets: spec.subnets, edges: spec.edges, origins: spec.origins, budget: spec.budget, seed: spec.seed ?? 15, mergeResolutionMs: spec.mergeResolutionMs ?? DEFAULT_MERGE_RESOLUTION_MS },
      series,
      sources,
      solve_ms: firstSolve,
      worker_solve_ms: firstWorker,
      worker_solve_ms_cycle2: secondWorker,
      worker_memory_mb: workerMb,
      worker_stages_ms: { cycle: firstStages, cycle2: workerStages },
      round_trip: { ...(firstTrip ? { cycle: firstTrip } : {}), ...(roundTrip ? { cycle2: roundTrip } : {}) },
      solver: solverInfo,
      event_loop_max_ms: { cycle: stall, cycle2: stall2 },
      cycle_stages_ms: { cycle: stages1, cycle2: stageMs },
      main_gc: { cycle: gc1, cycle2: gc2 },
      stalls_after_stage_ms: { cycle: stalls1, cycle2: stalls2 },
      ...(cpuAt !== undefined ? { cycle_stages_cpu_ms: { cycle: cpu1, cycle2: stageCpu } } : {}),
      loadavg: [Math.round(loadStart * 10) / 10, Math.round(loadEnd * 10) / 10] as [number, number],
      paced_peer_stall_ms: [peerBefore, peerAfter] as [number, number],
    };
    if (spec.cyclesOnly) return { ...decisionOnly, stages: { world, agents: agentsStage, inputs, cycle, cycle2 }, view_subnets: 0, coverage: NaN, coverage_top_n: NaN };

    const app = await buildServer({ store, tokens: tokenSets({ admin_tokens: [], read_tokens: ['t'] }), docs: false });
    const [viewText, view] = await timed(async () => (await app.inject({ method: 'GET', url: '/api/v1/dns/view', headers: { authorization: 'Bearer t' } })).body);
    view.bytes = viewText.length;
    await app.close();
    const parsed = JSON.parse(viewText) as DnsView;
    const viewSubnets = parsed.zones.flatMap((z) => z.records).reduce((n, r) => n + Object.keys(r.subnets).length, 0);
    log(`view ${JSON.stringify(view)} ${viewSubnets} subnets`);
    const [index, dnsIndex] = await timed(() => buildViewIndex(parsed, AUTHORITY));
    log(`dns index ${JSON.stringify(dnsIndex)}`);
    const [coverage, answers] = await timed(() => learnedShare(parsed, w, index));
    log(`answers ${JSON.stringify(answers)} coverage ${(coverage * 100).toFixed(2)} %`);

    // The peer: the same tables exported as the busiest `budget` subnets only (no aggregation), offline.
    const topN = simulateAgents(w, assign, spec.budget, null);
    let covered = 0;
    let all = 0;
    for (const a of topN) for (const i of a.subnets) if (a.entryOf.has(i)) covered += w.demand[i]!;
    for (let i = 0; i < w.demand.length; i++) all += w.demand[i]!;

    return {
      ...decisionOnly,
      stages: { world, agents: agentsStage, inputs, cycle, cycle2, view, dns_index: dnsIndex, answers },
      view_subnets: viewSubnets,
      coverage,
      coverage_top_n: covered / all,
    };
  } finally {
    await solver.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run as a child (bench/scale.bench.ts) so each size has a heap of its own:
// node --import tsx --expose-gc bench/scale/offline.ts '{"subnets":…}' prints the result as JSON.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as OfflineSpec;
  const result = await runOffline({ ...spec, log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
