// `sluice status --once` against a running control plane (in-process, real HTTP) whose store a real
// scheduler loop has written to: origins with predicted load against target and max, shares, the
// overrides in force (who, until when, why) and the last decisions; a bad token is an error, not a blank.
// And `sluice replay --api` on the decision log that loop wrote.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';
import { edgeInputs, loopWorld, ScriptedReader, type LoopWorld } from './helpers/scheduler-loop.ts';
import { runSluice } from './helpers/sluice-process.ts';

const ADMIN = 'status-admin-token';
const READ = 'status-read-token';
let cp: InProcessControlPlane;
let w: LoopWorld;

beforeAll(async () => {
  cp = await startInProcess({ admin_tokens: [ADMIN], read_tokens: [READ] });
  w = await loopWorld({}, cp.store);
  const reader = new ScriptedReader();
  reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
  const loop = w.makeLoop(reader);
  await loop.cycle();
  const dial = await http(`${cp.url}/api/v1/load-balancers/${w.lb.id}/overrides`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}` },
    body: { kind: 'dial', origin_id: w.us.id, percent: 50, reason: 'us half patched', expires_in: '1h', now: true },
  });
  expect(dial.status, dial.text).toBe(201);
  await loop.cycle();
  await loop.stop();
});
afterAll(async () => {
  await w.close();
  await cp.close();
});

describe('sluice status', () => {
  it('--once prints loads against capacity, shares, overrides in force and the last decisions', async () => {
    const r = await runSluice(['status', '--api', cp.url, '--once'], { env: { SLUICE_TOKEN: READ } });
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/load balancer app \(lb_[0-9a-f]+\) {2}policy latency {2}mode enforce/);
    // us dialled to 50 %: 100 of sfo's 300 (33.3 %), at 50 % of its max; eu takes the rest.
    expect(out).toMatch(/ us +100\.0 +- +200 +200 +50% +33\.3%  up/);
    expect(out).toMatch(/ eu +200\.0 +- +1000 +1000 +20% +66\.7%  up/);
    expect(out).toMatch(/overrides in force: 1\n +ov_[0-9a-f]+ {2}dial us 50 % \(now\) {2}by admin:[0-9a-f]{12} {2}until 20\d\d-[^ ]+ {2}— us half patched/);
    expect(out).toMatch(/last decisions:\n +\S+ {2}override v2 /);
    expect(out).toContain('(dial) created by admin:');
  });

  it('--load-balancer filters; an unknown token fails loudly', async () => {
    const none = await runSluice(['status', '--api', cp.url, '--once', '--load-balancer', 'nope'], { env: { SLUICE_TOKEN: READ } });
    expect(none.stdout).toContain('no load balancers');
    const bad = await runSluice(['status', '--api', cp.url, '--once'], { env: { SLUICE_TOKEN: 'wrong' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/HTTP 401/);
  });
});

describe('sluice replay --api (the same control plane)', () => {
  it('reads every page of the decision log over HTTP and reproduces it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sluice-replay-api-'));
    try {
      const r = await runSluice(['replay', '--api', cp.url, '--load-balancer', w.lb.id, '--out', out], { env: { SLUICE_TOKEN: READ } });
      expect(r.code, r.stderr).toBe(0);
      // Two scheduling cycles (the second under the dial); the override's audit record has no problem.
      expect(r.stdout).toContain('2 recorded cycle(s) replayed with no change (1 record(s) without a problem skipped)');
      expect(r.stdout).toContain('identical to the record: 2/2 cycles');
      const bad = await runSluice(['replay', '--api', cp.url], { env: { SLUICE_TOKEN: 'wrong' } });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/HTTP 401/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
