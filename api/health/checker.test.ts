// The health checker against real sockets: an HTTP origin that starts failing is marked unhealthy after
// `fall` failures, and healthy again after `rise` passes; only transitions are written.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait.ts';
import { openSqliteStore, type SqliteStore } from '../store/sqlite.ts';
import { HealthChecker } from './checker.ts';

describe('HealthChecker', () => {
  let server: Server;
  let port: number;
  let status = 200;
  let hits = 0;
  let store: SqliteStore;
  let dir: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      res.writeHead(req.url === '/health' ? status : 404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'sluice-hc-'));
    store = openSqliteStore(dir);
  });
  afterAll(async () => {
    await store.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A load balancer named `lbName` with one origin on the local server, checked over HTTP every 100 ms. */
  async function checkedOrigin(lbName: string, check: { path: string; fall: number }) {
    const lb = await store.createLoadBalancer({ name: lbName, listeners: [{ vip: '192.0.2.1', port: 80, protocol: 'http' }], policy: 'latency', max_latency_ms: 500, min_samples: 5, max_shift: 0.02, deadband: 0.005, gain: 0.5, enabled: true });
    return store.createOrigin(lb.id, {
      name: 'local',
      region: 'lo',
      addresses: ['127.0.0.1'],
      port,
      location: { lat: 0, lon: 0 },
      target_rps: 10,
      max_rps: 10,
      admin_state: 'active',
      static_weight: 1,
      priority: 0,
      health_check: { type: 'http', path: check.path, interval_ms: 100, timeout_ms: 80, rise: 2, fall: check.fall, expect_status: [200] },
    });
  }

  it('follows rise/fall on a real HTTP origin and writes only transitions', async () => {
    const origin = await checkedOrigin('app', { path: '/health', fall: 3 });
    const checker = new HealthChecker(store, pino({ level: 'silent' }));
    await checker.start();
    try {
      await waitFor(() => hits >= 3, { timeoutMs: 5000, what: 'three passing checks' });
      // Healthy from the start: no transition written yet.
      expect(await store.listOriginHealth()).toEqual([]);

      status = 503;
      const down = await waitFor(async () => (await store.listOriginHealth()).find((h) => h.origin_id === origin.id && !h.healthy), { timeoutMs: 5000, what: 'unhealthy' });
      expect(down.detail).toContain('status 503');
      const hitsAtFlip = hits;

      status = 200;
      const up = await waitFor(async () => (await store.listOriginHealth()).find((h) => h.origin_id === origin.id && h.healthy), { timeoutMs: 5000, what: 'healthy again' });
      expect(up.detail).toContain('http 200');
      // rise = 2: at least two checks after the origin recovered.
      expect(hits - hitsAtFlip).toBeGreaterThanOrEqual(2);
    } finally {
      await checker.stop();
    }
  });

  it('a check that throws is a failed check: logged, counted as "error", and the origin goes unhealthy', async () => {
    const { Registry, Counter } = await import('prom-client');
    const registry = new Registry();
    const checks = new Counter({ name: 'checks_total', help: 'h', labelNames: ['result'], registers: [registry] });
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
    // Stored before paths were validated: Node refuses to send it, so every probe throws.
    const origin = await checkedOrigin('throws', { path: '/health\r\nX-Injected: 1', fall: 2 });
    const checker = new HealthChecker(store, log, undefined, checks);
    await checker.start();
    try {
      const down = await waitFor(async () => (await store.listOriginHealth()).find((h) => h.origin_id === origin.id && !h.healthy), { timeoutMs: 5000, what: 'unhealthy after probes that throw' });
      expect(down.detail).toMatch(/could not run/);
      const errors = (await checks.get()).values.find((v) => v.labels.result === 'error')?.value ?? 0;
      expect(errors).toBeGreaterThanOrEqual(2);
      expect(lines.join('')).toMatch(/health check could not run/);
    } finally {
      await checker.stop();
    }
  });

  it('a TCP check against a closed port fails', async () => {
    const { probe } = await import('./probe.ts');
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const res = await probe({ type: 'tcp', address: '127.0.0.1', port: closed, path: '/', timeoutMs: 500, expectStatus: [] });
    expect(res.ok).toBe(false);
    expect(res.detail).toMatch(/ECONNREFUSED/);
    const ok = await probe({ type: 'tcp', address: '127.0.0.1', port, path: '/', timeoutMs: 500, expectStatus: [] });
    expect(ok.ok).toBe(true);
  });
});
