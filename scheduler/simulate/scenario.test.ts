// loadScenario reads sources element by element; it must accept, default and explain exactly as
// loadConfigFile(Scenario) does.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile } from '../../lib/config-file.ts';
import { loadScenario, Scenario } from './scenario.ts';

function outcome(load: () => unknown): unknown {
  try {
    return { ok: load() };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    throw err;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'sluice-scenario-'));
const origins = [{ id: 'a', max_rps: 100 }, { id: 'b', max_rps: 50, location: { lat: 1, lon: 2 } }];
const source = (i: number, over: Record<string, unknown> = {}) => ({ id: `s${i}`, demand_rps: i, rtt_ms: { a: 10 + i, b: 20 }, ...over });
const many = (bad?: [number, Record<string, unknown>]) => Array.from({ length: 50 }, (_, i) => (bad && bad[0] === i ? source(i, bad[1]) : source(i)));

const cases: [string, unknown][] = [
  ['many plain sources', { name: 'x', cycles: 3, origins, sources: many() }],
  ['one source', { name: 'x', cycles: 3, origins, sources: [source(0)] }],
  ['no rtt_ms, a location', { name: 'x', cycles: 3, origins, sources: [source(0), { id: 's1', demand_rps: 2, location: { lat: 5, lon: 6 } }] }],
  ['a demand curve and feedback further down', { name: 'x', cycles: 3, origins, sources: many([7, { demand_rps: undefined, demand: [{ cycle: 0, rps: 3 }], feedback: { reference_rtt_ms: 10, elasticity: 1 } }]) }],
  ['a negative rtt further down', { name: 'x', cycles: 3, origins, sources: many([30, { rtt_ms: { a: -1 } }]) }],
  ['both demand kinds further down', { name: 'x', cycles: 3, origins, sources: many([12, { demand: [{ cycle: 0, rps: 3 }] }]) }],
  ['a misspelt key further down', { name: 'x', cycles: 3, origins, sources: many([3, { rtt: {} }]) }],
  ['a bad first source and a bad top-level key', { name: 'x', cycles: 0, origins, sources: many([0, { id: '' }]) }],
  ['no sources', { name: 'x', cycles: 3, origins, sources: [] }],
];

describe('loadScenario matches loadConfigFile(Scenario)', () => {
  for (const [name, doc] of cases) {
    it(name, () => {
      const file = join(dir, `${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, JSON.stringify(doc));
      expect(outcome(() => loadScenario(file))).toEqual(outcome(() => loadConfigFile(Scenario, file)));
    });
  }

  it('reads every shipped scenario (YAML) the same way', () => {
    const files = readdirSync('examples/scenarios').map((f) => join('examples/scenarios', f));
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) expect(loadScenario(f)).toEqual(loadConfigFile(Scenario, f));
  });
});
