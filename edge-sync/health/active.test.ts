// edge-sync's own checks (for nginx/IPVS, whose data planes keep no health state), against a real
// loopback HTTP server: rise/fall per origin, latency of a passing check, origins added and removed.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait.ts';
import { edgeConfig } from '../testing/fixtures.ts';
import { ActiveChecks } from './active.ts';
import { perOrigin } from './reading.ts';

describe('ActiveChecks', () => {
  let server: Server;
  let port: number;
  let status = 200;
  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(status).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('checks each origin on its own interval, through its rise/fall, and stops when it leaves', async () => {
    const check = { type: 'http' as const, path: '/health', interval_ms: 100, timeout_ms: 80, rise: 2, fall: 2, expect_status: [200] };
    const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port, weight: 1, health_check: check }, { name: 'nocheck', port, weight: 0 }] }]);
    const active = new ActiveChecks();
    try {
      active.sync(cfg.listeners[0]!.origins.map((origin) => ({ origin, loadBalancer: 'web' })));
      const up = await waitFor(() => active.readings().find((r) => r.result === 'pass'), { timeoutMs: 3000, what: 'a passing check' });
      expect(up).toMatchObject({ originId: 'o-a', healthy: true, detail: 'edge check: http 200' });
      expect(up.latencyMs).toBeGreaterThan(0);
      expect(active.readings().map((r) => r.originId)).toEqual(['o-a']);
      status = 503;
      const down = await waitFor(() => active.readings().find((r) => !r.healthy), { timeoutMs: 3000, what: 'down after fall = 2' });
      expect(down).toMatchObject({ result: 'fail', latencyMs: null });
      active.sync([]);
      expect(active.readings()).toEqual([]);
    } finally {
      status = 200;
      active.stop();
    }
  });

  it('a check that throws is a failed check', async () => {
    const active = new ActiveChecks(async () => {
      throw new Error('boom');
    });
    const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port, weight: 1, health_check: { type: 'tcp', path: '/', interval_ms: 100, timeout_ms: 50, rise: 1, fall: 1, expect_status: [] } }] }]);
    try {
      active.sync([{ origin: cfg.listeners[0]!.origins[0]!, loadBalancer: 'web' }]);
      expect(await waitFor(() => active.readings()[0], { timeoutMs: 2000 })).toMatchObject({ healthy: false, detail: 'edge check: check could not run: boom' });
    } finally {
      active.stop();
    }
  });

  it('perOrigin: an origin is up for this edge if any of its servers is', () => {
    const r = (healthy: boolean, detail: string) => ({ loadBalancer: 'web', originId: 'o', origin: 'o', healthy, result: healthy ? ('pass' as const) : ('fail' as const), latencyMs: null, detail });
    expect(perOrigin([r(false, 'x down'), r(true, 'y up')])).toEqual([{ ...r(true, 'y up'), detail: 'y up; x down' }]);
    expect(perOrigin([r(false, 'x down'), r(false, 'x down')])).toEqual([r(false, 'x down')]);
  });
});
