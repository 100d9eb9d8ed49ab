// decide() on a problem dumped from the scale harness (offline.ts's `dumpProblem`), alone in this
// process: the decision worker's work without the harness around it, for profiling (--cpu-prof) and
// for before/after comparisons of the decision core on the same 1M-subnet problem.
//
//   node --expose-gc dist/bench/scale/decide-dump.js /tmp/p1m-1.v8 [runs] [--hint] [--no-hint] [--hint-from other.v8] [--merge ms]
//
// Each run prints wall and CPU time (process.cpuUsage: this thread plus V8's helper threads), decide()'s
// stages (scheduler/core/decide-stages.ts), the solver's counts and objectives (equal objectives before
// and after a change = the same optimum), and memory after a forced GC: V8 heap used plus the typed
// arrays held (what the worker reports as memory_mb). `--hint`: runs after the first start from the
// previous run's prices (what the live loop's next cycle does). `--no-hint`: drop the price hint the
// dump carries (a cold solve of the same problem); `--hint-from other.v8`: first decide that dump, then
// this one from its prices (two cycles of the loop, replayed).
import { readFileSync } from 'node:fs';
import { deserialize } from 'node:v8';
import { decideDense } from '../../scheduler/core/decide.ts';
import { lastStages, lastStagesCpu } from '../../scheduler/core/decide-stages.ts';
import type { DenseProblem } from '../../scheduler/core/input.ts';
import { collectGarbage } from '../../lib/collect-garbage.ts';

const [path, runsArg, ...flags] = process.argv.slice(2);
if (!path) throw new Error('usage: decide-dump.js <dump.v8> [runs] [--hint]');
const problem = deserialize(readFileSync(path)) as DenseProblem;
const runs = Number(runsArg ?? 1);
const n = problem.sourceIds.length;
const K = problem.settings.origins.length;
process.stderr.write(`${path}: ${n} sources × ${K} origins, price hint ${problem.settings.price_hint ? 'yes' : 'no'}\n`);

let hint: Record<string, number> | undefined;
if (flags.includes('--no-hint')) delete problem.settings.price_hint;
// `--merge ms`: the merge resolution the loop would set (a dump taken without it solves every row).
const merge = flags.indexOf('--merge');
if (merge >= 0) problem.settings.merge_resolution_ms = Number(flags[merge + 1]);
const from = flags.indexOf('--hint-from');
if (from >= 0) {
  const before = deserialize(readFileSync(flags[from + 1]!)) as DenseProblem;
  const b = decideDense(before);
  hint = Object.fromEntries(Object.entries(b.rest.origins).map(([id, o]) => [id, o.price]));
  process.stderr.write(`prices from ${flags[from + 1]}: ${JSON.stringify(b.rest.solver)}\n`);
}
for (let r = 0; r < runs; r++) {
  const p = hint ? { ...problem, settings: { ...problem.settings, price_hint: hint } } : problem;
  const cpu = process.cpuUsage();
  const t = performance.now();
  const d = decideDense(p);
  const wall = performance.now() - t;
  const used = process.cpuUsage(cpu);
  collectGarbage();
  const m = process.memoryUsage();
  const out = {
    run: r + 1,
    wall_ms: Math.round(wall),
    cpu_ms: Math.round((used.user + used.system) / 1000),
    stages_ms: lastStages(),
    stages_cpu_ms: lastStagesCpu(),
    solver: d.rest.solver,
    objective: d.rest.objective,
    plan_objective: d.rest.plan_objective,
    memory_mb: Math.round((m.heapUsed + m.arrayBuffers) / 1048576),
    rss_mb: Math.round(m.rss / 1048576),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  if (flags.includes('--hint')) hint = Object.fromEntries(Object.entries(d.rest.origins).map(([id, o]) => [id, o.price]));
}
