// End to end with the real control plane: `sluice control-plane` (SQLite, REST) is the source of
// truth, `sluice dns` follows its GET /api/v1/dns/view long-poll with a read-only token, and dig sees
// an operator's change (an origin disabled through the REST API) without any restart.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';
import { dataPlaneControlPlane } from './helpers/control-plane.ts';
import { GEOIP_TEST_DB, PLACES } from '../dns/testing/fixtures.ts';

const run = promisify(execFile);
const skip = unavailable({ tools: { dig: 'dnsutils' } });
const ADMIN = 'admin-token-for-dns-e2e';
const READ = 'read-token-for-dns-e2e';

describe.skipIf(skip)('sluice dns following the real control plane', () => {
  let dir: string;
  let apiPort: number;
  let dnsPort: number;
  let api: SluiceProcess;
  let dns: SluiceProcess;
  const ids: Record<string, string> = {};
  let lbId = '';

  let cp: ReturnType<typeof dataPlaneControlPlane>;
  const call = (method: string, path: string, body?: unknown) => cp.call(method, path, body);
  const dig = async (...args: string[]) => (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+short', '+tries=2', '+time=1', ...args])).stdout.trim();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-cp-'));
    apiPort = await freePort();
    dnsPort = await freeServerPort();
    cp = dataPlaneControlPlane(dir, apiPort, { admin: ADMIN, read: READ });
    api = await cp.start();
    lbId = (await call('POST', '/api/v1/load-balancers', { name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 30, answers: 1 }, policy: 'latency' })).id;
    const origins = [
      { name: 'eu-london', region: 'eu-west', addresses: ['192.0.2.10'], location: PLACES.london },
      { name: 'us-east', region: 'us-east', addresses: ['203.0.113.30'], location: PLACES.ashburn },
      { name: 'us-west', region: 'us-west', addresses: ['198.51.100.20'], location: PLACES.seattle },
    ];
    for (const o of origins) ids[o.name] = (await call('POST', `/api/v1/load-balancers/${lbId}/origins`, { ...o, port: 443, target_rps: 100, max_rps: 200 })).id;

    writeFileSync(join(dir, 'token'), READ, { mode: 0o600 });
    writeFileSync(
      join(dir, 'dns.yaml'),
      [
        `listen: ["127.0.0.1:${dnsPort}"]`,
        `api: { url: "http://127.0.0.1:${apiPort}", token_file: token, wait: 30s }`,
        `geoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }`,
      ].join('\n'),
    );
    dns = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(async () => (await dig('app.example.com', '+subnet=81.2.69.0/24')) === '192.0.2.10', { timeoutMs: 20_000, what: `sluice dns; output: ${dns?.output()}` });
  });

  afterAll(async () => {
    await dns?.stop();
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers by geolocation from the control plane\'s view (cold start, nothing learned)', async () => {
    expect(await dig('app.example.com', '+subnet=81.2.69.0/24')).toBe('192.0.2.10');
    expect(await dig('app.example.com', '+subnet=216.160.83.0/24')).toBe('198.51.100.20');
  });

  it('an origin disabled through the REST API leaves the answers within seconds, without restart', async () => {
    const pid = dns.child.pid;
    await call('PATCH', `/api/v1/load-balancers/${lbId}/origins/${ids['eu-london']}`, { admin_state: 'disabled' });
    // London's next nearest active origin is Ashburn.
    await waitFor(async () => (await dig('app.example.com', '+subnet=81.2.69.0/24')) === '203.0.113.30', { timeoutMs: 5000, what: 'the change to reach DNS' });
    expect(dns.child.pid).toBe(pid);
    expect(dns.child.exitCode).toBeNull();
  });
});
