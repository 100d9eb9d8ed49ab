import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.ts';

const opts = { initial: 1000, max: 60_000, multiplier: 2, jitter: 0.2 };

describe('backoffDelay', () => {
  it('grows exponentially and is bounded by max', () => {
    const mid = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 7, 8, 50].map((n) => backoffDelay(n, opts, mid))).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  });

  it('jitter stays within ± jitter and never exceeds max', () => {
    expect(backoffDelay(1, opts, () => 0)).toBe(800);
    expect(backoffDelay(1, opts, () => 0.999999)).toBe(1200);
    expect(backoffDelay(30, opts, () => 0.999999)).toBe(60_000);
    expect(backoffDelay(30, opts, () => 0)).toBe(48_000);
  });
});
