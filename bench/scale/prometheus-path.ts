// Prometheus at scale (issue 15): what the scheduler's inputs cost a real Prometheus and the scheduler's
// read stage, with the raw default queries and with the recording rules `sluice prometheus-rules`
// prints — the same world, agents and exporters as the real path (real-path.ts), without the API and
// DNS stages. Two Prometheus runs one after the other on the same scrape targets:
//
//   raw        no rules: series, RSS, the PromqlInputReader's read() with the raw queries
//   recorded   the rules loaded: series (raw + recorded), RSS, the rule group's evaluation time, and
//              read() with the raw queries and with the recorded ones, alternated; the two readings'
//              assembled inputs compared at one instant (the last rule evaluation)
//
// Bytes are each rendered query's JSON answer, fetched on its own; times are read() as the loop calls
// it (queries in parallel, then assembly and conversion).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../api/store/sqlite.ts';
import { PromqlInputReader } from '../../scheduler/inputs/promql.ts';
import { rulesFile } from '../../scheduler/inputs/recording-rules.ts';
import type { ReadContext } from '../../scheduler/inputs/types.ts';
import { inputDifferences } from '../../test/helpers/inputs-compare.ts';
import { startPrometheus, type RunningPrometheus } from '../../test/helpers/prometheus.ts';
import { memoryOf } from '../lib/processes.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { startExporterProcess } from './exporter.ts';
import { seedStore } from './inputs.ts';
import { buildWorld } from './world.ts';

export interface PrometheusPathSpec {
  subnets: number;
  edges: number;
  origins: number;
  budget: number;
  /** read() calls per way (the median is reported). */
  reads: number;
  /** Scrape interval, rate window, staleness, rule interval (defaults: 2 s, 30 s, 60 s, 10 s: fifteen scrapes a window). */
  scrapeIntervalS?: number;
  windowS?: number;
  staleS?: number;
  ruleIntervalS?: number;
  /** Prometheus' --storage.tsdb.retention.time (default: its own). */
  retention?: string;
  seed?: number;
  log?: (line: string) => void;
}

export interface ReadCost {
  read_ms_median: number;
  read_ms_all: number[];
  bytes: number;
  queries: number;
}

export interface PrometheusPathResult {
  spec: Omit<PrometheusPathSpec, 'log'>;
  exported_entries: number;
  raw: { head_series: number; sluice_series: number; rss_mb: number; peak_rss_mb: number; read: ReadCost };
  recorded: { head_series: number; recorded_series: number; rss_mb: number; peak_rss_mb: number; rule_eval_ms: number; read_raw: ReadCost; read_recorded: ReadCost; differences: number; difference_sample: string[] };
}


async function json<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

async function headSeries(prom: RunningPrometheus): Promise<number> {
  return (await json<{ data: { headStats: { numSeries: number } } }>(`${prom.url}/api/v1/status/tsdb`)).data.headStats.numSeries;
}

async function count(prom: RunningPrometheus, selector: string): Promise<number> {
  return Number((await prom.query(`count(${selector})`))[0]?.value[1] ?? 0);
}

function reader(prom: RunningPrometheus, recorded: boolean, span: { windowS: number; staleS: number }, at?: Date): PromqlInputReader {
  return new PromqlInputReader({ url: prom.url, timeoutMs: 600_000, windowSeconds: span.windowS, staleSeconds: span.staleS, recorded, queries: {}, perLoadBalancer: {}, ...(at ? { evaluationTime: at } : {}) }, { reject: () => undefined });
}

/** Each reader's read() times; a read that fails (InputsUnavailable) is logged and left out. */
async function timedReads(readers: PromqlInputReader[], ctx: ReadContext, n: number, log: (l: string) => void): Promise<number[][]> {
  const out = readers.map(() => [] as number[]);
  for (let i = 0; i < n; i++) {
    for (const [k, r] of readers.entries()) {
      const t = performance.now();
      try {
        await r.read(ctx);
        out[k]!.push(Math.round(performance.now() - t));
      } catch (err) {
        log(`read ${k} failed: ${(err as Error).message}`);
      }
    }
  }
  return out;
}

async function answerBytes(prom: RunningPrometheus, r: PromqlInputReader, ctx: ReadContext): Promise<{ bytes: number; queries: number }> {
  const queries = Object.values(r.queriesFor(ctx)).filter((q): q is string => q !== null);
  let bytes = 0;
  for (const q of queries) bytes += (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`)).text()).length;
  return { bytes, queries: queries.length };
}

function cost(times: number[], size: { bytes: number; queries: number }): ReadCost {
  const sorted = [...times].sort((a, b) => a - b);
  return { read_ms_median: sorted[Math.floor(sorted.length / 2)] ?? NaN, read_ms_all: times, ...size };
}

export async function runPrometheusPath(spec: PrometheusPathSpec): Promise<PrometheusPathResult> {
  const log = spec.log ?? (() => undefined);
  const seed = spec.seed ?? 15;
  // Fifteen scrapes a window by default: a scrape or two missed on a loaded machine does not empty a rate.
  const scrapeS = spec.scrapeIntervalS ?? 2;
  const span = { windowS: spec.windowS ?? 30, staleS: spec.staleS ?? 60 };
  const WINDOW_S = span.windowS;
  const ruleIntervalS = spec.ruleIntervalS ?? 10;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-promscale-'));
  const cleanup: (() => Promise<void> | void)[] = [];
  try {
    const w = buildWorld({ subnets: spec.subnets, origins: spec.origins, edges: spec.edges, seed });
    const exporters = await startExporterProcess({ subnets: spec.subnets, origins: spec.origins, edges: spec.edges, budget: spec.budget, seed });
    cleanup.push(() => exporters.stop());
    const { target, entries } = exporters;
    const group = (kind: string, n: number) => Array.from({ length: n }, (_, i) => ({ targets: [target], labels: { __metrics_path__: `/${kind}/${i}`, instance: `${kind}-${i}` } }));
    const jobs = [
      { job: 'origins', targets: [], groups: group('origin', spec.origins) },
      { job: 'edges', targets: [], groups: group('edge', spec.edges) },
    ];
    const store = openSqliteStore(join(dir, 'data'));
    cleanup.push(() => store.close());
    const seeded = await seedStore(store, w);
    const ctx: ReadContext = { lb: seeded.lb, origins: await store.allOrigins(seeded.lb.id), edges: await store.allEdges() };

    const start = async (rules?: string) => {
      const prom = await startPrometheus(jobs, { scrapeInterval: `${scrapeS}s`, scrapeTimeout: `${scrapeS}s`, ...(rules ? { rules } : {}), ...(spec.retention ? { args: [`--storage.tsdb.retention.time=${spec.retention}`] } : {}) });
      // Every target scraped, and a full rate window behind every series.
      await waitFor(async () => (await count(prom, 'sluice_agent_subnet_connections_total')) >= entries && (await count(prom, 'up == 1')) === spec.origins + spec.edges, { timeoutMs: 600_000, intervalMs: 1000, what: 'Prometheus to scrape every simulated agent' });
      const full = Math.max(2, WINDOW_S / scrapeS - 1);
      await waitFor(async () => Number((await prom.query(`min(count_over_time(sluice_agent_connections_total[${WINDOW_S}s]))`))[0]?.value[1] ?? 0) >= full, { timeoutMs: 600_000, intervalMs: 1000, what: 'a full rate window' });
      return prom;
    };

    log(`prometheus path: ${spec.subnets} subnets, ${spec.origins} origins, ${spec.edges} edges, ${entries} exported entries`);
    const rawProm = await start();
    const rawTimes = await timedReads([reader(rawProm, false, span)], ctx, spec.reads, log);
    const raw = { head_series: await headSeries(rawProm), sluice_series: await count(rawProm, '{__name__=~"sluice_.+"}'), rss_mb: memoryOf(rawProm.process.pid!).rss_mb, peak_rss_mb: memoryOf(rawProm.process.pid!).peak_mb, read: cost(rawTimes[0]!, await answerBytes(rawProm, reader(rawProm, false, span), ctx)) };
    log(`raw: ${JSON.stringify(raw)}`);
    await rawProm.stop();

    const recProm = await start(rulesFile({ windowSeconds: WINDOW_S, staleSeconds: span.staleS, intervalSeconds: ruleIntervalS }));
    cleanup.push(() => recProm.stop());
    await waitFor(async () => (await count(recProm, `subnet_node:sluice_agent_subnet_connections:rate${WINDOW_S}s`)) >= entries, { timeoutMs: 600_000, intervalMs: 1000, what: 'the rules evaluated' });
    const [rawT, recT] = await timedReads([reader(recProm, false, span), reader(recProm, true, span)], ctx, spec.reads, log);
    const rules = await json<{ data: { groups: { name: string; evaluationTime: number }[] } }>(`${recProm.url}/api/v1/rules`);
    const lastEval = await waitFor(async () => (await recProm.query(`max(timestamp(subnet_node:sluice_agent_subnet_connections:rate${WINDOW_S}s))`))[0]?.value[1], { timeoutMs: 600_000, intervalMs: 1000, what: 'a rule evaluation' });
    const at = new Date(Number(lastEval) * 1000);
    const diffs = inputDifferences(await reader(recProm, false, span, at).read(ctx), await reader(recProm, true, span, at).read(ctx), 1e-6);
    const recorded = {
      head_series: await headSeries(recProm),
      recorded_series: await count(recProm, '{__name__=~".+:.+:.+"}'),
      rss_mb: memoryOf(recProm.process.pid!).rss_mb,
      peak_rss_mb: memoryOf(recProm.process.pid!).peak_mb,
      rule_eval_ms: Math.round((rules.data.groups.find((g) => g.name === 'sluice_scheduler_inputs')?.evaluationTime ?? NaN) * 1000),
      read_raw: cost(rawT!, await answerBytes(recProm, reader(recProm, false, span), ctx)),
      read_recorded: cost(recT!, await answerBytes(recProm, reader(recProm, true, span), ctx)),
      differences: diffs.length,
      difference_sample: diffs.slice(0, 5),
    };
    log(`recorded: ${JSON.stringify(recorded)}`);
    const { log: _log, ...specOut } = spec;
    return { spec: { ...specOut, seed }, exported_entries: entries, raw, recorded };
  } finally {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
