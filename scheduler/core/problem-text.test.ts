// The fast road (parseProblemText) must end where the general one does: JSON.parse, readProblem, the
// implicit origins, densify. Same flat problem, or the same problems named, or it gives way (null) and
// the general road decides.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config-file.ts';
import { seededRandom } from '../../lib/prng.ts';
import { addImplicitOrigins } from '../solve-command.ts';
import { densify, rttOf } from './input.ts';
import { parseProblemText } from './problem-text.ts';
import { readProblem } from './read-problem.ts';

type Outcome = { dense: unknown; implicit: string[] } | { problems: string[] } | { json: true };

function general(text: string): Outcome {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { json: true };
  }
  try {
    const problem = readProblem(doc, 'p.json');
    const implicit = addImplicitOrigins(problem);
    return { dense: densify(problem), implicit };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems.map((p) => `${p.key}: ${p.message}`).sort() };
    throw err;
  }
}

/** The fast road's outcome, or the general road's when it gives way (and then says so). */
function fast(text: string): Outcome & { gaveWay: boolean } {
  try {
    const r = parseProblemText(text, 'p.json');
    return r ? { ...r, gaveWay: false } : { ...general(text), gaveWay: true };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems.map((p) => `${p.key}: ${p.message}`).sort(), gaveWay: false };
    throw err;
  }
}

const origins = [{ id: 'a', max_rps: 100 }, { id: 'b', target_rps: 50, max_rps: 80, location: { lat: 1, lon: 2 } }];
const base = { origins, sources: [{ id: 's1', demand_rps: 10, rtt_ms: { a: 5, b: 7.5, c: 9 } }, { id: 's2', demand_rps: 0, location: { lat: -10, lon: 170 }, rtt_ms: { d: 1e-3 } }], current: { s1: { a: 0.5, b: 0.5 }, s9: { z: 1 } } };
const withSource = (s: unknown) => JSON.stringify({ ...base, sources: [...base.sources, s] });

// [name, text, whether the fast road itself must decide (not give way)]
const cases: [string, string, boolean][] = [
  ['valid, with implicit origins and current', JSON.stringify(base), true],
  ['valid, indented, sources before origins', JSON.stringify({ sources: base.sources, current: base.current, origins }, null, 2), true],
  ['valid, no sources', JSON.stringify({ origins, sources: [] }), true],
  ['valid, odd but legal numbers and escapes', `{"origins":[{"id":"a","max_rps":1E2}],"sources":[{"id":"s\\u0031\\"x","demand_rps":-0,"rtt_ms":{"a":0.5e-1,"\\u00e9":2}}]}`, true],
  ['integer-like origin ids (JS key order)', withSource({ id: 's3', demand_rps: 1, rtt_ms: { z: 1, 7: 2, 3: 4 } }), true],
  ['a key repeated in rtt_ms (last value wins)', `{"origins":[{"id":"a","max_rps":1}],"sources":[{"id":"x","demand_rps":1,"rtt_ms":{"a":1,"q":2,"a":3}}]}`, true],
  ['a key repeated in a source', `{"origins":[{"id":"a","max_rps":1}],"sources":[{"id":"x","demand_rps":-1,"demand_rps":1}]}`, true],
  ['keys in another order', withSource({ rtt_ms: { a: 1 }, location: { lon: 3, lat: 4 }, demand_rps: 2, id: 's3' }), true],
  ['empty rtt_ms', withSource({ id: 's3', demand_rps: 2, rtt_ms: {} }), true],
  ['negative demand', withSource({ id: 's3', demand_rps: -1 }), true],
  ['demand as a string', withSource({ id: 's3', demand_rps: '300' }), true],
  ['demand missing', withSource({ id: 's3' }), true],
  ['empty id', withSource({ id: '', demand_rps: 1 }), true],
  ['source not an object', withSource(7), true],
  ['misspelt source key', withSource({ id: 's3', demand_rps: 1, rtt: {} }), true],
  ['negative rtt', withSource({ id: 's3', demand_rps: 1, rtt_ms: { a: -3 } }), true],
  ['rtt null', withSource({ id: 's3', demand_rps: 1, rtt_ms: { a: null } }), true],
  ['huge rtt (Infinity once parsed)', `{"origins":[{"id":"a","max_rps":1}],"sources":[{"id":"x","demand_rps":1,"rtt_ms":{"a":1e400}}]}`, true],
  ['latitude out of range', withSource({ id: 's3', demand_rps: 1, location: { lat: 91, lon: 0 } }), true],
  ['location without lon', withSource({ id: 's3', demand_rps: 1, location: { lat: 1 } }), true],
  ['duplicate source id', withSource({ id: 's1', demand_rps: 1 }), true],
  ['bad current and a bad source', JSON.stringify({ ...base, current: { s1: { a: -1 } }, sources: [...base.sources, { id: 'q', demand_rps: -2 }] }), true],
  ['bad policy', JSON.stringify({ ...base, policy: 'fastest' }), true],
  ['stickiness set', JSON.stringify({ ...base, stickiness_ms: 500 }), true],
  ['operator overrides (read with the rest, not per source)', JSON.stringify({ ...base, overrides: { dials: [{ id: 'd1', origin: 'a', fraction: 0.5 }], shares: [{ id: 's1', origin: 'a', source: 's1', max: 0.4 }] } }), true],
  ['a bad override', JSON.stringify({ ...base, overrides: { dials: [{ id: 'd1', origin: 'a', fraction: 2 }] } }), true],
  ['a source with connection state and a sticky point', withSource({ id: 's3', demand_rps: 1, rtt_ms: { a: 1 }, connections: { survival: { a: 0.5 } }, pick: 0.25 }), false],
  ['a source with excluded origins (edge-local reachability)', withSource({ id: 's3', demand_rps: 1, rtt_ms: { a: 1 }, excluded: ['a'] }), false],
  ['a bad excluded list', withSource({ id: 's3', demand_rps: 1, excluded: 'a' }), true],
  ['no sources key', JSON.stringify({ origins }), true],
  ['not JSON', '{"origins": [', false],
  ['trailing comma', '{"origins":[{"id":"a","max_rps":1}],"sources":[],}', false],
  ['a BOM', `\uFEFF${JSON.stringify(base)}`, false],
  ['trailing text', `${JSON.stringify(base)} x`, false],
  ['sources not an array', JSON.stringify({ origins, sources: {} }), false],
  ['a repeated top-level key', `{"origins":[{"id":"a","max_rps":1}],"sources":[],"sources":[{"id":"x","demand_rps":1}]}`, false],
  ['__proto__ as an origin id', `{"origins":[{"id":"a","max_rps":1}],"sources":[{"id":"x","demand_rps":1,"rtt_ms":{"__proto__":3}}]}`, true],
  ['__proto__ as a top-level key', `{"origins":[{"id":"a","max_rps":1}],"sources":[],"__proto__":{"policy":"x"}}`, false],
  ['__proto__ inside origins', `{"origins":[{"id":"a","max_rps":1,"__proto__":{}}],"sources":[]}`, false],
  ['not an object', '[1, 2]', false],
];

describe('parseProblemText ends where JSON.parse, readProblem and densify do', () => {
  for (const [name, text, decides] of cases) {
    it(name, () => {
      const { gaveWay, ...mine } = fast(text);
      expect(mine).toEqual(general(text));
      expect(gaveWay).toBe(!decides);
    });
  }

  it('random valid problems (ids with escapes, optional keys, implicit origins, current)', () => {
    const r = seededRandom(23);
    for (let round = 0; round < 40; round++) {
      const ids = ['iad', 'fra', 'sin', 'x"y', 'zürich'];
      const sources = Array.from({ length: Math.floor(r() * 60) }, (_, i) => ({
        ...(r() < 0.5 ? { demand_rps: Math.round(r() * 1e4) / 100 } : {}),
        id: `s${i}${r() < 0.1 ? '\n' : ''}`,
        ...(r() < 0.9 ? { rtt_ms: Object.fromEntries(ids.filter(() => r() < 0.7).map((o) => [o, Math.round(r() * 3e4) / 100])) } : {}),
        ...(r() < 0.3 ? { location: { lat: r() * 180 - 90, lon: r() * 360 - 180 } } : {}),
      })).map((s) => ({ demand_rps: 1, ...s }));
      const doc = { origins: [{ id: 'iad', max_rps: 1000 }], sources, current: Object.fromEntries(sources.filter(() => r() < 0.3).map((s) => [s.id, { iad: r(), gone: r() }])) };
      const text = JSON.stringify(doc, null, round % 2 ? 2 : undefined);
      const { gaveWay, ...mine } = fast(text);
      expect(gaveWay).toBe(false);
      expect(mine).toEqual(general(text));
    }
  });

  it('reads every number exactly as JSON.parse does (digits, leading zeros, long fractions, exponents)', () => {
    const r = seededRandom(31);
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 10)).join('');
    const numbers: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const int = r() < 0.3 ? '0' : `${1 + Math.floor(r() * 9)}${digits(Math.floor(r() * 12))}`;
      const frac = r() < 0.8 ? `.${r() < 0.3 ? '000' : ''}${digits(1 + Math.floor(r() * 20))}` : '';
      const exp = r() < 0.1 ? `e${r() < 0.5 ? '-' : '+'}${Math.floor(r() * 30)}` : '';
      numbers.push(`${int}${frac}${exp}`);
    }
    const text = `{"origins":[{"id":"a","max_rps":1}],"sources":[${numbers.map((n, i) => `{"id":"s${i}","demand_rps":${n},"rtt_ms":{"a":${n}}}`).join(',')}]}`;
    const parsed = parseProblemText(text, 'p.json')!;
    expect(parsed).not.toBeNull();
    numbers.forEach((n, i) => {
      expect(rttOf(parsed.dense.rtt, i, 0), n).toBe(Number(n));
      expect(parsed.dense.demand[i], n).toBe(Number(n));
    });
  });
});
