// `sluice agent` as a command: config errors before anything listens (exit 2, file + key + expectation),
// --listen overrides the config, SIGTERM is a clean exit 0, --once prints one poll.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/ports.ts';
import { runSluice, startSluice } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-agent-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('sluice agent command', () => {
  it('rejects a bad config with exit code 2, naming file, key and expectation', async () => {
    const f = file('bad.yaml', 'service_ports: [443]\newma_alpha: 2\n');
    const r = await runSluice(['agent', '--config', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:2:1: ewma_alpha:`);
    const missing = await runSluice(['agent']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--config is required');
  });

  it.skipIf(process.platform !== 'linux')('--listen overrides the config; SIGTERM exits 0', async () => {
    const port = await freePort();
    const f = file('ok.yaml', 'listen: 127.0.0.1:1\nservice_ports: [443]\npoll_interval: 200ms\n');
    const agent = startSluice(['agent', '--config', f, '--listen', `127.0.0.1:${port}`]);
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, { timeoutMs: 20_000, what: `healthz; output: ${agent.output()}` });
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('sluice_agent_polls_total{result="ok"');
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/latency?limit=abc`)).status).toBe(400);
    } finally {
      expect(await agent.stop()).toBe(0);
    }
  });

  it.skipIf(process.platform !== 'linux')('--once polls the kernel once and prints a JSON summary', async () => {
    const f = file('once.yaml', 'service_ports: [443]\n');
    const r = await runSluice(['agent', '--config', f, '--once']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { complete: boolean; poll_ms: number; errors: Record<string, number> };
    expect(out.complete).toBe(true);
    expect(out.poll_ms).toBeGreaterThan(0);
    expect(out.errors).toEqual({});
  });

  it('--once reports a collector that cannot start as one clear line and exit 1, like the daemon', async () => {
    // On Linux the Windows collector cannot load iphlpapi.dll: a collector failure any host can produce
    // (as netlink denied by a seccomp policy would be), without privileges.
    const f = file('no-collector.yaml', 'service_ports: [443]\ncollector: windows\n');
    const once = await runSluice(['agent', '--config', f, '--once']);
    expect(once.code, once.stderr).toBe(1);
    expect(once.stdout).toBe('');
    expect(once.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sluice agent: cannot read the TCP table with the windows collector: .*runs only on Windows$/)]);
    // The daemon: the same failure is one log line and exit 1.
    const daemon = await runSluice(['agent', '--config', f, '--listen', '127.0.0.1:0']);
    expect(daemon.code).toBe(1);
    expect(`${daemon.stdout}${daemon.stderr}`).toMatch(/agent failed to start/);
    expect(`${daemon.stdout}${daemon.stderr}`, 'no stack trace').not.toMatch(/^\s+at /m);
  });
});
