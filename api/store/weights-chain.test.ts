// The pure parts of weights-chain.ts: the chain check, applying change rows without touching the table
// held (views keep it, by identity), and the compaction bound.
import { describe, expect, it } from 'vitest';
import { keysOnce } from '../../lib/json-steps.ts';
import { runToEnd } from '../../lib/steps.ts';
import { applyChangesSteps, chainFrom, compactionDue, HeldWeightsCache, MAX_CHANGE_ROWS, type ChangeRow } from './weights-chain.ts';

const row = (version: number, prev: number, set: object, deleted: string[], edges: object = {}): ChangeRow => ({
  version,
  published_at: `t${version}`,
  prev_version: prev,
  prev_published_at: `t${prev}`,
  edges: JSON.stringify(edges),
  subnets: JSON.stringify(set),
  deleted: JSON.stringify(deleted),
});

describe('weights chain', () => {
  it('accepts rows only when each names the version before it and the last is the head', () => {
    const rows = [row(3, 1, {}, []), row(7, 3, {}, [])];
    expect(chainFrom({ version: 1, published_at: 't1' }, rows, { version: 7, published_at: 't7' })).toBe(true);
    expect(chainFrom({ version: 1, published_at: 'other time' }, rows, { version: 7, published_at: 't7' })).toBe(false); // a restore reusing the number
    expect(chainFrom({ version: 1, published_at: 't1' }, [rows[1]!], { version: 7, published_at: 't7' })).toBe(false); // a gap
    expect(chainFrom({ version: 1, published_at: 't1' }, rows.slice(0, 1), { version: 7, published_at: 't7' })).toBe(false); // short of the head
    expect(chainFrom({ version: 7, published_at: 't7' }, [], { version: 7, published_at: 't7' })).toBe(true);
  });

  it('applies rows to a new table, the last word per key winning, and names the keys that moved', () => {
    const from = { version: 1, published_at: 't1', edges: { e: { a: 1 } }, subnets: { k1: { a: 1 }, k2: { b: 1 }, k3: { a: 0.5, b: 0.5 } } };
    const before = structuredClone(from.subnets);
    const rows = [row(2, 1, { k2: { a: 1 }, k4: { b: 1 }, k5: { a: 1 } }, ['k1']), row(3, 2, { k1: { b: 1 } }, ['k5', 'k3'], { e: { b: 1 } })];
    const { weights, changed } = runToEnd(applyChangesSteps(from, rows));
    expect(weights).toEqual({ edges: { e: { b: 1 } }, subnets: { k1: { b: 1 }, k2: { a: 1 }, k4: { b: 1 } } });
    expect(from.subnets).toEqual(before); // untouched
    expect(weights.subnets).not.toBe(from.subnets);
    expect(keysOnce(weights.subnets)).toEqual(Object.keys(weights.subnets));
    // k5 came and went: not a change to anyone holding `from`.
    expect(changed.from).toBe(from.subnets);
    expect([...changed.keys].sort()).toEqual(['k1', 'k2', 'k3', 'k4']);
  });

  it('compacts past a quarter of the base entries or past the row bound', () => {
    expect(compactionDue({ base_entries: 100, since_base: 20, change_rows: 3 }, 5)).toBe(false);
    expect(compactionDue({ base_entries: 100, since_base: 20, change_rows: 3 }, 6)).toBe(true);
    expect(compactionDue({ base_entries: 1_000_000, since_base: 0, change_rows: MAX_CHANGE_ROWS - 1 }, 1)).toBe(false);
    expect(compactionDue({ base_entries: 1_000_000, since_base: 0, change_rows: MAX_CHANGE_ROWS }, 1)).toBe(true);
  });

  it('keeps the weights of the read planned last, even at a lower version (a restore), and reads in full from outside the chain', () => {
    const cache = new HeldWeightsCache();
    const w = (version: number) => ({ version, published_at: `t${version}`, edges: {}, subnets: {} });
    const head = (version: number, base: number) => ({ version, published_at: `t${version}`, base_version: base, base_published_at: `t${base}`, base_entries: 10, since_base: 0, change_rows: 0 });
    const [first, second] = [cache.ticket(), cache.ticket()];
    cache.set('lb', w(9), second);
    cache.set('lb', w(8), first); // planned before: finished late, ignored
    expect(cache.at('lb', { version: 9, published_at: 't9' })).toBeDefined();
    expect(cache.plan('lb', head(12, 7))).toMatchObject({ kind: 'since', from: { version: 9 } });
    expect(cache.plan('lb', head(12, 10))).toEqual({ kind: 'full' }); // behind a compaction
    expect(cache.plan('lb', head(5, 3))).toEqual({ kind: 'full' }); // a restore took the store back
    cache.set('lb', w(5), cache.ticket());
    expect(cache.at('lb', { version: 5, published_at: 't5' })).toBeDefined();
  });
});
