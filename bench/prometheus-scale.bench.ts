// `npm run bench -- prometheus-scale [--sizes 10k,100k]`: issue 15, Prometheus at scale
// (bench/scale/prometheus-path.ts). The scheduler's inputs through a real Prometheus at the scale
// harness's sizes: series, Prometheus RSS, the read stage's time and bytes — raw default queries (the
// peer) against the recorded series of `sluice prometheus-rules`, in the same run, plus the rules'
// evaluation time and whether both readings assemble the same inputs.
import { loadavg } from 'node:os';
import { recordResult } from './lib/results.ts';
import { runPrometheusPath, type PrometheusPathResult, type PrometheusPathSpec } from './scale/prometheus-path.ts';

type Size = { subnets: number; edges: number; origins: number } & Pick<PrometheusPathSpec, 'scrapeIntervalS' | 'windowS' | 'staleS' | 'ruleIntervalS' | 'retention'>;
const SIZES: Record<string, Size> = {
  '10k': { subnets: 10_000, edges: 20, origins: 10 },
  '50k': { subnets: 50_000, edges: 50, origins: 20 },
  '100k': { subnets: 100_000, edges: 100, origins: 50 },
  // As production runs it (and as the scale bench's real 1M run): 15 s scrapes, the scheduler's default
  // window and staleness (60 s / 120 s), the rules evaluated every 30 s; retention 1 h. The 2 s scrapes
  // of the small sizes would not fit this machine at ~0.8M series (×2 with the rules).
  '1m': { subnets: 1_000_000, edges: 1000, origins: 200, scrapeIntervalS: 15, windowS: 60, staleS: 120, ruleIntervalS: 30, retention: '1h' },
};

export async function main(args: string[]): Promise<void> {
  const i = args.indexOf('--sizes');
  const sizes = (i >= 0 ? args[i + 1] ?? '' : '10k,100k').split(',').filter(Boolean);
  const results: Record<string, PrometheusPathResult> = {};
  const load: number[] = [];
  for (const size of sizes) {
    const s = SIZES[size];
    if (!s) throw new Error(`--sizes: unknown size ${size} (${Object.keys(SIZES).join(', ')})`);
    process.stderr.write(`prometheus-scale ${size}\n`);
    results[size] = await runPrometheusPath({ ...s, budget: 1000, reads: 5, log: (l) => process.stderr.write(`  ${l}\n`) });
    load.push(loadavg()[0]!);
  }
  const ratios: Record<string, number> = {};
  const parts: string[] = [];
  for (const [size, r] of Object.entries(results)) {
    const rec = r.recorded;
    ratios[`read_ms_${size}_recorded_over_raw`] = Math.round((rec.read_recorded.read_ms_median / rec.read_raw.read_ms_median) * 1000) / 1000;
    ratios[`bytes_${size}_recorded_over_raw`] = Math.round((rec.read_recorded.bytes / rec.read_raw.bytes) * 1000) / 1000;
    parts.push(
      `${size} (${r.spec.origins} origins, ${r.spec.edges} edges, scrapes every ${r.spec.scrapeIntervalS ?? 2} s): ${r.raw.head_series} series, Prometheus ${r.raw.rss_mb} MB (peak ${r.raw.peak_rss_mb}); read ${r.raw.read.read_ms_median} ms / ${(r.raw.read.bytes / 1e6).toFixed(1)} MB raw. ` +
        `With rules: ${rec.head_series} series (${rec.recorded_series} recorded), ${rec.rss_mb} MB (peak ${rec.peak_rss_mb}), rules ${rec.rule_eval_ms} ms per evaluation; read ${rec.read_recorded.read_ms_median} ms / ${(rec.read_recorded.bytes / 1e6).toFixed(1)} MB recorded vs ${rec.read_raw.read_ms_median} ms raw; ${rec.differences} differences`,
    );
  }
  parts.push(`load average ${Math.max(...load).toFixed(1)}`);
  recordResult(
    // Other sizes than the default (`--sizes 1m`) are recorded apart, not over the default run's record.
    sizes.join(',') === '10k,100k' ? 'prometheus-scale' : `prometheus-scale-${sizes.join('-')}`,
    { comparison: "the scheduler's read stage on a real Prometheus: the recording rules' series vs the raw default queries (the peer), same Prometheus, same run", ratios, details: { results, loadavg: load } },
    parts.join('; '),
  );
}
