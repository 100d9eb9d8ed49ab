// `sluice dns` fed by the control-plane contract: GET /api/v1/dns/view with a bearer token, ETag
// "<version>", and If-None-Match + ?wait=N long-polls. The HTTP server here is a TEST DOUBLE of that
// protocol (the real control plane is built separately); it implements exactly the contract the DNS
// server relies on, and records what the client sent so the test can check the client's side.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DnsView } from '../model/views.ts';
import { record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { UDP_IO_PATHS } from './helpers/udp-io.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const TOKEN = 'read-only-test-token';

/** Test double of GET /api/v1/dns/view (long-poll contract). */
class FakeViewApi {
  view: DnsView;
  readonly requests: { auth: string | undefined; ifNoneMatch: string | undefined; wait: string | null; status: number }[] = [];
  private waiters = new Set<() => void>();
  private sockets = new Set<Socket>();
  server: http.Server | null = null;
  port = 0;

  constructor(initial: DnsView) {
    this.view = initial;
  }

  async listen(port = 0): Promise<number> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  publish(v: DnsView): void {
    this.view = v;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  /** Simulates the control plane going away: closes the listener and every open connection. */
  async kill(): Promise<void> {
    for (const w of this.waiters) w();
    this.waiters.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const entry = { auth: req.headers.authorization, ifNoneMatch: req.headers['if-none-match'], wait: url.searchParams.get('wait'), status: 0 };
    this.requests.push(entry);
    const reply = (status: number, body?: unknown) => {
      entry.status = status;
      if (status === 200) res.writeHead(200, { 'content-type': 'application/json', etag: `"${this.view.version}"` }).end(JSON.stringify(body));
      else res.writeHead(status).end(status === 401 ? '{"error":"unauthorized"}' : undefined);
    };
    if (url.pathname !== '/api/v1/dns/view') return reply(404);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply(401);
    const etag = `"${this.view.version}"`;
    if (entry.ifNoneMatch === etag) {
      const wait = Number(entry.wait ?? 0);
      if (wait > 0) {
        const changed = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => (this.waiters.delete(done), resolve(false)), wait * 1000);
          const done = () => (clearTimeout(timer), resolve(true));
          this.waiters.add(done);
        });
        if (changed && `"${this.view.version}"` !== etag && !res.destroyed) return reply(200, this.view);
      }
      if (!res.destroyed) reply(304);
      return;
    }
    reply(200, this.view);
  }
}

function appView(version: number, weights: Record<string, number>): DnsView {
  return view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': weights } })], String(version), version);
}

describe.each(UDP_IO_PATHS)('sluice dns following the control plane (long-poll; udp_io: %s)', (io) => {
  let dir: string;
  let api: FakeViewApi;
  let apiPort: number;
  let port: number;
  let metricsPort: number;
  let proc: SluiceProcess;

  const answer = async (subnet = '10.1.2.0') => {
    const d = decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com', edns: { ecs: { address: subnet, source: 24 } } }), { timeoutMs: 1000 }));
    return d.answers[0]?.value ?? `rcode ${d.rcode}`;
  };
  const metric = async (re: RegExp) => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return Number(re.exec(text)?.[1] ?? NaN);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-api-'));
    api = new FakeViewApi(appView(1, { 'eu-london': 1 }));
    apiPort = await api.listen();
    port = await freeServerPort();
    metricsPort = await freePort();
    writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'dns.yaml'),
      [
        `listen: ["127.0.0.1:${port}"]`,
        `api: { url: "http://127.0.0.1:${apiPort}", token_file: token, wait: 30s, retry: 100ms }`,
        'workers: 2',
        `udp_io: ${io}`,
        `metrics: { listen: "127.0.0.1:${metricsPort}" }`,
      ].join('\n'),
    );
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(async () => (await answer()) === '192.0.2.10', { timeoutMs: 20_000, what: 'the first view to be served' });
    // Every worker listening (the first answer may come from the first one ready).
    await waitFor(() => proc.output().includes('sluice dns ready'), { timeoutMs: 20_000, what: 'all workers ready' });
  });

  afterAll(async () => {
    await proc?.stop();
    await api?.kill().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('long-polls with the token, If-None-Match and wait=30, and applies a new view within a second, without restart', async () => {
    await waitFor(() => api.requests.some((r) => r.ifNoneMatch === '"1"' && r.wait === '30'), { what: 'a long-poll request' });
    expect(api.requests.every((r) => r.auth === `Bearer ${TOKEN}`)).toBe(true);
    const pid = proc.child.pid;
    const t0 = Date.now();
    api.publish(appView(2, { 'us-east': 1 }));
    // Every worker must switch: ask repeatedly (UDP is spread over both workers).
    await waitFor(async () => {
      for (let i = 0; i < 10; i++) if ((await answer(`10.0.${i}.0`)) !== '203.0.113.30') return false;
      return true;
    }, { timeoutMs: 5000, what: 'the new view on every worker' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(proc.child.pid).toBe(pid);
    expect(proc.child.exitCode).toBeNull();
    expect(await metric(/sluice_dns_view_version (\d+)/)).toBe(2);
  });

  it('keeps answering from the last good view while the API is down, and catches up when it returns', async () => {
    const errorsBefore = (await metric(/sluice_dns_api_errors_total\{kind="unreachable"\} (\d+)/)) || 0;
    await api.kill();
    await waitFor(async () => ((await metric(/sluice_dns_api_errors_total\{kind="unreachable"\} (\d+)/)) || 0) > errorsBefore, { what: 'a counted fetch error' });
    for (let i = 0; i < 20; i++) expect(await answer(`10.3.${i}.0`)).toBe('203.0.113.30');
    // Back, with a newer view, on the same port.
    api = new FakeViewApi(appView(3, { 'us-west': 1 }));
    await api.listen(apiPort);
    await waitFor(async () => (await answer()) === '198.51.100.20', { timeoutMs: 10_000, what: 'the view published after the outage' });
  });

  it('an invalid view is counted and ignored; the last good view stays', async () => {
    api.publish({ ...appView(4, { 'eu-london': 1 }), zones: [{ zone: 'example.com', records: [{ hostname: 42 }] }] } as unknown as DnsView);
    await waitFor(async () => ((await metric(/sluice_dns_api_errors_total\{kind="invalid"\} (\d+)/)) || 0) > 0, { what: 'an invalid-view error' });
    expect(await answer()).toBe('198.51.100.20');
  });
});
