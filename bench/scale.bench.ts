// `npm run bench -- scale [--real 10k,100k] [--offline 10k,100k,1m] [--production] [--inputs-nice 10] [--failover] [--dump /tmp/p]`:
// issue 15, internet scale. `--dump`: the real path writes each cycle's problem to /tmp/p-<size>-<cycle>.v8.
// `--inputs-nice N`: Prometheus and the simulated agents' exporter process run at nice level N. They
// stand in for other machines (a 1M fleet's Prometheus takes ~0.75 of this VM's two cores); niced, the
// scheduler's thread gets a core when it has work, as it would on a machine of its own. `--failover`:
// one more cycle, by a new leader (another scheduler on the same store): its first decision.
//
//   real     the whole loop (bench/scale/real-path.ts; 1m too, with `--real 1m`): simulated agents and edges
//            scraped by a real Prometheus, PromQL inputs, the solve in the decision worker, the
//            publish into SQLite behind the real API, `sluice dns` processes long-polling the view,
//            ECS queries drawn by demand. Stage times, memory, bytes per cycle; coverage counted by
//            the DNS processes. `--production`: every size scraped as 1m is (PRODUCTION below), so
//            the three sizes' Prometheus costs compare at one setting.
//   offline  the in-process stages at up to full size (bench/scale/offline.ts: 1M subnets, 1,000
//            edges, 200 origins), each size in a child process of its own (clean heap, --expose-gc).
//
// The peer, in the same run: the agents exporting only their busiest subnet_series_budget subnets
// (what they did before aggregation); the ratio is coverage with aggregation / coverage top-N.
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { recordResult } from './lib/results.ts';
import { runRealPath, type RealPathResult, type RealPathSpec } from './scale/real-path.ts';
import type { OfflineResult } from './scale/offline.ts';

const run = promisify(execFile);

type Size = { subnets: number; edges: number; origins: number; dnsServers: number } & Pick<RealPathSpec, 'scrapeIntervalS' | 'windowS' | 'staleS' | 'retention'>;
const SIZES: Record<string, Size> = {
  '10k': { subnets: 10_000, edges: 20, origins: 10, dnsServers: 2 },
  '50k': { subnets: 50_000, edges: 50, origins: 20, dnsServers: 2 },
  '100k': { subnets: 100_000, edges: 100, origins: 50, dnsServers: 4 },
  // The real path at 1M as production runs it, not as the small runs do: Prometheus scraping every
  // 15 s (sluice's cycle; the 2 s of the small runs only makes tests fast) and the scheduler's default
  // rate window and staleness (60 s / 120 s: four scrapes a window), so that one Prometheus holding
  // ~0.8M series fits this machine beside the rest; retention 1 h (the run lasts minutes; the head
  // block holds it all in memory either way). 4 DNS servers, as at 100k.
  '1m': { subnets: 1_000_000, edges: 1000, origins: 200, dnsServers: 4, scrapeIntervalS: 15, windowS: 60, staleS: 120, retention: '1h' },
};
const PRODUCTION = { scrapeIntervalS: 15, windowS: 60, staleS: 120, retention: '1h' } as const;
const BUDGET = 1000;

function arg(args: string[], name: string, fallback: string): string[] {
  const i = args.indexOf(name);
  return (i >= 0 ? args[i + 1] ?? '' : fallback).split(',').filter(Boolean);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

async function offline(size: string): Promise<OfflineResult> {
  const s = SIZES[size]!;
  const script = fileURLToPath(new URL('./scale/offline.ts', import.meta.url));
  const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', '--expose-gc', '--max-old-space-size=8192', script, JSON.stringify({ subnets: s.subnets, edges: s.edges, origins: s.origins, budget: BUDGET })], {
    maxBuffer: 64 << 20,
    timeout: 1_800_000,
  });
  process.stderr.write(stderr);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as OfflineResult;
}

export async function main(args: string[]): Promise<void> {
  const real: Record<string, RealPathResult> = {};
  const off: Record<string, OfflineResult> = {};
  const load: number[] = [];
  const production = args.includes('--production');
  const niceArg = arg(args, '--inputs-nice', '')[0];
  const inputsNice = niceArg ? Number(niceArg) : undefined;
  if (inputsNice !== undefined && !(Number.isInteger(inputsNice) && inputsNice >= 0 && inputsNice <= 19)) throw new Error(`--inputs-nice: expected an integer 0-19, got ${niceArg}`);
  for (const size of arg(args, '--real', '10k,100k')) {
    const s = SIZES[size];
    if (!s) throw new Error(`--real: unknown size ${size} (${Object.keys(SIZES).join(', ')})`);
    process.stderr.write(`real path ${size}\n`);
    const dump = arg(args, '--dump', '')[0];
    real[size] = await runRealPath({ ...s, ...(production ? PRODUCTION : {}), ...(dump ? { dumpProblem: `${dump}-${size}` } : {}), ...(inputsNice !== undefined ? { inputsNice } : {}), ...(args.includes('--failover') ? { failover: true } : {}), budget: BUDGET, queries: 5000, cycles: 3, log: (l) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${l}\n`) });
    load.push(loadavg()[0]!);
  }
  for (const size of arg(args, '--offline', '10k,100k,1m')) {
    if (!SIZES[size]) throw new Error(`--offline: unknown size ${size}`);
    process.stderr.write(`offline ${size}\n`);
    off[size] = await offline(size);
    load.push(loadavg()[0]!);
  }
  const ratios: Record<string, number> = {};
  for (const [size, r] of Object.entries(off)) ratios[`coverage_${size}_aggregated_over_top_n`] = Math.round((r.coverage / r.coverage_top_n) * 1000) / 1000;

  const parts: string[] = [];
  for (const [size, r] of Object.entries(real)) {
    const steady = r.cycles.slice(1).filter((c) => !c.failover);
    const failover = r.cycles.find((c) => c.failover);
    const med = (f: (c: RealPathResult['cycles'][number]) => number) => {
      const xs = (steady.length ? steady : r.cycles).map(f).sort((a, b) => a - b);
      return xs[Math.floor(xs.length / 2)]!;
    };
    parts.push(
      `real ${size} (${r.spec.origins} origins, ${r.spec.edges} edges, ${r.prometheus.series} series): coverage ${pct(r.answers.coverage)} of ${r.answers.sent} ECS queries, ` +
        `scrapes every ${r.spec.scrapeIntervalS ?? 2} s (${(r.exposition.bytes_per_scrape_round / 1e6).toFixed(1)} MB a round), ` +
        `cycle ${med((c) => c.cycle_ms)} ms wall / ${med((c) => c.cycle_cpu_ms)} ms CPU (read ${med((c) => c.read_ms)}, solve ${med((c) => c.solve_ms)}, publish ${med((c) => c.publish_ms)}), ` +
        `view ${(med((c) => c.view_bytes) / 1e6).toFixed(2)} MB (delta ${(med((c) => c.view_delta_bytes) / 1e6).toFixed(2)} MB) to each of ${r.dns.servers} DNS in ${med((c) => c.propagate_ms)} ms, DNS RSS ${Math.max(...r.dns.rss_mb_each)} MB, ` +
        `Prometheus RSS ${r.prometheus.rss_mb} MB (peak ${r.prometheus.peak_rss_mb}), harness RSS peak ${r.harness.peak_rss_mb} MB` +
        (failover ? `; a new leader's first cycle: solve ${failover.solve_ms} ms (decide ${failover.solve_detail?.round_trip?.decide_ms ?? '?'} ms in the worker) vs the first leader's first ${r.cycles[0]!.solve_ms} ms` : ''),
    );
  }
  for (const [size, r] of Object.entries(off)) {
    parts.push(
      `offline ${size}: coverage ${pct(r.coverage)} vs top-N ${pct(r.coverage_top_n)}; ${r.series} series, inputs ${r.stages.inputs.ms} ms, cycle ${r.stages.cycle.ms} ms (solve ${r.solve_ms}, in the worker ${r.worker_solve_ms}; ${r.sources} sources merged to ${r.solver.merged_rows} rows at ${r.spec.mergeResolutionMs} ms, ${r.solver.augmentations} augmenting paths), ` +
        `next cycle ${r.stages.cycle2.ms} ms (worker ${r.worker_solve_ms_cycle2}), worker memory ${r.worker_memory_mb} MB, event loop max ${r.event_loop_max_ms.cycle}/${r.event_loop_max_ms.cycle2} ms, ` +
        `view ${(r.stages.view!.bytes! / 1e6).toFixed(1)} MB, DNS index ${r.stages.dns_index!.ms} ms, heap ${Math.max(...Object.values(r.stages).map((s) => s.heap_mb))} MB`,
    );
  }
  parts.push(`load average ${Math.max(...load).toFixed(1)}`);
  recordResult(
    // An offline-only run (`--real ''`) and a real-only one (`--real 1m --offline ''`) are recorded
    // apart, so they do not replace the default run's record.
    Object.keys(real).length === 0 ? 'scale-offline' : Object.keys(off).length === 0 ? `scale-real-${Object.keys(real).join('-')}${production ? '-production' : ''}` : 'scale',
    {
      comparison: 'the whole loop at 10k/100k subnets (real Prometheus, API, sluice dns) and its in-process stages up to 1M subnets x 1,000 edges x 200 origins; coverage with per-agent aggregation vs the busiest-subnets-only export at the same series budget',
      ratios,
      details: { budget: BUDGET, real, offline: off, loadavg: load },
    },
    parts.join('; '),
  );
}
