// Global health by quorum, and edge-local reachability, from the verdicts of every vantage point (each
// control-plane replica's checker, each edge). Pure: the votes, the previous decision and `now` go in,
// the next decision comes out; the caller owns the clock and the store (evaluator.ts).
//
// The rule:
//  - A vote is one vantage point's latest verdict on one origin, already debounced by that vantage's
//    rise/fall (model/rise-fall.ts), stamped with the control plane's clock when it was received.
//  - Fresh: received within `stale_after` of now. Stale (or missing) votes count neither way.
//  - Quorum: of n fresh votes, `required` = max(quorum, min_down) down votes, where quorum is a
//    majority (floor(n/2) + 1) or a fixed count. With the defaults: 2 of 2, 2 of 3, 3 of 4, 3 of 5.
//  - The bar is capped at the vantages *known* for the origin — those heard within `forget_after`, fresh
//    or not — so a deployment with a single vantage still acts on it (flagged `lone`, in the decision,
//    a metric and an alert), as sluice did before there were several. A vantage that merely went stale
//    (a starved edge-sync, a report lost) votes neither way but keeps the bar where it was: one
//    flapping checker left alone does not get to decide until the silent one is forgotten.
//  - Hold-down: the decision goes down at once (share 0 in the same cycle, never damped), and back up
//    only once no down quorum has been seen for `hold_down` without interruption. So every down period
//    lasts at least hold_down: votes flapping faster than that — one checker, or several — leave the
//    output down, never flapping with them; and a single flapping vantage never reaches a quorum of two.
//  - No fresh vote at all: the decision stays (nothing says otherwise).
//  - Edge-local: an origin the quorum calls healthy but one edge's own fresh vote calls down is
//    excluded for that edge alone, at once, with the same hold-down on the way back. A stale edge vote
//    is no evidence that the edge cannot reach the origin, so such an exclusion is lifted (after the
//    hold-down), as it is when the origin is down for everyone anyway.

export type QuorumSetting = 'majority' | number;

export interface QuorumPolicy {
  /** Down votes needed: a majority of the fresh votes, or this many. */
  quorum: QuorumSetting;
  /** And never fewer than this many (while that many vantages report). */
  min_down: number;
  stale_after_ms: number;
  /** A vantage not heard for this long no longer counts towards the bar (decommissioned); ≥ stale_after. */
  forget_after_ms: number;
  hold_down_ms: number;
}

/** The control plane's defaults (api/config.ts `health`). */
export const DEFAULT_QUORUM_POLICY: QuorumPolicy = { quorum: 'majority', min_down: 2, stale_after_ms: 20_000, forget_after_ms: 600_000, hold_down_ms: 10_000 };

export interface Vote {
  vantage: string;
  healthy: boolean;
  /** When the control plane received it (ms, its clock). */
  received_ms: number;
}

export interface Counted<V extends Vote> {
  vote: V;
  fresh: boolean;
  age_ms: number;
}

export interface Tally {
  fresh: number;
  stale: number;
  down: number;
  up: number;
  /** Vantages heard within forget_after (fresh or stale): what caps the bar. */
  known: number;
  /** Down votes a global failure needs now. */
  required: number;
  quorum_down: boolean;
  /** Only one vantage is known for this origin: it decides alone. */
  lone: boolean;
}

/** A decision with its hold-down clock. `clear_since_ms`: while down, when the reason to be down last went away (null while it holds). */
export interface HoldState {
  healthy: boolean;
  since_ms: number;
  clear_since_ms: number | null;
}

export type HealthReason =
  | 'quorum_down' // a down quorum: unhealthy (at once)
  | 'quorum_up' // no down quorum for hold_down: healthy again
  | 'holding_down' // down; no quorum now, but not yet for hold_down
  | 'no_fresh_vote' // nothing fresh: the decision stays
  | 'unreachable_from_edge' // edge-local: this edge's own checks see it down, the quorum does not
  | 'reachable_from_edge' // edge-local exclusion lifted
  | 'steady';

export interface Judgement<V extends Vote> {
  state: HoldState;
  changed: boolean;
  reason: HealthReason;
  /** One sentence naming the votes behind it, for logs and decision records (built when read). */
  readonly detail: string;
  tally: Tally;
  counted: Counted<V>[];
}

/** Down votes needed with `fresh` fresh votes among `known` vantages (known ≥ fresh). */
export function requiredDown(fresh: number, p: QuorumPolicy, known = fresh): number {
  const quorum = p.quorum === 'majority' ? Math.floor(fresh / 2) + 1 : p.quorum;
  return Math.max(1, Math.min(Math.max(known, fresh), Math.max(quorum, p.min_down, 1)));
}

export function tally<V extends Vote>(votes: readonly V[], now: number, p: QuorumPolicy): { counted: Counted<V>[]; tally: Tally } {
  const counted = votes.map((vote) => {
    const age = now - vote.received_ms;
    // A vote stamped in the future (another replica's clock a little ahead) is fresh, not stale.
    return { vote, fresh: age <= p.stale_after_ms, age_ms: Math.max(0, age) };
  });
  const fresh = counted.filter((c) => c.fresh);
  const known = counted.filter((c) => c.fresh || c.age_ms <= p.forget_after_ms).length;
  const down = fresh.filter((c) => !c.vote.healthy).length;
  const required = requiredDown(fresh.length, p, known);
  return {
    counted,
    tally: { fresh: fresh.length, stale: counted.length - fresh.length, known, down, up: fresh.length - down, required, quorum_down: fresh.length > 0 && down >= required, lone: known === 1 },
  };
}

/**
 * The hold-down step. `wantDown`: true = a reason to be down now, false = none, null = no evidence
 * (keep the decision, and do not count the time towards recovery either).
 */
export function hold(prev: HoldState, wantDown: boolean | null, now: number, holdDownMs: number): { state: HoldState; changed: boolean } {
  if (wantDown === null) return { state: prev, changed: false };
  if (wantDown) {
    if (!prev.healthy) return { state: prev.clear_since_ms === null ? prev : { ...prev, clear_since_ms: null }, changed: false };
    return { state: { healthy: false, since_ms: now, clear_since_ms: null }, changed: true };
  }
  if (prev.healthy) return { state: prev, changed: false };
  const clearSince = prev.clear_since_ms ?? now;
  if (now - clearSince >= holdDownMs) return { state: { healthy: true, since_ms: now, clear_since_ms: null }, changed: true };
  return { state: { ...prev, clear_since_ms: clearSince }, changed: false };
}

function names<V extends Vote>(cs: Counted<V>[]): string {
  return cs.length === 0 ? 'none' : cs.map((c) => c.vote.vantage).join(', ');
}

function describe<V extends Vote>(t: Tally, counted: Counted<V>[]): string {
  const fresh = counted.filter((c) => c.fresh);
  const stale = counted.filter((c) => !c.fresh);
  return (
    `${t.down} of ${t.fresh} fresh vantage point(s) see it down (${t.required} needed${t.lone ? '; only one is known, so it decides alone' : t.known > t.fresh ? `; ${t.known - t.fresh} silent one(s) still known keep the bar` : ''}): ` +
    `down ${names(fresh.filter((c) => !c.vote.healthy))}; up ${names(fresh.filter((c) => c.vote.healthy))}` +
    (stale.length > 0 ? `; stale, not counted: ${names(stale)}` : '')
  );
}

/** The global decision for one origin from every vantage's vote. */
export function judgeOrigin<V extends Vote>(prev: HoldState, votes: readonly V[], now: number, p: QuorumPolicy): Judgement<V> {
  const { counted, tally: t } = tally(votes, now, p);
  const wantDown = t.fresh === 0 ? null : t.quorum_down;
  const { state, changed } = hold(prev, wantDown, now, p.hold_down_ms);
  // The sentence is built only when someone reads it (a transition, a log line): an evaluation of
  // thousands of steady origins does not join thousands of vantage names.
  const why = () => describe(t, counted);
  let reason: HealthReason;
  let explain: () => string;
  if (t.fresh === 0) {
    reason = 'no_fresh_vote';
    explain = () => `no fresh vantage point (stale after ${p.stale_after_ms} ms): the decision stays ${state.healthy ? 'healthy' : 'unhealthy'}`;
  } else if (t.quorum_down) {
    reason = 'quorum_down';
    explain = () => `unhealthy by quorum: ${why()}`;
  } else if (!state.healthy) {
    reason = 'holding_down';
    explain = () => `no down quorum for ${now - (state.clear_since_ms ?? now)} ms of the ${p.hold_down_ms} ms hold-down: stays unhealthy; ${why()}`;
  } else {
    reason = changed ? 'quorum_up' : 'steady';
    explain = () => `${changed ? `healthy again: no down quorum for the ${p.hold_down_ms} ms hold-down; ` : 'healthy: '}${why()}`;
  }
  return judgement(state, changed, reason, explain, t, counted);
}

function judgement<V extends Vote>(state: HoldState, changed: boolean, reason: HealthReason, explain: () => string, tally: Tally, counted: Counted<V>[]): Judgement<V> {
  return {
    state,
    changed,
    reason,
    get detail() {
      return explain();
    },
    tally,
    counted,
  };
}

/**
 * One edge's reachability of one origin (`state.healthy` = reachable from that edge). `vote` is that
 * edge's own; `originHealthy` the global decision (an origin down for everyone needs no exclusion).
 */
export function judgeEdge<V extends Vote>(prev: HoldState, vote: V | undefined, originHealthy: boolean, now: number, p: QuorumPolicy): Judgement<V> {
  const votes = vote ? [vote] : [];
  const { counted, tally: t } = tally(votes, now, p);
  const fresh = counted[0]?.fresh === true;
  const wantDown = originHealthy && fresh && !vote!.healthy;
  const { state, changed } = hold(prev, wantDown, now, p.hold_down_ms);
  let reason: HealthReason;
  let explain: () => string;
  if (wantDown) {
    reason = 'unreachable_from_edge';
    explain = () => `${vote!.vantage} sees it down while the quorum does not: excluded for this edge only`;
  } else if (!state.healthy) {
    reason = 'holding_down';
    explain = () => `${vote ? vote.vantage : 'the edge'} ${!fresh ? 'has not reported lately' : originHealthy ? 'reaches it again' : 'is moot: the origin is down for everyone'}; excluded for this edge until the ${p.hold_down_ms} ms hold-down has passed`;
  } else {
    reason = changed ? 'reachable_from_edge' : 'steady';
    explain = () => (changed ? `${vote ? vote.vantage : 'the edge'}: exclusion lifted after the ${p.hold_down_ms} ms hold-down` : 'reachable');
  }
  return judgement(state, changed, reason, explain, t, counted);
}
