// One vantage point's verdict on one origin from its raw check results: `fall` consecutive failures
// make it down, `rise` consecutive passes make it up again (HAProxy's and the control plane's checker
// semantics). Every vantage applies this to every result it sees, so what it reports is already
// debounced; the quorum (api/health/quorum.ts) then combines verdicts, never raw results. Pure.

export interface RiseFallState {
  /** The verdict: what this vantage reports. */
  healthy: boolean;
  /** Consecutive passes / failures so far (one of them is 0). */
  passes: number;
  fails: number;
}

/** A vantage with no result yet calls the origin healthy (as HAProxy does without `init-state`). */
export function initialRiseFall(healthy = true): RiseFallState {
  return { healthy, passes: 0, fails: 0 };
}

/** The state after one more raw result; `flipped` when the verdict changed. */
export function riseFall(s: RiseFallState, ok: boolean, rise: number, fall: number): { state: RiseFallState; flipped: boolean } {
  const passes = ok ? s.passes + 1 : 0;
  const fails = ok ? 0 : s.fails + 1;
  const healthy = !s.healthy && passes >= rise ? true : s.healthy && fails >= fall ? false : s.healthy;
  return { state: { healthy, passes, fails }, flipped: healthy !== s.healthy };
}
