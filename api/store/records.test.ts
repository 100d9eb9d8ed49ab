// The publish's hand check (prepareWeightsSteps' one pass) must accept exactly what the WeightsInput
// schema accepts as is, and leave every doubtful input to the schema (checkWeights, which names the bad field).
import { describe, expect, it } from 'vitest';
import { WeightsInput } from '../../model/index.ts';
import { ZodError } from 'zod';
import { runToEnd } from '../../lib/steps.ts';
import { assertKnownOrigins, checkWeights, decisionRow, decisionRowSteps, namedSteps, prepareWeightsSteps } from './records.ts';
import { StoreError } from './store.ts';

const REFUSED: [string, unknown, string][] = [
  ['a share above 1', { edges: { e1: { a: 1.5 } } }, 'edges.e1.a'],
  ['a NaN share', { subnets: { '192.0.2.0/24': { a: NaN } } }, 'subnets.192.0.2.0/24.a'],
  ['an infinite share', { edges: { e1: { a: Infinity } } }, 'edges.e1.a'],
  ['a string share', { edges: { e1: { a: '0.5' } } }, 'edges.e1.a'],
  ['host bits in a subnet', { subnets: { '192.0.2.1/24': { a: 1 } } }, 'subnets.192.0.2.1/24'],
  ['an array as a share map', { edges: { e1: [0.5] } }, 'edges.e1'],
  ['an unknown key', { edges: {}, extra: {} }, ''],
  ['a null table', { edges: null }, 'edges'],
  ['a negative share of a subnet published before', { subnets: { '192.0.2.0/24': { a: -0.5 } } }, 'subnets.192.0.2.0/24.a'],
];

describe('checkWeights', () => {
  it('accepts what the schema accepts, with absent tables as empty', () => {
    const w = { edges: { e1: { a: 0.25, b: 0.75 } }, subnets: { '192.0.2.0/24': { a: 1 }, '2001:db8::/48': { b: 0 } } };
    expect(checkWeights(w)).toEqual(WeightsInput.parse(w));
    expect(checkWeights({ subnets: { '198.51.100.0/24': { a: 1 } } })).toEqual({ edges: {}, subnets: { '198.51.100.0/24': { a: 1 } } });
  });

  it.each(REFUSED)('refuses %s, naming the field', (_, w, field) => {
    const err = (() => {
      try {
        checkWeights(w as never);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).kind).toBe('invalid');
    expect((err as StoreError).field).toBe(field);
    expect(WeightsInput.safeParse(w).success).toBe(false);
  });
});

describe('publish preparation in steps', () => {
  // The one-pass check (prepareWeightsSteps) refuses what checkWeights refuses, also when the previous
  // publish's subnets (whose CIDRs it does not parse again) are given.
  it.each(REFUSED)('refuses %s, with or without the previous publish', (_, w, field) => {
    for (const since of [undefined, { '192.0.2.0/24': { a: 1 } }]) {
      expect(() => runToEnd(prepareWeightsSteps(w as never, since))).toThrow(expect.objectContaining({ kind: 'invalid', field }));
    }
  });

  const weights = { edges: { e1: { a: 0.25, b: 0.75 } }, subnets: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`10.${i >> 8}.${i & 255}.0/24`, (i % 3 ? { a: 1 } : { b: 0.5, c: 0.5 }) as Record<string, number>])) };

  it('serialises the weights as JSON.stringify does, naming every origin, across several steps', () => {
    const steps = prepareWeightsSteps(weights);
    let yields = 0;
    let r = steps.next();
    for (; !r.done; r = steps.next()) yields++;
    expect(yields).toBeGreaterThan(1);
    expect(r.value.body).toBe(JSON.stringify(checkWeights(weights)));
    expect([...r.value.named].sort()).toEqual(['a', 'b', 'c']);
    expect(() => runToEnd(prepareWeightsSteps({ edges: { e1: { a: 1.5 } } }))).toThrow(StoreError);
  });

  it('names the unknown origin only when the weights name one', () => {
    const { parsed, named } = runToEnd(prepareWeightsSteps(weights));
    expect(() => assertKnownOrigins('lb', new Set(['a', 'b', 'c']), parsed, named)).not.toThrow();
    expect(() => assertKnownOrigins('lb', new Set(['a', 'b']), parsed, named)).toThrow(/subnets\.10\.0\.0\.0\/24 names origin c/);
  });

  const diff = Array.from({ length: 5000 }, (_, i) => ({ source: `subnet:10.${i >> 8}.${i & 255}.0/24`, origin_id: 'a', from: i / 5000, to: 1 - i / 5000 }));
  const input = { load_balancer_id: 'lb', reason: 'optimize' as const, objective: 3, inputs: { sources: 5000 }, diff };

  it('writes the decision body decisionRow writes, with the diff serialised in steps', () => {
    const fence = { name: 'scheduler', holder: 'h', epoch: 4 };
    const row = runToEnd(decisionRowSteps(input, 7, fence, '2026-11-29T12:00:00.000Z'));
    const whole = decisionRow(input, 7, fence, '2026-11-29T12:00:00.000Z');
    expect(JSON.parse(row.body)).toEqual(JSON.parse(whole.body));
    expect(row.recorded).toEqual(whole.recorded);
    expect({ ...row, body: '', recorded: null }).toEqual({ ...whole, body: '', recorded: null });
  });

  it.each([
    ['a NaN', { source: 's', origin_id: 'a', from: NaN, to: 1 }, 'diff.1.from'],
    ['an extra key', { source: 's', origin_id: 'a', from: 0, to: 1, why: 'x' }, 'diff.1'],
    ['a missing key', { source: 's', origin_id: 'a', from: 0 }, 'diff.1.to'],
  ])('leaves a change with %s to the schema, which refuses it', (_, bad, path) => {
    const attempt = () => runToEnd(decisionRowSteps({ ...input, diff: [diff[0]!, bad as never] }, null, undefined, 'now'));
    expect(attempt).toThrow(ZodError);
    try {
      attempt();
    } catch (e) {
      expect((e as ZodError).issues[0]!.path.join('.')).toContain(path);
    }
  });
});

describe('publish preparation against the last publish', () => {
  it("takes maps that are the very objects of the last publish as checked, names with its names, and still finds every change", () => {
    const a = { o1: 1 };
    const b = { o2: 0.5, o3: 0.5 };
    const since = { '10.0.0.0/24': a, '10.0.1.0/24': b, '10.0.2.0/24': { o4: 1 } };
    // Reused: a, b. Re-weighted with a new object of equal content: not a change. Removed: 10.0.2.0/24.
    const next = { '10.0.0.0/24': a, '10.0.1.0/24': b, '10.0.3.0/24': { o1: 1 }, '10.0.2.1/32': { o5: 1 } };
    const ready = runToEnd(prepareWeightsSteps({ subnets: next }, since, false, new Set(['o1', 'o2', 'o3', 'o4'])));
    expect(ready.namedExact).toBe(false);
    expect([...ready.named].sort()).toEqual(['o1', 'o2', 'o3', 'o4', 'o5']); // a superset: o4 is no longer named
    expect(ready.body).toBeNull();
    expect([...ready.changed!.keys].sort()).toEqual(['10.0.2.0/24', '10.0.2.1/32', '10.0.3.0/24']);
    expect([...runToEnd(namedSteps(ready.parsed))].sort()).toEqual(['o1', 'o2', 'o3', 'o5']);
    // Without the last publish's names nothing is skipped: the names are exact.
    const exact = runToEnd(prepareWeightsSteps({ subnets: next }, since, true));
    expect(exact.namedExact).toBe(true);
    expect([...exact.named].sort()).toEqual(['o1', 'o2', 'o3', 'o5']);
    expect(JSON.parse(exact.body!)).toEqual({ edges: {}, subnets: next });
    // A new key is still checked: a bad CIDR next to reused maps is refused.
    expect(() => runToEnd(prepareWeightsSteps({ subnets: { ...next, 'not-a-cidr': { o1: 1 } } }, since, false, new Set(['o1'])))).toThrow(StoreError);
  });
});
