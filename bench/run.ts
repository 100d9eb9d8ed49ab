// `npm run bench -- <name>`: runs bench/<name>.bench.ts. Each benchmark compares sluice against a named
// peer in the same run (ratios, not absolute times: this machine is shared and noisy) and records its
// result with bench/lib/results.ts.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name> [args]\navailable: ${available.join(', ') || '(none)'}\n`);
  process.exit(name ? 2 : 0);
}
const mod = (await import(new URL(`./${name}.bench.ts`, import.meta.url).href)) as { main: (args: string[]) => Promise<void> };
await mod.main(args);
