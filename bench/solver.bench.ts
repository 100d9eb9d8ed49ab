// `npm run bench -- solver`: sluice's transportation solver against HiGHS (the `highs` WASM package) on
// the same LPs — solve time and objective as ratios (sluice / HiGHS) at 100×10, 1k×20 and 10k×20 — with
// javascript-lp-solver as a second peer where its dense tableau still fits; then 100k×20 on its own
// (HiGHS needs over 12 minutes and 2 GB there): the solver alone, the whole decision core (costs,
// capacity plan, solve, damping, weights) in-process for a first and a next cycle, and through the
// worker thread; then 20k × 200 (bench/lib/geo-instance.ts, issue 15's origin count) cold and from the
// last solve's prices. Last, the whole `sluice solve` process (read JSON, validate, decide, write JSON) at
// 10k×20 and 100k×20 and `sluice simulate` on a 10k-source scenario, beside HiGHS's in-process solve of
// the 10k×20 LP measured above.
//
// Instances look like the real thing: sources at random places on land-ish latitudes, 20 origins at
// real metro locations, RTT from great-circle distance with ±15 % noise, log-normal demand, capacities
// uneven and tight (total max 1.1 × demand, target 0.8 × max), so capacity binds and many sources spill.
import { performance } from 'node:perf_hooks';
import { decide } from '../scheduler/core/decide.ts';
import { estimateRttMs } from '../scheduler/core/geo.ts';
import type { OriginState, SchedulingProblem, Weights } from '../scheduler/core/types.ts';
import { DecisionWorker } from '../scheduler/solver/client.ts';
import { solveWithHighs } from '../scheduler/solver/highs-reference.ts';
import { solveWithLpSolver } from '../scheduler/solver/lp-solver.ts';
import { solveTransport, type TransportProblem } from '../scheduler/solver/transport.ts';
import { aboveTargetPenalty } from '../scheduler/core/costs.ts';
import { recordResult } from './lib/results.ts';
import { geoTransport } from './lib/geo-instance.ts';
import { seededRandom as rng } from '../lib/prng.ts';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { machineLoad, SLUICE_BIN, timeProcessCpu } from './lib/processes.ts';
import { failoverFirstDecision, type FailoverResult } from './lib/failover.ts';

const METROS: [string, number, number][] = [
  ['iad', 38.95, -77.45], ['ord', 41.98, -87.9], ['dfw', 32.9, -97.04], ['sjc', 37.36, -121.93], ['sea', 47.45, -122.3],
  ['gru', -23.43, -46.47], ['yyz', 43.68, -79.63], ['lhr', 51.47, -0.45], ['fra', 50.04, 8.56], ['ams', 52.31, 4.76],
  ['cdg', 49.01, 2.55], ['mad', 40.47, -3.56], ['waw', 52.17, 20.97], ['jnb', -26.14, 28.25], ['bom', 19.09, 72.87],
  ['sin', 1.36, 103.99], ['hkg', 22.31, 113.92], ['nrt', 35.77, 140.39], ['icn', 37.46, 126.44], ['syd', -33.94, 151.18],
];

export function benchProblem(n: number, K: number, seed = 1): SchedulingProblem {
  const r = rng(seed);
  // Past the 20 metros (200 origins: issue 15's scale), origins at random land-ish places; none drawn for K ≤ 20.
  const extra: [string, number, number][] = Array.from({ length: Math.max(0, K - METROS.length) }, (_, j) => [`o${METROS.length + j}`, -45 + r() * 110, -180 + r() * 360]);
  const origins: OriginState[] = [...METROS, ...extra].slice(0, K).map(([id, lat, lon]) => ({ id, target_rps: 0, max_rps: 0, healthy: true, admin_state: 'active', static_weight: 1, priority: 0, location: { lat, lon } }));
  const sources = Array.from({ length: n }, (_, i) => {
    const location = { lat: -45 + r() * 110, lon: -180 + r() * 360 };
    const rtt_ms = Object.fromEntries(origins.map((o) => [o.id, Math.round(estimateRttMs(location, o.location!) * (0.85 + 0.3 * r()) * 100) / 100]));
    const demand_rps = Math.exp(Math.log(20) + 1.2 * gaussian(r));
    return { id: `s${i}`, demand_rps, rtt_ms, location };
  });
  const D = sources.reduce((a, s) => a + s.demand_rps, 0);
  const weights = origins.map(() => 0.3 + r());
  const W = weights.reduce((a, b) => a + b, 0);
  origins.forEach((o, j) => {
    o.max_rps = (1.1 * D * weights[j]!) / W;
    o.target_rps = 0.8 * o.max_rps;
  });
  return { policy: 'latency', max_shift: 0.02, deadband: 0.005, max_latency_ms: 500, origins, sources, current: {} };
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** The exact LP decide() hands to the solver for this problem (latency policy, capacity within max). */
export function transportOf(p: SchedulingProblem): TransportProblem {
  const n = p.sources.length;
  const K = p.origins.length;
  const cost = new Float64Array(n * K);
  p.sources.forEach((s, i) => p.origins.forEach((o, j) => (cost[i * K + j] = s.rtt_ms[o.id]! <= p.max_latency_ms ? s.rtt_ms[o.id]! : Infinity)));
  return {
    rows: n,
    cols: K,
    demand: Float64Array.from(p.sources, (s) => s.demand_rps),
    cost,
    cap1: Float64Array.from(p.origins, (o) => o.target_rps),
    cap2: Float64Array.from(p.origins, (o) => o.max_rps),
    penalty: aboveTargetPenalty(cost, K),
  };
}

function time<T>(f: () => T): { ms: number; value: T } {
  const t = performance.now();
  const value = f();
  return { ms: performance.now() - t, value };
}

async function timeAsync<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function main(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const sizes: [number, number][] = quick ? [[100, 10], [1000, 20]] : [[100, 10], [1000, 20], [10_000, 20]];
  const rows: Record<string, unknown>[] = [];
  const ratios: Record<string, number> = {};
  for (const [n, K] of sizes) {
    const tp = transportOf(benchProblem(n, K, n + K));
    const reps = n <= 1000 ? 7 : 3;
    const ours = Array.from({ length: reps }, () => time(() => solveTransport(tp)));
    await solveWithHighs(transportOf(benchProblem(10, 3, 1))); // load the WASM outside the timing
    const highs = await timeAsync(() => solveWithHighs(tp));
    const jsLp = n * K <= 20_000 ? time(() => solveWithLpSolver(tp)) : null;
    const oursMs = median(ours.map((o) => o.ms));
    const oursObj = ours[0]!.value.objective;
    const label = `${n >= 1000 ? `${n / 1000}k` : n}x${K}`;
    ratios[`time_${label}`] = oursMs / highs.ms;
    ratios[`objective_${label}`] = oursObj / highs.value.objective;
    rows.push({
      size: label,
      sluice_ms: round(oursMs),
      highs_ms: round(highs.ms),
      jslp_ms: jsLp ? round(jsLp.ms) : null,
      time_ratio_vs_highs: round(oursMs / highs.ms, 5),
      objective_ratio_vs_highs: oursObj / highs.value.objective,
      objective_ratio_vs_jslp: jsLp ? oursObj / jsLp.value.objective : null,
      sluice_objective: oursObj,
      highs_objective: highs.value.objective,
      augmentations: ours[0]!.value.augmentations,
    });
    process.stdout.write(`${label}: sluice ${oursMs.toFixed(1)} ms, HiGHS ${highs.ms.toFixed(0)} ms${jsLp ? `, javascript-lp-solver ${jsLp.ms.toFixed(0)} ms` : ''}; objective ratio ${(oursObj / highs.value.objective).toPrecision(12)}\n`);
  }

  // 100k × 20 on its own: the first cycle (every source new) and the next one (the live loop's usual
  // case: the first decision's weights in force, demand drifted by up to ±10 %).
  const n = quick ? 20_000 : 100_000;
  const big = benchProblem(n, 20, 7);
  const tp = transportOf(big);
  const solo = Array.from({ length: 5 }, () => time(() => solveTransport(tp)));
  const core = Array.from({ length: 5 }, () => time(() => decide(big)));
  const next = nextCycle(big, core[0]!.value.weights);
  const coreNext = Array.from({ length: 5 }, () => time(() => decide(next)));
  const worker = new DecisionWorker();
  await worker.decide(benchProblem(10, 3, 1)); // start the thread outside the timing
  const viaWorker: { ms: number; solve_ms: number; stall: number }[] = [];
  const viaWorkerNext: typeof viaWorker = [];
  for (let k = 0; k < 3; k++) {
    viaWorker.push(await roundTrip(worker, big));
    viaWorkerNext.push(await roundTrip(worker, next));
  }
  await worker.close();
  const label = `${n / 1000}k x 20`;
  const big100 = {
    size: label,
    solver_ms: round(median(solo.map((s) => s.ms))),
    /** Fastest of the runs: the least disturbed by other work on this shared machine. */
    solver_ms_min: round(Math.min(...solo.map((s) => s.ms))),
    decide_ms: round(median(core.map((c) => c.ms))),
    decide_ms_min: round(Math.min(...core.map((c) => c.ms))),
    /** decide() for the next cycle (weights in force, ±10 % demand drift). */
    decide_next_cycle_ms: round(median(coreNext.map((c) => c.ms))),
    worker_round_trip_ms: round(median(viaWorker.map((w) => w.ms))),
    worker_solve_ms: round(median(viaWorker.map((w) => w.solve_ms))),
    worker_next_cycle_round_trip_ms: round(median(viaWorkerNext.map((w) => w.ms))),
    /** Longest gap between 5 ms timer ticks on the caller's thread during a worker round trip
     * (packing the problem, unpacking the decision), median of the runs: what the live loop's event
     * loop feels. */
    caller_longest_stall_ms: round(median([...viaWorker, ...viaWorkerNext].map((w) => w.stall))),
    objective: solo[0]!.value.objective,
    decide_lp_objective: core[0]!.value.solver.lp_objective,
    augmentations: solo[0]!.value.augmentations,
    sources_above_cheapest: countSpilled(tp, solo[0]!.value.flow),
    peers: 'HiGHS: >12 min and 2 GB at this size (not run); javascript-lp-solver: dense tableau, collapses near 40k variables (not run)',
  };
  process.stdout.write(
    `${label}: solver ${big100.solver_ms} ms (min ${big100.solver_ms_min}), whole decide() ${big100.decide_ms} ms (min ${big100.decide_ms_min}), next cycle ${big100.decide_next_cycle_ms} ms; ` +
      `via worker ${big100.worker_round_trip_ms} ms round trip, next cycle ${big100.worker_next_cycle_round_trip_ms} ms (caller's longest stall ${big100.caller_longest_stall_ms} ms)\n`,
  );
  ratios[`solver_ms_${n / 1000}k`] = big100.solver_ms;
  ratios[`decide_ms_${n / 1000}k`] = big100.decide_ms;

  // 200 origins (issue 15's internet scale): cold, and from the last solve's prices with demand drifted
  // by up to ±3 % (what the live loop passes as price_hint). HiGHS's cross-check at K = 200 is in
  // test/solver-optimality.test.ts (600 × 200); at this size it is not run.
  const wideRows = quick ? 5_000 : 20_000;
  const wide = geoTransport({ rows: wideRows, cols: 200, seed: 5 });
  const wideCold = Array.from({ length: 3 }, () => time(() => solveTransport(wide)));
  const drift = rng(11);
  const wideNext = { ...wide, demand: wide.demand.map((d) => d * (0.97 + 0.06 * drift())) };
  const fromPrices = Array.from({ length: 3 }, () => time(() => solveTransport(wideNext, { initialPrice: wideCold[0]!.value.price })));
  const wideLabel = `${wideRows / 1000}k x 200`;
  const k200 = {
    size: wideLabel,
    solver_ms: round(median(wideCold.map((s) => s.ms))),
    augmentations: wideCold[0]!.value.augmentations,
    next_from_prices_ms: round(median(fromPrices.map((s) => s.ms))),
    next_from_prices_augmentations: fromPrices[0]!.value.augmentations,
  };
  process.stdout.write(`${wideLabel}: solver ${k200.solver_ms} ms (${k200.augmentations} paths), next from the last prices ${k200.next_from_prices_ms} ms (${k200.next_from_prices_augmentations} paths)\n`);
  ratios[`solver_ms_${wideLabel.replace(' x ', 'x')}`] = k200.solver_ms;
  ratios[`next_from_prices_over_cold_${wideLabel.replace(' x ', 'x')}`] = k200.next_from_prices_ms / k200.solver_ms;

  // A failover's first decision (bench/lib/failover.ts): the new leader's first decide() from the
  // prices the old leader's decision left in the store, against the same decide() cold; at 100k × 20
  // and at 200 origins, where a cold solve costs the most (the 1M real path's 2.5 s cold vs 0.3 s).
  const failRows200 = quick ? 5_000 : 20_000;
  const wideProblem = benchProblem(failRows200, 200, 9);
  const failover: FailoverResult[] = [
    await failoverFirstDecision(label, big, (w) => nextCycle(big, w)),
    await failoverFirstDecision(`${failRows200 / 1000}k x 200`, wideProblem, (w) => nextCycle(wideProblem, w)),
  ];
  for (const f of failover) {
    process.stdout.write(
      `failover ${f.size}: first decide() cold ${f.cold_decide_ms_median} ms (solve ${f.cold_solve_ms_median}), from the stored prices ${f.warm_decide_ms_median} ms (solve ${f.warm_solve_ms_median}); ` +
        `store read ${f.store_read_ms} ms; demand ${(f.demand_change * 100).toFixed(2)} % from the priced; objective diff ${f.objective_rel_diff.toExponential(1)}\n`,
    );
    const key = f.size.replace(' x ', 'x');
    ratios[`failover_first_decide_from_stored_prices_over_cold_${key}`] = f.warm_decide_ms_median / f.cold_decide_ms_median;
    ratios[`failover_first_solve_from_stored_prices_over_cold_${key}`] = f.warm_solve_ms_median / f.cold_solve_ms_median;
  }

  const bIdx = args.indexOf('--baseline');
  const cli = cliTimes(quick, bIdx >= 0 ? join(resolve(args[bIdx + 1]!), 'bin/sluice.js') : null);
  const highs10k = rows.find((row) => row.size === '10kx20')?.highs_ms as number | undefined;
  for (const c of cli) {
    ratios[`cli_${c.what}_ms`] = c.ms;
    if (c.baseline_ms) ratios[`cli_${c.what}_vs_baseline`] = c.ms / c.baseline_ms;
    if (highs10k && c.what === 'solve_10k') ratios.cli_solve_10k_vs_highs_solve = c.ms / highs10k;
  }
  const load = machineLoad();

  const r = (k: string) => ratios[k]!;
  const summary =
    `time sluice/HiGHS ${sizes.map(([a, b]) => `${a >= 1000 ? `${a / 1000}k` : a}x${b} ${r(`time_${a >= 1000 ? `${a / 1000}k` : a}x${b}`).toPrecision(2)}`).join(', ')}; ` +
    `objective ratio ${Math.max(...sizes.map(([a, b]) => Math.abs(r(`objective_${a >= 1000 ? `${a / 1000}k` : a}x${b}`) - 1))).toExponential(1)} from 1; ` +
    `${label}: solver ${big100.solver_ms} ms median (${big100.solver_ms_min} min), decide() ${big100.decide_ms} ms median (${big100.decide_ms_min} min), next cycle ${big100.decide_next_cycle_ms} ms; ` +
    `worker round trip ${big100.worker_round_trip_ms} ms (caller stall ${big100.caller_longest_stall_ms} ms); ` +
    `${wideLabel}: solver ${k200.solver_ms} ms, next from the last prices ${k200.next_from_prices_ms} ms; ` +
    `failover's first decide() cold vs from the stored prices (median of ${failover[0]!.runs}, alternating): ${failover.map((f) => `${f.size} ${f.cold_decide_ms_median} vs ${f.warm_decide_ms_median} ms (solve ${f.cold_solve_ms_median} vs ${f.warm_solve_ms_median})`).join(', ')}; ` +
    `whole process: ${cli.map((c) => `${c.what} ${c.ms} ms (CPU ${c.cpu_ms})${c.baseline_ms ? ` [baseline ${c.baseline_ms} ms, CPU ${c.baseline_cpu_ms}]` : ''}`).join(', ')}${highs10k ? ` (HiGHS solve alone at 10kx20: ${highs10k} ms)` : ''}; load ${load}`;
  recordResult('solver', { comparison: 'sluice transportation SSP vs HiGHS (and javascript-lp-solver) on the same LP; whole sluice solve/simulate processes beside HiGHS', ratios, details: { loadavg: load, sizes: rows, large: big100, wide: k200, failover, cli } }, summary);
}

/** The live loop's next cycle: `weights` in force, every source's demand drifted by up to ±10 %. */
function nextCycle(p: SchedulingProblem, weights: Weights): SchedulingProblem {
  const r = rng(3);
  return { ...p, sources: p.sources.map((s) => ({ ...s, demand_rps: s.demand_rps * (0.9 + 0.2 * r()) })), current: weights };
}

/** One decision through the worker, with the longest stall of the caller's event loop meanwhile. */
async function roundTrip(worker: DecisionWorker, p: SchedulingProblem): Promise<{ ms: number; solve_ms: number; stall: number }> {
  let stall = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 5);
  const t = await timeAsync(() => worker.decide(p));
  clearInterval(ticker);
  return { ms: t.ms, solve_ms: t.value.solve_ms, stall };
}

function countSpilled(tp: TransportProblem, flow: Float64Array): number {
  let spilled = 0;
  for (let i = 0; i < tp.rows; i++) {
    let best = 0;
    for (let j = 1; j < tp.cols; j++) if (tp.cost[i * tp.cols + j]! < tp.cost[i * tp.cols + best]!) best = j;
    if (flow[i * tp.cols + best]! < tp.demand[i]! * (1 - 1e-9)) spilled++;
  }
  return spilled;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

interface CliTime {
  what: string;
  ms: number;
  cpu_ms: number;
  input_mb: number;
  baseline_ms?: number;
  baseline_cpu_ms?: number;
}

/**
 * Whole `sluice solve` processes (exec, read and validate JSON, decide, write JSON) on the benchmark's
 * problems, and `sluice simulate` on a scenario of the same sources (3 cycles): median wall and CPU
 * time of 3 runs each. With a baseline checkout (--baseline DIR), its `sluice` runs the same inputs,
 * interleaved with this one's, so both see the same machine load.
 */
function cliTimes(quick: boolean, baselineBin: string | null): CliTime[] {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-cli-'));
  try {
    const out: CliTime[] = [];
    const measure = (what: string, file: string, args: (bin: string) => string[]) => {
      const ours: { wall_ms: number; cpu_ms: number }[] = [];
      const theirs: { wall_ms: number; cpu_ms: number }[] = [];
      for (let k = 0; k < 3; k++) {
        ours.push(timeProcessCpu(process.execPath, args(SLUICE_BIN)));
        if (baselineBin) theirs.push(timeProcessCpu(process.execPath, args(baselineBin)));
      }
      const row: CliTime = { what, ms: round(median(ours.map((o) => o.wall_ms))), cpu_ms: round(median(ours.map((o) => o.cpu_ms))), input_mb: round(statSync(file).size / 1048576) };
      if (baselineBin) Object.assign(row, { baseline_ms: round(median(theirs.map((o) => o.wall_ms))), baseline_cpu_ms: round(median(theirs.map((o) => o.cpu_ms))) });
      out.push(row);
      process.stdout.write(`${what}, whole process: ${row.ms} ms (CPU ${row.cpu_ms} ms)${baselineBin ? `; baseline ${row.baseline_ms} ms (CPU ${row.baseline_cpu_ms} ms)` : ''}\n`);
    };
    for (const n of quick ? [10_000] : [10_000, 100_000]) {
      const file = join(dir, `problem-${n}.json`);
      writeFileSync(file, JSON.stringify(benchProblem(n, 20, n)));
      measure(`solve_${n / 1000}k`, file, (bin) => [bin, 'solve', file, '--compact']);
    }
    const p = benchProblem(10_000, 20, 5);
    const scenario = {
      name: 'bench',
      cycles: 3,
      origins: p.origins.map((o) => ({ id: o.id, target_rps: o.target_rps, max_rps: o.max_rps, location: o.location })),
      sources: p.sources.map((s) => ({ id: s.id, demand_rps: s.demand_rps, rtt_ms: s.rtt_ms, location: s.location })),
    };
    const file = join(dir, 'scenario.json');
    writeFileSync(file, JSON.stringify(scenario));
    measure('simulate_10k_3_cycles', file, (bin) => [bin, 'simulate', '--scenario', file, '--out', dir]);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
