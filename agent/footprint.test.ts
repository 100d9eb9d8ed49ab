// The agent runs on every origin and edge beside the service it measures, so what each of its threads
// loads is part of its contract (bench: `npm run bench -- agent`, resident memory beside node_exporter).
// zod and the YAML parser cost ~12 MB and ~7 MB resident once loaded and can never be unloaded: the
// config is validated in a short-lived worker (lib/config-off-thread.ts), and neither the main thread
// nor the collector worker may import them. prom-client is loaded through lib/prom.ts (its metric
// classes, not its index). This walks the static, non-type imports of each thread's entry module.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\b)[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]/gm;

/** Packages (and node: modules) reached through static value imports from `entry`, and the files. */
function staticGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(STATIC_IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(resolve(ROOT, entry));
  return { files: [...files].map((f) => relative(ROOT, f)), packages };
}

const HEAVY = ['zod', 'yaml', 'prom-client', 'pino', 'fastify'];

describe('agent footprint', () => {
  it('the collector worker loads none of zod, yaml, prom-client, pino, fastify', () => {
    const { files, packages } = staticGraph('agent/worker.ts');
    expect(files).toContain('agent/learning/subnet-table.ts'); // the walk does reach the code
    expect([...packages].filter((p) => HEAVY.includes(p))).toEqual([]);
  });

  it('the main thread loads neither zod nor yaml, and prom-client only through lib/prom.ts', () => {
    const { files, packages } = staticGraph('agent/command.ts');
    expect(files).toContain('agent/metrics.ts');
    expect(files).toContain('lib/prom.ts');
    expect([...packages].filter((p) => ['zod', 'yaml', 'prom-client', 'fastify'].includes(p))).toEqual([]);
  });
});
