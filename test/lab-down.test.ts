// `sluice lab down` removes everything the lab made — namespaces, processes (including ones the lab's
// processes forked, such as HAProxy's worker), TUN devices — even when the lab process itself was
// killed (SIGKILL: no chance to clean up), using only the state file: PIDs checked against their start
// time, namespaces by exact name and inode.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { REPO_ROOT, SLUICE_BIN, runSluice } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';
import { isSameProcess, leftovers, pidsInNamespaces, readState, teardown } from './lab/state.ts';

const skip = unavailable({ root: true, tools: { haproxy: 'haproxy', prometheus: 'prometheus', ip: 'iproute2' } });

describe.skipIf(skip)('sluice lab down', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lab-down-'));
  const stateDir = join(dir, 'state');

  afterAll(async () => {
    // Whatever happened above, leave nothing behind.
    const st = readState(stateDir);
    if (st) await teardown(st);
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no namespace, TUN device or process behind after the lab process was killed', async () => {
    const lab = spawn(process.execPath, [SLUICE_BIN, 'lab', 'up', '--scenario', join(REPO_ROOT, 'test/lab/scenarios/idle.yaml'), '--state', stateDir, '--keep'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    lab.stdout.on('data', (d: Buffer) => (out += d.toString()));
    lab.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((r) => lab.once('exit', () => r()));
    const state = await waitFor(
      () => {
        if (lab.exitCode !== null) throw new Error(`lab exited early:\n${out.slice(-3000)}`);
        const s = readState(stateDir);
        return s?.status === 'running' && s.lab.pid === lab.pid ? s : null;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the lab to be up' },
    );
    // The world is really there: namespaces with their TUN device, and processes inside them.
    expect(state.namespaces.length).toBe(4);
    for (const ns of state.namespaces) {
      expect(existsSync(`/run/netns/${ns.name}`)).toBe(true);
      expect(execFileSync('ip', ['-n', ns.name, 'link', 'show', state.tun]).toString()).toContain(state.tun);
    }
    const inside = pidsInNamespaces(state.namespaces.map((n) => n.inode));
    // haproxy master + worker, prometheus, control plane, dns, edge-sync, 2 agents, origin, bridge
    expect(inside.length).toBeGreaterThanOrEqual(10);
    expect(state.processes.some((p) => p.name.startsWith('haproxy-'))).toBe(true);

    // A crash: the lab gets no chance to clean up.
    lab.kill('SIGKILL');
    await exited;
    const before = leftovers(state);
    expect(before.some((l) => l.startsWith('netns '))).toBe(true);
    expect(before.some((l) => l.startsWith('process '))).toBe(true);

    const down = await runSluice(['lab', 'down', '--state', stateDir]);
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(down.stdout).toContain('no namespace, process or TUN device left');

    expect(leftovers(state)).toEqual([]);
    const netns = execFileSync('ip', ['netns', 'list']).toString();
    for (const ns of state.namespaces) expect(netns).not.toContain(ns.name);
    for (const p of [state.lab, ...state.processes]) expect(isSameProcess(p), `${p.name} ${p.pid}`).toBe(false);
    expect(pidsInNamespaces(state.namespaces.map((n) => n.inode))).toEqual([]);
    // No TUN device anywhere the lab could have put one: its namespaces are gone, and none in the root.
    expect(() => execFileSync('ip', ['link', 'show', state.tun], { stdio: 'ignore' })).toThrow();

    // Idempotent: a second down finds nothing to do and says so.
    const again = await runSluice(['lab', 'down', '--state', stateDir]);
    expect(again.code).toBe(0);
  }, 120_000);
});
