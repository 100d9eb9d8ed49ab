// The change hint contract (hinted-weights.ts), run by store.test.ts against both stores on real
// databases: publishes whose tables and hints the scheduler's own splitWeightsChangeSteps builds are
// prepared from the hint alone and read back (by the publisher, a replica reading incrementally, a
// fresh replica reading in full) equal to what was published, over random sequences with compaction
// and another writer interleaving; a hint that leaves out an addition, a removal or a re-weighting is
// refused (the full pass runs, the weights are stored right); a hint naming a bad entry gets the
// schema's error naming the field; a hint naming unchanged keys, or against a table no longer in
// force, is harmless.
import { describe, expect, it } from 'vitest';
import { runToEnd } from '../../lib/steps.ts';
import { knownKeys } from '../../lib/json-steps.ts';
import { seededRandom } from '../../lib/prng.ts';
import { SUBNET_PREFIX } from '../../scheduler/loop/connection-sources.ts';
import { splitWeightsChangeSteps } from '../../scheduler/loop/problem.ts';
import type { WeightsChangeHint } from '../../scheduler/loop/store.ts';
import { chainOf, DECISION, mutate, setup, shares, type Subnets, type WeightsHarness } from './weights-chain.contract.ts';
import type { Store } from './store.ts';

/** `target` as the scheduler publishes it after `published` (splitWeightsChangeSteps): unchanged maps shared, and its hint. */
function scheduled(target: Subnets, published: Subnets | null): { subnets: Subnets; hint: WeightsChangeHint | undefined } {
  const weights: Record<string, Record<string, number>> = {};
  for (const k in target) weights[`${SUBNET_PREFIX}${k}`] = target[k]!;
  const { weights: out, changed } = runToEnd(splitWeightsChangeSteps(weights, {}, published));
  return { subnets: out.subnets, hint: changed ?? undefined };
}

/** A table of `n` /24s over `origins`, published by `store` as the scheduler's first publish. */
async function firstPublish(store: Store, lbId: string, origins: string[], n: number, seed: number) {
  const rand = seededRandom(seed);
  const next = { n: 0 };
  const table: Subnets = {};
  for (let i = 0; i < n; i++) table[`10.${next.n >> 8}.${next.n++ & 255}.0/24`] = shares(rand, origins);
  const first = scheduled(table, null);
  const out = await store.publishWeights(lbId, { subnets: first.subnets }, DECISION(lbId));
  return { rand, next, published: out.weights.subnets };
}

export function publishHintContract(label: string, h: WeightsHarness): void {
  describe(`Publishes with the scheduler's change hint: ${label}`, () => {
    it('30 random hinted publishes, another writer interleaving, stay equal to incremental and full reads', async () => {
      const { store: a, lbId, origins } = await setup(h);
      const other = await h.peer(a);
      const follower = await h.peer(a);
      const { rand, next, published: first } = await firstPublish(a, lbId, origins, 200, 1515);
      let published = first;
      let hinted = 0;
      for (let step = 0; step < 30; step++) {
        const target = mutate(rand, published, origins, rand() < 0.15 ? 0.3 : 0.03, next);
        const before = { ...h.hints(a) };
        if (rand() < 0.15) {
          // Another writer: `a`'s next hint is then against a table no longer in force (harmless: unused).
          const out = await other.publishWeights(lbId, { subnets: target }, DECISION(lbId));
          published = (await a.getWeights(lbId))!.subnets;
          expect(out.weights.subnets).toEqual(target);
          continue;
        }
        const { subnets, hint } = scheduled(target, published);
        const chainBefore = await chainOf(h, a, lbId);
        const out = await a.publishWeights(lbId, { subnets }, DECISION(lbId), undefined, hint);
        const after = h.hints(a);
        expect(after.refused).toBe(before.refused);
        if (after.used > before.used) {
          hinted++;
          // What the hint named, and only what really changed, was written (as a change row unless compaction was due).
          const chain = await chainOf(h, a, lbId);
          if (chain.base_version !== out.version) expect(chain.since_base - chainBefore.since_base).toBe(hint!.keys.length);
        }
        published = out.weights.subnets;
        expect(published).toBe(subnets);
        if (rand() < 0.5) expect((await follower.getWeights(lbId))!.subnets).toEqual(target);
        const fresh = await h.peer(a);
        expect((await fresh.getWeights(lbId))!).toMatchObject({ version: out.version, subnets: target });
      }
      expect(hinted).toBeGreaterThan(15);
      expect(content(await follower.getWeights(lbId))).toEqual(published);
      expect(h.reads(follower).incremental).toBeGreaterThan(3);
    });

    it("a failover's first publish uses the hint against the table the new leader read, its origin names carried by the reads; a name gone is named exactly", async () => {
      const { store: leader, lbId, origins: [x, y, z] } = await setup(h);
      const follower = await h.peer(leader);
      const { published } = await firstPublish(leader, lbId, [x!, y!], 40, 9);
      // The follower reads in full (a base), then the leader's next publish incrementally.
      expect((await follower.getWeights(lbId))!.subnets).toEqual(published);
      const keys = Object.keys(published);
      const second = scheduled({ ...published, [keys[0]!]: { [z!]: 1 } }, published);
      await leader.publishWeights(lbId, { subnets: second.subnets }, DECISION(lbId), undefined, second.hint);
      const inForce = (await follower.getWeights(lbId))!;
      expect(inForce.subnets).toEqual({ ...second.subnets });
      // The follower takes over: its scheduler's next table against the weights in force it read.
      const grant = (await follower.acquireLease('scheduler', 'follower', 60_000))!;
      const third = scheduled({ ...inForce.subnets, [keys[1]!]: { [y!]: 1 }, [keys[0]!]: { [x!]: 1 } }, inForce.subnets);
      const used = h.hints(follower).used;
      const before = await chainOf(h, leader, lbId);
      const out = await follower.publishWeights(lbId, { subnets: third.subnets }, DECISION(lbId), grant, third.hint);
      expect(h.hints(follower).used).toBe(used + 1);
      expect(await chainOf(h, leader, lbId)).toMatchObject({ change_rows: before.change_rows + 1 });
      expect((await (await h.peer(leader)).getWeights(lbId))!).toMatchObject({ version: out.version, subnets: { ...third.subnets } });
      // z, which only the replaced map named, is deleted: the names carried (a superset) still hold it,
      // so the publish names exactly and goes through.
      await follower.deleteOrigin(lbId, z!);
      const fourth = scheduled({ ...third.subnets, [keys[2]!]: { [y!]: 1 } }, out.weights.subnets);
      const v4 = await follower.publishWeights(lbId, { subnets: fourth.subnets }, DECISION(lbId), grant, fourth.hint);
      expect((await (await h.peer(leader)).getWeights(lbId))!).toMatchObject({ version: v4.version, subnets: { ...fourth.subnets } });
    });

    it('a hint leaving out an addition, a removal or a re-weighting is refused and the full pass stores the weights right', async () => {
      const { store, lbId, origins: [x, y] } = await setup(h);
      // 20 subnets: the store checks every key outside the hint of a table this small (HINT_SAMPLE).
      let { published } = await firstPublish(store, lbId, [x!, y!], 20, 7);
      const keys = Object.keys(published);
      const cases: [string, (t: Subnets) => string][] = [
        ['an added key', (t) => ((t['10.9.9.0/24'] = { [x!]: 1 }), '10.9.9.0/24')],
        ['a removed key', (t) => (delete t[keys[3]!], keys[3]!)],
        ['a re-weighted key', (t) => ((t[keys[5]!] = { [x!]: 0.5, [y!]: 0.5 }), keys[5]!)],
      ];
      for (const [what, change] of cases) {
        const target = { ...published, [keys[1]!]: { [y!]: 1 } };
        const { subnets, hint } = scheduled(target, published);
        const left = change(subnets);
        knownKeys(subnets, Object.keys(subnets)); // the table changed after splitWeightsChangeSteps listed its keys
        const wrong = { from: hint!.from, keys: hint!.keys.filter((k) => k !== left) };
        const before = h.hints(store).refused;
        const out = await store.publishWeights(lbId, { subnets }, DECISION(lbId), undefined, wrong);
        expect(h.hints(store).refused, `${what}: ${JSON.stringify(h.hints(store))}`).toBe(before + 1);
        const read = (await (await h.peer(store)).getWeights(lbId))!;
        expect(read.version, what).toBe(out.version);
        expect(read.subnets, what).toEqual({ ...subnets });
        published = out.weights.subnets;
      }
    });

    it('a hinted entry the check doubts gets the schema error naming it; unchanged keys named, or a stale hint, are harmless', async () => {
      const { store, lbId, origins: [x, y] } = await setup(h);
      const { published } = await firstPublish(store, lbId, [x!, y!], 20, 8);
      const keys = Object.keys(published);
      const v0 = (await store.weightsHead(lbId))!.version;
      // A share out of range, and a key that is no CIDR: refused, nothing written.
      const bad = scheduled({ ...published, [keys[2]!]: { [y!]: 1 } }, published);
      bad.subnets[keys[2]!] = { [x!]: 2 };
      await expect(store.publishWeights(lbId, { subnets: bad.subnets }, DECISION(lbId), undefined, bad.hint)).rejects.toMatchObject({ kind: 'invalid', field: expect.stringContaining('subnets') });
      const notCidr = { ...published, 'not-a-cidr': { [x!]: 1 } };
      await expect(store.publishWeights(lbId, { subnets: notCidr }, DECISION(lbId), undefined, { from: published, keys: ['not-a-cidr'] })).rejects.toMatchObject({ kind: 'invalid', field: expect.stringContaining('subnets') });
      expect((await store.weightsHead(lbId))!.version).toBe(v0);
      // Naming keys that did not change: only the one that did is written.
      const one = scheduled({ ...published, [keys[0]!]: { [y!]: 1 } }, published);
      const before = await chainOf(h, store, lbId);
      const used = h.hints(store).used;
      const v1 = await store.publishWeights(lbId, { subnets: one.subnets }, DECISION(lbId), undefined, { from: published, keys: [...one.hint!.keys, keys[4]!, keys[6]!, '10.200.0.0/24'] });
      expect(h.hints(store).used).toBe(used + 1);
      expect((await chainOf(h, store, lbId)).since_base).toBe(before.since_base + 1);
      expect((await (await h.peer(store)).getWeights(lbId))!.subnets).toEqual({ ...one.subnets });
      // A hint against the table before the one in force: not used, the full pass.
      const stale = scheduled({ ...v1.weights.subnets, [keys[7]!]: { [y!]: 1 } }, published);
      const unmatched = h.hints(store).unmatched;
      const v2 = await store.publishWeights(lbId, { subnets: stale.subnets }, DECISION(lbId), undefined, stale.hint);
      expect(h.hints(store).unmatched).toBe(unmatched + 1);
      expect((await (await h.peer(store)).getWeights(lbId))!).toMatchObject({ version: v2.version, subnets: { ...stale.subnets } });
    });
  });
}

const content = (w: { subnets: Subnets } | null) => w!.subnets;
