// A failover's first decision starts from the capacity prices in the store: loop A decides and records
// its prices, loop B (another holder on the same store) takes the lease, and B's FIRST solve is handed
// A's last prices as price_hint, through the same demand check as a leader's own next cycle
// (MAX_DEMAND_CHANGE). A store that cannot read them costs the warm start, never the cycle. Run on a
// real SQLite file and a real PostgreSQL server; the decision core is the real one, only the metrics
// backend is scripted (the I/O boundary) and the solve is wrapped to see what reaches decide().
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tokenSets } from '../api/auth.ts';
import { buildServer } from '../api/server.ts';
import { PostgresConfig } from '../api/store/pg-connection.ts';
import { openPostgresStore } from '../api/store/postgres.ts';
import { openSqliteStore } from '../api/store/sqlite.ts';
import type { Store } from '../api/store/store.ts';
import type { LoadBalancer, Origin } from '../model/index.ts';
import { decide, type SchedulingDecision, type SchedulingProblem } from '../scheduler/core/index.ts';
import type { InputReader } from '../scheduler/inputs/types.ts';
import { SchedulerLoop } from '../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';
import { MAX_DEMAND_CHANGE } from '../scheduler/loop/price-hint.ts';
import { http } from './helpers/control-plane.ts';
import { watchControlPlane } from './helpers/openapi-contract.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from './helpers/postgres.ts';
import { edgeInputs, ScriptedReader } from './helpers/scheduler-loop.ts';

const silent = pino({ level: 'silent' });

interface World {
  store: Store;
  lb: LoadBalancer;
  us: Origin;
  eu: Origin;
}

/** A replica's loop on `store`, its own metrics, and every problem its solves were handed. */
function replica(store: Store, reader: InputReader, holder: string) {
  const registry = new Registry();
  const problems: SchedulingProblem[] = [];
  const loop = new SchedulerLoop({
    store,
    reader,
    solve: async (p) => {
      problems.push(structuredClone(p));
      return { decision: decide(p), solve_ms: 0 };
    },
    log: silent,
    metrics: createSchedulerMetrics(registry),
    intervalMs: 60_000,
    inputTimeoutMs: 2_000,
    leaseTtlMs: 5_000,
    holdCycles: 2,
    latencyTtlMs: 3_600_000,
    locate: () => undefined,
    holder,
  });
  const metric = async (name: string, labels: Record<string, string> = {}) =>
    ((await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values ?? []).find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
  return { loop, problems, metric };
}

/** The capacity prices a decision reports, per origin id (what the loop records and keeps). */
function pricesOf(d: SchedulingDecision | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(d!.origins).map(([id, o]) => [id, o.price]));
}

/** `store` with latestPrices counted, and failing while `fail` says so; every other method as is. */
function withPriceReads(store: Store, fail: () => boolean): { store: Store; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(store, {
    get(target, key) {
      if (key === 'latestPrices') {
        return async (lbId: string) => {
          reads++;
          if (fail()) throw new Error('connection terminated unexpectedly');
          return target.latestPrices(lbId);
        };
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: wrapped, reads: () => reads };
}

// One edge near `us` (capacity 200) sending 400 rps: us is full, so its capacity has a price (the RTT
// the spilled traffic pays to reach eu), eu's is 0.
const DEMAND = 400;
const near = (demand = DEMAND, rtt = { us: 20, eu: 140 }) => edgeInputs('sfo', demand, rtt);

function failoverTests(open: () => Promise<Store>) {
  let w: World;
  const stops: SchedulerLoop[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const l of stops.splice(0)) await l.stop();
    for (const s of stores.splice(0)) await s.close();
  });
  const world = async (): Promise<World> => {
    const store = await open();
    stores.push(store);
    const lb = await store.createLoadBalancer({ name: 'app', listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }], policy: 'latency', max_latency_ms: 500, min_samples: 5, max_shift: 0.02, deadband: 0.001, gain: 0.5, enabled: true });
    const base = { port: 443, admin_state: 'active' as const, static_weight: 1, priority: 0 };
    const us = await store.createOrigin(lb.id, { ...base, name: 'us', region: 'us', addresses: ['198.51.100.1'], location: { lat: 37.4, lon: -122 }, target_rps: 200, max_rps: 200 });
    const eu = await store.createOrigin(lb.id, { ...base, name: 'eu', region: 'eu', addresses: ['198.51.100.2'], location: { lat: 50.1, lon: 8.7 }, target_rps: 1000, max_rps: 1000 });
    await store.createEdge({ name: 'sfo', region: 'us-west', address: '203.0.113.5', location: { lat: 37.6, lon: -122.4 } });
    return { store, lb, us, eu };
  };
  const start = (store: Store, reader: InputReader, holder: string) => {
    const r = replica(store, reader, holder);
    stops.push(r.loop);
    return r;
  };

  /** Leader "a" decides once on the near demand (its decision stores its prices) and steps down. */
  const firstLeaderDecides = async (store: Store) => {
    const reader = new ScriptedReader();
    reader.next = () => near();
    const a = start(store, reader, 'a');
    await a.loop.cycle();
    await a.loop.stop();
  };

  it("the new leader's first solve starts from the old leader's last prices, read once; a leader regaining the lease takes its successor's", async () => {
    w = await world();
    const reader = new ScriptedReader();
    reader.next = () => near();
    const a = start(w.store, reader, 'a');
    const first = await a.loop.cycle();
    expect(first.results[0]).toMatchObject({ outcome: 'published' });
    expect(a.problems[0]!.price_hint).toBeUndefined(); // nothing recorded yet: cold
    const aPrices = pricesOf(first.results[0]!.decision);
    expect(aPrices[w.us.id]).toBeGreaterThan(0);
    // The record carries them, and the API serves them (checked against the OpenAPI document).
    const app = await buildServer({ store: w.store, tokens: tokenSets({ admin_tokens: [], read_tokens: [] }), docs: false });
    try {
      const url = await app.listen({ host: '127.0.0.1', port: 0 });
      const unwatch = watchControlPlane(url);
      try {
        const log = await http(`${url}/api/v1/decisions?load_balancer_id=${w.lb.id}&limit=1`);
        expect(log.status).toBe(200);
        expect(log.json.items[0]).toMatchObject({ weights_version: expect.any(Number), capacity_prices: aPrices, priced_demand_rps: DEMAND });
      } finally {
        unwatch();
      }
    } finally {
      await app.close();
    }
    await a.loop.stop(); // releases the lease: a rolling upgrade, or a failover once the TTL is out

    const counted = withPriceReads(w.store, () => false);
    const bReader = new ScriptedReader();
    bReader.next = () => near(DEMAND * 1.1, { us: 20, eu: 100 }); // demand moved within MAX_DEMAND_CHANGE
    const b = start(counted.store, bReader, 'b');
    const bFirst = await b.loop.cycle();
    expect(bFirst).toMatchObject({ leader: true, epoch: 2 });
    expect(b.problems[0]!.price_hint).toEqual(aPrices);
    expect(counted.reads()).toBe(1);
    // Its next cycle starts from its own prices, without reading the store again.
    const bPrices = pricesOf(bFirst.results[0]!.decision);
    expect(bPrices).not.toEqual(aPrices);
    await b.loop.cycle();
    expect(b.problems[1]!.price_hint).toEqual(bPrices);
    expect(counted.reads()).toBe(1);
    const bLast = pricesOf((await b.loop.cycle()).results[0]!.decision);
    await b.loop.stop();

    // A takes the lease back (a new epoch): what it remembered is older than b's decisions, so it reads again.
    const again = await a.loop.cycle();
    expect(again).toMatchObject({ leader: true, epoch: 3 });
    expect(a.problems[1]!.price_hint).toEqual(bLast);
  });

  it('prices for a demand past MAX_DEMAND_CHANGE of the one they priced are not used: the first solve is cold', async () => {
    w = await world();
    await firstLeaderDecides(w.store);
    expect((await w.store.latestPrices(w.lb.id))?.demand_rps).toBe(DEMAND);

    const counted = withPriceReads(w.store, () => false);
    const bReader = new ScriptedReader();
    bReader.next = () => near(DEMAND * (1 + MAX_DEMAND_CHANGE) * 1.05);
    const b = start(counted.store, bReader, 'b');
    expect((await b.loop.cycle()).results[0]!.outcome).toBe('published');
    expect(counted.reads()).toBe(1); // read, and judged too far from this demand
    expect(b.problems).toHaveLength(1);
    expect(b.problems[0]!.price_hint).toBeUndefined();
  });

  it('a store that fails the read: the first cycle still publishes, cold, and the failure is counted', async () => {
    w = await world();
    await firstLeaderDecides(w.store);
    const version = (await w.store.weightsHead(w.lb.id))!.version;

    const failing = withPriceReads(w.store, () => true);
    const bReader = new ScriptedReader();
    bReader.next = () => near(DEMAND, { us: 120, eu: 30 }); // eu is the nearer one now: the weights move
    const b = start(failing.store, bReader, 'b');
    const report = await b.loop.cycle();
    expect(report).toMatchObject({ leader: true, results: [{ outcome: 'published' }] });
    expect((await w.store.weightsHead(w.lb.id))!.version).toBeGreaterThan(version);
    expect(b.problems[0]!.price_hint).toBeUndefined();
    expect(await b.metric('sluice_scheduler_stored_prices_read_errors_total', { load_balancer: 'app' })).toBe(1);
    expect(await b.metric('sluice_scheduler_store_errors_total')).toBe(0);
    expect(await b.metric('sluice_scheduler_held_cycles_total', { load_balancer: 'app', reason: 'error' })).toBe(0);
    // Not retried every cycle: the next one starts from b's own prices.
    await b.loop.cycle();
    expect(failing.reads()).toBe(1);
    expect(b.problems[1]!.price_hint).toEqual(pricesOf(report.results[0]!.decision));
    expect(await b.metric('sluice_scheduler_stored_prices_read_errors_total', { load_balancer: 'app' })).toBe(1);
  });
}

describe('failover warm start: SQLite', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  failoverTests(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-failover-'));
    dirs.push(dir);
    return openSqliteStore(dir);
  });
});

describe.skipIf(postgresUnavailable())('failover warm start: PostgreSQL', () => {
  let server: RunningPostgres;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.destroy();
  });
  failoverTests(async () => {
    const url = await server.createDatabase();
    return openPostgresStore({ config: PostgresConfig.parse({ url, password_file: server.passwordFile, change_poll: '1s' }), replica: 'test', log: silent });
  });
});
