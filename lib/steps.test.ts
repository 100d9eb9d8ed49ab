import { describe, expect, it } from 'vitest';
import { runPaced, runToEnd, type Steps } from './steps.ts';

/** Busy work in steps: `slices` slices of ~`ms` ms of CPU each, a yield between; returns the slice count. */
function* busy(slices: number, ms: number): Steps<number> {
  for (let i = 0; i < slices; i++) {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      // spin: synchronous work, as the scheduler's stages are
    }
    yield;
  }
  return slices;
}

describe('steps', () => {
  it('runToEnd runs a step generator straight through to its value', () => {
    let ticks = 0;
    const t = setImmediate(() => ticks++);
    expect(runToEnd(busy(5, 2))).toBe(5);
    expect(ticks).toBe(0); // nothing else ran meanwhile
    clearImmediate(t);
  });

  it('runPaced lets queued callbacks run between slices, with the same value', async () => {
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    // ~200 ms of work in 5 ms steps, paced at 20 ms slices: the other callback gets several turns.
    const value = await runPaced(busy(40, 5), 20);
    running = false;
    expect(value).toBe(40);
    expect(ticks).toBeGreaterThanOrEqual(3);
  });
});
