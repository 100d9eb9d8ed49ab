// An edge as a health vantage point, end to end on real parts: the `sluice edge-sync` CLI in front of a
// real HAProxy (with its own health checks) reports what HAProxy sees of each origin to a real control
// plane (report token bound to the edge), whose health evaluator judges the votes by quorum with two
// control-plane replicas' votes. An origin only this edge cannot reach is dropped from this edge's
// weights only, and comes back after the hold-down; with the control plane unreachable, edge-sync drops
// it itself (local fallback).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthEvaluator } from '../api/health/evaluator.ts';
import { createHealthMetrics } from '../api/health/metrics.ts';
import { parseServersState } from '../edge-sync/haproxy/parse.ts';
import { sendRequests } from '../edge-sync/testing/fixtures.ts';
import { startHaproxy } from '../edge-sync/testing/processes.ts';
import { http, startInProcess, tempDir, type InProcessControlPlane } from './helpers/control-plane.ts';
import { unavailable } from './helpers/env.ts';
import { freePort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { haproxy: 'haproxy' } }) !== null;
const ADMIN = 'health-admin-token-0123456789';
const REPORTER = 'health-report-token-0123456789';

/** An origin whose /health answers 200 or 503 as the test says; everything else 200 with its name. */
async function startOrigin(name: string): Promise<{ name: string; port: number; healthy: boolean; close(): Promise<void> }> {
  const o = { name, port: 0, healthy: true, server: null as unknown as Server, close: async () => {} };
  o.server = createServer((req, res) => {
    if (req.url === '/health') return void res.writeHead(o.healthy ? 200 : 503, { connection: 'close' }).end();
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end(`${name}\n`);
  });
  await new Promise<void>((r) => o.server.listen(0, '127.0.0.1', () => r()));
  o.port = (o.server.address() as AddressInfo).port;
  o.close = async () => {
    o.server.closeAllConnections();
    await new Promise<void>((r) => o.server.close(() => r()));
  };
  return o;
}

describe.skipIf(skip)('an edge as a health vantage point (real HAProxy, real control plane)', () => {
  const dir = tempDir('slc-edge-health-');
  let cp: InProcessControlPlane;
  let evaluator: HealthEvaluator;
  let a: Awaited<ReturnType<typeof startOrigin>>;
  let b: Awaited<ReturnType<typeof startOrigin>>;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
  let edgeSync: SluiceProcess;
  let fe: number;
  let metricsPort: number;
  const ids: Record<string, string> = {};
  let edgeId: string;
  let replicaVotes: NodeJS.Timeout;
  let evaluatorLog = '';

  const admin = { authorization: `Bearer ${ADMIN}` };
  const runtimeWeights = async () => {
    const states = parseServersState(await haproxy.runtime.send('show servers state'));
    return Object.fromEntries(states.filter((s) => s.backend === `web_${fe}`).map((s) => [s.server, s.weight]));
  };
  const edgeMetric = async (name: string) => {
    const t = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return t.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  };
  const health = async () => (await http(`${cp.url}/api/v1/health`, { headers: admin })).json;

  beforeAll(async () => {
    const policy = { quorum: 'majority' as const, min_down: 2, stale_after_ms: 4000, forget_after_ms: 60_000, hold_down_ms: 1500 };
    // The evaluator is created first so the report route can wake it; it needs the store, made below.
    let wake = () => {};
    cp = await startInProcess({ admin_tokens: [ADMIN], report_tokens: [{ token: REPORTER, edge: 'edge-lo' }], server: { health: { policy, onReport: () => wake() } } });
    const log = pino({ level: 'info' }, { write: (l: string) => void (evaluatorLog += l) });
    evaluator = new HealthEvaluator({ store: cp.store, log, metrics: createHealthMetrics(new Registry()), holder: 'test-evaluator', policy, intervalMs: 200, leaseTtlMs: 3000, retentionMs: 3600_000 });
    wake = () => evaluator.wake();
    evaluator.start();
    a = await startOrigin('origin-a');
    b = await startOrigin('origin-b');
    fe = await freePort();
    metricsPort = await freePort();
    const sock = join(dir.path, 'admin.sock');
    const cfg = join(dir.path, 'haproxy.cfg');
    writeFileSync(
      cfg,
      ['global', `    stats socket ${sock} mode 600 level admin`, 'defaults', '    mode http', '    timeout connect 1s', '    timeout client 10s', '    timeout server 10s', '    timeout check 1s', 'frontend web', `    bind 127.0.0.1:${fe}`, `    default_backend web_${fe}`, `backend web_${fe}`, '    balance roundrobin', '    option httpchk GET /health', ''].join('\n'),
    );
    haproxy = await startHaproxy(cfg, sock);

    const check = { type: 'http', path: '/health', interval_ms: 200, timeout_ms: 150, rise: 2, fall: 2 };
    const lbId = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', headers: admin, body: { name: 'web', listeners: [{ vip: '127.0.0.1', port: fe, protocol: 'http' }] } })).json.id;
    for (const o of [a, b]) {
      ids[o.name] = (await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, { method: 'POST', headers: admin, body: { name: o.name, region: 'lo', addresses: ['127.0.0.1'], port: o.port, location: { lat: 0, lon: 0 }, target_rps: 1000, max_rps: 1000, health_check: check } })).json.id;
    }
    edgeId = (await http(`${cp.url}/api/v1/edges`, { method: 'POST', headers: admin, body: { name: 'edge-lo', region: 'lo', address: '127.0.0.1', location: { lat: 0, lon: 0 } } })).json.id;
    // Two control-plane replicas elsewhere reach both origins: their votes, refreshed as their heartbeats would be.
    const vote = () =>
      cp.store.recordHealthObservations(['cp-a', 'cp-b'].flatMap((vantage) => [a, b].map((o) => ({ origin_id: ids[o.name]!, vantage, kind: 'control_plane' as const, edge_id: null, healthy: true, result: 'pass' as const, latency_ms: 1, observed_at: new Date().toISOString(), detail: 'http 200' })))).catch(() => undefined);
    await vote();
    replicaVotes = setInterval(() => void vote(), 500);

    const yaml = join(dir.path, 'edge-sync.yaml');
    writeFileSync(
      yaml,
      [
        'edge: edge-lo',
        'api:',
        `  url: ${cp.url}`,
        `  token: ${REPORTER}`,
        `  edge_id: ${edgeId}`,
        '  wait: 5s',
        'dataplane:',
        '  - type: haproxy',
        `    admin_socket: ${sock}`,
        `    config_file: ${cfg}`,
        '    server_options: "check inter 200ms rise 2 fall 2"',
        'metrics:',
        `  listen: 127.0.0.1:${metricsPort}`,
        '  poll_interval: 200ms',
        'health:',
        '  poll_interval: 200ms',
        '  report_interval: 1s',
        '  timeout: 1s',
        'retry: { initial: 100ms, max: 500ms }',
      ].join('\n'),
    );
    edgeSync = startSluice(['edge-sync', '--config', yaml], { env: { SLUICE_LOG_LEVEL: 'info' } });
  }, 60_000);

  afterAll(async () => {
    if (process.env.DEBUG_E2E) process.stderr.write(`${edgeSync?.output() ?? ''}\n${evaluatorLog}`);
    clearInterval(replicaVotes);
    await edgeSync?.stop();
    await evaluator?.stop();
    await haproxy?.stop();
    await a?.close();
    await b?.close();
    await cp?.close();
    dir.remove();
  });

  it('reports HAProxy’s own view of each origin as this edge’s vote, with the check latency', async () => {
    await waitFor(async () => Object.keys(await runtimeWeights()).length === 2, { timeoutMs: 20_000, what: `servers added; edge-sync: ${edgeSync.output().slice(-1500)}` });
    const votes = await waitFor(
      async () => {
        const h = await health();
        const edge = h.observations.filter((o: { vantage: string; healthy: boolean }) => o.vantage === 'edge:edge-lo' && o.healthy);
        return edge.length === 2 ? h : null;
      },
      { timeoutMs: 15_000, what: 'both origins reported up by the edge' },
    );
    const mine = votes.observations.find((o: { vantage: string; origin_id: string }) => o.vantage === 'edge:edge-lo' && o.origin_id === ids['origin-a']);
    expect(mine).toMatchObject({ kind: 'edge', edge_id: edgeId, result: 'pass', detail: expect.stringContaining(`haproxy web_${fe}/origin-a: UP`) });
    expect(mine.latency_ms).toBeGreaterThanOrEqual(0);
    const perOrigin = votes.origins.find((o: { origin_id: string }) => o.origin_id === ids['origin-a']);
    expect(perOrigin.quorum).toMatchObject({ fresh: 3, down: 0, required: 2 });
    expect(perOrigin.vantages.map((v: { vantage: string; agrees: boolean }) => `${v.vantage}:${v.agrees}`)).toEqual(['cp-a:true', 'cp-b:true', 'edge:edge-lo:true']);
    expect((await edgeMetric('sluice_edge_origin_up')).join('\n')).toMatch(/origin="origin-b"\} 1/);
  }, 40_000);

  it('an origin this edge cannot reach while the quorum can: out of this edge’s weights only, at once; back after the hold-down', async () => {
    b.healthy = false;
    // HAProxy's checks fail (fall 2), edge-sync reports, the evaluator excludes b for this edge alone.
    await waitFor(async () => (await runtimeWeights())['origin-b'] === 0, { timeoutMs: 10_000, what: `origin-b quiesced on this edge; edge-sync: ${edgeSync.output().slice(-1500)}` });
    const h = await health();
    expect(h.items.filter((i: { healthy: boolean }) => !i.healthy)).toEqual([]);
    expect(h.edges.filter((e: { reachable: boolean }) => !e.reachable)).toEqual([expect.objectContaining({ edge_id: edgeId, origin_id: ids['origin-b'], reachable: false, reason: 'unreachable_from_edge' })]);
    const config = (await http(`${cp.url}/api/v1/edges/${edgeId}/config`, { headers: admin })).json;
    expect(config.listeners[0].origins.find((o: { id: string }) => o.id === ids['origin-b'])).toMatchObject({ healthy: true, reachable: false, weight: 0 });
    const counts = await sendRequests(fe, 200, { deadlineMs: 20_000 });
    expect(counts.get('origin-a')).toBe(200);
    const log = (await http(`${cp.url}/api/v1/decisions?limit=20`, { headers: admin })).json.items;
    expect(log.find((d: { reason: string; inputs: { health?: { scope: string } } }) => d.reason === 'health' && d.inputs.health?.scope === 'edge').detail).toContain(`unreachable from edge ${edgeId}`);

    b.healthy = true;
    const t0 = Date.now();
    await waitFor(async () => (await runtimeWeights())['origin-b']! > 0, { timeoutMs: 15_000, what: 'origin-b back on this edge' });
    // HAProxy rise 2 × 200 ms, the report, then the 1.5 s hold-down.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect((await health()).edges.find((e: { origin_id: string }) => e.origin_id === ids['origin-b'])).toMatchObject({ reachable: true, reason: 'reachable_from_edge' });
  }, 40_000);

  it('control plane unreachable: edge-sync drops what it sees down itself (local fallback), loudly', async () => {
    clearInterval(replicaVotes);
    await evaluator.stop();
    await cp.app.close();
    await waitFor(async () => (await edgeMetric('sluice_edge_health_reports_total')).some((l) => l.includes('result="error"')), { timeoutMs: 10_000, what: 'a failed report' });
    expect(Object.values(await runtimeWeights()).every((w) => w > 0)).toBe(true);
    a.healthy = false;
    await waitFor(async () => (await runtimeWeights())['origin-a'] === 0, { timeoutMs: 10_000, what: `origin-a dropped locally; edge-sync: ${edgeSync.output().slice(-1500)}` });
    expect((await runtimeWeights())['origin-b']).toBe(256);
    expect(await edgeMetric('sluice_edge_local_fallback_origins')).toEqual(['sluice_edge_local_fallback_origins{edge="edge-lo"} 1']);
    expect(edgeSync.output()).toMatch(/control plane unreachable: dropping the origins this edge sees down from its own weights \(local fallback\)/);
    // And it comes back when this edge sees the origin up again.
    a.healthy = true;
    await waitFor(async () => (await runtimeWeights())['origin-a']! > 0, { timeoutMs: 10_000, what: 'origin-a back (local)' });
  }, 40_000);
});
