// The health checker (this replica as a vantage point) against real sockets: an HTTP origin that starts
// failing is seen down after `fall` failures and up again after `rise` passes; what it records is its
// own observation (verdict, raw result, latency) with a heartbeat, never the effective health.
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

  const observation = async (originId: string) => (await store.listHealthObservations()).find((h) => h.origin_id === originId && h.vantage === 'cp-test');

  it('follows rise/fall on a real HTTP origin, records its verdict with result and latency, and leaves the effective health to the quorum', async () => {
    const origin = await checkedOrigin('app', { path: '/health', fall: 3 });
    const checker = new HealthChecker({ store, log: pino({ level: 'silent' }), vantage: 'cp-test', reportIntervalMs: 300 });
    await checker.start();
    try {
      await waitFor(() => hits >= 3, { timeoutMs: 5000, what: 'three passing checks' });
      const first = await waitFor(async () => {
        const o = await observation(origin.id);
        return o?.result === 'pass' ? o : undefined;
      }, { timeoutMs: 5000, what: 'a passing check recorded' });
      expect(first).toMatchObject({ kind: 'control_plane', edge_id: null, healthy: true, result: 'pass', detail: 'http 200' });
      expect(first.latency_ms).toBeGreaterThan(0);
      // Heartbeat: the same verdict is recorded again, so this vantage stays fresh.
      await waitFor(async () => (await observation(origin.id))!.observed_at > first.observed_at, { timeoutMs: 3000, what: 'a heartbeat' });

      status = 503;
      // The first failure is recorded at once (raw result changed) while the verdict still holds.
      const failing = await waitFor(async () => {
        const o = await observation(origin.id);
        return o?.result === 'fail' ? o : undefined;
      }, { timeoutMs: 5000, what: 'a failed check recorded' });
      const hitsAtFail = hits;
      expect(failing.latency_ms).toBeNull();
      // (The detail is the latest check's: on a loaded machine one may time out instead of answering 503.)
      const down = await waitFor(async () => {
        const o = await observation(origin.id);
        return o && !o.healthy && o.detail.includes('status 503') ? o : undefined;
      }, { timeoutMs: 5000, what: 'this vantage sees it down' });
      expect(down.result).toBe('fail');
      // fall = 3: two more failed checks after the first.
      expect(hits - hitsAtFail).toBeGreaterThanOrEqual(2);
      const hitsAtFlip = hits;

      status = 200;
      const up = await waitFor(async () => {
        const o = await observation(origin.id);
        return o?.healthy && o.result === 'pass' ? o : undefined;
      }, { timeoutMs: 5000, what: 'healthy again' });
      expect(up.detail).toContain('http 200');
      // rise = 2: at least two checks after the origin recovered.
      expect(hits - hitsAtFlip).toBeGreaterThanOrEqual(2);
      // The checker never decides for everyone: that is the evaluator's quorum.
      expect(await store.listOriginHealth()).toEqual([]);
    } finally {
      await checker.stop();
    }
  });

  it('a check that throws is a failed check: logged, counted as "error", and this vantage sees the origin down', async () => {
    const { Registry, Counter } = await import('prom-client');
    const registry = new Registry();
    const checks = new Counter({ name: 'checks_total', help: 'h', labelNames: ['result'], registers: [registry] });
    const lines: string[] = [];
    const log = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
    // Stored before paths were validated: Node refuses to send it, so every probe throws.
    const origin = await checkedOrigin('throws', { path: '/health\r\nX-Injected: 1', fall: 2 });
    const checker = new HealthChecker({ store, log, checks, vantage: 'cp-test' });
    await checker.start();
    try {
      const down = await waitFor(async () => {
        const o = await observation(origin.id);
        return o && !o.healthy ? o : undefined;
      }, { timeoutMs: 5000, what: 'down after probes that throw' });
      expect(down.detail).toMatch(/could not run/);
      const errors = (await checks.get()).values.find((v) => v.labels.result === 'error')?.value ?? 0;
      expect(errors).toBeGreaterThanOrEqual(2);
      expect(lines.join('')).toMatch(/health check could not run/);
    } finally {
      await checker.stop();
    }
  });

  it('a TCP check against a closed port fails', async () => {
    const { probe } = await import('../../lib/probe.ts');
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
