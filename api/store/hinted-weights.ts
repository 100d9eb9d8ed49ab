// A publish whose caller named what changed (WeightsChangeHint, scheduler/loop/store.ts), prepared in
// O(changes): the scheduler hands the subnet table it built with the maps it did not change being the
// very objects of the table in force, and the keys whose maps are not. At 1M subnets and 2 % changed
// the full pass (records.ts prepareWeightsSteps: every entry looked up in the table before, compared,
// named) was ~0.4 s of the scheduler's thread per publish; this walks ~20k entries.
//
// Model and invariants:
// - Used only when `hint.from` is exactly the table the publish starts from, with its origin names
//   known (this process's last publish, or a table its store read: HeldWeights.named): the caller's
//   unchanged entries are then that table's very maps, checked when it was published and never
//   changed since (the never-mutate contract of publishWeights' tables), so its origin names stand in
//   for theirs (a superset: `namedExact` false, as for records.ts' reused maps).
// - Every hinted key is checked as the full pass checks a new entry (the CIDR when the key is new, the
//   map's shape and shares) and compared with the table before; keys the hint names that did not
//   actually change drop out of the change.
// - The hint is checked where that is cheap and returns null (the caller then does the full pass,
//   counted) when it does not hold up: the new table's key count must be the old one's plus the added
//   minus the removed keys (an addition or removal the hint left out shows there), and a random sample
//   of the other keys (all of them in a table of up to HINT_SAMPLE) must map to the old table's very
//   objects (a re-weighted key left out of a big table shows with the sample's probability). What no cheap check sees is a caller changing a map it handed over in
//   place, which the full pass cannot see either: both rest on the caller's contract.
// - When the hand check doubts an entry it returns null too: the full pass runs and the schema names
//   the bad field, as for any publish. The edges table (a few entries) is always walked in full.
import { STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import { keysOnce } from '../../lib/json-steps.ts';
import { parseCidr } from '../../model/primitives.ts';
import { own, sameWeights } from '../../model/view-codec.ts';
import type { WeightsInput } from '../../model/index.ts';
import type { WeightsChangeHint } from '../../scheduler/loop/store.ts';
import { isPlain, sharesPass, tablePassSteps, type PreparedWeights } from './records.ts';

/** Keys outside the hint checked, per publish, to map to the table before's very objects. */
export const HINT_SAMPLE = 256;

/** Why a hinted publish went the full way instead (null: it did not). */
export type HintVerdict = { prepared: PreparedWeights; why: null } | { prepared: null; why: string };

/**
 * The weights of a publish prepared from `hint` against `sinceNamed` (the origin ids `hint.from`
 * named), without a body (a change row serialises the changed keys), or null with the reason when
 * the hint or an entry does not pass (the full pass decides then).
 */
export function* prepareHintedSteps(weights: WeightsInput, hint: WeightsChangeHint, sinceNamed: ReadonlySet<string>): Steps<HintVerdict> {
  const refuse = (why: string): HintVerdict => ({ prepared: null, why });
  if (!isPlain(weights) || Object.keys(weights).some((k) => k !== 'edges' && k !== 'subnets')) return refuse('the weights are not a plain {edges, subnets} object');
  const { edges, subnets } = weights as Partial<PreparedWeights['parsed']>;
  const parsed = { edges: edges === undefined ? {} : edges, subnets: subnets === undefined ? {} : subnets };
  if (!isPlain(parsed.subnets)) return refuse('subnets is not a plain object');
  const named = new Set<string>();
  if (!(yield* tablePassSteps(parsed.edges, null, () => true, named, null))) return refuse('an edges entry failed the check');
  const from = hint.from;
  const changed: string[] = [];
  const seen = new Set<string>();
  let added = 0;
  let removed = 0;
  for (let i = 0; i < hint.keys.length; i++) {
    const key = hint.keys[i]!;
    if (seen.has(key)) continue;
    seen.add(key);
    const now = own(parsed.subnets, key);
    const was = own(from, key);
    if (now === undefined) {
      if (was !== undefined) {
        removed++;
        changed.push(key);
      }
      continue;
    }
    if (was === undefined) {
      if (parseCidr(key) === null) return refuse(`subnets.${key} is not a CIDR`);
      added++;
    }
    if (!isPlain(now)) return refuse(`subnets.${key} is not a plain object`);
    const n = sharesPass(now, named, true);
    if (n < 0) return refuse(`subnets.${key} has a share that is not a number in [0, 1]`);
    if (was === undefined || !sameWeights(was, now, n)) changed.push(key);
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  // The new table's key list: known (the scheduler's knownKeys) or listed once here.
  const keys = keysOnce(parsed.subnets);
  const before = keysOnce(from).length;
  if (keys.length !== before + added - removed) return refuse(`the table has ${keys.length} subnets, not the ${before} before plus ${added} added minus ${removed} removed the hint names`);
  // Every key of a table up to the sample's size, else a random sample (a different one each publish).
  const whole = keys.length <= HINT_SAMPLE;
  for (let s = 0; s < Math.min(HINT_SAMPLE, keys.length); s++) {
    const key = keys[whole ? s : Math.floor(Math.random() * keys.length)]!;
    if (!seen.has(key) && own(parsed.subnets, key) !== own(from, key)) return refuse(`subnets.${key} changed but the hint does not name it`);
  }
  for (const id of sinceNamed) named.add(id);
  return { prepared: { parsed, body: null, named, namedExact: false, changed: { from, keys: changed } }, why: null };
}
