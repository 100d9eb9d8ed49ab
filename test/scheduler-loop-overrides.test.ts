// Operator overrides through the live loop (real SQLite store, real decision core, scripted inputs):
// each kind honoured exactly by the published weights, damped unless `now`, shown in the decision
// record and the metrics, and an expired or cancelled override stops applying.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OverrideSpec } from '../model/index.ts';
import { edgeInputs, loopWorld, ScriptedReader, type LoopWorld } from './helpers/scheduler-loop.ts';
import { waitFor } from './helpers/wait.ts';

let w: LoopWorld;
beforeEach(async () => (w = await loopWorld()));
afterEach(() => w.close());

const add = (spec: Partial<OverrideSpec> & Pick<OverrideSpec, 'kind'>) => w.store.createOverride(w.lb.id, { reason: 'test', now: false, ...spec }, 'tester', () => undefined);

async function settled(reader: ScriptedReader) {
  reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
  const loop = w.makeLoop(reader);
  await loop.cycle();
  // A new source gets the plan at once: 200 of 300 to the US (its capacity).
  expect((await w.store.getWeights(w.lb.id))!.edges[w.edgeId]![w.us.id]).toBeCloseTo(2 / 3, 4);
  return loop;
}

describe('overrides in the loop', () => {
  it('force with now: the forced weights are published in the next cycle, exactly, and the record says so', async () => {
    const loop = await settled(new ScriptedReader());
    const o = await add({ kind: 'force', edge_id: w.edgeId, weights: { [w.us.id]: 0.1, [w.eu.id]: 0.9 }, now: true });
    const report = await loop.cycle();
    expect(report.results[0]!.outcome).toBe('published');
    const weights = (await w.store.getWeights(w.lb.id))!.edges[w.edgeId]!;
    expect(weights[w.us.id]).toBeCloseTo(0.1, 6);
    expect(weights[w.eu.id]).toBeCloseTo(0.9, 6);
    const last = (await w.store.listDecisions({ limit: 1, load_balancer_id: w.lb.id })).items[0]!;
    expect(last.reason).toBe('override');
    expect(last.inputs.overrides).toEqual([expect.objectContaining({ id: o.id, kind: 'force', status: 'applied', now: true, sources: 1 })]);
    expect(last.inputs.overrides_in_force).toEqual([expect.objectContaining({ id: o.id, created_by: 'tester', reason: 'test' })]);
    expect(await w.metricValue('sluice_scheduler_override_active', { override: o.id, kind: 'force', status: 'applied' })).toBe(1);
  });

  it('a share bound without now is the plan exactly, walked to at max_shift per cycle', async () => {
    const loop = await settled(new ScriptedReader());
    await add({ kind: 'share', origin_id: w.us.id, edge_id: w.edgeId, max_share: 0.5 });
    let previous = 2 / 3;
    for (let i = 0; i < 40; i++) {
      const report = await loop.cycle();
      // The plan honours the bound exactly from the first cycle on.
      expect(report.results[0]!.decision!.plan[`edge:${w.edgeId}`]![w.us.id]).toBeCloseTo(0.5, 9);
      const share = (await w.store.getWeights(w.lb.id))!.edges[w.edgeId]![w.us.id]!;
      expect(previous - share).toBeLessThanOrEqual(w.lb.max_shift + 1e-6);
      expect(share).toBeGreaterThanOrEqual(0.5 - 1e-6);
      previous = share;
    }
    expect(previous).toBeCloseTo(0.5, 2);
  });

  it('a dial takes capacity away (now: at once); expiry and cancellation stop it applying', async () => {
    const loop = await settled(new ScriptedReader());
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const dial = await add({ kind: 'dial', origin_id: w.us.id, percent: 50, now: true, expires_at: expiresAt });
    await loop.cycle();
    // us offers 100 of its 200: a third of sfo's 300.
    expect((await w.store.getWeights(w.lb.id))!.edges[w.edgeId]![w.us.id]).toBeCloseTo(1 / 3, 4);
    expect(await w.metricValue('sluice_scheduler_override_expires_timestamp_seconds', { override: dial.id })).toBe(Date.parse(expiresAt) / 1000);
    await waitFor(async () => (await w.store.activeOverrides(w.lb.id)).length === 0, { what: 'the dial to expire', timeoutMs: 10_000 });
    const report = await loop.cycle();
    expect(report.results[0]!.decision!.overrides).toBeUndefined();
    // us has its whole capacity back in the plan; the weights walk back (damped).
    expect(report.results[0]!.decision!.plan[`edge:${w.edgeId}`]![w.us.id]).toBeCloseTo(2 / 3, 6);
    expect(await w.metricValue('sluice_scheduler_override_expires_timestamp_seconds', { override: dial.id })).toBeUndefined();
    expect(await w.metricValue('sluice_scheduler_override_active', { override: dial.id })).toBeUndefined();

    // A load balancer-wide minimum, then cancelled: the next plan is free again.
    const min = await add({ kind: 'share', origin_id: w.eu.id, min_share: 0.8 });
    const bounded = await loop.cycle();
    expect(bounded.results[0]!.decision!.plan[`edge:${w.edgeId}`]![w.eu.id]).toBeCloseTo(0.8, 6);
    await w.store.cancelOverride(w.lb.id, min.id, 'tester');
    const free = await loop.cycle();
    expect(free.results[0]!.decision!.plan[`edge:${w.edgeId}`]![w.eu.id]).toBeCloseTo(1 / 3, 6);
  });

  it('forces every DNS subnet inside a range, and only those', async () => {
    await w.store.replaceLoadBalancer(w.lb.id, { ...w.lb, dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 20 } } as never);
    const reader = new ScriptedReader();
    reader.next = () => {
      const i = edgeInputs('sfo', 100, { us: 20, eu: 140 });
      for (const s of ['10.1.1.0/24', '10.1.2.0/24', '10.2.0.0/24']) {
        i.subnetDemand.set(s, 10);
        i.subnetRtt.set(s, new Map([['us', { ms: 20, samples: 10 }], ['eu', { ms: 140, samples: 10 }]]));
      }
      return i;
    };
    const loop = w.makeLoop(reader);
    const o = await add({ kind: 'force', subnet: '10.1.0.0/16', weights: { [w.eu.id]: 1 }, now: true });
    await loop.cycle();
    const subnets = (await w.store.getWeights(w.lb.id))!.subnets;
    expect(subnets['10.1.1.0/24']).toEqual({ [w.eu.id]: 1 });
    expect(subnets['10.1.2.0/24']).toEqual({ [w.eu.id]: 1 });
    expect(subnets['10.2.0.0/24']![w.us.id]).toBeCloseTo(1, 6);
    const last = (await w.store.listDecisions({ limit: 1, load_balancer_id: w.lb.id })).items[0]!;
    expect(last.inputs.overrides).toEqual([expect.objectContaining({ id: o.id, sources: 2 })]);
  });
});
