// The reporter against real HTTP servers: reports go to the first replica that accepts them, on a
// change or the heartbeat; no replica reachable -> the local fallback (only then); a refused token
// (403) is configuration, said once, and never a local fallback. Over HTTPS (openssl-made certificates):
// a replica whose certificate does not verify is never sent a report (fail closed) and counts as not
// hearing the edge; a refused client certificate is configuration, like a refused token.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../lib/log.ts';
import { makeTestPki, type TestPki } from '../../lib/testing/pki.ts';
import { TlsClientConfig } from '../../lib/tls-config.ts';
import { ClientTls } from '../../lib/tls-client.ts';
import { unavailable } from '../../test/helpers/env.ts';
import type { DataPlane } from '../dataplane.ts';
import { EdgeMetrics } from '../metrics.ts';
import { edgeConfig } from '../testing/fixtures.ts';
import { HealthReporter } from './reporter.ts';
import type { OriginReading } from './reading.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

async function replica(status: number): Promise<{ url: string; bodies: unknown[] }> {
  const bodies: unknown[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      bodies.push({ path: req.url, auth: req.headers.authorization, body: JSON.parse(text) });
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{"accepted":1,"ignored":[]}' : '{"code":"forbidden"}');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port: 1, weight: 0.5 }, { name: 'b', port: 2, weight: 0.5 }] }]);
const reading = (origin: string, healthy: boolean): OriginReading => ({ loadBalancer: 'web', originId: `o-${origin}`, origin, healthy, result: healthy ? 'pass' : 'fail', latencyMs: healthy ? 2.5 : null, detail: `haproxy: ${healthy ? 'UP' : 'DOWN'}` });

function reporter(urls: string[], readings: () => OriginReading[], now: { t: number }, fallbacks: (ReadonlySet<string> | null)[], tls?: ClientTls) {
  const plane = { type: 'haproxy', name: 'haproxy', readHealth: async () => readings() } as unknown as DataPlane;
  const metrics = new EdgeMetrics('edge-test');
  const log = createLogger('reporter-test', 'silent');
  const r = new HealthReporter({
    urls,
    token: tls ? '' : 'tok',
    tls,
    edgeId: 'ed_1',
    dataplanes: [plane],
    config: () => cfg,
    pools: () => [],
    metrics,
    log,
    pollMs: 100,
    reportIntervalMs: 1000,
    timeoutMs: 500,
    onLocalFallback: (down) => fallbacks.push(down),
    now: () => now.t,
  });
  return { r, metrics, log };
}

describe('HealthReporter', () => {
  it('reports on a change and on the heartbeat only, to the first replica that accepts', async () => {
    const down = await replica(503);
    const up = await replica(200);
    let state = [reading('a', true), reading('b', true)];
    const now = { t: 0 };
    const fallbacks: (ReadonlySet<string> | null)[] = [];
    const { r } = reporter([down.url, up.url], () => state, now, fallbacks);
    await r.tick();
    expect(up.bodies).toEqual([{ path: '/api/v1/edges/ed_1/health', auth: 'Bearer tok', body: { reports: [{ origin_id: 'o-a', healthy: true, result: 'pass', latency_ms: 2.5, detail: 'haproxy: UP' }, { origin_id: 'o-b', healthy: true, result: 'pass', latency_ms: 2.5, detail: 'haproxy: UP' }] } }]);
    expect(down.bodies).toHaveLength(1); // tried first, failed over at once
    now.t = 500;
    await r.tick(); // nothing changed, heartbeat not due (and the replica that works is now first)
    expect(up.bodies).toHaveLength(1);
    state = [reading('a', true), reading('b', false)];
    await r.tick();
    expect(up.bodies).toHaveLength(2);
    now.t = 1600;
    await r.tick(); // heartbeat
    expect(up.bodies).toHaveLength(3);
    expect(down.bodies).toHaveLength(1);
    expect(r.controlPlaneHears).toBe(true);
    expect(fallbacks).toEqual([]); // heard all along: the local fallback never engaged
  });

  it('no replica reachable: the origins this edge sees down are dropped locally, until a report gets through', async () => {
    const now = { t: 0 };
    const fallbacks: (ReadonlySet<string> | null)[] = [];
    const state = [reading('a', true), reading('b', false)];
    const closed = await replica(200);
    const url = closed.url;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const { r, metrics } = reporter([url], () => state, now, fallbacks);
    await r.tick();
    expect(r.controlPlaneHears).toBe(false);
    expect(fallbacks.map((f) => (f ? [...f] : null))).toEqual([['o-b']]);
    expect((await metrics.localFallback.get()).values[0]?.value).toBe(1);
    expect((await metrics.healthReports.get()).values.find((v) => v.labels.result === 'error')?.value).toBe(1);
  });

  it('a refused token (403) is not an outage: no local fallback, not retried for a minute', async () => {
    const refusing = await replica(403);
    const now = { t: 0 };
    const fallbacks: (ReadonlySet<string> | null)[] = [];
    const { r, metrics } = reporter([refusing.url], () => [reading('a', false)], now, fallbacks);
    await r.tick();
    now.t = 30_000;
    await r.tick();
    expect(refusing.bodies).toHaveLength(1);
    expect(r.controlPlaneHears).toBe(null);
    expect(fallbacks).toEqual([]);
    expect((await metrics.healthReports.get()).values.find((v) => v.labels.result === 'refused')?.value).toBe(1);
    now.t = 61_000;
    await r.tick();
    expect(refusing.bodies).toHaveLength(2);
  });
});

const skipTls = unavailable({ tools: { openssl: 'openssl' } });

describe.skipIf(skipTls)('HealthReporter over HTTPS', () => {
  let pki: TestPki;
  afterAll(() => pki?.remove());

  /** An HTTPS replica asking for client certificates: 200 to a verified one (recording its CN), 401 otherwise. */
  async function tlsReplica(serverCert: { cert: string; key: string }): Promise<{ url: string; seen: string[] }> {
    const seen: string[] = [];
    const server = createHttpsServer({ cert: readFileSync(serverCert.cert), key: readFileSync(serverCert.key), ca: readFileSync(pki.ca), requestCert: true, rejectUnauthorized: false }, (req, res) => {
      req.resume();
      req.on('end', () => {
        const socket = req.socket as TLSSocket;
        if (!socket.authorized) {
          res.writeHead(401, { 'content-type': 'application/problem+json' }).end('{"code":"client_certificate_refused","detail":"a client certificate is required"}');
          return;
        }
        seen.push(String(socket.getPeerCertificate().subject.CN));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1,"ignored":[]}');
      });
    });
    servers.push(server as unknown as Server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it('a replica whose certificate does not verify gets nothing; the next one gets the report with the client certificate', async () => {
    pki = makeTestPki();
    const good = pki.issue('server', { cn: 'cp', sans: ['127.0.0.1'] });
    const foreign = pki.issue('foreign', { cn: 'cp', sans: ['127.0.0.1'], foreign: true });
    const edge = pki.issue('edge', { cn: 'edge-test', ou: 'sluice-report', usage: 'client' });
    const impostor = await tlsReplica(foreign);
    const replica = await tlsReplica(good);
    const tls = () => new ClientTls(TlsClientConfig.parse({ ca_file: pki.ca, cert_file: edge.cert, key_file: edge.key }), 'api.tls');
    const now = { t: 0 };
    const fallbacks: (ReadonlySet<string> | null)[] = [];
    const both = reporter([impostor.url, replica.url], () => [reading('a', false)], now, fallbacks, tls());
    await both.r.tick();
    expect(impostor.seen).toEqual([]);
    expect(replica.seen).toEqual(['edge-test']);
    expect(both.r.controlPlaneHears).toBe(true);
    await both.r.stop();

    // Only the impostor: not heard (fail closed), so the local fallback applies; the log says why in words.
    const alone = reporter([impostor.url], () => [reading('a', false)], now, fallbacks, tls());
    const warn = vi.spyOn(alone.log, 'warn');
    await alone.r.tick();
    expect(alone.r.controlPlaneHears).toBe(false);
    expect(fallbacks.map((f) => (f ? [...f] : null))).toEqual([['o-a']]);
    expect(JSON.stringify(warn.mock.calls)).toMatch(/not signed by a CA this client trusts.*api\.tls\.ca_file/);
    await alone.r.stop();
  });

  it('a refused client certificate (401 client_certificate_refused) is configuration: no local fallback, the certificate named', async () => {
    pki ??= makeTestPki();
    const good = pki.issue('server2', { cn: 'cp', sans: ['127.0.0.1'] });
    const replica = await tlsReplica(good);
    const now = { t: 0 };
    const fallbacks: (ReadonlySet<string> | null)[] = [];
    // Trusts the server, presents no certificate.
    const { r, log } = reporter([replica.url], () => [reading('a', false)], now, fallbacks, new ClientTls(TlsClientConfig.parse({ ca_file: pki.ca }), 'api.tls'));
    const error = vi.spyOn(log, 'error');
    await r.tick();
    expect(r.controlPlaneHears).toBe(null);
    expect(fallbacks).toEqual([]);
    expect(String(error.mock.calls[0]?.[1])).toMatch(/refuses this edge’s client certificate \(api\.tls\.cert_file\)/);
    await r.stop();
  });
});
