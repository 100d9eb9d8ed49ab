// End to end: the control plane publishes learned weights (SQLite store, real HTTP API), `sluice dns`
// with two cluster workers (each with its batched UDP thread) follows GET /api/v1/dns/view/changes and
// answers from deltas: a changed subnet is answered by its new origin, a removed one falls back to
// geolocation, an unchanged one keeps its answer — while the server counts deltas, not full views.
// The same as one process (no workers: it follows the API itself and holds the view packed, see
// dns/packed/), whose index and UDP thread take the deltas as a worker's do.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GEOIP_TEST_DB, PLACES } from '../dns/testing/fixtures.ts';
import { SAMPLE, http, startInProcess, type InProcessControlPlane } from './helpers/control-plane.ts';
import { unavailable } from './helpers/env.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const run = promisify(execFile);
const skip = unavailable({ tools: { dig: 'dnsutils' } });
const N = 5000;

/** A control plane with one load balancer (eu and us origins, N learned subnets, half each) and a `sluice dns` following it with `config` lines. */
async function startFixture(config: string[]) {
  const cp = await startInProcess();
  const lbId = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: { ...SAMPLE.loadBalancer, dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 30, answers: 1 } } })).json.id as string;
  const ids = {
    eu: (await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, { method: 'POST', body: { name: 'eu-london', region: 'eu-west', addresses: ['192.0.2.10'], port: 443, location: PLACES.london, target_rps: 100, max_rps: 200 } })).json.id as string,
    us: (await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, { method: 'POST', body: { name: 'us-east', region: 'us-east', addresses: ['203.0.113.30'], port: 443, location: PLACES.ashburn, target_rps: 100, max_rps: 200 } })).json.id as string,
  };
  /** The first `eu` subnets learned eu, the rest us. */
  const learned = (eu: number) => {
    const out: Record<string, Record<string, number>> = {};
    for (let i = 0; i < N; i++) out[`10.${i >> 8}.${i & 255}.0/24`] = i < eu ? { [ids.eu]: 1 } : { [ids.us]: 1 };
    return out;
  };
  await cp.store.publishWeights(lbId, { subnets: learned(N / 2) }, { load_balancer_id: lbId, reason: 'optimize' });
  const dir = mkdtempSync(join(tmpdir(), 'sluice-dns-delta-'));
  const dnsPort = await freeServerPort();
  writeFileSync(join(dir, 'dns.yaml'), [`listen: ["127.0.0.1:${dnsPort}"]`, `api: { url: "${cp.url}", wait: 30s }`, `geoip: { database: ${JSON.stringify(fileURLToPath(GEOIP_TEST_DB))} }`, ...config].join('\n'));
  const dns = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
  const dig = async (subnet: string, tcp = false) =>
    (await run('dig', ['@127.0.0.1', '-p', String(dnsPort), '+short', '+tries=2', '+time=1', ...(tcp ? ['+tcp'] : []), 'app.example.com', `+subnet=${subnet}`])).stdout.trim();
  const stop = async () => {
    await dns.stop();
    await cp.close();
    rmSync(dir, { recursive: true, force: true });
  };
  const fixture = { cp, lbId, ids, dns, dig, learned, stop };
  try {
    await waitFor(() => dns.output().includes('sluice dns ready'), { timeoutMs: 30_000, what: `sluice dns ready; output: ${dns.output()}` });
  } catch (err) {
    await stop();
    throw err;
  }
  return fixture;
}

describe.skipIf(skip)('sluice dns following /dns/view/changes (deltas through workers and UDP threads)', () => {
  let f: Awaited<ReturnType<typeof startFixture>>;
  let metricsPort: number;
  const dig = (subnet: string, tcp = false) => f.dig(subnet, tcp);
  const metric = async (pattern: RegExp) => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return text.split('\n').filter((l) => pattern.test(l)).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
  };

  beforeAll(async () => {
    metricsPort = await freePort();
    f = await startFixture(['workers: 2', `metrics: { listen: "127.0.0.1:${metricsPort}" }`]);
  });

  afterAll(async () => {
    await f?.stop();
  });

  it('answers changed, removed and unchanged subnets from deltas on UDP and TCP, counting deltas', async () => {
    expect(await dig('10.0.5.0/24')).toBe('192.0.2.10'); // learned: eu
    expect(await dig('10.15.0.0/24')).toBe('203.0.113.30'); // learned: us
    expect(await metric(/^sluice_dns_view_changes_total\{kind="full",reason="no_base"\}/)).toBe(1);
    const version = async () => (await http(`${f.cp.url}/api/v1/dns/view`)).json.version as string;
    for (let round = 1; round <= 3; round++) {
      // 2 % of the subnets move from eu to us each round; one subnet is removed in the last.
      const next = f.learned(N / 2 - round * (N / 50));
      if (round === 3) delete next['10.1.0.0/24'];
      const before = await version();
      await f.cp.store.publishWeights(f.lbId, { subnets: next }, { load_balancer_id: f.lbId, reason: 'optimize' });
      expect(await version()).not.toBe(before);
      const moved = `10.${(N / 2 - 1) >> 8}.${(N / 2 - 1) & 255}.0/24`; // the last eu subnet moves in round 1
      await waitFor(async () => (await metric(/^sluice_dns_view_changes_total\{kind="delta"/)) >= round, { timeoutMs: 15_000, what: `delta ${round} installed` });
      await waitFor(async () => (await dig(moved)) === '203.0.113.30' && (await dig(moved, true)) === '203.0.113.30', { timeoutMs: 10_000, what: `${moved} answered by its new origin (UDP and TCP)` });
    }
    // Removed: no longer learned, so not answered with reason learned_latency (10.x is not in the test
    // database, so by static weight). One query for it and one for a learned subnet: exactly one learned.
    const learnedBefore = await metric(/^sluice_dns_queries_total\{.*reason="learned_latency"/);
    const totalBefore = await metric(/^sluice_dns_queries_total\{/);
    await dig('10.1.0.0/24');
    await dig('10.1.1.0/24');
    await waitFor(async () => (await metric(/^sluice_dns_queries_total\{/)) >= totalBefore + 2, { timeoutMs: 5000, what: 'both queries counted' });
    expect(await metric(/^sluice_dns_queries_total\{.*reason="learned_latency"/)).toBe(learnedBefore + 1);
    expect(await dig('10.0.5.0/24')).toBe('192.0.2.10'); // unchanged
    expect(await metric(/^sluice_dns_view_changes_total\{kind="full"/)).toBe(1);
    expect(await metric(/^sluice_dns_api_errors_total/)).toBe(0);
    expect(f.dns.output()).not.toMatch(/cannot apply|rebuilding it/);
    // The workers got the deltas too (a full view is indexed with its summary logged by one worker:
    // once, for the first view), not the whole view re-sent by the primary per publish.
    expect(f.dns.output().match(/view installed/g) ?? []).toHaveLength(1);
  });

  it('rebuilds a record whose origins changed from the delta (workers and UDP threads keep no subnets), still as deltas', async () => {
    const deltas = await metric(/^sluice_dns_view_changes_total\{kind="delta"/);
    const eu = `/api/v1/load-balancers/${f.lbId}/origins/${f.ids.eu}`;
    // eu disabled: its learned subnets have nothing usable left, so the other origin answers them.
    await http(`${f.cp.url}${eu}`, { method: 'PATCH', body: { admin_state: 'disabled' } });
    await waitFor(async () => (await dig('10.0.5.0/24')) === '203.0.113.30' && (await dig('10.0.5.0/24', true)) === '203.0.113.30', { timeoutMs: 15_000, what: 'eu disabled: 10.0.5.0/24 answered by us-east (UDP and TCP)' });
    await http(`${f.cp.url}${eu}`, { method: 'PATCH', body: { admin_state: 'active' } });
    await waitFor(async () => (await dig('10.0.5.0/24')) === '192.0.2.10' && (await dig('10.0.5.0/24', true)) === '192.0.2.10', { timeoutMs: 15_000, what: 'eu active again: 10.0.5.0/24 learned eu again (UDP and TCP)' });
    expect(await metric(/^sluice_dns_view_changes_total\{kind="delta"/)).toBeGreaterThanOrEqual(deltas + 2);
    expect(await metric(/^sluice_dns_view_changes_total\{kind="full"/)).toBe(1);
    expect(f.dns.output()).not.toMatch(/cannot apply|asking for the whole view|cannot index/);
  });
});

describe.skipIf(skip)('sluice dns as one process following /dns/view/changes (the view held packed, deltas to its index and UDP thread)', () => {
  let f: Awaited<ReturnType<typeof startFixture>>;
  const dig = (subnet: string, tcp = false) => f.dig(subnet, tcp);

  beforeAll(async () => {
    f = await startFixture(['workers: 1']);
  });

  afterAll(async () => {
    await f?.stop();
  });

  it('answers moved subnets and a rebuilt record from deltas on UDP and TCP, indexing the whole view once', async () => {
    expect(f.dns.output()).toMatch(/sluice dns ready/);
    expect(f.dns.output()).not.toMatch(/dns-worker/); // one process: no cluster workers
    expect(await dig('10.0.5.0/24')).toBe('192.0.2.10');
    for (let round = 1; round <= 2; round++) {
      const next = f.learned(N / 2 - round * (N / 50));
      await f.cp.store.publishWeights(f.lbId, { subnets: next }, { load_balancer_id: f.lbId, reason: 'optimize' });
      const moved = `10.${(N / 2 - round * (N / 50)) >> 8}.${(N / 2 - round * (N / 50)) & 255}.0/24`;
      await waitFor(async () => (await dig(moved)) === '203.0.113.30' && (await dig(moved, true)) === '203.0.113.30', { timeoutMs: 15_000, what: `${moved} answered by its new origin (UDP and TCP)` });
    }
    // A rebuilt record (its origins changed): its whole table comes from the packed view.
    const eu = `/api/v1/load-balancers/${f.lbId}/origins/${f.ids.eu}`;
    await http(`${f.cp.url}${eu}`, { method: 'PATCH', body: { admin_state: 'disabled' } });
    await waitFor(async () => (await dig('10.0.5.0/24')) === '203.0.113.30' && (await dig('10.0.5.0/24', true)) === '203.0.113.30', { timeoutMs: 15_000, what: 'eu disabled: answered by us-east' });
    await http(`${f.cp.url}${eu}`, { method: 'PATCH', body: { admin_state: 'active' } });
    await waitFor(async () => (await dig('10.0.5.0/24')) === '192.0.2.10' && (await dig('10.0.5.0/24', true)) === '192.0.2.10', { timeoutMs: 15_000, what: 'eu active again: learned eu again (UDP and TCP)' });
    expect(await dig('10.15.0.0/24')).toBe('203.0.113.30'); // unchanged
    // Only the first view was indexed whole (its summary logged); every later one came as a delta.
    expect(f.dns.output().match(/view installed/g) ?? []).toHaveLength(1);
    expect(f.dns.output()).not.toMatch(/cannot apply|asking for the whole view|cannot index|rebuilding it/);
  });
});
