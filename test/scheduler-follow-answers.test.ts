// Clients that follow every DNS answer: they resolve before each request and, when the answer changes,
// drop their connection and reconnect to the new one — nothing is pinned by a weight change, however
// long their connections live otherwise. The live loop against a simulated client population (the
// agents' survivors and poll times as the simulation's truth, the answers as sluice dns picks them from
// the weights the loop published): once the scheduler has seen connections vanish from an origin their
// answer left, its prediction matches where the load really is, and the load comes back at the damping's
// pace instead of the lifetime model's 1/(1 − Σπ) lead. (Before answer survival was learned, the walk
// answered ~2.5× ahead of the load and predicted connections on the old origin that were gone.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../api/store/sqlite.ts';
import type { LoadBalancer, Origin } from '../model/index.ts';
import { decide, ProblemSchema, type SchedulingDecision } from '../scheduler/core/index.ts';
import { emptyInputs, type LbInputs } from '../scheduler/inputs/types.ts';
import { dnsPick } from '../scheduler/loop/dns-pick.ts';
import { SchedulerLoop } from '../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';

let dir: string;
let store: SqliteStore;
let lb: LoadBalancer;
let near: Origin;
let far: Origin;
const HOST = 'app.lab.example';
const subnets = Array.from({ length: 20 }, (_, i) => `10.7.${i}.0/24`);
const RATE = 10; // requests/s per subnet
const CONNS = 2; // open connections per subnet, on its answer
const LIFETIME_S = 2; // mean connection lifetime: S(1 s) = e^(−1/2) ≈ 0.61 on the lifetime model
const CYCLE_MS = 1000;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-follow-'));
  store = openSqliteStore(dir);
  lb = await store.createLoadBalancer({ name: 'app', dns: { zone: 'lab.example', hostname: HOST, ttl: 1, answers: 1 }, listeners: [], policy: 'latency', max_latency_ms: 500, min_samples: 1, max_shift: 0.1, deadband: 0.005, gain: 0.5, enabled: true });
  const base = { port: 80, admin_state: 'active' as const, static_weight: 1, priority: 0, target_rps: 1000, max_rps: 1000 };
  near = await store.createOrigin(lb.id, { ...base, name: 'near', region: 'us-east', addresses: ['198.51.100.1'], location: { lat: 39, lon: -77.5 } });
  far = await store.createOrigin(lb.id, { ...base, name: 'far', region: 'us-west', addresses: ['198.51.100.2'], location: { lat: 45.6, lon: -121.2 } });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The origin (name) sluice dns answers a subnet with under these shares (origin id -> share). */
function answer(subnet: string, shares: Record<string, number> | undefined): string {
  const u = dnsPick(subnet, HOST)!;
  const ids = Object.keys(shares ?? {}).filter((id) => shares![id]! > 0).sort();
  const total = ids.reduce((t, id) => t + shares![id]!, 0);
  let acc = 0;
  for (const id of ids) {
    acc += shares![id]! / total;
    if (u < acc) return id === near.id ? 'near' : 'far';
  }
  return ids.length > 0 && ids[ids.length - 1] === near.id ? 'near' : 'far';
}

describe('clients that follow answers (resolve before every request, reconnect on a change)', () => {
  it('the scheduler learns that nothing stays pinned: prediction right, load back at the damping pace', async () => {
    let now = Date.parse('2026-11-29T03:00:00Z');
    let nearHealthy = false;
    // Where each subnet's connections are: its current answer (the clients followed it at once).
    const placement = new Map(subnets.map((s) => [s, 'far']));
    const inputs = (): LbInputs => {
      const i = emptyInputs('requests');
      for (const [k, s] of subnets.entries()) {
        i.subnetDemand.set(s, RATE);
        i.subnetRtt.set(s, new Map([['near', { ms: 20 + k / 100, samples: 50 }], ['far', { ms: 100, samples: 50 }]]));
        const on = placement.get(s)!;
        // The agents: CONNS open where the subnet is, each ~0.6 expected to outlive the next cycle by its age; 0 elsewhere.
        i.connections.subnetSurvivors.set(s, new Map([[on, { open: CONNS, surviving: CONNS * 0.6, survivingMean: CONNS * 0.8 }], [on === 'near' ? 'far' : 'near', { open: 0, surviving: 0, survivingMean: 0 }]]));
      }
      i.originLoad.set('near', [...placement.values()].filter((o) => o === 'near').length * RATE);
      i.originLoad.set('far', [...placement.values()].filter((o) => o === 'far').length * RATE);
      i.originHealth.set('near', nearHealthy);
      i.originHealth.set('far', true);
      i.connections.originLifetimeS.set('near', LIFETIME_S);
      i.connections.originLifetimeS.set('far', LIFETIME_S);
      // The snapshot is half a cycle old: polled after the last decision's answers reached the clients.
      (i.connections as { originPolledAt?: Map<string, number> }).originPolledAt = new Map([['near', (now - 500) / 1000], ['far', (now - 500) / 1000]]);
      return i;
    };
    const registry = new Registry();
    const loop = new SchedulerLoop({
      store,
      reader: { read: async () => inputs() },
      solve: async (p) => ({ decision: decide(p), solve_ms: 0 }),
      log: pino({ level: 'silent' }),
      metrics: createSchedulerMetrics(registry),
      intervalMs: CYCLE_MS,
      inputTimeoutMs: 1000,
      leaseTtlMs: 600_000,
      holdCycles: 2,
      latencyTtlMs: 3_600_000,
      locate: () => undefined,
      holder: 'a',
      now: () => now,
    });
    /** One cycle: decide, then the clients follow the answers now published. */
    const cycle = async (): Promise<SchedulingDecision | undefined> => {
      const r = (await loop.cycle()).results[0]!;
      const w = await store.getWeights(lb.id);
      for (const s of subnets) placement.set(s, answer(s, w?.subnets[s]));
      now += CYCLE_MS;
      return r.decision;
    };
    const nearShare = () => [...placement.values()].filter((o) => o === 'near').length / subnets.length;

    // near is down: every subnet is on far.
    for (let k = 0; k < 3; k++) await cycle();
    expect(nearShare()).toBe(0);
    // near recovers: the plan sends everything back; the damping walks at max_shift 0.1 per cycle.
    nearHealthy = true;
    const shares: number[] = [];
    const errors: { cycle: number; predicted: number; real: number; learned: boolean }[] = [];
    for (let k = 0; k < 25 && nearShare() < 1; k++) {
      const d = (await cycle())!;
      shares.push(nearShare());
      const [record] = (await store.listDecisions({ load_balancer_id: lb.id, limit: 1 })).items;
      // The problem on record (what `sluice replay` runs again) carries the answer survival, and is valid.
      if (record!.inputs.problem) ProblemSchema.parse(record!.inputs.problem);
      const learned = (record!.inputs.connections as { answer_survival?: { from: string } } | null)?.answer_survival?.from === 'observed';
      // The decision predicted near's load for the cycle its answers start; the clients are now there.
      errors.push({ cycle: k, predicted: d.origin_load_rps[near.id]!, real: nearShare() * subnets.length * RATE, learned });
    }

    const summary = `near's share per cycle ${shares.map((s) => s.toFixed(2)).join(' ')}; prediction vs real ${errors.map((e) => `${e.predicted.toFixed(0)}/${e.real}${e.learned ? '' : '*'}`).join(' ')} (* before the answer survival was observed)`;
    if (process.env.SHOW) console.log(summary);
    // From the fourth cycle of the shift on (the snapshot must postdate the first change + TTL before
    // anything is learned), the prediction is where the load really is, within 5 % of the total demand.
    // The lifetime model alone predicts connections left on far that are gone: 16 % of it off.
    for (const e of errors.slice(3)) expect(Math.abs(e.predicted - e.real), summary).toBeLessThanOrEqual(0.05 * subnets.length * RATE);
    // …because it learned it, and says so in the decision record.
    expect(errors.findIndex((e) => e.learned), summary).toBeGreaterThanOrEqual(0);
    expect(errors.findIndex((e) => e.learned), summary).toBeLessThanOrEqual(3);
    // Every publish after the first handed the store what changed (the keys whose maps are new), and the store used it.
    const hints = store.weightsWork.hints;
    expect(hints.used, JSON.stringify(hints)).toBeGreaterThan(5);
    expect(hints.refused + hints.unmatched, JSON.stringify(hints)).toBe(0);
    const exported = (await registry.getMetricsAsJSON()).find((m) => m.name === 'sluice_scheduler_answer_survival')!.values[0]!.value;
    expect(exported).toBe(0);
    // Paced: the first cycle moves less than half, and all of it takes at least five cycles (max_shift
    // 0.1, then the proportional band) — not the two or three of a walk leading by 1/(1 − Σπ) ≈ 2.5×.
    expect(shares[0]!, summary).toBeLessThan(0.35);
    expect(shares.length, summary).toBeGreaterThanOrEqual(5);
    expect(nearShare(), summary).toBe(1);
    // Each cycle moves about max_shift of the load (in whole subnets of 0.05: at most 0.25).
    for (let k = 1; k < shares.length; k++) expect(shares[k]! - shares[k - 1]!, summary).toBeLessThanOrEqual(0.25 + 1e-9);
    await loop.stop();
  });
});
