// Every part of sluice over TLS at once, on loopback, with certificates made by openssl and client
// certificates everywhere (no bearer token anywhere):
//
//   agents (HTTPS, client certs required) ─┐
//   edge-sync /metrics (same)             ─┼─ scraped by a real Prometheus (scheme https, tls_config
//   sluice dns /metrics (same)            ─┤   with its client certificate; its own API served with
//   control plane /metrics (OU → read)    ─┘   --web.config.file, client certificates required)
//   control plane scheduler ── PromQL over mTLS ──▶ Prometheus
//   sluice dns, sluice edge-sync ── long-poll over mTLS (OU=sluice-read) ──▶ control plane
//
// What is checked: every scrape target up over TLS; weights computed from the agents' kernel RTTs
// reach the API through Prometheus; DNS answers from a view it fetched over mTLS and edge-sync writes
// the upstreams of a config it fetched over mTLS; the scheduler's readers fail closed with a wrong CA
// or no client certificate; the data planes keep serving their last good view while the control
// plane shows an expired certificate, and follow again once it is renewed; no private key in any log.
// edge-sync drives the nginx data plane with `true` as its test and reload commands: applying is
// tested against real nginx in test/edge-sync-nginx.test.ts; here the transport is the subject.
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpGetter } from '../lib/http-get.ts';
import { makeTestPki, standardCerts, type CertPair, type StandardCerts, type TestPki } from '../lib/testing/pki.ts';
import { TlsClientConfig } from '../lib/tls-config.ts';
import { ClientTls } from '../lib/tls-client.ts';
import { PromqlInputReader } from '../scheduler/inputs/promql.ts';
import { ScrapeInputReader } from '../scheduler/inputs/scrape.ts';
import { tempDir } from './helpers/control-plane.ts';
import { unavailable } from './helpers/env.ts';
import { echoServer, subnetClients } from './helpers/loopback-clients.ts';
import { freePort } from './helpers/ports.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { httpsRequest } from './helpers/tls-clients.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { prometheus: 'prometheus', openssl: 'openssl', dig: 'dnsutils' } });
const run = promisify(execFile);

describe.skipIf(skip)('every component over TLS: control plane ↔ DNS ↔ edge-sync ↔ Prometheus ↔ agents', () => {
  const dir = tempDir('sluice-e2e-tls-');
  let pki: TestPki;
  let c: StandardCerts;
  let id: Record<'dns' | 'edge' | 'prometheus' | 'scheduler', CertPair>;
  const live = { cert: join(dir.path, 'tls', 'cp.crt'), key: join(dir.path, 'tls', 'cp.key') };
  const procs: Record<string, SluiceProcess> = {};
  const origins: { name: string; address: string; server: Server; port: number; agentPort: number }[] = [];
  let load: ReturnType<typeof subnetClients> | undefined;
  let prom: RunningPrometheus;
  let ports: { cp: number; dns: number; dnsMetrics: number; edgeMetrics: number };
  let cpUrl: string;
  let lbId = '';
  const upstreams = join(dir.path, 'upstreams.conf');

  const admin = () => ({ ca: pki.ca, cert: c.clientAdmin.cert, key: c.clientAdmin.key });
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await httpsRequest(`${cpUrl}${path}`, admin(), { method, body, ...(method === 'PATCH' ? { headers: { 'content-type': 'application/merge-patch+json' } } : {}) });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  /** GET over TLS with the test's read certificate (the data planes' metrics require one). */
  const scrape = async (url: string) => (await httpsRequest(url, { ca: pki.ca, cert: id.prometheus.cert, key: id.prometheus.key }, { contract: false })).text;
  const metricValue = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(series))?.split(' ').pop() ?? Number.NaN);
  const dig = async (subnet: string) => (await run('dig', ['@127.0.0.1', '-p', String(ports.dns), '+short', '+tries=2', '+time=1', `+subnet=${subnet}`, 'app.example.com'])).stdout.trim();

  /** Installs a certificate pair as the control plane's, the way renewal tools do (write beside, rename over). */
  function installCpCert(pair: CertPair): void {
    copyFileSync(pair.key, `${live.key}.new`);
    chmodSync(`${live.key}.new`, 0o600);
    copyFileSync(pair.cert, `${live.cert}.new`);
    renameSync(`${live.key}.new`, live.key);
    renameSync(`${live.cert}.new`, live.cert);
  }

  function startControlPlane(): void {
    procs.cp = startSluice(['control-plane', '--config', join(dir.path, 'control-plane.yaml')], { env: { SLUICE_LOG_LEVEL: 'info' } });
  }

  beforeAll(async () => {
    pki = makeTestPki();
    c = standardCerts(pki);
    id = {
      dns: pki.issue('dns', { cn: 'dns-1', ou: 'sluice-read', usage: 'client' }),
      // The edge's certificate is its report credential: OU sluice-report, CN its edge name.
      edge: pki.issue('edge', { cn: 'edge-1', ou: 'sluice-report', usage: 'client' }),
      prometheus: pki.issue('prometheus', { cn: 'prometheus', ou: 'sluice-read', usage: 'client' }),
      scheduler: pki.issue('scheduler', { cn: 'scheduler', usage: 'client' }),
    };
    mkdirSync(join(dir.path, 'tls'));
    installCpCert(c.server);
    ports = { cp: await freePort(), dns: await freePort(), dnsMetrics: await freePort(), edgeMetrics: await freePort() };
    cpUrl = `https://127.0.0.1:${ports.cp}`;
    const serverTls = (indent: string) => [`${indent}tls:`, `${indent}  cert_file: ${c.server.cert}`, `${indent}  key_file: ${c.server.key}`, `${indent}  client_ca_file: ${pki.ca}`, `${indent}  client_auth_type: RequireAndVerifyClientCert`];
    const clientTls = (indent: string, pair: CertPair) => [`${indent}tls:`, `${indent}  ca_file: ${pki.ca}`, `${indent}  cert_file: ${pair.cert}`, `${indent}  key_file: ${pair.key}`];

    // Agents in front of two origin services, over HTTPS with client certificates required.
    for (const [i, name] of ['origin-a', 'origin-b'].entries()) {
      const { server, port } = await echoServer();
      const agentPort = await freePort();
      const cfg = join(dir.path, `${name}.yaml`);
      writeFileSync(cfg, [`node: ${name}`, `listen: 127.0.0.1:${agentPort}`, `service_ports: [${port}]`, 'include_loopback: true', 'poll_interval: 250ms', 'min_connection_age: 250ms', 'min_samples: 2', ...serverTls('')].join('\n'));
      procs[name] = startSluice(['agent', '--config', cfg], { env: { SLUICE_LOG_LEVEL: 'warn' } });
      origins.push({ name, address: `127.0.0.${i + 1}`, server, port, agentPort });
    }
    for (const o of origins) await waitFor(async () => (await scrape(`https://127.0.0.1:${o.agentPort}/healthz`)).length > 0, { timeoutMs: 20_000, what: `${o.name} agent over TLS; ${procs[o.name]!.output()}` });

    const scrapeTls = { ca_file: pki.ca, cert_file: id.prometheus.cert, key_file: id.prometheus.key };
    const agents = origins.map((o) => `127.0.0.1:${o.agentPort}`);
    prom = await startPrometheus(
      [
        { job: 'sluice-agent', targets: agents, tls: scrapeTls },
        { job: 'sluice-agent-subnets', metricsPath: '/metrics/subnets', targets: agents, tls: scrapeTls },
        { job: 'sluice-edge-sync', targets: [`127.0.0.1:${ports.edgeMetrics}`], tls: scrapeTls },
        { job: 'sluice-dns', targets: [`127.0.0.1:${ports.dnsMetrics}`], tls: scrapeTls },
        // The control plane's /metrics with a certificate whose OU maps to the read role: no token.
        { job: 'sluice-control-plane', targets: [`127.0.0.1:${ports.cp}`], tls: scrapeTls },
      ],
      { web: { cert: c.server.cert, key: c.server.key, clientCa: pki.ca, client: { ca: pki.ca, cert: id.prometheus.cert, key: id.prometheus.key } } },
    );
    expect(prom.url).toMatch(/^https:/);

    writeFileSync(
      join(dir.path, 'control-plane.yaml'),
      [
        `listen: 127.0.0.1:${ports.cp}`,
        `data_dir: ${join(dir.path, 'data')}`,
        'tls:',
        `  cert_file: ${live.cert}`,
        `  key_file: ${live.key}`,
        `  client_ca_file: ${pki.ca}`,
        '  client_auth_type: RequireAndVerifyClientCert',
        '  reload_interval: 300ms',
        'auth:',
        '  client_certificates: { admin_ous: [sluice-admin], report_ous: [sluice-report], read_ous: [sluice-read] }',
        'health_checks: { enabled: false }',
        'scheduler:',
        '  interval: 1s',
        '  prometheus:',
        `    url: ${prom.url}`,
        '    window: 10s',
        '    stale: 10s',
        ...clientTls('    ', id.scheduler),
      ].join('\n'),
    );
    startControlPlane();
    await waitFor(async () => (await httpsRequest(`${cpUrl}/healthz`, admin())).status === 200, { timeoutMs: 30_000, what: `the control plane over TLS; ${procs.cp!.output()}` });

    lbId = (await api('POST', '/api/v1/load-balancers', { name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 5 }, listeners: [{ vip: '127.0.0.1', port: 18080, protocol: 'http' }], min_samples: 2 })).id;
    // origin-a has a health check (the echo servers listen on 127.0.0.1 only, so origin-b's address
    // would fail one): edge-sync runs it itself (nginx keeps no health state) and reports it.
    for (const [i, o] of origins.entries()) {
      await api('POST', `/api/v1/load-balancers/${lbId}/origins`, { name: o.name, region: `r${i}`, addresses: [o.address], port: o.port, location: { lat: 0, lon: 0 }, target_rps: 1000, max_rps: 1000, ...(i === 0 ? { health_check: { type: 'tcp', interval_ms: 500, timeout_ms: 400 } } : {}) });
    }
    const edgeId = (await api('POST', '/api/v1/edges', { name: 'edge-1', region: 'r0', address: '127.0.0.1', location: { lat: 0, lon: 0 } })).id;

    writeFileSync(
      join(dir.path, 'edge-sync.yaml'),
      [
        'edge: edge-1',
        'api:',
        `  url: ${cpUrl}`,
        `  edge_id: ${edgeId}`,
        '  wait: 5s',
        ...clientTls('  ', id.edge),
        'dataplane:',
        '  type: nginx',
        `  upstream_file: ${upstreams}`,
        '  test_command: ["true"]',
        '  reload_command: ["true"]',
        'metrics:',
        `  listen: 127.0.0.1:${ports.edgeMetrics}`,
        '  poll_interval: 500ms',
        ...serverTls('  '),
        'retry: { initial: 100ms, max: 1s }',
        'health: { poll_interval: 300ms, report_interval: 2s }',
      ].join('\n'),
    );
    procs.edge = startSluice(['edge-sync', '--config', join(dir.path, 'edge-sync.yaml')], { env: { SLUICE_LOG_LEVEL: 'info' } });
    writeFileSync(
      join(dir.path, 'dns.yaml'),
      [
        `listen: ["127.0.0.1:${ports.dns}"]`,
        'api:',
        `  url: ${cpUrl}`,
        '  wait: 5s',
        '  retry: 200ms',
        ...clientTls('  ', id.dns),
        'metrics:',
        `  listen: 127.0.0.1:${ports.dnsMetrics}`,
        ...serverTls('  '),
        'geoip: { cidr_mappings: [{ cidr: 127.0.0.0/8, location: { lat: 0, lon: 0 } }] }',
      ].join('\n'),
    );
    procs.dns = startSluice(['dns', '--config', join(dir.path, 'dns.yaml')], { env: { SLUICE_LOG_LEVEL: 'info' } });
  }, 120_000);

  afterAll(async () => {
    load?.close();
    for (const p of Object.values(procs)) await p.stop();
    await prom?.stop();
    for (const o of origins) o.server.close();
    dir.remove();
    pki?.remove();
  });

  it('Prometheus scrapes every component over HTTPS with its client certificate', async () => {
    const targets = await waitFor(
      async () => {
        const t = await prom.targets();
        const down = t.filter((x) => x.health !== 'up');
        if (t.length === 7 && down.length === 0) return t;
        throw new Error(down.map((x) => `${x.job} ${x.scrapeUrl}: ${x.health} ${x.lastError}`).join('; ') || `${t.length} targets`);
      },
      { timeoutMs: 45_000, intervalMs: 500, what: 'every scrape target up over TLS' },
    );
    expect(new Set(targets.map((t) => t.job))).toEqual(new Set(['sluice-agent', 'sluice-agent-subnets', 'sluice-edge-sync', 'sluice-dns', 'sluice-control-plane']));
    for (const t of targets) expect(t.scrapeUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    // The control plane saw Prometheus' certificate as a reader: its own series came through.
    expect((await prom.query('sluice_api_long_poll_waiters')).length).toBeGreaterThan(0);
  }, 60_000);

  it('weights learned from the kernel travel agents → Prometheus → scheduler → API → DNS and edge-sync, all over mTLS', async () => {
    // Clients from two loopback /24s keep connections to both origins busy and keep opening new ones.
    const subnets = ['127.0.41', '127.0.42'];
    load = subnetClients(origins.map((o) => o.port), subnets);
    try {
      const weights = await waitFor(
        async () => {
          const w = await httpsRequest(`${cpUrl}/api/v1/load-balancers/${lbId}/weights`, admin());
          return w.status === 200 && subnets.every((p) => w.json.subnets[`${p}.0/24`]) ? w.json : null;
        },
        { timeoutMs: 90_000, intervalMs: 500, what: `per-subnet weights published (control plane: ${procs.cp!.output().slice(-800)})` },
      );
      // DNS serves a view at least this new (fetched over mTLS), and answers with an origin of it.
      await waitFor(async () => metricValue(await scrape(`https://127.0.0.1:${ports.dnsMetrics}/metrics`), 'sluice_dns_view_version') >= weights.version, { timeoutMs: 20_000, what: `DNS at weights version ${weights.version}; ${procs.dns!.output().slice(-800)}` });
      expect(['127.0.0.1', '127.0.0.2']).toContain(await dig('127.0.41.0/24'));
      // edge-sync applied a config (fetched over mTLS) naming both origins, and says so on its TLS /metrics.
      await waitFor(() => existsSync(upstreams) && origins.every((o) => readFileSync(upstreams, 'utf8').includes(`${o.address}:${o.port}`)), { timeoutMs: 20_000, what: `edge-sync upstreams; ${procs.edge!.output().slice(-800)}` });
      expect(metricValue(await scrape(`https://127.0.0.1:${ports.edgeMetrics}/metrics`), 'sluice_edge_applies_total{edge="edge-1",result="ok"}')).toBeGreaterThanOrEqual(1);
    } finally {
      load.stop();
    }
  }, 120_000);

  it('edge-sync reports its health checks over mTLS, its certificate the report credential (no token)', async () => {
    const health = await waitFor(
      async () => {
        const h = await httpsRequest(`${cpUrl}/api/v1/health`, admin());
        const fromEdge = (h.json.observations as { vantage: string; healthy: boolean }[]).filter((o) => o.vantage === 'edge:edge-1' && o.healthy);
        return fromEdge.length > 0 ? fromEdge : null;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `edge-1's health reports over mTLS; ${procs.edge!.output().slice(-800)}` },
    );
    expect(health).toEqual([expect.objectContaining({ kind: 'edge', result: 'pass' })]);
    expect(metricValue(await scrape(`https://127.0.0.1:${ports.edgeMetrics}/metrics`), 'sluice_edge_health_reports_total{edge="edge-1",result="ok"}')).toBeGreaterThanOrEqual(1);
    expect(procs.edge!.output()).not.toMatch(/refuses this edge/);
  }, 45_000);

  it("the scheduler's readers fail closed: a wrong CA, or no client certificate where one is required", async () => {
    const counter = { reject: () => undefined };
    const reader = (tls: Record<string, unknown>) => new PromqlInputReader({ url: prom.url, timeoutMs: 3000, windowSeconds: 10, staleSeconds: 10, queries: {}, perLoadBalancer: {}, tls: new ClientTls(TlsClientConfig.parse(tls), 'scheduler.prometheus.tls') }, counter);
    // What the scheduler reads for this load balancer, as the API has it.
    const ctx = { lb: await api('GET', `/api/v1/load-balancers/${lbId}`), origins: (await api('GET', `/api/v1/load-balancers/${lbId}/origins`)).items, edges: (await api('GET', '/api/v1/edges')).items };
    await expect(reader({ ca_file: pki.otherCa, cert_file: id.scheduler.cert, key_file: id.scheduler.key }).read(ctx)).rejects.toThrow(/Prometheus at https:\/\/127\.0\.0\.1:\d+: the server's certificate is not signed by a CA this client trusts .*set scheduler\.prometheus\.tls\.ca_file/);
    await expect(reader({ ca_file: pki.ca }).read(ctx)).rejects.toThrow(/Prometheus at https:\/\/127\.0\.0\.1:\d+: the server requires a client certificate .*set scheduler\.prometheus\.tls\.cert_file and scheduler\.prometheus\.tls\.key_file/);
    expect((await reader({ ca_file: pki.ca, cert_file: id.scheduler.cert, key_file: id.scheduler.key }).read(ctx)).originLoad).toBeInstanceOf(Map);

    // Embedded scraping of an agent: without a client certificate the agent answers 401 and says why.
    const failures: string[] = [];
    const scraper = new ScrapeInputReader({ targets: [`https://127.0.0.1:${origins[0]!.agentPort}`], timeoutMs: 3000, minIntervalMs: 0, tls: new ClientTls(TlsClientConfig.parse({ ca_file: pki.ca }), 'scheduler.scrape.tls') }, { ...counter, scrapeFailed: (_t, d) => failures.push(d) });
    await expect(scraper.read(ctx)).rejects.toThrow(/none of the 1 scrape target\(s\) answered/);
    expect(failures[0]).toMatch(/^\/metrics: HTTP 401: a client certificate is required/);
    await scraper.close();
  }, 30_000);

  it('the data planes keep their last good view while the control plane shows an expired certificate, and follow again once it is renewed', async () => {
    const dnsErrors = async () => metricValue(await scrape(`https://127.0.0.1:${ports.dnsMetrics}/metrics`), 'sluice_dns_api_errors_total{kind="tls"}') || 0;
    const edgeErrors = async () => metricValue(await scrape(`https://127.0.0.1:${ports.edgeMetrics}/metrics`), 'sluice_edge_api_errors_total{edge="edge-1",kind="tls"}') || 0;
    const answer = await dig('127.0.41.0/24');
    expect(answer).not.toBe('');
    const upstreamsBefore = readFileSync(upstreams, 'utf8');

    // A botched renewal followed by a restart: every new connection now meets an expired certificate.
    await procs.cp!.stop();
    installCpCert(c.expired);
    startControlPlane();
    await waitFor(async () => (await dnsErrors()) > 0 && (await edgeErrors()) > 0, { timeoutMs: 30_000, what: `tls errors counted by DNS and edge-sync; dns: ${procs.dns!.output().slice(-600)}` });
    expect(procs.dns!.output()).toMatch(/the server's certificate has expired \(CERT_HAS_EXPIRED\)/);
    expect(procs.edge!.output()).toMatch(/the server's certificate has expired \(CERT_HAS_EXPIRED\)/);
    // Meanwhile both keep what they had: DNS answers, the upstream file is untouched.
    expect(['127.0.0.1', '127.0.0.2']).toContain(await dig('127.0.41.0/24'));
    expect(readFileSync(upstreams, 'utf8')).toBe(upstreamsBefore);

    // The renewal is fixed on disk (no restart): the control plane reloads it, the data planes follow
    // (after their longest backoff for a TLS failure) and apply a change made since.
    installCpCert(c.renewed);
    await waitFor(async () => (await httpsRequest(`${cpUrl}/healthz`, admin())).status === 200, { timeoutMs: 15_000, what: 'the renewed certificate served' });
    const dnsSeq = async () => metricValue(await scrape(`https://127.0.0.1:${ports.dnsMetrics}/metrics`), 'sluice_dns_view_seq');
    const seqBefore = await dnsSeq();
    const originB = (await api('GET', `/api/v1/load-balancers/${lbId}/origins`)).items.find((o: { name: string }) => o.name === 'origin-b');
    await api('PATCH', `/api/v1/load-balancers/${lbId}/origins/${originB.id}`, { admin_state: 'disabled' });
    // DNS retries a TLS failure at its longest backoff (30 s): the operator's fix is picked up, without
    // a fleet hammering a misconfigured control plane.
    await waitFor(async () => (await dnsSeq()) > seqBefore, { timeoutMs: 60_000, intervalMs: 1000, what: `DNS to follow the control plane again; ${procs.dns!.output().slice(-600)}` });
    for (let i = 0; i < 4; i++) expect(await dig(`127.0.${43 + i}.0/24`)).toBe('127.0.0.1');
    await waitFor(() => readFileSync(upstreams, 'utf8') !== upstreamsBefore, { timeoutMs: 60_000, intervalMs: 500, what: 'edge-sync to apply the change' });
  }, 150_000);

  it('no private key appears in any process output', () => {
    const keys = [c.server.key, c.expired.key, c.renewed.key, ...Object.values(id).map((p) => p.key)].map((f) => readFileSync(f, 'utf8'));
    for (const [name, p] of Object.entries(procs)) {
      const out = p.output();
      for (const key of keys) for (const line of key.split('\n').filter((l) => l.length > 20)) expect(out, name).not.toContain(line);
    }
  });
});
