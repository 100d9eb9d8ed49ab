// Do established connections outlive an answer change? Learned per load balancer from what the origin
// agents saw happen to a DNS subnet's connections after its answer moved off their origin.
//
// The lifetime model (survivors, S(Δ)) says how long connections live. It cannot say whether they stay
// on an origin the answer no longer names: a browser keeps its pooled connection to the old answer until
// it closes; a client that resolves before every request (the lab's `dns` client, many SDKs and
// libraries behind a short TTL) drops it and reconnects to the new answer at once. For the second kind
// the walk's 1/(1 − Σπ) lead (core/connections.ts) answers new connections ahead of a load that is not
// pinned at all: the answers, and with them the load, move several times max_shift per cycle.
//
// Evidence, per (subnet, origin) pair whose answer moved off that origin (and has not come back), the
// origin still healthy (a failing origin's connections break for their own reason): the connections
// open there in a snapshot of the agents (`open`) against the connections open there in the first later
// snapshot taken after the change reached every client (agent poll time ≥ the change + the record's
// TTL: a client may hold the old answer that long), and what the walk's survival S_o (per cycle H: the
// lifetime fit, else the survivors; connection-sources.ts) expected of them over the Δ between the two
// polls, open · S_o^(Δ/H). So `a` calibrates exactly the pinning the walk leads the answers by. The
// snapshot times are the agents' poll times, not the reads: a scrape read twice, or read before the
// change took effect, is no evidence and the pair waits for the next one. Survivors cannot multiply:
// the count observed is capped by the count that was open.
//
//   a = Σ observed / Σ expected,   both summed with weight λ = 0.8 per cycle that brings evidence
//
// — used once at least half a connection is expected (EVIDENCE_MIN); before that a = 1, the lifetime
// model alone (a load balancer whose clients keep their connections behaves as before). Why per load
// balancer and not per origin: outliving an answer change is the clients' behaviour, not the origin's;
// pooled, the evidence arrives after the first subnets move, which is when the walk needs it (a shift
// moves a subnet off an origin once, and each such move is one observation). Where it errs it errs
// towards 1: connections opened on the origin just before the change count as survivors.
//
// The same ratio against what the agents themselves expected of those connections from their ages
// (`surviving` over H, taken as (surviving/open)^(Δ/H) per connection), a_m, isolates the answer change
// better: the walk's exponential fit also misjudges lifetimes that are not exponential (8-s keep-alive
// connections: a ≈ 0.8 against the fit, a_m ≈ 1 against the ages: they do outlive the answer change),
// and that misfit is not the clients' behaviour. So a_m is used wherever the agents expected survivors
// (walk and prediction alike), a only where they expected none (connections shorter than the horizon
// plus the data's age: the dns-failover lab's 2-s ones), else 1.
//
// The change time is the scheduler's clock, the poll time the agent's: they are compared, so the
// machines' clocks must agree to well under a cycle (NTP does; the lab shares one clock).
import { pickOrder } from '../core/predict.ts';
import type { OpenConnections } from '../inputs/types.ts';
import { dnsPick } from './dns-pick.ts';
import { keysOnce } from '../../lib/json-steps.ts';
import { runToEnd, STEP_ITEMS, type Steps } from '../../lib/steps.ts';

/** Decay of older evidence per cycle that brings new evidence. */
export const EVIDENCE_DECAY = 0.8;
/** Expected survivors (connections) needed before the learned value is used: about one connection
 * seen at its age (the lifetime model gives a mid-life connection ~0.5–0.7 over a cycle). */
export const EVIDENCE_MIN = 0.5;
/** A pair still waiting this many cycles after it settled is dropped (its origin's agent stopped polling). */
const PENDING_CYCLES = 10;

export interface AnswerSurvivalEstimate {
  /** The fraction of pinned load that stays when the answer moves off its origin (a_m, else a, else 1). */
  value: number;
  from: 'observed' | 'lifetime';
  /** Evidence against the walk's survival (decayed sums) and the ratio a (1 without evidence). */
  observed: number;
  expected: number;
  fitted: number;
  /** a_m, against the agents' survivors (1 without evidence). */
  measured: number;
  /** (subnet, origin) pairs waiting for a snapshot late enough to judge them. */
  waiting: number;
}

/** subnet -> origin name -> what the agents reported there. */
export type SurvivorSnapshot = Map<string, Map<string, OpenConnections>>;
/** subnet -> origin name its DNS answer names (absent: not answered whole or no weights). */
export type Answers = Map<string, string>;

interface Watched {
  /** Connections open then. */
  open: number;
  /** The walk's survival per cycle on that origin then. */
  survival: number;
  /** The agents' expected survivors of them over one cycle. */
  surviving: number;
  /** Poll time of `then` (Unix s). */
  at: number;
  /** When every client has the answer that left the origin (Unix s): the change + TTL. */
  settled: number;
}

export interface SnapshotAt {
  survivors: SurvivorSnapshot;
  /** origin name -> Unix seconds of the poll its survivors are from. */
  polledAt: Map<string, number>;
}

export class AnswerSurvival {
  private observed = 0;
  private expected = 0;
  /** Against the agents' survivors: pairs with survivors expected only. */
  private observedM = 0;
  private expectedM = 0;
  /** subnet -> origin name -> the pair waiting for a snapshot that judges it. */
  private watch = new Map<string, Map<string, Watched>>();

  /** @param cycleSeconds the agents' survival horizon H (the scheduler's cycle). */
  constructor(private readonly cycleSeconds: number) {}

  /** Judges the watched pairs this snapshot is late enough for; returns the estimate. */
  observe(now: SnapshotAt, healthy: (origin: string) => boolean, nowS: number): AnswerSurvivalEstimate {
    let o = 0;
    let e = 0;
    let om = 0;
    let em = 0;
    for (const [subnet, row] of this.watch) {
      for (const [origin, w] of row) {
        const t = now.polledAt.get(origin);
        const stale = t === undefined || t <= w.at || t < w.settled;
        if (!healthy(origin) || (stale && nowS - Math.max(w.at, w.settled) > PENDING_CYCLES * this.cycleSeconds)) {
          row.delete(origin);
          continue;
        }
        if (stale || t === undefined) continue;
        const seen = now.survivors.get(subnet)?.get(origin);
        const cycles = (t - w.at) / this.cycleSeconds;
        const still = Math.min(seen?.open ?? 0, w.open);
        e += w.open * Math.pow(w.survival, cycles);
        o += still;
        if (w.surviving > 0) {
          em += w.open * Math.pow(Math.min(1, w.surviving / w.open), cycles);
          om += still;
        }
        row.delete(origin);
      }
      if (row.size === 0) this.watch.delete(subnet);
    }
    if (e > 0) {
      this.observed = EVIDENCE_DECAY * this.observed + o;
      this.expected = EVIDENCE_DECAY * this.expected + e;
    }
    if (em > 0) {
      this.observedM = EVIDENCE_DECAY * this.observedM + om;
      this.expectedM = EVIDENCE_DECAY * this.expectedM + em;
    }
    return this.estimate();
  }

  estimate(): AnswerSurvivalEstimate {
    let waiting = 0;
    for (const row of this.watch.values()) waiting += row.size;
    const fitted = this.expected >= EVIDENCE_MIN ? Math.min(1, this.observed / this.expected) : undefined;
    const measured = this.expectedM >= EVIDENCE_MIN ? Math.min(1, this.observedM / this.expectedM) : undefined;
    const value = measured ?? fitted;
    return { value: value ?? 1, from: value === undefined ? 'lifetime' : 'observed', observed: this.observed, expected: this.expected, fitted: fitted ?? 1, measured: measured ?? 1, waiting };
  }

  /**
   * After a decision: the pairs to judge from now on — connections on origins the new answers do not
   * name, in the snapshot this cycle read. A pair moved off its origin by this decision settles `ttlS`
   * after `nowS`; one still waiting keeps its older snapshot; one the answer returns to is dropped.
   */
  remember(snap: SnapshotAt, survival: (origin: string) => number | undefined, before: Answers, after: Answers, nowS: number, ttlS: number): void {
    runToEnd(this.rememberSteps(snap, survival, before, after, nowS, ttlS));
  }

  /** remember in steps (lib/steps.ts): every subnet watched or with survivors, ~130k at 1M subnets. */
  *rememberSteps(snap: SnapshotAt, survival: (origin: string) => number | undefined, before: Answers, after: Answers, nowS: number, ttlS: number): Steps<void> {
    let n = 0;
    for (const [subnet, row] of this.watch) {
      if (++n % STEP_ITEMS === 0) yield;
      for (const origin of row.keys()) if (after.get(subnet) === origin || after.get(subnet) === undefined) row.delete(origin);
      if (row.size === 0) this.watch.delete(subnet);
    }
    for (const [subnet, conns] of snap.survivors) {
      if (++n % STEP_ITEMS === 0) yield;
      const a = before.get(subnet);
      const b = after.get(subnet);
      if (a === undefined || b === undefined) continue;
      for (const [origin, c] of conns) {
        const at = snap.polledAt.get(origin);
        const s = survival(origin);
        if (origin === b || at === undefined || s === undefined || !(c.open > 0 && s > 0)) continue;
        let w = this.watch.get(subnet);
        if (w?.has(origin)) continue;
        if (!w) this.watch.set(subnet, (w = new Map()));
        // Moved off by this decision: judged once the change reached every client. Off it already: at once.
        w.set(origin, { open: c.open, survival: Math.min(1, s), surviving: c.surviving, at, settled: origin === a ? nowS + ttlS : at });
      }
    }
  }

  /** A hold or a new leader: the pairs watched no longer follow the weights in force; the evidence stays. */
  forgetWatch(): void {
    this.watch = new Map();
  }
}

/**
 * A carried effective row re-read with the answer survival learned since: the last decision left
 * e = a′π + (1 − a′Σπ)w, so e − w = a′(π − Σπ·w) and with a now, e = w + (a/a′)(e − w). a′ = 0 left
 * nothing pinned to rescale (e = w).
 */
export function reconcile(effective: Record<string, number>, weights: Record<string, number>, was: number, now: number): Record<string, number> {
  if (!(was > 0) || Math.abs(now - was) < 1e-9) return effective;
  const k = Math.min(1, Math.max(0, now)) / was;
  const out: Record<string, number> = {};
  let total = 0;
  for (const id of new Set([...Object.keys(effective), ...Object.keys(weights)])) {
    const w = weights[id] ?? 0;
    const v = Math.max(0, w + k * ((effective[id] ?? 0) - w));
    if (v > 0) out[id] = v;
    total += v;
  }
  if (total <= 0) return effective;
  for (const id in out) out[id]! /= total;
  return out;
}

/**
 * Per subnet answered whole, the origin (by name) its DNS answer names under these weights: the one
 * whose interval of the cumulative line of its shares (origins with a share, in id order) contains its
 * sticky point, as sluice dns picks (core/predict.ts pickOrigin does the same on dense rows).
 */
export function answersOf(weights: Record<string, Record<string, number>>, hostname: string, nameOf: Map<string, string>): Answers {
  return runToEnd(answersOfSteps(weights, hostname, nameOf));
}

/** answersOf in steps (lib/steps.ts): a hash per subnet, ~0.5 s of the loop's thread at 1M subnets. The
 * keys through keysOnce: the published table's are known from the split that built it (a `for … in`
 * enumerated the 128,850 keys in one piece first: the loop's longest gap in a 1M cycle, ~95 ms). */
export function* answersOfSteps(weights: Record<string, Record<string, number>>, hostname: string, nameOf: Map<string, string>): Steps<Answers> {
  const out: Answers = new Map();
  const subnets = keysOnce(weights);
  for (let n = 0; n < subnets.length; n++) {
    if (n % STEP_ITEMS === STEP_ITEMS - 1) yield;
    const subnet = subnets[n]!;
    const shares = weights[subnet]!;
    const u = dnsPick(subnet, hostname);
    if (u === undefined) continue;
    const ids = Object.keys(shares).filter((id) => shares[id]! > 0);
    const order = pickOrder(ids);
    const total = ids.reduce((t, id) => t + shares[id]!, 0);
    if (!(total > 0)) continue;
    let acc = 0;
    let picked = '';
    for (const k of order) {
      const id = ids[k]!;
      acc += shares[id]! / total;
      picked = id;
      if (u < acc) break;
    }
    const name = nameOf.get(picked);
    if (name !== undefined) out.set(subnet, name);
  }
  return out;
}
