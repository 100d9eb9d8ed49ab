// applyViewDelta: a process that keeps only its index and the view's skeleton (no subnets) applies a
// delta to the index and gets the index a full build of the new view gives — including a record the
// delta rebuilds (its origins changed), from the whole table withTables (packed/packed-view.ts) adds; without that table, or
// from another base, it asks for the whole view (null) and changes nothing.
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { diffViews, encodeDiff, toCompactView } from '../../model/view-codec.ts';
import type { DnsView, WeightMap } from '../../model/views.ts';
import { record, threeOrigins, view } from '../testing/fixtures.ts';
import { buildViewIndex, type ViewIndex } from '../answer/view-index.ts';
import { DnsConfig } from '../config.ts';
import { applyViewDelta, authorityOf, fromWire, preParsed, skeletonOf, splitCompactView, withParsed } from './engine.ts';
import { packView, withTables } from '../packed/packed-view.ts';
import type { ViewDelta } from '../view-changes.ts';

const config = DnsConfig.parse({ listen: ['127.0.0.1:0'], view_file: 'x.json' });
const log = pino({ level: 'silent' });

function subnets(n: number, shift: number): Record<string, WeightMap> {
  const out: Record<string, WeightMap> = { '10.0.0.0/16': { 'eu-london': 1 } };
  for (let i = 0; i < n; i++) out[`10.${i >> 8}.${i & 255}.0/24`] = { 'eu-london': ((i + shift) % 5) + 1, 'us-east': 1 };
  return out;
}

/** What an index answers from, per record: learned networks with their choices, and the origins' health. */
function summary(index: ViewIndex) {
  return [...index.records.values()].map((r) => ({
    host: r.hostname,
    origins: r.origins.map((o) => [o.id, o.healthy]),
    // Sorted: a hash table's order depends on the order networks came and went, not on what it holds.
    learned: [...r.learned.networks()].map(({ bytes, prefix, value }) => [bytes.join('.'), prefix, value.scopeFloor, value.a?.slots, value.a && [...value.a.cum]]).sort((x, y) => (`${x[0]}/${x[1]}` < `${y[0]}/${y[1]}` ? -1 : 1)),
  }));
}

function deltaOf(a: DnsView, b: DnsView): ViewDelta {
  return { from: a.version, header: { version: b.version, seq: b.seq, weights_version: b.weights_version }, changes: encodeDiff(diffViews(a, b)!) };
}

describe('applyViewDelta on a skeleton', () => {
  const a = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(300, 0) }), record('cold.example.com', threeOrigins())], '1');
  const b = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(320, 1) }), record('cold.example.com', threeOrigins())], '2');
  const downOrigins = threeOrigins().map((o, i) => (i === 0 ? { ...o, healthy: false } : o));
  const c = view('example.com', [record('app.example.com', downOrigins, { subnets: subnets(320, 2) }), record('cold.example.com', threeOrigins())], '3');

  it('keeps no subnets and updates the index as a full build of the new view does, a rebuilt record from its table', () => {
    const held = skeletonOf(a);
    expect(Object.keys(held.zones[0]!.records[0]!.subnets)).toHaveLength(0);
    const index = buildViewIndex(a, authorityOf(config), 0);
    const one = applyViewDelta(held, index, deltaOf(a, b), config, log)!;
    expect(one.view.version).toBe('2');
    expect(Object.keys(one.view.zones[0]!.records[0]!.subnets)).toHaveLength(0);
    expect(summary(one.index)).toEqual(summary(buildViewIndex(b, authorityOf(config), 0)));
    // b -> c changes the record's origins (a rebuild): only possible with its whole table.
    const bare = deltaOf(b, c);
    expect(bare.changes[0]!.meta).not.toBeNull();
    expect(applyViewDelta(one.view, one.index, bare, config, log)).toBeNull();
    const two = applyViewDelta(one.view, one.index, withTables(bare, packView(c)), config, log)!;
    expect(summary(two.index)).toEqual(summary(buildViewIndex(c, authorityOf(config), 0)));
    expect(two.index.records.get([...two.index.records.keys()][0]!)!.origins[0]!.healthy).toBe(false);
    expect(Object.keys(two.view.zones[0]!.records[0]!.subnets)).toHaveLength(0);
  });

  it('a UDP thread given the delta as its worker parsed it (withParsed, cloned) updates its index alike', () => {
    const worker = applyViewDelta(skeletonOf(a), buildViewIndex(a, authorityOf(config), 0), deltaOf(a, b), config, log)!;
    const lean = structuredClone(withParsed(deltaOf(a, b), worker.parsed));
    expect(lean.changes[0]!.set.cidrs).toHaveLength(0);
    expect(lean.parsed![0]!.map.length).toBeGreaterThan(0);
    const thread = applyViewDelta(skeletonOf(a), buildViewIndex(a, authorityOf(config), 0), lean, config, log)!;
    expect(summary(thread.index)).toEqual(summary(buildViewIndex(b, authorityOf(config), 0)));
    // A rebuilt record (its origins changed) crosses with its table, unparsed.
    const rebuild = withTables(deltaOf(b, c), packView(c));
    const w2 = applyViewDelta(thread.view, thread.index, rebuild, config, log)!;
    expect(w2.parsed[0]).toBeUndefined();
    const t2 = applyViewDelta(thread.view, buildViewIndex(b, authorityOf(config), 0), structuredClone(withParsed(rebuild, w2.parsed)), config, log)!;
    expect(summary(t2.index)).toEqual(summary(buildViewIndex(c, authorityOf(config), 0)));
  });

  it('a worker given the delta as its primary parsed it (preParsed, through JSON as cluster IPC, fromWire) updates its index alike, over random deltas', () => {
    // Random deltas (changed, added, removed subnets; a record rebuilt now and then), each through the
    // primary's parse and V8's serializer, applied to the worker's index, then to its thread's.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let prev = a;
    let worker = { view: skeletonOf(a), index: buildViewIndex(a, authorityOf(config), 0) };
    let thread = { view: skeletonOf(a), index: buildViewIndex(a, authorityOf(config), 0) };
    for (let round = 0; round < 12; round++) {
      const s: Record<string, WeightMap> = {};
      for (const [cidr, w] of Object.entries(prev.zones[0]!.records[0]!.subnets)) {
        const r = rand();
        if (r < 0.1) continue; // removed
        s[cidr] = r < 0.3 ? { 'eu-london': Math.floor(rand() * 5) + 1, 'us-east': Math.floor(rand() * 3) } : w;
      }
      for (let i = 0; i < 20; i++) s[rand() < 0.5 ? `10.${200 + round}.${i}.0/24` : `2001:db8:${round}:${i}00::/56`] = { 'us-east': Math.floor(rand() * 4) + 1 };
      const origins = round % 5 === 4 ? threeOrigins().map((o, i) => (i === 1 ? { ...o, healthy: false } : o)) : threeOrigins();
      const next = view('example.com', [record('app.example.com', origins, { subnets: s }), record('cold.example.com', threeOrigins())], String(round + 2));
      const sent = fromWire(JSON.parse(JSON.stringify(preParsed(withTables(deltaOf(prev, next), packView(next))))) as ViewDelta);
      if (!sent.changes[0]!.meta) {
        expect(sent.changes[0]!.set.cidrs).toHaveLength(0);
        expect(sent.parsed![0]!.bytes).toBeInstanceOf(Uint8Array);
        // The maps cross as JSON texts, looked up by the record (learnedChoiceOfText), no objects.
        expect(sent.parsed![0]!.maps).toHaveLength(0);
        expect(sent.parsed![0]!.mapTexts!.length).toBeGreaterThan(0);
      }
      const w = applyViewDelta(worker.view, worker.index, sent, config, log)!;
      const full = summary(buildViewIndex(next, authorityOf(config), 0));
      expect(summary(w.index)).toEqual(full);
      const t = applyViewDelta(thread.view, thread.index, structuredClone(withParsed(sent, w.parsed)), config, log)!;
      expect(summary(t.index)).toEqual(full);
      worker = w;
      thread = t;
      prev = next;
    }
  });

  it('refuses parsed subnets of the wrong shape (asks for the whole view) and leaves the index as it was', () => {
    const index = buildViewIndex(a, authorityOf(config), 0);
    const before = summary(index);
    const good = fromWire(JSON.parse(JSON.stringify(preParsed(deltaOf(a, b)))) as ViewDelta);
    const bad = [
      (p: NonNullable<ViewDelta['parsed']>[number]) => ({ ...p!, bytes: p!.bytes.slice(16) }),
      // What a base64 text of the wrong length decodes to (fromWire): arrays of unequal lengths.
      (p: NonNullable<ViewDelta['parsed']>[number]) => fromWire({ ...good, wire: [{ ...JSON.parse(JSON.stringify(preParsed(deltaOf(a, b)))).wire[0], map: 'AAAA' }] }).parsed![0],
      (p: NonNullable<ViewDelta['parsed']>[number]) => ({ ...p!, prefix: Uint16Array.from(p!.prefix, (v, k) => (k === 3 ? 40 : v)) }),
      (p: NonNullable<ViewDelta['parsed']>[number]) => ({ ...p!, map: Int32Array.from(p!.map, (v, k) => (k === 2 ? 9999 : v)) }),
      (p: NonNullable<ViewDelta['parsed']>[number]) => ({ ...p!, prefix: [1, 2] as unknown as Uint16Array }),
      (p: NonNullable<ViewDelta['parsed']>[number]) => ({ ...p!, mapTexts: p!.mapTexts!.map((t, m) => (m === 1 ? 'null' : t)) }),
      (p: NonNullable<ViewDelta['parsed']>[number]) => ({ ...p!, mapTexts: p!.mapTexts!.map((t, m) => (m === 0 ? '{"eu-london":' : t)) }),
      (p: NonNullable<ViewDelta['parsed']>[number]) => ({ ...p!, mapTexts: p!.mapTexts!.map((t, m) => (m === 0 ? (7 as unknown as string) : t)) }),
    ];
    for (const spoil of bad) {
      expect(applyViewDelta(skeletonOf(a), index, { ...good, parsed: [spoil(good.parsed![0])] }, config, log)).toBeNull();
      expect(summary(index)).toEqual(before);
    }
  });

  it('asks for the whole view (null) for a delta from another base', () => {
    const index = buildViewIndex(a, authorityOf(config), 0);
    expect(applyViewDelta(skeletonOf(b), index, deltaOf(b, c), config, log)).toBeNull();
    expect(applyViewDelta(null, index, deltaOf(a, b), config, log)).toBeNull();
  });
});

describe('an index built from compact tables (a cluster worker, its UDP thread)', () => {
  it('is the index the same view with its subnets in the records gives, skipped subnets and warnings included', () => {
    const subnetsOf = { ...subnets(400, 3), '10.9.9.1/24': { 'eu-london': 1 }, 'not-a-cidr': { 'us-east': 1 }, '10.8.0.0/16': { nowhere: 1 } };
    const v = view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnetsOf }), record('cold.example.com', threeOrigins()), record('more.example.com', threeOrigins(), { subnets: subnets(50, 1) })], '7');
    const { view: skeleton, tables } = splitCompactView(toCompactView(v));
    expect(Object.keys(skeleton.zones[0]!.records[0]!.subnets)).toHaveLength(0);
    const fromTables = buildViewIndex(skeleton, authorityOf(config), 0, undefined, tables);
    const fromObject = buildViewIndex(v, authorityOf(config), 0);
    expect(summary(fromTables)).toEqual(summary(fromObject));
    expect(fromTables.warnings.sort()).toEqual(fromObject.warnings.sort());
    expect(fromTables.warnings.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a malformed table, naming it', () => {
    const { view: skeleton, tables } = splitCompactView(toCompactView(view('example.com', [record('app.example.com', threeOrigins(), { subnets: subnets(3, 0) })], '1')));
    tables[0]![0]!.map[1] = 99;
    expect(() => buildViewIndex(skeleton, authorityOf(config), 0, undefined, tables)).toThrow(/app\.example\.com: subnets\.map\[1\]/);
  });
});
