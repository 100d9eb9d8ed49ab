// Writes a benchmark's result to bench/results/<name>.json and keeps one summary line per benchmark in
// bench/README.md (between markers), so the table always shows the latest run of each.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));

export interface BenchResult {
  /** What was compared with what, e.g. "sluice dns vs gdnsd weighted". */
  comparison: string;
  /** Headline ratios (sluice / peer), named. */
  ratios: Record<string, number>;
  /** Everything measured, for the record. */
  details: unknown;
}

export function recordResult(name: string, result: BenchResult, summary: string): void {
  mkdirSync(`${BENCH_DIR}results`, { recursive: true });
  const record = {
    name,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version },
    ...result,
  };
  writeFileSync(`${BENCH_DIR}results/${name}.json`, `${JSON.stringify(record, null, 2)}\n`);
  const readme = `${BENCH_DIR}README.md`;
  const text = readFileSync(readme, 'utf8');
  const begin = '<!-- results:begin -->';
  const end = '<!-- results:end -->';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < 0) throw new Error('bench/README.md lost its results markers');
  const lines = text.slice(i + begin.length, j).split('\n').filter((l) => l.startsWith('- ') && !l.startsWith(`- **${name}**`));
  lines.push(`- **${name}** (${record.date.slice(0, 10)}): ${summary}`);
  lines.sort();
  writeFileSync(readme, `${text.slice(0, i + begin.length)}\n${lines.join('\n')}\n${text.slice(j)}`);
  process.stdout.write(`${name}: ${summary}\nwrote bench/results/${name}.json\n`);
}
