// The scale harness through the REAL loop (issue 15), up to 1M subnets × 1,000 edges × 200 origins:
//
//   simulated agents and edges (bench/scale/agents.ts: the agent's real export plan over a synthetic
//   learning table; only the kernel is simulated) served over HTTP in the agents' metric format, from
//   a process of their own (exporter.ts: this one blocks for seconds in the read at scale)
//     -> a real Prometheus scraping them (every 2 s by default; the 1M run scrapes every 15 s with the
//        scheduler's default 60 s window, as production does: bench/scale.bench.ts)
//     -> the scheduler's PromqlInputReader (the default queries), SchedulerLoop, the decision worker
//     -> the publish into a real SQLite store behind the real control-plane API
//     -> `sluice dns` processes long-polling GET /api/v1/dns/view
//     -> ECS queries for subnets drawn by demand, answered by those processes.
//
// Each stage is timed per cycle, wall and CPU (this process' and Prometheus'); memory is read where
// the stage runs (the scheduler's heap in this process, RSS and peak RSS of Prometheus, of this process
// and of every DNS process); bytes are what crosses each hop (scraped
// exposition, the view each DNS server downloads). Coverage is measured, not computed: the share of
// the demand-weighted queries that the DNS processes answered with reason learned_latency (their own
// sluice_dns_queries_total counters), beside the share the agents' export plans learned (offline).
//
// Used by bench/scale.bench.ts (the reported sizes) and test/scale-loop.test.ts (CI size, asserting
// correctness, not timings).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { serialize } from 'node:v8';
import { densify } from '../../scheduler/core/input.ts';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { tokenSets } from '../../api/auth.ts';
import { buildServer } from '../../api/server.ts';
import { openSqliteStore } from '../../api/store/sqlite.ts';
import { seededRandom } from '../../lib/prng.ts';
import { PromqlInputReader } from '../../scheduler/inputs/promql.ts';
import { createLocator } from '../../scheduler/loop/locate.ts';
import { SchedulerLoop } from '../../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../../scheduler/loop/metrics.ts';
import { StallLog } from '../lib/stall-log.ts';
import { startProfile } from '../lib/cpu-profile.ts';
import { DecisionWorker, type RoundTrip } from '../../scheduler/solver/client.ts';
import { DEFAULT_MERGE_RESOLUTION_MS } from '../../scheduler/solver/merge.ts';
import { threadCpuMs } from '../../lib/thread-cpu.ts';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { Policy, SchedulingDecision } from '../../scheduler/core/index.ts';
import { buildQuery, decodeResponse, udpExchange } from '../../dns/testing/packets.ts';
import { freePort, freeServerPort } from '../../test/helpers/ports.ts';
import { startPrometheus, type RunningPrometheus } from '../../test/helpers/prometheus.ts';
import { childPids, treeRssBytes } from '../../test/helpers/rss.ts';
import { load1, treeCpu } from '../lib/proc.ts';
import { memoryOf } from '../lib/processes.ts';
import { startSluice, type SluiceProcess } from '../../test/helpers/sluice-process.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { DEFAULT_AGGREGATION, simulateAgents } from './agents.ts';
import { startExporterProcess } from './exporter.ts';
import { geoMappings, HOSTNAME, seedStore } from './inputs.ts';
import { buildWorld, coldStartAssignment, cumulative, draw, subnetCidr, type World } from './world.ts';

export interface RealPathSpec {
  subnets: number;
  edges: number;
  origins: number;
  /** Per-agent subnet_series_budget (today's default: 1000). */
  budget: number;
  dnsServers: number;
  /** ECS queries, subnets drawn by demand. */
  queries: number;
  /** Scheduler cycles run (the first publishes into an empty store; later ones are steady state). */
  cycles: number;
  /**
   * Prometheus' scrape interval (default 2 s: small runs, fast tests). At 1M, 15 s: sluice's production
   * cycle, and what lets one Prometheus on this machine ingest ~0.8M series.
   */
  scrapeIntervalS?: number;
  /** The reader's rate() window (default 10 s); it must hold at least two scrapes. */
  windowS?: number;
  /** The reader's staleness bound (default 30 s). */
  staleS?: number;
  /** Prometheus' --storage.tsdb.retention.time (default: Prometheus' own, 15 d); the run lasts minutes. */
  retention?: string;
  /** Run Prometheus and the exporter process at this nice level (they stand in for other machines). */
  inputsNice?: number;
  /**
   * One more cycle after `cycles`, by a second scheduler (another lease holder) on the same store once
   * the first has stopped: a leader change's first decision, which starts from the prices stored with
   * the last decision (scheduler/loop/price-hint.ts) instead of cold.
   */
  failover?: boolean;
  seed?: number;
  /** Write each cycle's problem in the decision worker's flat form to `${dumpProblem}-<cycle>.v8`
   * (as offline.ts does; bench/scale/decide-dump.ts replays one without the harness). */
  dumpProblem?: string;
  log?: (line: string) => void;
}

export interface CycleStages {
  /** This cycle was a new leader's first (spec.failover). */
  failover?: true;
  /** PromQL inputs: every default query of the load balancer through the real Prometheus. */
  read_ms: number;
  /** decide() round trip through the decision worker. */
  solve_ms: number;
  /** Store writes of the cycle (weights, decision, latency rows). */
  publish_ms: number;
  cycle_ms: number;
  /** From the publish returning to every DNS process holding that version. */
  propagate_ms: number;
  /** The same, per DNS server (polled every 20 ms, all servers at once). */
  propagate_ms_each: number[];
  /** CPU time while propagating: every DNS server's together, and this process' (API render, polling). */
  propagate_dns_cpu_ms: number;
  propagate_api_cpu_ms: number;
  /** One GET /api/v1/dns/view: what each DNS server downloads for this version. */
  view_bytes: number;
  /** What each DNS server downloaded for this publish: the delta from the view before (GET /dns/view/changes). */
  view_delta_bytes: number;
  view_get_ms: number;
  heap_mb: number;
  /** CPU time of this process (scheduler, API, decision worker: all its threads) over the cycle. */
  cycle_cpu_ms: number;
  /** Prometheus' CPU time while the read stage ran (evaluating the queries, and scraping meanwhile). */
  read_prometheus_cpu_ms: number;
  /** The machine's 1-minute load average at the cycle's end (it is shared: wall times grow with it). */
  load1: number;
  outcome: string;
  /** The solve stage split by phase and thread (solver/client.ts RoundTrip: pack, to the worker, decide,
   * back, unpack; the worker's CPU, GC and stages), the worker's memory, and this (main) thread meanwhile:
   * its CPU over the whole round trip (packing, unpacking and whatever else ran between the paced
   * slices: the API, the harness) and its GC pauses. */
  solve_detail?: { round_trip?: RoundTrip; worker_memory_mb?: number; stages_ms?: Record<string, number>; main_cpu_ms?: number; main_gc_ms: number; main_gc_max_ms: number };
  /** monitorEventLoopDelay's max at 10 ms resolution: the longest interval between its ticks, so the stall plus up to one tick. */
  loop_max_stall_ms: number;
  /** The longest stall a 10 ms ticker saw, by the loop stage in progress (named after the stage before it
   * finished: `start` is the first, inputs; `harness` is this harness's own work after the cycle). */
  stalls_after_stage_ms: Record<string, number>;
  /** The 10 ms ticker's longest late firing: wall, the loop thread's own CPU over it, and the stage it fell in. */
  loop_longest_stall: { wall_ms: number; cpu_ms: number | undefined; stage: string };
  /** Each loop stage's wall time between yields (scheduler/loop/stage-clock.ts), ms. */
  stages_ms: Record<string, number>;
  /** The main thread's GC over the cycle: total and longest pause (perf_hooks 'gc'). */
  main_gc_ms: number;
  main_gc_max_ms: number;
}

export interface RealPathResult {
  spec: Omit<RealPathSpec, 'log'>;
  world: { subnets: number; v6_share: number; demand: number; networks_mapped: number };
  agents: { series_entries: number; distinct_prefixes: number; exact: number; aggregate: number; plan_ms_max: number; planned_coverage: number };
  exposition: { bytes_per_scrape_round: number; render_ms_per_round: number; exporter_cpu_ms_per_round: number };
  /** `series`: sluice_* series; `head_series`: the TSDB head's (with up, scrape_* ...); `cpu_ms_per_s`: its CPU over the cycles. */
  prometheus: { series: number; head_series: number; rss_mb: number; peak_rss_mb: number; query_ms: number; cpu_ms_per_s: number };
  /** This process (world, scheduler, API, SQLite, decision worker) at the end and at its peak. */
  harness: { rss_mb: number; peak_rss_mb: number };
  cycles: CycleStages[];
  /**
   * The last decision: `plan_overload_rps` is the undamped plan's load above max (0 when demand fits);
   * `overload_rps` and `max_load_over_max` are the damped weights' (max_shift walks there over cycles).
   */
  decision: { sources: number; origins: number; plan_overload_rps: number; overload_rps: number; max_load_over_max: number };
  dns: { servers: number; rss_mb_each: number[]; peak_rss_mb_each: number[]; view_records: number; view_subnets: number; views_by_kind: Record<string, number> };
  answers: { sent: number; answered: number; learned: number; geo: number; other: number; coverage: number; p50_ms: number; p99_ms: number };
}

const READ_TOKEN = 'scale-read-token';

function mb(bytes: number): number {
  return Math.round((bytes / 1048576) * 10) / 10;
}

/** Peak RSS (VmHWM) of a process tree, summed over its processes: an upper bound of the tree's peak. */
function treePeakMb(pid: number): number {
  const peak = (p: number): number => memoryOf(p).peak_mb + childPids(p).reduce((n, c) => n + peak(c), 0);
  try {
    return Math.round(peak(pid) * 10) / 10;
  } catch {
    return NaN; // gone
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0;
}

/** Subnet indices drawn with probability ∝ demand (seeded). */
function drawByDemand(w: World, n: number, seed: number): number[] {
  const cum = cumulative(w.demand);
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => draw(cum, r));
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** sluice_dns_queries_total summed by reason. */
function byReason(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^sluice_dns_queries_total\{([^}]*)\} (\S+)$/gm)) {
    const reason = /reason="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    out.set(reason, (out.get(reason) ?? 0) + Number(m[2]));
  }
  return out;
}

function viewVersion(text: string): string | undefined {
  return /^sluice_dns_view_version(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1];
}

/**
 * What the agents' export plans hold (the exporter process serves the same plans): entries, distinct
 * prefixes, and the demand they learn. A function of its own so the simulated tables (hundreds of MB
 * at 1M) are garbage once it returns.
 */
function plannedExport(w: World, budget: number): { agentsOut: RealPathResult['agents']; demandAll: number } {
  const agents = simulateAgents(w, coldStartAssignment(w), budget, DEFAULT_AGGREGATION);
  let exact = 0;
  let aggregate = 0;
  let covered = 0;
  let demandAll = 0;
  const prefixes = new Set<string>();
  for (const a of agents) {
    for (const e of a.exported) prefixes.add(e.subnet);
    for (const e of a.exported) (e.subnet.endsWith('/24') || e.subnet.endsWith('/48') ? exact++ : aggregate++);
    for (const i of a.subnets) if (a.entryOf.has(i)) covered += w.demand[i]!;
  }
  for (let i = 0; i < w.demand.length; i++) demandAll += w.demand[i]!;
  const agentsOut = {
    series_entries: exact + aggregate,
    // Agents aggregate into the same prefixes (a /16 seen at two origins): one source each.
    distinct_prefixes: prefixes.size,
    exact,
    aggregate,
    plan_ms_max: Math.round(Math.max(...agents.map((a) => a.plan_ms))),
    planned_coverage: covered / demandAll,
  };
  return { agentsOut, demandAll };
}

export async function runRealPath(spec: RealPathSpec): Promise<RealPathResult> {
  const log = spec.log ?? (() => undefined);
  const seed = spec.seed ?? 15;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-scale-'));
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const scrapeS = spec.scrapeIntervalS ?? 2;
    const windowS = spec.windowS ?? 10;
    // The exporters build the same world in their own process meanwhile (exporter.ts: why apart).
    const exportersStarting = startExporterProcess({ subnets: spec.subnets, origins: spec.origins, edges: spec.edges, budget: spec.budget, seed }, spec.inputsNice);
    exportersStarting.catch(() => undefined); // awaited below; a failure before then must not go unhandled
    cleanup.push(async () => (await exportersStarting).stop());
    // The world and what each origin's agent exports (cold start: subnets go to the nearest origin).
    const w = buildWorld({ subnets: spec.subnets, origins: spec.origins, edges: spec.edges, seed });
    const { agentsOut, demandAll } = plannedExport(w, spec.budget);
    log(`world: ${spec.subnets} subnets, ${spec.origins} origins, ${spec.edges} edges; agents export ${agentsOut.series_entries} entries (${agentsOut.aggregate} aggregates), planned coverage ${(agentsOut.planned_coverage * 100).toFixed(1)} %`);

    // The exporters: a path per agent (targets told apart by __metrics_path__).
    const exporters = await exportersStarting;
    if (exporters.entries !== agentsOut.series_entries) throw new Error(`exporter process exports ${exporters.entries} entries, this one planned ${agentsOut.series_entries}`);
    const target = exporters.target;
    const group = (kind: string, n: number) => Array.from({ length: n }, (_, i) => ({ targets: [target], labels: { __metrics_path__: `/${kind}/${i}`, instance: `${kind}-${i}` } }));
    const prom: RunningPrometheus = await startPrometheus(
      [
        { job: 'origins', targets: [], groups: group('origin', spec.origins) },
        { job: 'edges', targets: [], groups: group('edge', spec.edges) },
      ],
      { scrapeInterval: `${scrapeS}s`, scrapeTimeout: `${scrapeS}s`, ...(spec.retention ? { args: [`--storage.tsdb.retention.time=${spec.retention}`] } : {}), ...(spec.inputsNice !== undefined ? { nice: spec.inputsNice } : {}) },
    );
    cleanup.push(() => prom.stop());

    // The control plane: a real SQLite store behind the real API, seeded with the world.
    const store = openSqliteStore(join(dir, 'data'));
    cleanup.push(() => store.close());
    const seeded = await seedStore(store, w);
    const app = await buildServer({ store, tokens: tokenSets({ admin_tokens: [], read_tokens: [READ_TOKEN] }), docs: false });
    const apiUrl = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => app.close());

    // The scheduler, wired as scheduler/loop/start.ts wires it (the decision worker, the locator over
    // the world's CIDR mappings), with each stage timed.
    const registry = new Registry();
    const metrics = createSchedulerMetrics(registry);
    const reader = new PromqlInputReader(
      { url: prom.url, timeoutMs: 600_000, windowSeconds: windowS, staleSeconds: spec.staleS ?? 30, queries: {}, perLoadBalancer: {} },
      { reject: (input, reason) => metrics.rejected.inc({ input, reason }) },
    );
    const stage = { read: 0, solve: 0, publish: 0, readPromCpu: 0 };
    const promCpuMs = () => {
      const c = treeCpu(prom.process.pid!);
      return (c.user + c.sys) * 1000;
    };
    const timedReader = { read: async (ctx: Parameters<typeof reader.read>[0]) => {
      const t = performance.now();
      const cpu = promCpuMs();
      try {
        return await reader.read(ctx);
      } finally {
        stage.read += performance.now() - t;
        stage.readPromCpu += promCpuMs() - cpu;
      }
    } } as typeof reader;
    const solver = new DecisionWorker().start(); // as start.ts: booted before the first cycle
    cleanup.push(() => solver.close());
    const mappings = geoMappings(w);
    const WRITES = new Set(['publishWeights', 'recordDecision', 'upsertLatency']);
    const timedStore = new Proxy(store, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        if (!WRITES.has(String(prop))) return v.bind(target);
        return async (...args: unknown[]) => {
          const t = performance.now();
          try {
            return await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } finally {
            stage.publish += performance.now() - t;
          }
        };
      },
    });
    let lastDecision: SchedulingDecision | undefined;
    const solveRec: { detail?: NonNullable<CycleStages['solve_detail']> } = {};
    let solveWindow: [number, number] = [0, 0];
    let dumped = 0;
    // The stall log (bench/lib/stall-log.ts, as offline.ts's) and each stage's wall time between yields.
    const stallLog = new StallLog();
    cleanup.push(() => stallLog.stop());
    let stageMs: Record<string, number> = {};
    // The main thread's GC pauses, kept with their start times so the solve's window can pick its own.
    const mainGc: { start: number; ms: number }[] = [];
    const gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) mainGc.push({ start: e.startTime, ms: e.duration });
    });
    gcObserver.observe({ entryTypes: ['gc'] });
    cleanup.push(() => gcObserver.disconnect());
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    cleanup.push(() => void loopDelay.disable());
    const loopOptions: ConstructorParameters<typeof SchedulerLoop>[0] = {
      store: timedStore,
      reader: timedReader,
      // As start.ts (SCALE_NO_PREPARE=1: without, to measure what it saves).
      ...(process.env.SCALE_NO_PREPARE ? {} : { prepare: (rows: number, cols: number, policy: Policy) => solver.prepare(rows, cols, policy) }),
      solve: async (p) => {
        if (spec.dumpProblem) writeFileSync(`${spec.dumpProblem}-${++dumped}.v8`, serialize(densify(p)));
        const t = performance.now();
        const cpu = threadCpuMs();
        try {
          const d = await solver.decide(p);
          const cpuEnd = threadCpuMs();
          solveRec.detail = { round_trip: d.round_trip, worker_memory_mb: d.memory_mb, stages_ms: d.stages_ms, ...(cpu !== undefined && cpuEnd !== undefined ? { main_cpu_ms: Math.round(cpuEnd - cpu) } : {}), main_gc_ms: 0, main_gc_max_ms: 0 };
          solveWindow = [t, performance.now()];
          return d;
        } finally {
          stage.solve += performance.now() - t;
        }
      },
      log: pino({ level: 'silent' }),
      metrics,
      intervalMs: 3_600_000,
      inputTimeoutMs: 900_000,
      leaseTtlMs: 3_600_000,
      holdCycles: 0,
      // As scheduler/loop/start.ts wires it from the config (its default): without it the loop solves
      // every source as its own row (128,850 instead of 55,421 at 1M), which is what made this path's
      // solves 2-3x slower than the offline harness's.
      mergeResolutionMs: DEFAULT_MERGE_RESOLUTION_MS,
      latencyTtlMs: 3_600_000,
      locate: await createLocator({ cidr_mappings: mappings }),
      onStage: (name, ms) => {
        stageMs[name] = Math.round((stageMs[name] ?? 0) + ms);
        stallLog.at(name);
      },
    };
    let loop = new SchedulerLoop(loopOptions);
    cleanup.push(() => loop.stop());

    // The DNS servers, each following the API's long-poll, with the world's GeoIP as CIDR mappings.
    // A secret file: `sluice dns` refuses a token file others can read (lib/secret-file.ts), so 0600
    // whatever the umask (the default 0644 made both servers exit at start).
    writeFileSync(join(dir, 'token'), READ_TOKEN, { mode: 0o600 });
    const dns: { proc: SluiceProcess; port: number; metricsPort: number }[] = [];
    for (let d = 0; d < spec.dnsServers; d++) {
      const port = await freeServerPort();
      const metricsPort = await freePort();
      const cfg = {
        listen: [`127.0.0.1:${port}`],
        api: { url: apiUrl, token_file: join(dir, 'token'), wait: '30s' },
        geoip: { cidr_mappings: mappings },
        metrics: { listen: `127.0.0.1:${metricsPort}` },
      };
      writeFileSync(join(dir, `dns-${d}.yaml`), JSON.stringify(cfg));
      const proc = startSluice(['dns', '--config', join(dir, `dns-${d}.yaml`)], { env: { SLUICE_LOG_LEVEL: 'warn' } });
      cleanup.push(async () => void (await proc.stop()));
      dns.push({ proc, port, metricsPort });
    }
    // A DNS server that exits (a config it refuses, a crash) fails the run at once with its output,
    // rather than leaving the wait for its view to time out. Stopping them at the end is no failure.
    let stopping = false;
    const dnsExited = new Promise<never>((_, reject) => {
      for (const [d, { proc }] of dns.entries()) {
        void proc.exited.then((code) => stopping || reject(new Error(`sluice dns ${d} exited (${code}): ${proc.output().slice(-1500)}`)));
      }
    });
    dnsExited.catch(() => undefined); // observed where it is raced; unobserved if nothing waits then
    cleanup.push(() => void (stopping = true));

    // Rates need two scrapes of every target inside the window.
    const sources = await waitFor(async () => {
      const r = await prom.query('count(sluice_agent_subnet_connections_total)');
      const up = await prom.query('count(up == 1)');
      const n = Number(r[0]?.value[1] ?? 0);
      return n >= agentsOut.series_entries && Number(up[0]?.value[1] ?? 0) === spec.origins + spec.edges ? n : null;
    }, { timeoutMs: 600_000, intervalMs: 1000, what: 'Prometheus to scrape every simulated agent' });
    log(`Prometheus scraped every target: ${sources} subnet series, RSS ${memoryOf(prom.process.pid!).rss_mb} MB`);
    // ...and a rate window full of samples of every counter the rates read. Two samples are enough for
    // rate() to answer, but not to answer right: it extrapolates a series younger than its window by
    // half a scrape interval at each end and divides by the whole window, so at 1M (15 s scrapes, 60 s
    // window) the first cycle read 683k rps of a 1.30M rps demand, and the next cycle's solve started
    // from prices for half the load (decidescale: 18,900 augmenting paths instead of ~800). A scheduler
    // started beside a Prometheus already running sees full windows; so does this first cycle now.
    const full = Math.max(2, Math.floor(windowS / scrapeS));
    await waitFor(async () => {
      const r = await prom.query(`min(count_over_time({__name__=~"sluice_agent_subnet_connections_total|sluice_edge_requests_total"}[${windowS}s]))`);
      return Number(r[0]?.value[1] ?? 0) >= full;
    }, { timeoutMs: 600_000, intervalMs: 1000, what: `${full} scrapes of every counter inside the ${windowS} s rate window` });
    log(`rate window full: Prometheus RSS ${memoryOf(prom.process.pid!).rss_mb} MB, this process ${memoryOf(process.pid).rss_mb} MB`);
    const exportedBefore = await exporters.stats();
    const promCpuBefore = promCpuMs();
    const cyclesT = performance.now();

    const cycles: CycleStages[] = [];
    let prevVersion: string | null = (((await (await fetch(`${apiUrl}/api/v1/dns/view`, { headers: { authorization: `Bearer ${READ_TOKEN}` } })).json()) as { version: string }).version) ?? null;
    let viewRecords = 0;
    let viewSubnets = 0;
    for (let c = 0; c < spec.cycles + (spec.failover ? 1 : 0); c++) {
      const failover = c === spec.cycles;
      if (failover) {
        // The leader steps down (releasing the lease) and another takes over, with none of its memory.
        await loop.stop();
        loop = new SchedulerLoop({ ...loopOptions, holder: 'successor' });
      }
      stage.read = stage.solve = stage.publish = stage.readPromCpu = 0;
      delete solveRec.detail;
      // SCALE_PROFILE=dir: this thread's CPU profile of every cycle after the first, one file each, and
      // the window of the cycle's longest stall in the profile's clock. Started before the cycle's stall
      // log: starting the profiler holds the thread (~0.8 s with this heap), which is not the cycle's.
      const profiling = process.env.SCALE_PROFILE && c > 0 ? await startProfile() : null;
      stallLog.restart();
      stageMs = {};
      mainGc.length = 0;
      const t = performance.now();
      const cpu = process.cpuUsage();
      loopDelay.reset();
      loopDelay.enable();
      const report = await loop.cycle();
      const cycleMs = performance.now() - t;
      if (profiling) {
        writeFileSync(join(process.env.SCALE_PROFILE!, `cycle-${c}.stall.json`), JSON.stringify({ longest: stallLog.longest, window_us: stallLog.longestWindowUs }));
        writeFileSync(join(process.env.SCALE_PROFILE!, `cycle-${c}.cpuprofile`), JSON.stringify(await profiling()));
      }
      loopDelay.disable();
      stallLog.at('harness');
      // GC entries arrive asynchronously: let them catch up before summing the cycle's.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const gcIn = (from: number, to: number) => mainGc.filter((g) => g.start >= from && g.start <= to);
      const sum = (gs: { ms: number }[]) => Math.round(gs.reduce((n, g) => n + g.ms, 0));
      const longest = (gs: { ms: number }[]) => Math.round(gs.reduce((n, g) => Math.max(n, g.ms), 0));
      const cycleGc = gcIn(t, t + cycleMs);
      const solveDetail = solveRec.detail as CycleStages['solve_detail']; // set by the solve callback
      if (solveDetail) {
        const solveGc = gcIn(solveWindow[0], solveWindow[1]);
        solveDetail.main_gc_ms = sum(solveGc);
        solveDetail.main_gc_max_ms = longest(solveGc);
      }
      const cycleCpu = process.cpuUsage(cpu);
      const result = report.results[0];
      if (!result) throw new Error(`cycle ${c}: no result (leader ${report.leader})`);
      if (result.decision) lastDecision = result.decision;
      // Publish -> every DNS process serving that version, timed first: the harness's own GETs of the
      // view below (seconds at 1M, on the API's event loop) must not sit inside it.
      const published = result.outcome === 'published' ? /^version (\S+)$/.exec(result.detail ?? '')?.[1] : undefined;
      // When each server was first seen serving it: all late together is the API's side (render, the
      // long-poll's answer), spread out is the servers' (parse, apply, index).
      const arrived: (number | undefined)[] = dns.map(() => undefined);
      // ...and where the CPU went meanwhile: the DNS servers' (every process and thread of each) and
      // this process' (the API's render and long-poll answers, beside this polling).
      const dnsCpu = () => dns.reduce((n, d) => {
        const c = treeCpu(d.proc.child.pid!);
        return n + (c.user + c.sys) * 1000;
      }, 0);
      const dnsCpuBefore = dnsCpu();
      const apiCpuBefore = process.cpuUsage();
      if (published !== undefined) {
        await Promise.race([
          dnsExited,
          waitFor(async () => {
            await Promise.all(dns.map(async (d, k) => {
              if (arrived[k] === undefined && viewVersion(await metricsText(d.metricsPort).catch(() => '')) === published) arrived[k] = Math.round(performance.now() - t - cycleMs);
            }));
            return arrived.every((a) => a !== undefined);
          }, { timeoutMs: 600_000, intervalMs: 20, what: `every DNS server on view ${published}; their output: ${dns.map((d) => d.proc.output().slice(-800)).join(' | ')}` }),
        ]);
      }
      const propagate = performance.now() - t - cycleMs;
      const propagateDnsCpu = dnsCpu() - dnsCpuBefore;
      const propagateApiCpu = process.cpuUsage(apiCpuBefore);
      // What a DNS server on the previous view downloaded for this one (GET /dns/view/changes: a delta
      // when this replica rendered the previous view), and the whole view an older server would.
      const deltaRes = await fetch(`${apiUrl}/api/v1/dns/view/changes`, { headers: { authorization: `Bearer ${READ_TOKEN}`, ...(prevVersion ? { 'if-none-match': `"${prevVersion}"` } : {}) } });
      const deltaBytes = deltaRes.status === 200 ? (await deltaRes.text()).length : 0;
      const tv = performance.now();
      const viewRes = await fetch(`${apiUrl}/api/v1/dns/view`, { headers: { authorization: `Bearer ${READ_TOKEN}` } });
      const viewText = await viewRes.text();
      const viewGet = performance.now() - tv;
      const view = JSON.parse(viewText) as { version: string; weights_version: number | null; zones: { records: { subnets: Record<string, unknown> }[] }[] };
      if (published !== undefined && String(view.weights_version) !== published) throw new Error(`cycle ${c}: published version ${published}, the view carries ${view.weights_version}`);
      prevVersion = view.version;
      const records = view.zones.flatMap((z) => z.records);
      viewRecords = records.length;
      viewSubnets = records.reduce((n, r) => n + Object.keys(r.subnets).length, 0);
      cycles.push({
        ...(failover ? { failover: true as const } : {}),
        read_ms: Math.round(stage.read),
        solve_ms: Math.round(stage.solve),
        publish_ms: Math.round(stage.publish),
        cycle_ms: Math.round(cycleMs),
        propagate_ms: Math.round(propagate),
        propagate_ms_each: arrived.map((a) => a ?? 0),
        propagate_dns_cpu_ms: Math.round(propagateDnsCpu),
        propagate_api_cpu_ms: Math.round((propagateApiCpu.user + propagateApiCpu.system) / 1000),
        view_bytes: viewText.length,
        view_delta_bytes: deltaBytes,
        view_get_ms: Math.round(viewGet),
        heap_mb: mb(process.memoryUsage().heapUsed),
        cycle_cpu_ms: Math.round((cycleCpu.user + cycleCpu.system) / 1000),
        read_prometheus_cpu_ms: Math.round(stage.readPromCpu),
        load1: load1(),
        outcome: `${result.outcome}${result.outcome === 'published' ? '' : `: ${result.detail}`}`,
        ...(solveDetail ? { solve_detail: solveDetail } : {}),
        loop_max_stall_ms: Math.round(loopDelay.max / 1e6),
        stalls_after_stage_ms: { ...stallLog.stalls },
        loop_longest_stall: stallLog.longest,
        stages_ms: stageMs,
        main_gc_ms: sum(cycleGc),
        main_gc_max_ms: longest(cycleGc),
      });
      log(`cycle ${c}: ${JSON.stringify(cycles.at(-1))}`);
      // A scrape between cycles: the next one reads fresh samples.
      if (c + 1 < spec.cycles) await new Promise((r) => setTimeout(r, scrapeS * 1000));
    }
    const exportedAfter = await exporters.stats();
    const rounds = Math.max(1, (exportedAfter.scrapes - exportedBefore.scrapes) / (spec.origins + spec.edges));
    const promCpuPerS = (promCpuMs() - promCpuBefore) / ((performance.now() - cyclesT) / 1000);
    // How the DNS servers received their views (sluice_dns_view_changes_total), summed over servers.
    const viewsByKind: Record<string, number> = {};
    for (const d of dns) {
      for (const m of (await metricsText(d.metricsPort).catch(() => '')).matchAll(/^sluice_dns_view_changes_total\{kind="(\w+)",reason="(\w+)"\} (\d+)/gm)) {
        viewsByKind[`${m[1]}/${m[2]}`] = (viewsByKind[`${m[1]}/${m[2]}`] ?? 0) + Number(m[3]);
      }
    }

    const tq = performance.now();
    const seriesNow = Number((await prom.query('count({__name__=~"sluice_.+"})'))[0]?.value[1] ?? 0);
    const queryMs = performance.now() - tq;
    const headSeries = ((await (await fetch(`${prom.url}/api/v1/status/tsdb`)).json()) as { data: { headStats: { numSeries: number } } }).data.headStats.numSeries;

    // Decision check: origins' predicted load over their max under the published (damped) weights.
    let worst = 0;
    if (lastDecision) {
      const origins = await store.allOrigins(seeded.lb.id);
      for (const o of origins) {
        const load = lastDecision.origin_load_rps[o.id] ?? 0;
        worst = Math.max(worst, load / o.max_rps);
      }
    }

    // ECS queries for subnets drawn by demand, spread over the DNS servers; reasons from their counters.
    const before = await Promise.all(dns.map(async (d) => byReason(await metricsText(d.metricsPort))));
    const picks = drawByDemand(w, spec.queries, seed + 1);
    const latencies: number[] = [];
    let answered = 0;
    const CONCURRENCY = 32;
    for (let q = 0; q < picks.length; q += CONCURRENCY) {
      await Promise.all(picks.slice(q, q + CONCURRENCY).map(async (i, k) => {
        const cidr = subnetCidr(w, i);
        const [address, prefix] = cidr.split('/') as [string, string];
        const d = dns[(q + k) % dns.length]!;
        const t = performance.now();
        const res = decodeResponse(await udpExchange(d.port, buildQuery({ name: HOSTNAME, edns: { ecs: { address, source: Number(prefix) } } }), { timeoutMs: 2000 }).catch(() => Buffer.alloc(0)).then((b) => (b.length ? b : null)) ?? Buffer.alloc(12));
        latencies.push(performance.now() - t);
        if (res.rcode === 0 && res.answers.length > 0) answered++;
      }));
    }
    const after = await Promise.all(dns.map(async (d) => byReason(await metricsText(d.metricsPort))));
    const delta = (reason: string) => after.reduce((n, m, k) => n + (m.get(reason) ?? 0) - (before[k]!.get(reason) ?? 0), 0);
    const learned = delta('learned_latency');
    const geo = delta('geo_fallback') + delta('cidr_mapping');
    const all = [...new Set(after.flatMap((m) => [...m.keys()]))].reduce((n, r) => n + delta(r), 0);
    latencies.sort((a, b) => a - b);

    return {
      spec: { subnets: spec.subnets, edges: spec.edges, origins: spec.origins, budget: spec.budget, dnsServers: spec.dnsServers, queries: spec.queries, cycles: spec.cycles, scrapeIntervalS: scrapeS, windowS, staleS: spec.staleS ?? 30, ...(spec.retention ? { retention: spec.retention } : {}), seed },
      world: { subnets: w.demand.length, v6_share: w.family.reduce((n, f) => n + (f === 6 ? 1 : 0), 0) / w.demand.length, demand: Math.round(demandAll), networks_mapped: mappings.length },
      agents: agentsOut,
      exposition: {
        bytes_per_scrape_round: Math.round((exportedAfter.bytes - exportedBefore.bytes) / rounds),
        render_ms_per_round: Math.round(((exportedAfter.render_ms - exportedBefore.render_ms) / rounds) * 10) / 10,
        exporter_cpu_ms_per_round: Math.round((exportedAfter.cpu_ms - exportedBefore.cpu_ms) / rounds),
      },
      prometheus: { series: seriesNow || sources, head_series: headSeries, rss_mb: memoryOf(prom.process.pid!).rss_mb, peak_rss_mb: memoryOf(prom.process.pid!).peak_mb, query_ms: Math.round(queryMs), cpu_ms_per_s: Math.round(promCpuPerS) },
      harness: { rss_mb: memoryOf(process.pid).rss_mb, peak_rss_mb: memoryOf(process.pid).peak_mb },
      cycles,
      decision: { sources: lastDecision ? Object.keys(lastDecision.weights).length : 0, origins: spec.origins, plan_overload_rps: lastDecision?.plan_overload_rps ?? NaN, overload_rps: lastDecision?.overload_rps ?? NaN, max_load_over_max: Math.round(worst * 1000) / 1000 },
      dns: { servers: dns.length, rss_mb_each: dns.map((d) => mb(treeRssBytes(d.proc.child.pid!))), peak_rss_mb_each: dns.map((d) => treePeakMb(d.proc.child.pid!)), view_records: viewRecords, view_subnets: viewSubnets, views_by_kind: viewsByKind },
      answers: { sent: picks.length, answered, learned, geo, other: all - learned - geo, coverage: all ? learned / all : 0, p50_ms: Math.round(quantile(latencies, 0.5) * 100) / 100, p99_ms: Math.round(quantile(latencies, 0.99) * 100) / 100 },
    };
  } finally {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
