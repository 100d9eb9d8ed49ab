// `sluice simulate` as a user runs it: writes the CSV and the SVG chart of both write-up runs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CSV_HEADER } from '../scheduler/simulate/csv.ts';
import { runSluice } from './helpers/sluice-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-sim-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice simulate', () => {
  it('writes CSV and SVG with both write-up curves (--compare)', async () => {
    const r = await runSluice(['simulate', '--scenario', 'examples/scenarios/writeup.yaml', '--compare', 'examples/scenarios/writeup-undamped.yaml', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/writeup \(policy latency, max_shift 0\.02, 80 cycles\)/);
    expect(r.stdout).toMatch(/writeup-undamped .*\n\s+us .*settled never/);
    const csv = readFileSync(join(dir, 'writeup-vs-writeup-undamped.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe(CSV_HEADER);
    expect(csv).toHaveLength(1 + 2 * 80 * 2); // runs × cycles × origins
    const first = csv[1]!.split(',');
    expect(first.slice(0, 8)).toEqual(['writeup', '0', '0', 'us', '300', '200', '200', '1']);
    const svg = readFileSync(join(dir, 'writeup-vs-writeup-undamped.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    for (const label of ['us load', 'eu load', 'us max_rps', 'writeup-undamped', 'requests per second', 'time (minutes)']) expect(svg).toContain(label);
    expect(svg.match(/<path /g)!.length).toBeGreaterThanOrEqual(2 * 3 + 1); // 2 runs × (2 origins + demand) + capacity
  });

  it('a bad scenario names the file and the key', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: bad\ncycles: 10\norigins: [{ id: a, max_rps: -5 }]\nsources: [{ id: s, demand_rps: 1 }]\n');
    const r = await runSluice(['simulate', '--scenario', file, '--out', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:3:20: origins\[0\]\.max_rps: /);
  });

  it('failures, drain and demand curves: one SVG with the unhealthy period shaded', async () => {
    const r = await runSluice(['simulate', '--scenario', 'examples/scenarios/failover-drain.yaml', '--out', dir]);
    expect(r.code, r.stderr).toBe(0);
    const svg = readFileSync(join(dir, 'failover-drain.svg'), 'utf8');
    expect(svg).toContain('shaded: origin unhealthy');
  });
});
