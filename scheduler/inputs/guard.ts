// Every number the scheduler reads passes through here. NaN, ±Inf (Prometheus's "NaN", "+Inf", "-Inf"),
// negative rates and absurd RTTs are dropped and counted, never planned with.
export type RejectReason = 'nan' | 'infinite' | 'negative' | 'out_of_range' | 'unknown_label';

export interface RejectionCounter {
  reject(input: string, reason: RejectReason): void;
}

/** Largest RTT believed (ms): beyond a minute, a measurement is broken, not slow. */
const MAX_RTT_MS = 60_000;

export function acceptRate(value: number, input: string, counter: RejectionCounter): number | null {
  if (Number.isNaN(value)) return counter.reject(input, 'nan'), null;
  if (!Number.isFinite(value)) return counter.reject(input, 'infinite'), null;
  if (value < 0) return counter.reject(input, 'negative'), null;
  return value;
}

export function acceptRttMs(value: number, input: string, counter: RejectionCounter): number | null {
  const v = acceptRate(value, input, counter);
  if (v === null) return null;
  if (v > MAX_RTT_MS) return counter.reject(input, 'out_of_range'), null;
  return v;
}
