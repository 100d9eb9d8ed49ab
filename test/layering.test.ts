// The one seam between the API and everything else is the Store interface: the api imports the
// scheduler (to run the loop and to extend `SchedulerStore`), never the other way round, and the data
// planes and the agent know the API only over HTTP. A regex over import lines, no new dependency.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const IMPORT = /^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : tsFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(name) ? [path] : [];
  });
}

/** Every relative import of every file under `folder`, as a path from the repository root. */
function importsOf(folder: string): { file: string; target: string }[] {
  return tsFiles(join(ROOT, folder)).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(IMPORT)]
      .map((m) => m[1] ?? m[2] ?? m[3]!)
      .filter((spec) => spec.startsWith('.'))
      .map((spec) => ({ file: relative(ROOT, file), target: relative(ROOT, resolve(file, '..', spec)) })),
  );
}

describe('layering', () => {
  it('finds the imports it checks (the regex is not silently matching nothing)', () => {
    const found = importsOf('scheduler').filter((i) => i.target.startsWith('model/'));
    expect(found.length).toBeGreaterThan(5);
  });

  for (const folder of ['scheduler', 'dns', 'edge-sync', 'agent', 'model', 'lib']) {
    it(`nothing under ${folder}/ imports from api/`, () => {
      const offending = importsOf(folder).filter((i) => i.target === 'api' || i.target.startsWith('api/'));
      expect(offending.map((i) => `${i.file} -> ${i.target}`)).toEqual([]);
    });
  }

  it('model/ and lib/ import no component', () => {
    const components = ['api/', 'scheduler/', 'dns/', 'edge-sync/', 'agent/', 'cli/', 'test/'];
    const offending = [...importsOf('model'), ...importsOf('lib')].filter((i) => components.some((c) => i.target.startsWith(c)));
    expect(offending.map((i) => `${i.file} -> ${i.target}`)).toEqual([]);
  });
});
