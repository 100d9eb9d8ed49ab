// Serve-stale across a restart, end to end with real processes: `sluice dns` (primary + worker, with
// view_cache) follows the real `sluice control-plane`; an operator's change reaches the answers and
// the cache; then the control plane goes down AND the DNS server restarts. Without the cache it would
// answer SERVFAIL until a replica is back; with it, it answers what it answered before (the change
// included), says so in its metrics, and follows the control plane again once it is back. A damaged
// cache is refused (SERVFAIL, counted), never served and never a crash.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEOIP_TEST_DB, PLACES } from '../dns/testing/fixtures.ts';
import { parsePromText } from '../lib/prom-text.ts';
import { unavailable } from './helpers/env.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';
import { dataPlaneControlPlane } from './helpers/control-plane.ts';

const run = promisify(execFile);
const skip = unavailable({ tools: { dig: 'dnsutils' } });
const ADMIN = 'admin-token-for-view-cache';
const READ = 'read-token-for-view-cache';
const LONDON = '+subnet=81.2.69.0/24';

describe.skipIf(skip)('sluice dns view_cache: answering from the last good view across a restart during a control-plane outage', () => {
  let dir: string;
  let apiPort: number;
  let dnsPort: number;
  let metricsPort: number;
  let api: SluiceProcess | undefined;
  let dns: SluiceProcess | undefined;
  const ids: Record<string, string> = {};
  let lbId = '';
  const cacheFile = () => join(dir, 'cache', 'view.cache');

  let cp: ReturnType<typeof dataPlaneControlPlane>;
  const call = (method: string, path: string, body?: unknown) => cp.call(method, path, body);
  const dig = async (...args: string[]) => (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+tries=1', '+time=1', ...args])).stdout;
  const answer = async () => (await dig('+short', 'app.example.com', LONDON)).trim();
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const { samples } = parsePromText(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
    return samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
  };
  const startApi = async () => {
    api = await cp.start();
  };
  const startDns = () => {
    dns = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    return dns;
  };
  const cachedVersion = () => {
    try {
      const text = readFileSync(cacheFile(), 'utf8');
      return (JSON.parse(text.slice(text.lastIndexOf('\n') + 1)) as { version: string }).version;
    } catch {
      return undefined;
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-cache-'));
    apiPort = await freePort();
    dnsPort = await freeServerPort();
    metricsPort = await freePort();
    cp = dataPlaneControlPlane(dir, apiPort, { admin: ADMIN, read: READ });
    await startApi();
    lbId = (await call('POST', '/api/v1/load-balancers', { name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 30, answers: 1 }, policy: 'latency' })).id;
    const origins = [
      { name: 'eu-london', region: 'eu-west', addresses: ['192.0.2.10'], location: PLACES.london },
      { name: 'us-east', region: 'us-east', addresses: ['203.0.113.30'], location: PLACES.ashburn },
    ];
    for (const o of origins) ids[o.name] = (await call('POST', `/api/v1/load-balancers/${lbId}/origins`, { ...o, port: 443, target_rps: 100, max_rps: 200 })).id;
    writeFileSync(join(dir, 'token'), READ, { mode: 0o600 });
    mkdirSync(join(dir, 'cache'));
    writeFileSync(
      join(dir, 'dns.yaml'),
      [
        `listen: ["127.0.0.1:${dnsPort}"]`,
        `api: { url: "http://127.0.0.1:${apiPort}", token_file: token, wait: 30s, retry: 200ms, first_view_wait: 1s }`,
        `view_cache: { file: cache/view.cache, min_interval: 100ms }`,
        `metrics: { listen: "127.0.0.1:${metricsPort}" }`,
        `geoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }`,
      ].join('\n'),
    );
    startDns();
    await waitFor(async () => (await answer().catch(() => '')) === '192.0.2.10', { timeoutMs: 20_000, what: `sluice dns; output: ${dns?.output()}` });
  });

  afterAll(async () => {
    await dns?.stop();
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the view in force on disk, following each change', async () => {
    await call('PATCH', `/api/v1/load-balancers/${lbId}/origins/${ids['eu-london']}`, { admin_state: 'disabled' });
    await waitFor(async () => (await answer()) === '203.0.113.30', { timeoutMs: 10_000, what: 'the change to reach DNS' });
    const version = ((await (await fetch(`http://127.0.0.1:${apiPort}/api/v1/dns/view`, { headers: { authorization: `Bearer ${READ}` } })).json()) as { version: string }).version;
    await waitFor(() => cachedVersion() === version, { timeoutMs: 10_000, what: `the cache to hold view ${version} (has ${cachedVersion()})` });
    expect(await metric('sluice_dns_view_from_cache')).toBe(0);
  });

  it('restarted while the control plane is down, it answers from the cached view (the change included), not SERVFAIL', async () => {
    await dns!.stop();
    await api!.stop();
    api = undefined;
    startDns();
    await waitFor(async () => (await answer().catch(() => '')) === '203.0.113.30', { timeoutMs: 20_000, what: `answers from the cache; output: ${dns?.output()}` });
    expect(await dig('app.example.com', LONDON)).toMatch(/status: NOERROR/);
    expect(await metric('sluice_dns_view_from_cache')).toBe(1);
    expect(await metric('sluice_dns_view_cache_loads_total', { result: 'ok' })).toBe(1);
    expect(dns!.output()).toMatch(/answering from the cached view/);
  });

  it('follows the control plane again once it is back: the next change is answered and the cache flag drops', async () => {
    await startApi();
    await call('PATCH', `/api/v1/load-balancers/${lbId}/origins/${ids['eu-london']}`, { admin_state: 'active' });
    await waitFor(async () => (await answer()) === '192.0.2.10', { timeoutMs: 15_000, what: `the re-enabled origin in the answers; output: ${dns?.output()}` });
    await waitFor(async () => (await metric('sluice_dns_view_from_cache')) === 0, { timeoutMs: 5000, what: 'from_cache back to 0' });
  });

  it('a damaged cache is refused and counted: SERVFAIL until a replica answers, no crash', async () => {
    await dns!.stop();
    await api!.stop();
    api = undefined;
    const good = readFileSync(cacheFile(), 'utf8');
    writeFileSync(cacheFile(), good.replace('192.0.2.10', '192.0.2.66'));
    const proc = startDns();
    await waitFor(async () => /status: SERVFAIL/.test(await dig('app.example.com', LONDON).catch(() => '')), { timeoutMs: 20_000, what: `SERVFAIL from an empty server; output: ${proc.output()}` });
    expect(await metric('sluice_dns_view_cache_loads_total', { result: 'invalid' })).toBe(1);
    expect(await metric('sluice_dns_view_from_cache')).toBe(0);
    expect(proc.child.exitCode).toBeNull();
    expect(proc.output()).toMatch(/checksum mismatch/);
  });
});
