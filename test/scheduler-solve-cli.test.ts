// `sluice solve` as a user runs it: the real CLI in a child process, JSON in, JSON out.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../lib/config-file.ts';
import { decide } from '../scheduler/core/decide.ts';
import { ProblemSchema } from '../scheduler/core/schema.ts';
import { addImplicitOrigins } from '../scheduler/solve-command.ts';
import { runSluice } from './helpers/sluice-process.ts';

const ISSUE_EXAMPLE = `{ "policy": "latency",
  "max_shift": 1,
  "origins": [ { "id": "us", "target_rps": 200, "max_rps": 200, "healthy": true } ],
  "sources": [ { "id": "edge-sfo", "demand_rps": 300, "rtt_ms": { "us": 20, "eu": 140 } } ],
  "current": { "edge-sfo": { "us": 1 } } }`;

describe('sluice solve', () => {
  it('prints the issue example exactly (stdin)', async () => {
    const r = await runSluice(['solve', '-'], { input: ISSUE_EXAMPLE });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect({ weights: out.weights, objective: out.objective, origin_load_rps: out.origin_load_rps, overload_rps: out.overload_rps }).toEqual({
      weights: { 'edge-sfo': { us: 0.6667, eu: 0.3333 } },
      objective: 18000,
      origin_load_rps: { us: 200, eu: 100 },
      overload_rps: 0,
    });
    // eu is not declared: said so, on stderr and in the notes.
    expect(r.stderr).toMatch(/origin "eu" .* not declared/);
  });

  it('reads a file, and the shipped example gives the same answer', async () => {
    const r = await runSluice(['solve', 'examples/solve-writeup.json', '--compact']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(r.stdout).weights).toEqual({ 'edge-sfo': { us: 0.6667, eu: 0.3333 } });
  });

  it('damps by default (max_shift 0.02) and --full shows the plan it walks towards', async () => {
    const problem = JSON.parse(ISSUE_EXAMPLE) as Record<string, unknown>;
    delete problem.max_shift;
    const r = await runSluice(['solve', '-', '--full'], { input: JSON.stringify(problem) });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.weights).toEqual({ 'edge-sfo': { us: 0.98, eu: 0.02 } });
    expect(out.plan).toEqual({ 'edge-sfo': { us: 0.6667, eu: 0.3333 } });
    expect(out.step.limited_by).toBe('max_shift');
    expect(out.overload_rps).toBe(94);
    expect(out.solver.method).toBe('transport-ssp');
  });

  it('rounded shares of a source still sum to exactly 1', async () => {
    const problem = {
      max_shift: 1,
      origins: [{ id: 'a', max_rps: 100 }, { id: 'b', max_rps: 100 }, { id: 'c', max_rps: 1000 }],
      sources: [{ id: 's', demand_rps: 300, rtt_ms: { a: 10, b: 20, c: 30 } }],
    };
    const r = await runSluice(['solve', '-'], { input: JSON.stringify(problem) });
    const w = JSON.parse(r.stdout).weights.s as Record<string, number>;
    expect(Object.keys(w).sort()).toEqual(['a', 'b', 'c']);
    for (const v of Object.values(w)) expect([0.3333, 0.3334]).toContain(v);
    expect(Math.round(Object.values(w).reduce((x, y) => x + y, 0) * 1e4)).toBe(1e4);
  });

  const bad: [string, unknown, RegExp][] = [
    ['negative demand', { origins: [{ id: 'a', max_rps: 1 }], sources: [{ id: 'x', demand_rps: -1 }] }, /sources\[0\]\.demand_rps: expected a non-negative number/],
    ['demand as a string', { origins: [{ id: 'a', max_rps: 1 }], sources: [{ id: 'x', demand_rps: '300' }] }, /sources\[0\]\.demand_rps: expected a non-negative number/],
    ['unknown policy', { policy: 'fastest', origins: [{ id: 'a', max_rps: 1 }], sources: [] }, /policy: expected "latency", "balance", "weighted" or "failover"/],
    ['target above max', { origins: [{ id: 'a', target_rps: 5, max_rps: 1 }], sources: [] }, /origins\[0\]\.target_rps: must not exceed max_rps/],
    ['no capacity', { origins: [{ id: 'a' }], sources: [] }, /origins\[0\]\.max_rps: expected max_rps and\/or target_rps/],
    ['misspelt key', { origins: [{ id: 'a', max_rps: 1 }], sources: [], curent: {} }, /unknown key\(s\) "curent"/],
    ['negative rtt', { origins: [{ id: 'a', max_rps: 1 }], sources: [{ id: 'x', demand_rps: 1, rtt_ms: { a: -3 } }] }, /sources\[0\]\.rtt_ms\.a: expected a non-negative number \(ms\)/],
    ['max_shift 0', { max_shift: 0, origins: [{ id: 'a', max_rps: 1 }], sources: [] }, /max_shift: expected a number in \(0, 1\]/],
    ['duplicate origin', { origins: [{ id: 'a', max_rps: 1 }, { id: 'a', max_rps: 2 }], sources: [] }, /origins\[1\]\.id: duplicate origin id "a"/],
  ];
  for (const [name, doc, message] of bad) {
    it(`malformed input (${name}): names the field, exits non-zero`, async () => {
      const r = await runSluice(['solve', '-'], { input: JSON.stringify(doc) });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
    });
  }

  it('not JSON, a missing file, and no argument are errors too', async () => {
    const notJson = await runSluice(['solve', '-'], { input: '{ "policy": ' });
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/<stdin>: not valid JSON/);
    const dir = mkdtempSync(join(tmpdir(), 'sluice-solve-'));
    const missing = await runSluice(['solve', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json: cannot read/);
    const none = await runSluice(['solve']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/usage: sluice solve FILE\|-/);
    const file = join(dir, 'p.json');
    writeFileSync(file, ISSUE_EXAMPLE);
    expect(readFileSync(file, 'utf8')).toContain('edge-sfo');
  });

  it('every origin disabled: exit 3, nothing to publish', async () => {
    const r = await runSluice(['solve', '-'], { input: JSON.stringify({ origins: [{ id: 'a', max_rps: 1, admin_state: 'disabled' }], sources: [{ id: 'x', demand_rps: 1, rtt_ms: { a: 1 } }] }) });
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe('no_usable_origin');
    expect(out.weights).toEqual({});
  });
});

describe('examples/solve-*.json', () => {
  const files = readdirSync('examples').filter((f) => /^solve-.*\.json$/.test(f));
  it('there are examples, and every one parses and decides (shares sum to 1, only declared origins)', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const problem = validateConfig(ProblemSchema, JSON.parse(readFileSync(`examples/${f}`, 'utf8')), f);
      addImplicitOrigins(problem);
      const d = decide(problem);
      expect(d.status, f).toBe('ok');
      const ids = new Set(problem.origins.map((o) => o.id));
      for (const shares of Object.values(d.weights)) {
        expect(Math.abs(Object.values(shares).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
        for (const id of Object.keys(shares)) expect(ids.has(id)).toBe(true);
      }
    }
  });

  it('three regions: the unhealthy origin is emptied at once and the overflow is spread by headroom in the plan', () => {
    const problem = validateConfig(ProblemSchema, JSON.parse(readFileSync('examples/solve-three-regions.json', 'utf8')), 'three');
    const d = decide(problem);
    expect(d.reason).toBe('health');
    expect(d.origin_load_rps.sin).toBe(0);
    // 1870 rps of demand, 1800 of max (sin down): 70 over, headroom 200 : 200.
    expect(d.origins.iad!.planned_rps).toBeCloseTo(1035, 6);
    expect(d.origins.fra!.planned_rps).toBeCloseTo(835, 6);
    expect(d.plan_overload_rps).toBeCloseTo(70, 6);
  });
});

describe('sluice solve with overrides', () => {
  const problem = (overrides: unknown) => `{ "policy": "latency", "max_shift": 1,
    "origins": [ { "id": "us", "target_rps": 1000, "max_rps": 1000, "healthy": true }, { "id": "eu", "target_rps": 1000, "max_rps": 1000, "healthy": true } ],
    "sources": [ { "id": "edge-sfo", "demand_rps": 300, "rtt_ms": { "us": 20, "eu": 140 } } ],
    "current": { "edge-sfo": { "us": 1 } }, "overrides": ${JSON.stringify(overrides)} }`;

  it('honours a share bound given in the problem file and reports the override', async () => {
    const r = await runSluice(['solve', '-'], { input: problem({ shares: [{ id: 'o1', origin: 'eu', source: 'edge-sfo', min: 0.25 }] }) });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.weights['edge-sfo'].eu).toBeCloseTo(0.25, 4);
    expect(out.overrides[0]).toMatchObject({ id: 'o1', kind: 'share', status: 'applied' });
  });

  it('refuses min above max, naming the field', async () => {
    const r = await runSluice(['solve', '-'], { input: problem({ shares: [{ id: 'o1', origin: 'eu', min: 0.6, max: 0.4 }] }) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/overrides\.shares\.0\.min.*must not exceed max|overrides.*shares.*min/);
  });
});
