// The edge-sync loop and its control-plane protocol. The control plane here is a TEST DOUBLE of the
// edge-config protocol (edge-sync/testing/api-double.ts: Bearer auth, ETag, If-None-Match + ?wait
// long poll); the lead adds an integration test against the real API. Retry/backoff logic is driven
// with a scripted in-memory data plane (a double of the DataPlane interface, recording every call);
// the real data planes are exercised in edge-sync-haproxy/nginx tests.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.ts';
import type { DataPlane, DemandStats, Plan } from '../edge-sync/dataplane.ts';
import { ApplyError } from '../edge-sync/dataplane.ts';
import { SyncLoop } from '../edge-sync/loop.ts';
import { EdgeMetrics } from '../edge-sync/metrics.ts';
import { desiredPools } from '../edge-sync/plan/desired.ts';
import { ApiSource, SourceError, parseEdgeConfig } from '../edge-sync/source.ts';
import { EdgeConfigApiDouble } from '../edge-sync/testing/api-double.ts';
import { edgeConfig } from '../edge-sync/testing/fixtures.ts';
import type { EdgeConfig } from '../model/views.ts';
import { freePort } from './helpers/ports.ts';
import { runSluice, startSluice } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const cfgA = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port: 1, weight: 0.8 }, { name: 'b', port: 2, weight: 0.2 }] }], { weightsVersion: 7 });
const cfgB = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port: 1, weight: 0.3 }, { name: 'b', port: 2, weight: 0.7 }] }], { weightsVersion: 8 });
const silent = createLogger('edge-sync-test', 'silent');

/** Scripted DataPlane double: records plans/applies; the first `failures` applies throw. */
class ScriptedDataPlane implements DataPlane {
  readonly type = 'haproxy' as const;
  applied: string[] = [];
  attempts = 0;
  inForce: string | null = null;
  constructor(readonly name: string, private failures: number) {}
  async plan(config: EdgeConfig): Promise<Plan> {
    const pools = desiredPools(config, { poolName: 'p', weightTotal: 100 });
    const changes = this.inForce === config.version ? [] : [{ op: 'set-weight' as const, pool: 'p', server: 'a', address: 'x', port: 1, origin: 'a', from: 0, to: 1 }];
    return { dataplane: this.name, pools, changes, preview: [], files: [], held: [], problems: [], detail: config.version };
  }
  async apply(plan: Plan): Promise<{ applied: string[] }> {
    this.attempts++;
    if (this.failures > 0) {
      this.failures--;
      throw new ApplyError('scripted failure');
    }
    this.inForce = plan.detail as string;
    this.applied.push(this.inForce);
    return { applied: ['x'] };
  }
  async readStats(): Promise<DemandStats> {
    return { listeners: [], origins: [] };
  }
}

const sum = async (m: { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> }, filter: Record<string, string> = {}) =>
  (await m.get()).values.filter((v) => Object.entries(filter).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);

describe('control-plane protocol (API double)', () => {
  const api = new EdgeConfigApiDouble(cfgA, 's3cret');
  beforeAll(() => api.listen());
  afterAll(() => api.close());

  it('sends the bearer token; a refused token is a clear auth error', async () => {
    const bad = new ApiSource({ urls: [api.url], token: 'wrong', edgeId: api.edgeId, waitMs: 1000 });
    const err = await bad.next({ wait: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).kind).toBe('auth');
    expect((err as Error).message).toMatch(/HTTP 401.*token was refused/);
  });

  it('first GET returns the config; then If-None-Match + wait gives 304 after the wait, or 200 at once on a change', async () => {
    const src = new ApiSource({ urls: [api.url], token: 's3cret', edgeId: api.edgeId, waitMs: 1000 });
    expect(await src.next({ wait: true })).toEqual({ kind: 'config', config: cfgA });
    const t0 = Date.now();
    expect(await src.next({ wait: true })).toEqual({ kind: 'unchanged' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const pending = src.next({ wait: true });
    const t1 = Date.now();
    setTimeout(() => api.publish(cfgB), 100);
    expect(await pending).toEqual({ kind: 'config', config: cfgB });
    expect(Date.now() - t1).toBeLessThan(900);
    api.publish(cfgA);
  });

  it('an unreachable control plane and an invalid body are errors of their own kind', async () => {
    const closed = await freePort();
    const err = await new ApiSource({ urls: [`http://127.0.0.1:${closed}`], token: 't', edgeId: 'e', waitMs: 1000 }).next({ wait: false }).catch((e: unknown) => e);
    expect((err as SourceError).kind).toBe('unreachable');
    expect(() => parseEdgeConfig({ ...cfgA, listeners: [{ port: 'x' }] }, 'GET /x')).toThrow(/GET \/x: not a valid EdgeConfig: listeners\[0\]/);
  });

  it('the whole EdgeConfig is validated before any data plane sees it: ports, addresses, shares', () => {
    const bad = (edit: (c: EdgeConfig) => void) => {
      const c = structuredClone(cfgA);
      edit(c);
      return () => parseEdgeConfig(c, 'edge.json');
    };
    expect(bad((c) => (c.listeners[0]!.origins[1]!.port = 70_000))).toThrow(/listeners\[0\]\.origins\[1\]\.port: .*65535/);
    expect(bad((c) => (c.listeners[0]!.origins[0]!.port = 0))).toThrow(/listeners\[0\]\.origins\[0\]\.port/);
    expect(bad((c) => (c.listeners[0]!.port = 65_536))).toThrow(/listeners\[0\]\.port/);
    expect(bad((c) => (c.listeners[0]!.vip = '192.0.2.300'))).toThrow(/listeners\[0\]\.vip: expected an IPv4 or IPv6 address/);
    expect(bad((c) => (c.listeners[0]!.origins[0]!.addresses = ['origin.example.com']))).toThrow(/listeners\[0\]\.origins\[0\]\.addresses\[0\]: expected an IPv4 or IPv6 address/);
    expect(bad((c) => (c.listeners[0]!.origins[0]!.weight = -0.2))).toThrow(/listeners\[0\]\.origins\[0\]\.weight/);
  });
});

describe('SyncLoop', () => {
  it('retries a failed apply with backoff, counts each failure, then applies', async () => {
    const api = new EdgeConfigApiDouble(cfgA, 't');
    await api.listen();
    const dp = new ScriptedDataPlane('dp1', 2);
    const metrics = new EdgeMetrics('e');
    const loop = new SyncLoop({ source: new ApiSource({ urls: [api.url], token: 't', edgeId: api.edgeId, waitMs: 1000 }), dataplanes: [dp], metrics, log: silent, retry: { initial: 50, max: 200, multiplier: 2, jitter: 0 } });
    loop.start();
    try {
      await waitFor(() => loop.status().appliedVersion === cfgA.version, { timeoutMs: 5000, what: 'applied after retries' });
      expect(dp.attempts).toBe(3);
      expect(await sum(metrics.applyErrors, { dataplane: 'dp1' })).toBe(2);
      expect(await sum(metrics.applies, { result: 'error' })).toBe(2);
      expect(await sum(metrics.applies, { result: 'ok' })).toBe(1);
      expect(await sum(metrics.configVersion)).toBe(7);
      // Every apply is timed per data plane, failed ones included.
      const timed = (await metrics.applyDuration.get()).values.find((v) => v.metricName === 'sluice_edge_apply_duration_seconds_count' && v.labels.dataplane === 'dp1');
      expect(timed?.value).toBe(3);
      expect(metrics.edge).toBe('test'); // label from the EdgeConfig's edge name
      // A quiet poll (304) re-plans, finds nothing to do, and does not apply again.
      await waitFor(() => api.notModified >= 1, { timeoutMs: 5000, what: 'a 304' });
      expect(dp.applied).toEqual([cfgA.version]);
      api.publish(cfgB);
      await waitFor(() => loop.status().appliedVersion === cfgB.version, { timeoutMs: 5000, what: 'B applied' });
      expect(dp.applied).toEqual([cfgA.version, cfgB.version]);
    } finally {
      await loop.stop();
      await api.close();
    }
  });

  it('control plane unreachable: errors counted, the data plane is never touched', async () => {
    const port = await freePort();
    const dp = new ScriptedDataPlane('dp1', 0);
    const metrics = new EdgeMetrics('e');
    const loop = new SyncLoop({ source: new ApiSource({ urls: [`http://127.0.0.1:${port}`], token: 't', edgeId: 'e', waitMs: 1000 }), dataplanes: [dp], metrics, log: silent, retry: { initial: 20, max: 100, multiplier: 2, jitter: 0.2 } });
    loop.start();
    try {
      await waitFor(async () => (await sum(metrics.apiErrors, { kind: 'unreachable' })) >= 3, { timeoutMs: 5000, what: 'three failed polls' });
      expect(dp.attempts).toBe(0);
      expect(loop.status()).toMatchObject({ appliedVersion: null, pending: false });
      expect(loop.status().lastError).toMatch(/ECONNREFUSED/);
    } finally {
      await loop.stop();
    }
  });
});

describe('sluice edge-sync (the CLI process)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'slc-edge-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bad config: exit 2 before anything runs, naming file, key and expectation', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'config_file: x.json\ndataplane:\n  type: haproxy\n  admin_socket: /s\n  weight_total: 300\n');
    const res = await runSluice(['edge-sync', '--config', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${file}:5:3: dataplane[0].weight_total:`);
  });

  it('long-running: long-polls the API, applies, serves /metrics, stops cleanly on SIGTERM', async () => {
    // FAKE ipvsadm (this kernel has no IPVS): keeps its table in a file, so applies are observable.
    const table = join(dir, 'table.txt');
    writeFileSync(table, 'IP Virtual Server version 1.2.1 (size=4096)\n');
    const fake = join(dir, 'ipvsadm');
    writeFileSync(fake, `#!/bin/sh\ncase "$*" in\n  "-Ln") cat ${table} ;;\n  "-Ln --stats --exact") echo ;;\n  "-R") cat >> ${dir}/applied.txt ;;\n  *) exit 2 ;;\nesac\n`);
    chmodSync(fake, 0o755);
    const api = new EdgeConfigApiDouble(cfgA, 'tok');
    await api.listen();
    writeFileSync(join(dir, 'token'), 'tok\n', { mode: 0o600 });
    const mport = await freePort();
    const yaml = join(dir, 'edge-sync.yaml');
    writeFileSync(yaml, `api:\n  url: ${api.url}\n  token_file: ${join(dir, 'token')}\n  edge_id: ${api.edgeId}\n  wait: 2s\nstate_file: ${join(dir, 'state.json')}\ndataplane:\n  type: ipvs\n  ipvsadm: ${fake}\nmetrics:\n  listen: 127.0.0.1:${mport}\n  poll_interval: 200ms\n`);
    const proc = startSluice(['edge-sync', '--config', yaml], { env: { SLUICE_LOG_LEVEL: 'info' } });
    try {
      const scrape = async () => (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
      await waitFor(async () => (await scrape()).includes('sluice_edge_config_version{edge="test"} 7'), { timeoutMs: 15_000, what: `config version 7 on /metrics; output: ${proc.output().slice(-500)}` });
      expect(readFileSync(join(dir, 'applied.txt'), 'utf8')).toContain('-a -t 127.0.0.1:80 -r 127.0.0.1:1 -m -w 800');
      expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).version).toBe(cfgA.version);
      const body = await scrape();
      expect(body).toContain('sluice_edge_weight{edge="test",load_balancer="web",origin="b"} 0.2');
      expect(body).toContain('sluice_edge_applies_total{edge="test",result="ok"} 1');
      const health = (await (await fetch(`http://127.0.0.1:${mport}/healthz`)).json()) as { appliedVersion: string };
      expect(health.appliedVersion).toBe(cfgA.version);
      expect(proc.output()).toMatch(/"change":"add pool TCP 127\.0\.0\.1:80/);
    } finally {
      expect(await proc.stop()).toBe(0);
      await api.close();
    }
  });

  /** A FAKE ipvsadm (this kernel has no IPVS) serving `table` and recording what -R receives. */
  function fakeIpvsadm(name: string, table: string): { bin: string; applied: string } {
    const tableFile = join(dir, `${name}.table`);
    writeFileSync(tableFile, table);
    const applied = join(dir, `${name}.applied`);
    const bin = join(dir, `${name}-ipvsadm`);
    writeFileSync(bin, `#!/bin/sh\n# FAKE ipvsadm for tests\ncase "$*" in\n  "-Ln") cat ${tableFile} ;;\n  "-R") cat >> ${applied} ;;\n  *) exit 2 ;;\nesac\n`);
    chmodSync(bin, 0o755);
    return { bin, applied };
  }

  it.each([
    ['truncated JSON', (text: string) => text.slice(0, 60), /: not JSON: /],
    ['a negative weight', (text: string) => text.replace('"weight":0.8', '"weight":-0.8'), /listeners\[0\]\.origins\[0\]\.weight: /],
    ['a port out of range', (text: string) => text.replace('"port":1,', '"port":70000,'), /listeners\[0\]\.origins\[0\]\.port: /],
  ])('--once and --dry-run report an invalid config_file (%s) as one line, exit 1, and touch nothing', async (what, corrupt, message) => {
    const edgeFile = join(dir, `bad-${what.replace(/\W/g, '-')}.json`);
    const text = JSON.stringify(cfgA);
    const corrupted = corrupt(text);
    expect(corrupted).not.toBe(text);
    writeFileSync(edgeFile, corrupted);
    const ipvs = fakeIpvsadm(`bad-${what.replace(/\W/g, '-')}`, '');
    const yaml = join(dir, `bad-${what.replace(/\W/g, '-')}.yaml`);
    writeFileSync(yaml, `config_file: ${edgeFile}\ndataplane:\n  type: ipvs\n  ipvsadm: ${ipvs.bin}\nmetrics:\n  enabled: false\n`);
    for (const mode of ['--once', '--dry-run']) {
      const res = await runSluice(['edge-sync', '--config', yaml, mode], { env: { SLUICE_LOG_LEVEL: 'silent' } });
      expect(res.code, `${mode}: ${res.stderr}`).toBe(1);
      const lines = res.stderr.trim().split('\n');
      expect(lines, mode).toHaveLength(1);
      expect(lines[0], mode).toMatch(new RegExp(`^sluice edge-sync: ${edgeFile.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}`));
      expect(lines[0], mode).toMatch(message);
    }
    expect(() => readFileSync(ipvs.applied, 'utf8')).toThrow(/ENOENT/);
  });

  it('--dry-run shows the deletions the loop would make (services of listeners that left the config)', async () => {
    // The state file says sluice applied a listener on :8443 before; the config no longer has it.
    const previous = edgeConfig([...cfgA.listeners.map((l) => ({ lb: l.load_balancer, port: l.port, protocol: 'tcp', origins: [{ name: 'a', port: 1, weight: 0.8 }, { name: 'b', port: 2, weight: 0.2 }] })), { lb: 'old', port: 8443, protocol: 'tcp', origins: [{ name: 'a', port: 8443, weight: 1 }] }]);
    const state = join(dir, 'dry-state.json');
    writeFileSync(state, JSON.stringify(previous));
    const edgeFile = join(dir, 'dry-a.json');
    writeFileSync(edgeFile, JSON.stringify(cfgA));
    const ipvs = fakeIpvsadm('dry', 'TCP  127.0.0.1:80 wrr\n  -> 127.0.0.1:1 Masq 800 0 0\n  -> 127.0.0.1:2 Masq 200 0 0\nTCP  127.0.0.1:8443 wrr\n  -> 127.0.0.1:8443 Masq 1000 0 0\n');
    const yaml = join(dir, 'dry.yaml');
    writeFileSync(yaml, `config_file: ${edgeFile}\nstate_file: ${state}\ndataplane:\n  type: ipvs\n  ipvsadm: ${ipvs.bin}\nmetrics:\n  enabled: false\n`);
    const res = await runSluice(['edge-sync', '--config', yaml, '--dry-run']);
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(res.stdout).toContain('remove pool TCP 127.0.0.1:8443');
    expect(res.stdout).toContain(`${ipvs.bin} -D -t 127.0.0.1:8443`);
    expect(() => readFileSync(ipvs.applied, 'utf8')).toThrow(/ENOENT/);
  });
});
