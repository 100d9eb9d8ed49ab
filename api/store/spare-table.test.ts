// The idle copy of a held table (spare-table.ts): an incremental read changes it in place instead of
// copying the table it moves from, and hands out exactly what a copy would have given; the table it
// moved from, which views still hold, is never touched; a spare is used once, and only for its table.
import { describe, expect, it } from 'vitest';
import { keysOnce } from '../../lib/json-steps.ts';
import { runToEnd } from '../../lib/steps.ts';
import { seededRandom } from '../../lib/prng.ts';
import { keyListSteps, SpareTables } from './spare-table.ts';
import { applyChangesSteps, finishReads, HeldWeightsCache, type ChainHead, type ChangeRow, type PendingRead } from './weights-chain.ts';

type Subnets = Record<string, Record<string, number>>;

const stamp = (v: number) => ({ version: v, published_at: `t${v}` });
const head = (v: number, base: number): ChainHead => ({ ...stamp(v), base_version: base, base_published_at: `t${base}`, base_entries: 1000, since_base: 0, change_rows: 0 });

/** A change row after version v-1 re-weighting, adding and removing random keys of `table`. */
function randomRow(rand: () => number, table: Subnets, v: number): { row: ChangeRow; next: Subnets } {
  const next = { ...table };
  const set: Subnets = {};
  const deleted: string[] = [];
  for (const k of Object.keys(table)) {
    const r = rand();
    if (r < 0.01) deleted.push(k);
    else if (r < 0.05) set[k] = { o: Math.round(rand() * 100) / 100 };
  }
  for (let i = 0; i < 5; i++) set[`10.${v}.${i}.0/24`] = { o: 1 };
  for (const k of deleted) delete next[k];
  Object.assign(next, set);
  return { row: { ...stamp(v), prev_version: v - 1, prev_published_at: `t${v - 1}`, edges: '{}', subnets: JSON.stringify(set), deleted: JSON.stringify(deleted) }, next };
}

describe('spare tables', () => {
  it('applies change rows to the spare in place: the same content and key order as a copy, the table before untouched', () => {
    const rand = seededRandom(3);
    const from: Subnets = {};
    for (let i = 0; i < 2000; i++) from[`10.0.${i >> 8}.${i & 255}/32`] = { o: 1 };
    const before = structuredClone(from);
    const { row, next } = randomRow(rand, from, 2);
    const spare = { ...from };
    const viaCopy = runToEnd(applyChangesSteps({ ...stamp(1), edges: {}, subnets: from }, [row]));
    const inPlace = runToEnd(applyChangesSteps({ ...stamp(1), edges: {}, subnets: from }, [row], spare));
    expect(inPlace.weights.subnets).toBe(spare);
    expect(inPlace.weights.subnets).toEqual(next);
    expect(keysOnce(inPlace.weights.subnets)).toEqual(keysOnce(viaCopy.weights.subnets));
    expect(keysOnce(inPlace.weights.subnets)).toEqual(Object.keys(spare));
    // The key list left for later is Object.keys' list too.
    expect(runToEnd(keyListSteps(inPlace.keysLater!))).toEqual(Object.keys(spare));
    expect(viaCopy.keysLater).toBeUndefined();
    expect([...inPlace.changed.keys].sort()).toEqual([...viaCopy.changed.keys].sort());
    expect(from).toEqual(before);
  });

  it('a follower reading incrementally takes the idle copy of the table it holds, once; reads equal full tables along a random chain', async () => {
    const cache = new HeldWeightsCache(undefined, new SpareTables(0, 1));
    const rand = seededRandom(15);
    let table: Subnets = {};
    for (let i = 0; i < 500; i++) table[`10.1.${i >> 8}.${i & 255}/32`] = { o: 1 };
    const body = JSON.stringify({ edges: {}, subnets: table });
    const full: PendingRead = { lbId: 'lb', ticket: cache.ticket(), kind: 'full', read: { head: head(1, 1), body, rows: [] } };
    let [held] = await finishReads(cache, [full]);
    for (let v = 2; v < 12; v++) {
      const handedOut = held!.parsed!.subnets;
      const copyOf = structuredClone(handedOut);
      const { row, next } = randomRow(rand, table, v);
      table = next;
      // Every other read finds its spare still being made (no idle time): it copies.
      if (v % 2 === 0) await cache.spares.settled();
      const taken = cache.spares.counts.taken;
      const from = cache.latest('lb')!;
      const since: PendingRead = { lbId: 'lb', ticket: cache.ticket(), kind: 'since', head: head(v, 1), from, rows: [row] };
      [held] = await finishReads(cache, [since]);
      expect(held!.parsed!.subnets).toEqual(table);
      expect(held!.parsed!.subnets).not.toBe(handedOut);
      expect(handedOut).toEqual(copyOf); // what the views hold never changes
      expect(cache.spares.counts.taken).toBe(v % 2 === 0 ? taken + 1 : taken);
      // Taken once: no spare of the table moved from is left.
      expect(cache.spares.take('lb', from.subnets)).toBeUndefined();
    }
  });
});
