// edge-sync against a REAL HAProxy (Debian package) on loopback, in front of two local origin HTTP
// servers that count requests. The control plane is a test double of its edge-config protocol
// (edge-sync/testing/api-double.ts); an integration test against the real API comes with the API.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../lib/log.ts';
import { HaproxyDataPlane } from '../edge-sync/config.ts';
import { HaproxyAdapter } from '../edge-sync/haproxy/adapter.ts';
import { parseServersState } from '../edge-sync/haproxy/parse.ts';
import { isNoop } from '../edge-sync/dataplane.ts';
import { SyncLoop } from '../edge-sync/loop.ts';
import { EdgeMetrics } from '../edge-sync/metrics.ts';
import { ApiSource } from '../edge-sync/source.ts';
import { EdgeConfigApiDouble } from '../edge-sync/testing/api-double.ts';
import { type CountingOrigin, edgeConfig, sendRequests, startCountingOrigin } from '../edge-sync/testing/fixtures.ts';
import { startHaproxy } from '../edge-sync/testing/processes.ts';
import { freePort } from './helpers/ports.ts';
import { unavailable } from './helpers/env.ts';
import { runSluice } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { haproxy: 'haproxy' } });
const N = 2000;

describe.skipIf(skip)('edge-sync with a real HAProxy', () => {
  let dir: string;
  let a: CountingOrigin;
  let b: CountingOrigin;
  let feWeb: number;
  let feStatic: number;
  let cfgPath: string;
  let sock: string;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
  let api: EdgeConfigApiDouble;
  let loop: SyncLoop;
  let metrics: EdgeMetrics;
  let adapter: HaproxyAdapter;

  const split = (a8020: { a: number; b: number }) =>
    edgeConfig([{ lb: 'web', port: feWeb, origins: [{ name: 'origin-a', port: a.port, weight: a8020.a }, { name: 'origin-b', port: b.port, weight: a8020.b }] }], { weightsVersion: Math.round(a8020.a * 100) });

  const measure = async () => {
    const counts = await sendRequests(feWeb, N, { concurrency: 16, deadlineMs: 60_000 });
    const total = [...counts.values()].reduce((x, y) => x + y, 0);
    expect(total).toBe(N);
    return { a: (counts.get('origin-a') ?? 0) / N, b: (counts.get('origin-b') ?? 0) / N, counts };
  };

  /** Both origin servers up (checks passed) in the running HAProxy. */
  const serversUp = async () => {
    const states = parseServersState(await haproxy.runtime.send('show servers state'));
    const web = states.filter((s) => s.backend === `web_${feWeb}`);
    return web.length === 2 && web.every((s) => s.opState === 2 && s.adminState === 0);
  };

  const runtimeWeights = async () => {
    const states = parseServersState(await haproxy.runtime.send('show servers state'));
    return Object.fromEntries(states.filter((s) => s.backend === `web_${feWeb}`).map((s) => [s.server, s.weight]));
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slc-edge-haproxy-'));
    a = await startCountingOrigin('origin-a');
    b = await startCountingOrigin('origin-b');
    feWeb = await freePort();
    feStatic = await freePort();
    sock = join(dir, 'admin.sock');
    cfgPath = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfgPath,
      `global
    stats socket ${sock} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend web
    bind 127.0.0.1:${feWeb}
    default_backend web_${feWeb}

backend web_${feWeb}
    balance roundrobin
    # a leftover server sluice must remove (runtime and file)
    server stale 127.0.0.1:9 weight 10

frontend fixed
    bind 127.0.0.1:${feStatic}
    default_backend fixed_${feStatic}

backend fixed_${feStatic}
    balance static-rr
    server a 127.0.0.1:${a.port} weight 1
`,
    );
    haproxy = await startHaproxy(cfgPath, sock);
    // Health checks on, as in production: added servers need `enable health` and pass a check first.
    const dpCfg = HaproxyDataPlane.parse({ type: 'haproxy', admin_socket: sock, config_file: cfgPath, server_options: 'check inter 200ms rise 1' });
    adapter = new HaproxyAdapter(dpCfg);
    api = new EdgeConfigApiDouble(split({ a: 0.8, b: 0.2 }), 'test-token');
    await api.listen();
    metrics = new EdgeMetrics('test');
    loop = new SyncLoop({
      source: new ApiSource({ urls: [api.url], token: 'test-token', edgeId: api.edgeId, waitMs: 2000 }),
      dataplanes: [adapter],
      metrics,
      log: createLogger('edge-sync-test', 'silent'),
      retry: { initial: 100, max: 500, multiplier: 2, jitter: 0.2 },
    });
  });

  afterAll(async () => {
    await loop?.stop();
    await api?.close();
    await haproxy?.stop();
    await a?.close();
    await b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('applies 80/20 from the API: stale server removed, origins added, 2,000 requests split within ±3 %', async () => {
    loop.start();
    const want = split({ a: 0.8, b: 0.2 });
    await waitFor(() => loop.status().appliedVersion === want.version, { timeoutMs: 15_000, what: `80/20 applied (last error: ${loop.status().lastError})` });
    expect(await runtimeWeights()).toEqual({ 'origin-a': 205, 'origin-b': 51 }); // 0.8·256 = 204.8, 0.2·256 = 51.2
    const file = readFileSync(cfgPath, 'utf8');
    expect(file).not.toMatch(/server stale/);
    expect(file).toContain(`server origin-a 127.0.0.1:${a.port} weight 205 check inter 200ms rise 1`);
    expect(file).toContain(`server origin-b 127.0.0.1:${b.port} weight 51 check inter 200ms rise 1`);
    await waitFor(serversUp, { timeoutMs: 10_000, what: 'added servers pass their health check' });
    await loop.collectStats(); // baseline for the demand counters
    const r = await measure();
    expect(Math.abs(r.a - 0.8)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(r.b - 0.2)).toBeLessThanOrEqual(0.03);
    await loop.collectStats();
    const req = (await metrics.requests.get()).values.find((v) => v.labels.listener === `127.0.0.1:${feWeb}`);
    expect(req?.value).toBe(N);
    const perOrigin = Object.fromEntries((await metrics.originRequests.get()).values.map((v) => [v.labels.origin, v.value]));
    expect(perOrigin['origin-a']).toBe(r.counts.get('origin-a'));
    expect(perOrigin['origin-b']).toBe(r.counts.get('origin-b'));
  });

  it('follows a long-poll update to 30/70 within seconds, and the same config again changes nothing', async () => {
    const want = split({ a: 0.3, b: 0.7 });
    const t0 = Date.now();
    api.publish(want);
    await waitFor(() => loop.status().appliedVersion === want.version, { timeoutMs: 10_000, what: '30/70 applied' });
    expect(Date.now() - t0).toBeLessThan(3000); // long poll answered at once, not after the 2 s wait + backoff
    const r = await measure();
    expect(Math.abs(r.a - 0.3)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(r.b - 0.7)).toBeLessThanOrEqual(0.03);
    const plan = await adapter.plan(want);
    expect(plan.changes).toEqual([]);
    expect(isNoop(plan)).toBe(true);
    const changesBefore = (await metrics.changes.get()).values.reduce((s, v) => s + v.value, 0);
    expect(await loop.syncOnce(want)).toBe(true);
    expect((await metrics.changes.get()).values.reduce((s, v) => s + v.value, 0)).toBe(changesBefore);
    expect((await metrics.weight.get()).values.find((v) => v.labels.origin === 'origin-b')?.value).toBe(0.7);
    expect((await metrics.configVersion.get()).values[0]?.value).toBe(30);
  });

  it('keeps 30/70 after an HAProxy reload (master-worker, SIGUSR2) because haproxy.cfg was rewritten', async () => {
    const oldWorker = await haproxy.workerPid();
    await loop.collectStats();
    await haproxy.reload();
    expect(await haproxy.workerPid()).not.toBe(oldWorker);
    await waitFor(serversUp, { timeoutMs: 10_000, what: 'servers up after reload' });
    expect(await runtimeWeights()).toEqual({ 'origin-a': 77, 'origin-b': 179 }); // 76.8 -> 77, 179.2 -> 179
    const r = await measure();
    expect(Math.abs(r.a - 0.3)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(r.b - 0.7)).toBeLessThanOrEqual(0.03);
    // HAProxy's counters restarted at 0 with the new worker; ours keep counting (no reset, no double count).
    await loop.collectStats();
    const req = (await metrics.requests.get()).values.find((v) => v.labels.listener === `127.0.0.1:${feWeb}`);
    expect(req?.value).toBe(3 * N);
  });

  it('--dry-run prints the runtime commands and the haproxy.cfg diff, and changes nothing', async () => {
    const target = split({ a: 0.5, b: 0.5 });
    const edgeFile = join(dir, 'edge-50.json');
    writeFileSync(edgeFile, JSON.stringify(target));
    const yaml = join(dir, 'dry.yaml');
    writeFileSync(yaml, `config_file: ${edgeFile}\ndataplane:\n  type: haproxy\n  admin_socket: ${sock}\n  config_file: ${cfgPath}\nmetrics:\n  enabled: false\n`);
    const fileBefore = readFileSync(cfgPath, 'utf8');
    const res = await runSluice(['edge-sync', '--config', yaml, '--dry-run']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`set server web_${feWeb}/origin-a weight 128`);
    expect(res.stdout).toContain(`set server web_${feWeb}/origin-b weight 128`);
    expect(res.stdout).toContain(`+     server origin-a 127.0.0.1:${a.port} weight 128`);
    expect(res.stdout).toContain(`-     server origin-a 127.0.0.1:${a.port} weight 77`);
    expect(readFileSync(cfgPath, 'utf8')).toBe(fileBefore);
    expect(await runtimeWeights()).toEqual({ 'origin-a': 77, 'origin-b': 179 });
  });

  it('refuses a static-rr backend with a clear error instead of half-applying weights', async () => {
    const cfg = edgeConfig([{ lb: 'fixed', port: feStatic, origins: [{ name: 'a', port: a.port, weight: 0.6 }, { name: 'b', port: b.port, weight: 0.4 }] }]);
    const plan = await adapter.plan(cfg);
    expect(plan.problems.join('\n')).toMatch(/static algorithm "static-rr".*only 0% or 100%/);
    expect(plan.changes).toEqual([]);
    await expect(adapter.apply(plan)).rejects.toThrow(/static-rr/);
  });

  it('an EdgeConfig with an origin port out of range is refused whole: one line, exit 1, runtime and haproxy.cfg untouched', async () => {
    // HAProxy's runtime API would take "set server … port 70000" and silently wrap it (to 4464); only
    // the rewritten haproxy.cfg would then fail its check, leaving runtime and file disagreeing.
    const bad = JSON.parse(JSON.stringify(split({ a: 0.6, b: 0.4 }))) as ReturnType<typeof split>;
    bad.listeners[0]!.origins[0]!.port = 70_000;
    const edgeFile = join(dir, 'edge-bad-port.json');
    writeFileSync(edgeFile, JSON.stringify(bad));
    const yaml = join(dir, 'bad-port.yaml');
    writeFileSync(yaml, `config_file: ${edgeFile}\ndataplane:\n  type: haproxy\n  admin_socket: ${sock}\n  config_file: ${cfgPath}\nmetrics:\n  enabled: false\n`);
    const fileBefore = readFileSync(cfgPath, 'utf8');
    const stateBefore = await haproxy.runtime.send('show servers state');
    const res = await runSluice(['edge-sync', '--config', yaml, '--once'], { env: { SLUICE_LOG_LEVEL: 'silent' } });
    expect(res.code).toBe(1);
    expect(res.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^sluice edge-sync: .*edge-bad-port\.json: not a valid EdgeConfig: listeners\[0\]\.origins\[0\]\.port: /)]);
    expect(readFileSync(cfgPath, 'utf8')).toBe(fileBefore);
    expect(await runtimeWeights()).toEqual({ 'origin-a': 77, 'origin-b': 179 });
    const addr = (text: string) => parseServersState(text).filter((s) => s.backend === `web_${feWeb}`).map((s) => `${s.server}=${s.address}:${s.port}`).sort();
    expect(addr(await haproxy.runtime.send('show servers state'))).toEqual(addr(stateBefore));
  });

  it('API down: errors are counted and the weights in force stay', async () => {
    const errorsBefore = (await metrics.apiErrors.get()).values.reduce((s, v) => s + v.value, 0);
    await api.close();
    await waitFor(async () => (await metrics.apiErrors.get()).values.reduce((s, v) => s + v.value, 0) >= errorsBefore + 2, { timeoutMs: 15_000, what: 'two failed polls' });
    expect(await runtimeWeights()).toEqual({ 'origin-a': 77, 'origin-b': 179 });
    expect(readFileSync(cfgPath, 'utf8')).toContain(`server origin-b 127.0.0.1:${b.port} weight 179`);
    const r = await sendRequests(feWeb, 200, { deadlineMs: 20_000 });
    expect((r.get('origin-a') ?? 0) + (r.get('origin-b') ?? 0)).toBe(200);
  });
});
