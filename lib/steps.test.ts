import { describe, expect, it } from 'vitest';
import { runPaced, runToEnd, type PacedMeter, type Steps } from './steps.ts';
import { threadCpuMs } from './thread-cpu.ts';

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

/** Counts turns of the event loop: an immediate that queues itself again runs once per check phase. */
function loopTurns(): { readonly count: number; stop(): void } {
  let count = 0;
  let running = true;
  const tick = (): void => {
    count++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get count() {
      return count;
    },
    stop: () => {
      running = false;
    },
  };
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
    const turns = loopTurns();
    // ~200 ms of work in 5 ms steps, paced at 20 ms slices: the other callback gets several turns.
    const value = await runPaced(busy(40, 5), 20);
    turns.stop();
    expect(value).toBe(40);
    expect(turns.count).toBeGreaterThanOrEqual(3);
  });

  it('paced tasks running at once take turns: one slice per turn of the event loop, not one each', async () => {
    const turns = loopTurns();
    const turnsOfSlices: number[] = [];
    function* task(slices: number): Steps<void> {
      for (let i = 0; i < slices; i++) {
        turnsOfSlices.push(turns.count);
        yield;
      }
    }
    // Four tasks, every step its own slice (sliceMs 0): with an immediate each, the four would run a slice
    // each in the same check phase, holding the loop four slices between two timer phases.
    await Promise.all([task(6), task(6), task(6), task(6)].map((t) => runPaced(t, 0)));
    turns.stop();
    expect(turnsOfSlices).toHaveLength(24);
    // The first slices run before any yield (one per task, as each starts); after that, never two in one turn.
    const afterStart = turnsOfSlices.slice(4);
    expect(new Set(afterStart).size).toBe(afterStart.length);
  });

  it('a meter counts the CPU inside the paced slices, not what ran between them', async () => {
    if (threadCpuMs() === undefined) return; // no thread clock off Linux: the meter stays at 0
    // Spins until this thread has used `ms` more CPU (wall-clock spins burn less CPU on a loaded machine).
    const spinCpu = (ms: number): void => {
      const end = threadCpuMs()! + ms;
      while (threadCpuMs()! < end) {
        // spin
      }
    };
    function* slices(): Steps<void> {
      for (let i = 0; i < 10; i++) {
        spinCpu(5);
        yield;
      }
    }
    // Between slices, a callback uses 15 ms of this thread's CPU each time: the meter must leave it out.
    let between = 0;
    let running = true;
    const burn = (): void => {
      spinCpu(15);
      between++;
      if (running) setImmediate(burn);
    };
    setImmediate(burn);
    const meter: PacedMeter = { cpu_ms: 0, slices: 0 };
    const t0 = threadCpuMs()!;
    await runPaced(slices(), 4, meter);
    running = false;
    const all = threadCpuMs()! - t0;
    expect(between).toBeGreaterThan(2);
    expect(meter.slices).toBeGreaterThanOrEqual(5);
    // The slices' 50 ms counted (plus the generator's own overhead)...
    expect(meter.cpu_ms).toBeGreaterThanOrEqual(50);
    expect(meter.cpu_ms).toBeLessThan(50 + 10);
    // ...and the burns between them (15 ms each) not: the rest of this thread's CPU is theirs.
    expect(all - meter.cpu_ms).toBeGreaterThanOrEqual(between * 15 - 1);
  });
});
