// `sluice prometheus-rules`: window, stale span and interval from flags, from the control plane's
// config, or the defaults; bad values refused naming the flag or the config key.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../lib/config-error.ts';
import { UsageError } from '../lib/cli-args.ts';
import { run } from './rules-command.ts';

async function output(argv: string[]): Promise<string> {
  let text = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((text += String(chunk)), true));
  try {
    expect(await run(argv)).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return text;
}

describe('sluice prometheus-rules', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const config = (yaml: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-rules-cmd-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'cp.yaml'), yaml);
    return join(dir, 'cp.yaml');
  };

  it('defaults: the scheduler config defaults (60 s window, 120 s stale, 15 s interval)', async () => {
    const text = await output([]);
    expect(text).toContain('    interval: 15s');
    expect(text).toContain('record: subnet_node:sluice_agent_subnet_connections:rate60s');
    expect(text).toContain('record: node_subnet:sluice_agent_client_rtt_seconds:max_last120s');
  });

  it("takes the control plane config's scheduler section, and flags over it", async () => {
    const file = config('scheduler:\n  interval: 30s\n  prometheus: {url: "http://p:9090", window: 2m, stale: 5m}\n');
    const text = await output(['--config', file]);
    expect(text).toContain('    interval: 30s');
    expect(text).toContain(':rate120s');
    expect(text).toContain(':last300s');
    expect(await output(['--config', file, '--window', '45s'])).toContain(':rate45s');
  });

  it('refuses a window that is not whole seconds, and a bad config naming its key', async () => {
    await expect(run(['--window', '1500ms'])).rejects.toThrow(UsageError);
    await expect(run(['--window', '1500ms'])).rejects.toThrow(/--window 1500ms: expected a whole number of seconds/);
    await expect(run(['--config', config('scheduler:\n  prometheus: {url: "http://p:9090", window: soon}\n')])).rejects.toThrow(ConfigError);
    await expect(run(['--config', config('scheduler:\n  prometheus: {url: "http://p:9090", window: soon}\n')])).rejects.toThrow(/cp\.yaml:2:\d+: scheduler\.prometheus\.window: /);
  });
});
