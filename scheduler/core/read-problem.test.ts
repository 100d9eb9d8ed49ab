// readProblem must accept, reject and explain exactly as validateConfig(ProblemSchema) does: it only
// takes a faster road through the sources and the weights in force.
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../lib/config-file.ts';
import { seededRandom } from '../../lib/prng.ts';
import { readProblem } from './read-problem.ts';
import { ProblemSchema } from './schema.ts';

function outcome(read: (doc: unknown) => unknown, doc: unknown): { ok: unknown } | { problems: { key: string; message: string }[] } {
  try {
    return { ok: read(doc) };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems };
    throw err;
  }
}
const viaZod = (doc: unknown) => outcome((d) => validateConfig(ProblemSchema, d, 'p.json'), doc);
const viaReader = (doc: unknown) => outcome((d) => readProblem(d, 'p.json'), doc);

const origins = [{ id: 'a', max_rps: 100 }, { id: 'b', target_rps: 50, max_rps: 80, location: { lat: 1, lon: 2 } }];
const base = { origins, sources: [{ id: 's1', demand_rps: 10, rtt_ms: { a: 5, b: 7.5 } }, { id: 's2', demand_rps: 0, location: { lat: -10, lon: 170 } }], current: { s1: { a: 0.5, b: 0.5 } } };
const withSource = (s: unknown) => ({ ...base, sources: [...base.sources, s] });
const withCurrent = (c: unknown) => ({ ...base, current: c });

// One fault each (and a few valid unusual forms): the same verdict, the same fields, the same words.
const cases: [string, unknown][] = [
  ['valid', base],
  ['valid, no current, no rtt_ms, defaults filled', { origins, sources: [{ id: 'x', demand_rps: 1 }] }],
  ['valid, every optional key', { policy: 'balance', max_shift: 0.1, gain: 0.3, deadband: 0.01, max_latency_ms: 300, rtt_model: { km_per_ms: 150 }, ...base }],
  ['not an object', 42],
  ['null', null],
  ['sources not an array', { origins, sources: { s: 1 } }],
  ['current not an object', withCurrent([1])],
  ['source not an object', withSource('s3')],
  ['source null', withSource(null)],
  ['source without id', withSource({ demand_rps: 1 })],
  ['source with empty id', withSource({ id: '', demand_rps: 1 })],
  ['negative demand', withSource({ id: 's3', demand_rps: -1 })],
  ['demand as a string', withSource({ id: 's3', demand_rps: '300' })],
  ['demand missing', withSource({ id: 's3' })],
  ['misspelt source key', withSource({ id: 's3', demand_rps: 1, rtt: {} })],
  ['rtt_ms not an object', withSource({ id: 's3', demand_rps: 1, rtt_ms: [5] })],
  ['rtt_ms null', withSource({ id: 's3', demand_rps: 1, rtt_ms: null })],
  ['negative rtt', withSource({ id: 's3', demand_rps: 1, rtt_ms: { a: -3 } })],
  ['rtt as a string', withSource({ id: 's3', demand_rps: 1, rtt_ms: { a: '3' } })],
  ['latitude out of range', withSource({ id: 's3', demand_rps: 1, location: { lat: 91, lon: 0 } })],
  ['location with an extra key', withSource({ id: 's3', demand_rps: 1, location: { lat: 1, lon: 0, alt: 3 } })],
  ['location not an object', withSource({ id: 's3', demand_rps: 1, location: 'paris' })],
  ['duplicate source id', withSource({ id: 's1', demand_rps: 1 })],
  ['current shares not an object', withCurrent({ s1: 0.5 })],
  ['negative current share', withCurrent({ s1: { a: -0.5 } })],
  ['unknown policy', { ...base, policy: 'fastest' }],
  ['misspelt top-level key', { ...base, curent: {} }],
  ['duplicate origin', { ...base, origins: [...origins, { id: 'a', max_rps: 1 }] }],
];

describe('readProblem matches validateConfig(ProblemSchema)', () => {
  for (const [name, doc] of cases) {
    it(name, () => {
      expect(viaReader(doc)).toEqual(viaZod(doc));
    });
  }

  it('reports every fault of a document with many that zod reports (and a duplicate id zod\'s refinement skips)', () => {
    const doc = { ...base, origins: [...origins, { id: 'a', max_rps: 1 }], sources: [...base.sources, { id: 'x', demand_rps: -1 }, { id: 'y', demand_rps: 1, rtt_ms: { a: -1, b: 'z' } }], current: { s1: { a: -1 } } };
    const mine = viaReader(doc);
    const theirs = viaZod(doc);
    expect('problems' in mine && 'problems' in theirs).toBe(true);
    const key = (p: { key: string; message: string }) => `${p.key}: ${p.message}`;
    const ours = new Set((mine as { problems: { key: string; message: string }[] }).problems.map(key));
    const zods = new Set((theirs as { problems: { key: string; message: string }[] }).problems.map(key));
    for (const p of zods) expect(ours).toContain(p);
    // zod skips its refinement (duplicate ids) after a wrong type anywhere; naming the duplicate anyway helps.
    expect([...ours].filter((p) => !zods.has(p))).toEqual(['origins[2].id: duplicate origin id "a"']);
  });

  it('reads random valid problems to the same value', () => {
    const r = seededRandom(11);
    for (let round = 0; round < 20; round++) {
      const sources = Array.from({ length: 1 + Math.floor(r() * 50) }, (_, i) => ({
        id: `s${i}`,
        demand_rps: Math.round(r() * 1000) / 10,
        ...(r() < 0.8 ? { rtt_ms: { a: r() * 100, b: r() * 100 } } : {}),
        ...(r() < 0.3 ? { location: { lat: r() * 180 - 90, lon: r() * 360 - 180 } } : {}),
      }));
      const doc = { origins, sources, current: Object.fromEntries(sources.filter(() => r() < 0.5).map((s) => [s.id, { a: r(), b: r() }])) };
      expect(viaReader(doc)).toEqual(viaZod(doc));
    }
  });
});
