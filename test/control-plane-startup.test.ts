// Start-up behaviour of the real CLI: a bad config names the file, the key and the expectation and
// exits non-zero before listening; an open API refuses a non-loopback address.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/control-plane.ts';
import { runSluice } from './helpers/sluice-process.ts';

describe('sluice control-plane start-up', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('rejects a bad config with file, key and expectation, and exits 2', async () => {
    const file = join(dir.path, 'bad.yaml');
    writeFileSync(file, 'listen: somewhere\napi:\n  long_poll_max: forever\n  colour: blue\n');
    const res = await runSluice(['control-plane', '--config', file, '--data-dir', dir.path]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${file}:1:1: listen: expected HOST:PORT`);
    expect(res.stderr).toContain(`${file}:3:3: api.long_poll_max: expected a duration`);
    expect(res.stderr).toContain(`${file}:4:3: api: unknown key(s) "colour"`);
    expect(res.stdout).not.toContain('listening');
  });

  it('refuses an unprotected DNSSEC private key in dnssec.key_directory (relative to the config), exits 2 naming it', async () => {
    const keys = join(dir.path, 'keys');
    const made = await runSluice(['dns', 'keygen', '--zone', 'example.com', '--dir', keys]);
    expect(made.code, made.stderr).toBe(0);
    const priv = made.stdout.split('\n').find((l) => l.endsWith('.private'))!;
    chmodSync(priv, 0o640);
    const file = join(dir.path, 'dnssec.yaml');
    writeFileSync(file, 'dnssec: { key_directory: keys }\n');
    const res = await runSluice(['control-plane', '--config', file, '--data-dir', dir.path, '--listen', '127.0.0.1:0']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${file}: dnssec.key_directory: ${priv}: permissions 0640 are too open`);
    expect(res.stdout).not.toContain('listening');
  });

  it('rejects YAML that does not parse', async () => {
    const file = join(dir.path, 'broken.yaml');
    writeFileSync(file, 'listen: [unclosed\n');
    const res = await runSluice(['control-plane', '--config', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/broken\.yaml:\d+:\d+: not valid YAML/);
  });

  it('refuses to listen beyond loopback with no tokens configured, and says why', async () => {
    const res = await runSluice(['control-plane', '--listen', '0.0.0.0:0', '--data-dir', dir.path]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/refusing to listen on 0\.0\.0\.0: no auth tokens are configured/);
  });

  it('rejects an unknown option', async () => {
    const res = await runSluice(['control-plane', '--lisen', '127.0.0.1:1']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("Unknown option '--lisen'");
  });

  it('the example config validates', async () => {
    const { loadConfigFile } = await import('../lib/config-file.ts');
    const { ControlPlaneConfig } = await import('../api/config.ts');
    const cfg = loadConfigFile(ControlPlaneConfig, new URL('../examples/control-plane.yaml', import.meta.url).pathname);
    expect(cfg.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(cfg.api.long_poll_max).toBe(60_000);
  });
});
