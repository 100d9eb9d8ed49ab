// Exponential backoff, bounded and jittered so a fleet of edges retrying after a control-plane outage
// does not arrive in lock-step. Pure (the random source is injectable for tests).

export interface BackoffOptions {
  initial: number;
  max: number;
  multiplier: number;
  /** ± fraction of the delay. */
  jitter: number;
}

/** Delay before retry number `attempt` (1 = first retry), in ms: min(max, initial·m^(attempt−1)) ± jitter, never above max. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(opts.max, opts.initial * opts.multiplier ** Math.max(0, attempt - 1));
  const jittered = base * (1 + opts.jitter * (2 * random() - 1));
  return Math.max(0, Math.min(opts.max, Math.round(jittered)));
}
