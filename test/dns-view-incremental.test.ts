// The DNS view's incremental path (issue 15): on the replica that published, the view's version and
// its diff look only at the subnet keys the publish changed (the store's own publish, records.ts
// prepareWeightsSteps; model/subnet-digest.ts). Checked here against the full path it replaces: on
// random publishes the incremental diff equals the full diff and the version equals that of the same
// content built from scratch; a change hint that does not start from the view held is ignored (full
// diff); and through real SQLite stores, the publishing replica and one that did not publish (it
// parses the body) render the same versions and the same deltas, also after another writer publishes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { viewCache } from '../api/routes/views.ts';
import { prepareWeightsSteps } from '../api/store/records.ts';
import { openSqliteStore, type SqliteStore } from '../api/store/sqlite.ts';
import { buildDnsView, type WorldSnapshot } from '../api/views/build.ts';
import { seededRandom } from '../lib/prng.ts';
import { runToEnd } from '../lib/steps.ts';
import type { LoadBalancer, LoadBalancerWeights, WeightMap } from '../model/index.ts';
import { DnsViewChange } from '../model/view-changes.ts';
import { applyChanges, changesJsonSteps, diffViews, encodeDiff, fromCompactView, type SubnetsChange } from '../model/view-codec.ts';
import { DnsViewHistory } from '../api/views/dns-history.ts';
import { textSink } from '../lib/json-steps.ts';

type Table = Record<string, WeightMap>;
const LBS = ['lb1', 'lb2'].map((id, i) => ({ id, name: id, enabled: true, listeners: [], policy: 'latency', dns: { zone: 'example.com', hostname: `${id}.example.com`, ttl: 20, answers: 1 }, max_latency_ms: 300, index: i }) as unknown as LoadBalancer);
const cidr = (i: number) => (i % 2 ? `${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24` : `2001:${(0xd00 + (i >> 16)).toString(16)}:${(i & 0xffff).toString(16)}::/48`);
const shares = (rand: () => number): WeightMap => {
  const a = Math.round(rand() * 4) / 4;
  return a === 1 ? { x: 1 } : a === 0 ? { y: 1 } : { x: a, y: 1 - a };
};

/** The next publish as the scheduler makes it: fresh maps, some re-weighted, some re-sent equal, some added and removed. */
function nextTable(prev: Table, rand: () => number, fresh: number): Table {
  const out: Table = {};
  for (const k in prev) {
    const r = rand();
    if (r < 0.03) continue; // removed
    out[k] = r < 0.1 ? shares(rand) : { ...prev[k]! };
  }
  for (let i = 0; i < 20; i++) out[cidr(fresh + i)] = shares(rand);
  return out;
}

function world(tables: Map<string, Table>, seq: number, changes?: Map<object, SubnetsChange>): WorldSnapshot {
  const weights = new Map<string, LoadBalancerWeights>([...tables].map(([id, subnets]) => [id, { load_balancer_id: id, version: seq, published_at: '', edges: {}, subnets }]));
  return { seq, loadBalancers: LBS, origins: [], health: [], edgeHealth: [], weights, ...(changes ? { changes } : {}) };
}

/** The same world in objects of another replica's own (as parsed from the stored bodies). */
const apart = (w: WorldSnapshot): WorldSnapshot => ({ ...w, changes: undefined, weights: new Map([...w.weights].map(([id, x]) => [id, JSON.parse(JSON.stringify(x)) as LoadBalancerWeights])) });

const sorted = (d: ReturnType<typeof diffViews>) => d?.map((r) => ({ ...r, subnets: [...r.subnets].sort(([a], [b]) => a.localeCompare(b)) }));

describe('the DNS view, incrementally', () => {
  it('on random publishes: the diff over the changed keys equals the full diff, and the version that of the same content built from scratch', () => {
    const rand = seededRandom(15);
    const tables = new Map<string, Table>();
    for (const lb of LBS) {
      const t: Table = {};
      for (let i = 0; i < 3000; i++) t[cidr(i + (lb.id === 'lb2' ? 100_000 : 0))] = shares(rand);
      tables.set(lb.id, t);
    }
    let view = buildDnsView(world(tables, 1));
    let changed = 0;
    for (let step = 2; step < 12; step++) {
      // One load balancer publishes per step (the other's table is the same object), as the store's own publish.
      const id = LBS[step % 2]!.id;
      const prev = tables.get(id)!;
      const next = nextTable(prev, rand, 10_000 * step);
      const ready = runToEnd(prepareWeightsSteps({ subnets: next }, prev));
      tables.set(id, next);
      const w = world(new Map(tables), step, new Map([[next, ready.changed!]]));
      const incremental = buildDnsView(w);
      const scratch = buildDnsView(apart(w));
      expect(incremental.version).toBe(scratch.version);
      expect(incremental.version).not.toBe(view.version);
      const quick = diffViews(view, incremental, w.changes);
      const full = diffViews(view, scratch); // other objects: compared in full
      expect(sorted(quick)).toEqual(sorted(full));
      changed += quick!.reduce((n, r) => n + r.subnets.size, 0);
      // The hint named more keys than changed (re-sent equal maps are compared, not trusted).
      expect(ready.changed!.keys.length).toBeGreaterThanOrEqual(quick![0]!.subnets.size);
      view = incremental;
    }
    expect(changed).toBeGreaterThan(1000);
  });

  it('on random publishes, rendered as the publishing replica does (resolved change, history, encoding): the delta from each of the last versions brings it to the view built from scratch', () => {
    const rand = seededRandom(29);
    const tables = new Map<string, Table>();
    for (const lb of LBS) {
      const t: Table = {};
      for (let i = 0; i < 2000; i++) t[cidr(i + (lb.id === 'lb2' ? 100_000 : 0))] = shares(rand);
      tables.set(lb.id, t);
    }
    const history = new DnsViewHistory();
    const scratchViews = [buildDnsView(world(tables, 1))];
    history.record(scratchViews[0]!);
    for (let step = 2; step < 14; step++) {
      const id = LBS[step % 2]!.id;
      const prev = tables.get(id)!;
      const next = nextTable(prev, rand, 10_000 * step);
      // Maps re-sent equal but with their origins in the other order (the digest counts the order, and
      // so does the store's change, which must name them), and a hint naming some keys twice and some
      // unchanged ones: none may skew the version.
      const reordered = Object.keys(next).slice(0, 40).filter((k) => Object.keys(next[k]!).length > 1);
      expect(reordered.length).toBeGreaterThan(0);
      for (const k of reordered) next[k] = Object.fromEntries(Object.entries(next[k]!).reverse());
      const ready = runToEnd(prepareWeightsSteps({ subnets: next }, prev));
      // (A map drawn afresh may come out reversed as the one before it was: that one is no change.)
      const moved = reordered.filter((k) => JSON.stringify(prev[k]) !== JSON.stringify(next[k]));
      expect(moved.length).toBeGreaterThan(0);
      for (const k of moved) expect(ready.changed!.keys).toContain(k);
      const keys = [...ready.changed!.keys, ...ready.changed!.keys.slice(0, 25), ...Object.keys(next).slice(500, 520)];
      tables.set(id, next);
      const w = world(new Map(tables), step, new Map([[next, { from: prev, keys }]]));
      const rendered = buildDnsView(w);
      const scratch = buildDnsView(apart(w));
      expect(rendered.version).toBe(scratch.version);
      history.record(rendered, w.changes);
      // A server one publish behind and one three behind (steps composed), as the route encodes the delta.
      for (const back of [1, 3]) {
        const base = scratchViews.at(-back);
        if (!base) continue;
        const since = history.since(base.version, rendered.version);
        if (since.kind !== 'delta') throw new Error(`step ${step}: expected a delta ${back} back, got full (${since.reason})`);
        const text = textSink();
        runToEnd(changesJsonSteps(encodeDiff(runToEnd(since.diff())), text.add));
        const records = JSON.parse(text.text()) as ReturnType<typeof encodeDiff>;
        expect(applyChanges(base, records, rendered)).toEqual(scratch);
        // One publish behind: exactly the full diff's entries, each named once (composed steps may also
        // carry an entry that changed and changed back).
        const fullSize = diffViews(base, scratch)!.reduce((n, r) => n + r.subnets.size, 0);
        const sent = records.reduce((n, r) => n + r.set.cidrs.length + r.removed.length, 0);
        if (back === 1) expect(sent).toBe(fullSize);
        else expect(sent).toBeGreaterThanOrEqual(fullSize);
      }
      scratchViews.push(scratch);
    }
  });

  it('ignores a hint that does not start from the table the last view holds (full diff)', () => {
    const rand = seededRandom(7);
    const a: Table = {};
    for (let i = 0; i < 500; i++) a[cidr(i)] = shares(rand);
    const b = nextTable(a, rand, 10_000);
    const elsewhere = { ...a }; // what this replica published before: not the table the view holds
    const wrong = new Map<object, SubnetsChange>([[b, { from: elsewhere, keys: [] }]]);
    const one = new Map([['lb1', a]]);
    const v1 = buildDnsView(world(one, 1));
    const v2 = buildDnsView(world(new Map([['lb1', b]]), 2, wrong));
    const full = diffViews(v1, v2)!;
    expect(full[0]!.subnets.size).toBeGreaterThan(10);
    // Were the empty hint believed, the diff would be empty and the version wrong.
    expect(sorted(diffViews(v1, v2, wrong))).toEqual(sorted(full));
    expect(v2.version).toBe(buildDnsView(apart(world(new Map([['lb1', b]]), 2))).version);
  });
});

describe('publish -> delta through real SQLite stores (the publishing replica and one that did not publish)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-view-incremental-'));
  const stores: SqliteStore[] = [];
  afterAll(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders the same versions and deltas on both, each delta bringing the base to the new view; after another writer, still correct', async () => {
    const leader = openSqliteStore(dir);
    const follower = openSqliteStore(dir);
    stores.push(leader, follower);
    const lb = await leader.createLoadBalancer({ name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 20, answers: 1 }, listeners: [], policy: 'latency', max_latency_ms: 300, min_samples: 5, max_shift: 1, deadband: 0, gain: 0.5, enabled: true });
    const origin = { region: 'r', addresses: ['192.0.2.10'], port: 443, location: { lat: 0, lon: 0 }, target_rps: 10, max_rps: 20, admin_state: 'active' as const, static_weight: 1, priority: 0 };
    const x = (await leader.createOrigin(lb.id, { ...origin, name: 'x' })).id;
    const y = (await leader.createOrigin(lb.id, { ...origin, name: 'y' })).id;
    const rename = (t: Table): Table => Object.fromEntries(Object.entries(t).map(([k, m]) => [k, Object.fromEntries(Object.entries(m).map(([o, v]) => [o === 'x' ? x : y, v]))]));
    const rand = seededRandom(3);
    let table: Table = {};
    for (let i = 0; i < 4000; i++) table[cidr(i)] = shares(rand);
    const decision = { load_balancer_id: lb.id, reason: 'optimize' as const };
    await leader.publishWeights(lb.id, { subnets: rename(table) }, decision);
    const views = [viewCache(leader), viewCache(follower)];
    let base = (await views[0]!.dnsView()).body;
    expect((await views[1]!.dnsView()).version).toBe(base.version);
    for (let step = 1; step <= 4; step++) {
      table = nextTable(table, rand, 10_000 * step);
      // Step 3 is another writer's publish (the follower's): the leader then reads the body, and its
      // next publish's change does not start from the table its view holds.
      await (step === 3 ? follower : leader).publishWeights(lb.id, { subnets: rename(table) }, decision);
      const answers = [];
      for (const v of views) answers.push((await v.dnsChanges(base.version)).json);
      expect(answers[0]).toBe(answers[1]);
      const change = DnsViewChange.parse(JSON.parse(answers[0]!));
      if (change.kind !== 'delta') throw new Error(`step ${step}: expected a delta, got full (${change.reason})`);
      const now = (await views[0]!.dnsView()).body;
      expect(change.version).toBe(now.version);
      expect(applyChanges(base, change.records, change)).toEqual(now);
      // And the view is the content published (a full answer decoded), not only self-consistent.
      const full = DnsViewChange.parse(JSON.parse((await views[1]!.dnsChanges(null)).json));
      if (full.kind !== 'full') throw new Error('unreachable');
      expect(fromCompactView(full.view).zones[0]!.records[0]!.subnets).toEqual(rename(table));
      base = now;
    }
  });
});
