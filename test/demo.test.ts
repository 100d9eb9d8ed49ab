// `sluice demo`, the README's main job, end to end: the real control plane and scheduler loop (solver
// worker, store, decision log) against the simulated world; the chart and CSV it writes; the
// capacity it promises.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../api/store/sqlite.ts';
import { tempDir } from './helpers/control-plane.ts';
import { runSluice } from './helpers/sluice-process.ts';

describe('sluice demo', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('runs the loop live, keeps origins within capacity, fails over and writes the chart', async () => {
    const res = await runSluice(['demo', '--interval', '0', '--listen', '127.0.0.1:0', '--data-dir', join(dir.path, 'data'), '--out', join(dir.path, 'out')]);
    expect(res.code, res.stderr).toBe(0);
    const cycleLines = res.stdout.split('\n').filter((l) => l.startsWith('cycle '));
    // The scenario's 90 cycles, then on until the recovered origin has walked back and every load settled.
    expect(cycleLines.length).toBeGreaterThan(90);
    expect(cycleLines.length).toBeLessThanOrEqual(180);
    expect(res.stdout).toContain(`ran ${cycleLines.length - 90} cycle(s) past the scenario's 90 until every origin's load settled`);
    expect(res.stdout).not.toMatch(/settled never/);
    // What moved the demand is said, with this run's numbers, in the summary and the chart's legend.
    expect(res.stdout).toMatch(/total demand: \d+ of a nominal \d+ rps at its lowest \(cycle \d+, mean RTT \d+ ms, after cycle 50: eu-central/);
    expect(res.stdout).toMatch(/closed-loop clients \(elasticity 0\.5\)/);
    expect(res.stdout).toMatch(/API: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/load-balancers\/lb_[0-9a-f]+\/weights/);

    const svg = readFileSync(join(dir.path, 'out', 'demo.svg'), 'utf8');
    expect(svg.startsWith('<svg') || svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('closed-loop (demand × (ref RTT / RTT)^0.5)');
    const rows = readFileSync(join(dir.path, 'out', 'demo.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const at = (cycle: number, origin: string) => rows.find((r) => r[1] === String(cycle) && r[3] === origin)!;
    const load = (cycle: number, origin: string) => Number(at(cycle, origin)[4]);

    // Before the failure (cycles 25-49), demand fits: no origin above max_rps (+2 %).
    for (let c = 25; c < 50; c++) {
      for (const [origin, max] of [['us-west', 200], ['us-east', 300], ['eu-central', 450]] as const) expect(load(c, origin)).toBeLessThanOrEqual(max * 1.02);
    }
    // eu-central fails at cycle 50: from the next cycle it serves nothing, and its share was moved at once.
    expect(at(50, 'eu-central')[8]).toBe('false');
    for (let c = 51; c < 65; c++) expect(load(c, 'eu-central')).toBe(0);
    // It recovers at 65 and comes back paced (damped), not all at once.
    const back = load(70, 'eu-central');
    expect(back).toBeGreaterThan(0);
    expect(back).toBeLessThan(220);

    // The decision log holds one record per cycle; the weights were published through the store.
    const store = openSqliteStore(join(dir.path, 'data'));
    try {
      const lb = (await store.allLoadBalancers())[0]!;
      const decisions = await store.listDecisions({ limit: 500, load_balancer_id: lb.id });
      expect(decisions.items).toHaveLength(cycleLines.length);
      expect(decisions.items.some((d) => d.reason === 'health')).toBe(true);
      const weights = await store.getWeights(lb.id);
      expect(Object.keys(weights!.edges)).toHaveLength(3);
    } finally {
      await store.close();
    }
    expect(existsSync(join(dir.path, 'out', 'demo.csv'))).toBe(true);
  }, 120_000);
});
