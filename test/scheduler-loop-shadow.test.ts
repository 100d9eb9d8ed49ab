// Shadow mode on the live loop (real SQLite store, real decision core, scripted inputs): every cycle
// is decided and recorded with what it would publish, nothing is published (no weights version reaches
// DNS or edges), and switching back to enforce walks from the weights in force at max_shift per cycle.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { edgeInputs, loopWorld, ScriptedReader, type LoopWorld } from './helpers/scheduler-loop.ts';

let w: LoopWorld;
beforeEach(async () => (w = await loopWorld()));
afterEach(() => w.close());

const setMode = async (mode: 'enforce' | 'shadow') => {
  const lb = await w.store.getLoadBalancer(w.lb.id);
  const { id: _id, revision: _r, created_at: _c, updated_at: _u, ...spec } = lb;
  await w.store.replaceLoadBalancer(w.lb.id, { ...spec, mode });
};

describe('shadow mode', () => {
  it('from the first cycle: decides and records, publishes nothing', async () => {
    await setMode('shadow');
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    const loop = w.makeLoop(reader);
    for (let i = 0; i < 3; i++) expect((await loop.cycle()).results[0]!.outcome).toBe('shadow');
    expect(await w.store.getWeights(w.lb.id)).toBeNull();
    const log = (await w.store.listDecisions({ limit: 10, load_balancer_id: w.lb.id })).items;
    expect(log).toHaveLength(3);
    expect(log.every((d) => d.weights_version === null)).toBe(true);
    // What it would publish (a new source gets the plan at once), and the loads it predicts.
    const shadow = log[2]!.inputs.shadow as { would_publish: { edges: Record<string, Record<string, number>> } };
    expect(shadow.would_publish.edges[w.edgeId]![w.us.id]).toBeCloseTo(2 / 3, 4);
    expect(log[2]!.predicted_load_rps[w.us.id]).toBeCloseTo(200, 3);
    expect(log[2]!.detail).toMatch(/^shadow: would change 2 weight\(s\); published nothing/);
    // Then its own weights stand: nothing more to change.
    expect(log[0]!.detail).toMatch(/^shadow: would change nothing/);
    expect(await w.metricValue('sluice_scheduler_shadow_mode', { load_balancer: 'app' })).toBe(1);
    expect(await w.metricValue('sluice_scheduler_shadow_decisions_total', { load_balancer: 'app' })).toBe(3);
  });

  it('enforce -> shadow freezes the weights in force while the shadow walks; shadow -> enforce starts from the weights in force, damped', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    const loop = w.makeLoop(reader);
    await loop.cycle();
    const enforced = (await w.store.getWeights(w.lb.id))!;
    expect(enforced.edges[w.edgeId]![w.us.id]).toBeCloseTo(2 / 3, 4);

    await setMode('shadow');
    // Demand rises: the plan moves us to 200/400; the shadow walks there, the weights in force stay.
    reader.next = () => edgeInputs('sfo', 400, { us: 20, eu: 140 });
    let shadowShare = 2 / 3;
    for (let i = 0; i < 8; i++) {
      const r = (await loop.cycle()).results[0]!;
      expect(r.outcome).toBe('shadow');
      const would = r.decision!.weights[`edge:${w.edgeId}`]![w.us.id]!;
      expect(shadowShare - would).toBeLessThanOrEqual(w.lb.max_shift + 1e-6);
      shadowShare = would;
    }
    expect(shadowShare).toBeLessThan(2 / 3 - 0.1);
    expect(await w.store.getWeights(w.lb.id)).toEqual(enforced);

    await setMode('enforce');
    const first = (await loop.cycle()).results[0]!;
    expect(first.outcome).toBe('published');
    const now = (await w.store.getWeights(w.lb.id))!.edges[w.edgeId]![w.us.id]!;
    // From the weights in force (2/3), not from where the shadow had walked to.
    expect(2 / 3 - now).toBeGreaterThan(0);
    expect(2 / 3 - now).toBeLessThanOrEqual(w.lb.max_shift + 1e-6);
    expect(await w.metricValue('sluice_scheduler_shadow_mode', { load_balancer: 'app' })).toBe(0);
  });
});

describe('enforce', () => {
  it('a source at its plan publishes no new version when the changes vanish in the rounding (2/3 is 0.666667 published)', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    const loop = w.makeLoop(reader);
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    const version = (await w.store.getWeights(w.lb.id))!.version;
    for (let i = 0; i < 3; i++) expect((await loop.cycle()).results[0]!.outcome).toBe('unchanged');
    expect((await w.store.getWeights(w.lb.id))!.version).toBe(version);
  });
});
