// One smoothed RTT series: the EWMA of per-poll samples, the minimum, and counts. Pure.

export interface RttStat {
  /** EWMA of RTT in microseconds; undefined until the first sample. */
  ewmaUs: number | undefined;
  minRttUs: number | undefined;
  /** Connection samples folded in (each connection gives at most one per poll). */
  samples: number;
  /** Distinct connections first seen (demand). */
  connections: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Last time a sample moved the EWMA. */
  lastSampleMs: number | undefined;
}

export function newRttStat(nowMs: number): RttStat {
  return { ewmaUs: undefined, minRttUs: undefined, samples: 0, connections: 0, firstSeenMs: nowMs, lastSeenMs: nowMs, lastSampleMs: undefined };
}

/**
 * Folds one poll's worth of samples into the stat: `valueUs` is the poll's representative RTT (the
 * median of its connections' srtt, see learner.ts), `count` how many connections it summarises.
 * EWMA: new = alpha * sample + (1 - alpha) * old; the first sample initialises it.
 */
export function foldSample(stat: RttStat, valueUs: number, minUs: number, count: number, alpha: number, nowMs: number): void {
  stat.ewmaUs = stat.ewmaUs === undefined ? valueUs : alpha * valueUs + (1 - alpha) * stat.ewmaUs;
  stat.minRttUs = stat.minRttUs === undefined ? minUs : Math.min(stat.minRttUs, minUs);
  stat.samples += count;
  stat.lastSampleMs = nowMs;
  stat.lastSeenMs = nowMs;
}

/** Median of a non-empty array (sorts it in place). */
export function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}
