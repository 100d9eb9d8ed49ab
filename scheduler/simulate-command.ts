// `sluice simulate --scenario FILE [--compare FILE]... [--out DIR]`: runs a simulated world (origins,
// sources with demand curves, failures, the write-up's RTT → demand feedback) against the scheduler's
// decision core, cycle by cycle, and writes DIR/<name>.csv and DIR/<name>.svg (load vs capacity per
// origin over time; every run of every scenario in one chart).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { runsOf, simulate, type RunResult } from './simulate/run.ts';
import { loadScenario } from './simulate/scenario.ts';
import { summarise } from './simulate/summary.ts';
import { toCsv } from './simulate/csv.ts';
import { toSvg } from './simulate/svg.ts';

const USAGE = `usage: sluice simulate --scenario FILE [--compare FILE]... [--out DIR]

Drives the scheduler core with a simulated world and writes DIR/<name>.csv and DIR/<name>.svg.
  --scenario FILE   scenario YAML (see examples/scenarios/)
  --compare FILE    another scenario to run and draw in the same chart (repeatable)
  --out DIR         output directory (default: current directory)`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, { scenario: { type: 'string' }, compare: { type: 'string', multiple: true }, out: { type: 'string' } }, USAGE);
  if (!parsed) return 0;
  const file = parsed.values.scenario;
  if (!file) throw new UsageError(`--scenario is required\n\n${USAGE}`);
  const scenarios = [file, ...(parsed.values.compare ?? [])].map((f) => loadScenario(f));
  const runs: RunResult[] = [];
  for (const s of scenarios) for (const r of runsOf(s)) runs.push(simulate(s, r));
  const name = scenarios.map((s) => s.name).join('-vs-');
  const dir = parsed.values.out ?? '.';
  mkdirSync(dir, { recursive: true });
  const csvPath = join(dir, `${name}.csv`);
  const svgPath = join(dir, `${name}.svg`);
  writeFileSync(csvPath, toCsv(runs));
  const title = scenarios.length === 1 ? `${scenarios[0]!.name}: ${scenarios[0]!.description || 'load vs capacity'}` : `${name}: load vs capacity per origin`;
  writeFileSync(svgPath, toSvg(runs, { title }));
  for (const r of runs) {
    process.stdout.write(`${r.name} (policy ${r.settings.policy}, max_shift ${r.settings.max_shift}, ${r.cycles.length} cycles)\n`);
    for (const [id, s] of Object.entries(summarise(r))) {
      process.stdout.write(
        `  ${id.padEnd(12)} final ${s.final_rps.toFixed(1).padStart(8)} rps  peak ${s.peak_rps.toFixed(1).padStart(8)}  above max ${String(s.cycles_above_max).padStart(3)} cycles  ` +
          `settled ${s.settled_at === null ? 'never' : `at cycle ${s.settled_at}`}  late swing ${s.late_swing_rps.toFixed(1)} rps\n`,
      );
    }
  }
  process.stdout.write(`wrote ${csvPath}\nwrote ${svgPath}\n`);
  return 0;
}
