// `sluice replay` on records made by a real loop run (real SQLite store, real decision core, scripted
// inputs): with the recorded settings it reproduces every recorded decision exactly (determinism),
// with another max_shift it walks faster and the comparison says so; the CLI writes the CSV and SVG.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../model/index.ts';
import { recordedCycles, replay } from '../scheduler/replay/replay.ts';
import { edgeInputs, loopWorld, ScriptedReader, type LoopWorld } from './helpers/scheduler-loop.ts';
import { runSluice } from './helpers/sluice-process.ts';

let w: LoopWorld;
let decisions: Decision[];
let out: string;

beforeAll(async () => {
  w = await loopWorld();
  out = mkdtempSync(join(tmpdir(), 'sluice-replay-'));
  const reader = new ScriptedReader();
  const loop = w.makeLoop(reader);
  // 400 rps (us full at 200), then demand falls to 250: us may take 80 % and the walk there is damped
  // at max_shift 0.02 per cycle; a dial on us for a few cycles in the middle; a held cycle (no data).
  const demand = (k: number) => (k < 3 ? 400 : 250);
  for (let k = 0; k < 30; k++) {
    reader.next = () => edgeInputs('sfo', demand(k), { us: 20, eu: 140 });
    if (k === 12) await w.store.createOverride(w.lb.id, { kind: 'dial', origin_id: w.us.id, percent: 80, reason: 'replay test', now: false }, 'tester', () => undefined);
    if (k === 16) await w.store.cancelOverride(w.lb.id, (await w.store.activeOverrides(w.lb.id))[0]!.id, 'tester');
    if (k === 20) reader.next = () => edgeInputs('other-edge', 1, {});
    await loop.cycle();
  }
  decisions = [];
  let cursor: string | undefined;
  do {
    const page = await w.store.listDecisions({ limit: 50, load_balancer_id: w.lb.id, ...(cursor ? { cursor } : {}) });
    decisions.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  writeFileSync(join(out, 'decisions.json'), JSON.stringify(decisions));
});
afterAll(async () => {
  await w.close();
  rmSync(out, { recursive: true, force: true });
});

describe('replay', () => {
  it('with the recorded settings reproduces every recorded decision exactly', () => {
    const { cycles, skipped } = recordedCycles(decisions);
    // 30 cycles, one held (no demand data) and two audit records of the override: 29 problems.
    expect(cycles).toHaveLength(29);
    expect(skipped).toBe(3);
    expect(cycles.some((c) => c.reason === 'override')).toBe(true);
    const r = replay(cycles, {});
    expect(r.firstDifference).toBeNull();
    expect(r.identical).toBe(29);
    expect(r.summary.replayed).toEqual(r.summary.recorded);
  });

  it('with a larger max_shift reaches the plan sooner: lower RTT over the run, the same capacity respected', () => {
    const { cycles } = recordedCycles(decisions);
    const r = replay(cycles, { max_shift: 0.1 });
    expect(r.firstDifference).not.toBeNull();
    expect(r.summary.replayed.mean_rtt_ms).toBeLessThan(r.summary.recorded.mean_rtt_ms - 1);
    expect(r.summary.replayed.max_utilisation).toBeLessThanOrEqual(1 + 1e-9);
    // The recorded walk takes 15 cycles of 0.02 from 0.5 to 0.8 after the drop; at 0.1 it is near 0.8 within 5 (the last stretch closes geometrically at `gain`).
    const usShare = (run: typeof r.recorded, k: number) => run.cycles[k]!.origins[w.us.id]!.share;
    expect(usShare(r.replayed, 7)).toBeGreaterThan(0.75);
    expect(usShare(r.recorded, 7)).toBeLessThan(0.65);
  });

  it('sluice replay --file: reports, writes CSV and SVG; no change = identical', async () => {
    const same = await runSluice(['replay', '--file', join(out, 'decisions.json'), '--out', out, '--name', 'same']);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain('identical to the record: 29/29 cycles');
    const faster = await runSluice(['replay', '--file', join(out, 'decisions.json'), '--max-shift', '0.1', '--out', out, '--name', 'fast']);
    expect(faster.code, faster.stderr).toBe(0);
    expect(faster.stdout).toMatch(/replayed with max_shift 0\.1/);
    expect(faster.stdout).toMatch(/first difference at cycle \d+/);
    const csv = readFileSync(join(out, 'fast.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^run,cycle,t_s,origin,load_rps/);
    expect(csv.filter((l) => l.startsWith('recorded,'))).toHaveLength(29 * 2);
    expect(csv.filter((l) => l.startsWith('fast,'))).toHaveLength(29 * 2);
    expect(readFileSync(join(out, 'fast.svg'), 'utf8')).toMatch(/^<svg[^]*<\/svg>\s*$/);
    const bad = await runSluice(['replay', '--file', join(out, 'decisions.json'), '--max-shift', '2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-shift 2/);
  });
});
