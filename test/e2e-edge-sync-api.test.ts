// edge-sync against the REAL control plane (not a protocol double): the `sluice edge-sync` CLI
// long-polls the API and drives a real HAProxy in front of two counting origins. Weights the scheduler
// publishes reach HAProxy; an origin failing its health check is quiesced without waiting for a
// scheduling cycle; edge demand is exported with the labels the scheduler's default PromQL reads.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServersState } from '../edge-sync/haproxy/parse.ts';
import { type CountingOrigin, sendRequests, startCountingOrigin } from '../edge-sync/testing/fixtures.ts';
import { startHaproxy } from '../edge-sync/testing/processes.ts';
import { DEFAULT_QUERIES } from '../scheduler/inputs/promql.ts';
import { http, startInProcess, tempDir, type InProcessControlPlane } from './helpers/control-plane.ts';
import { unavailable } from './helpers/env.ts';
import { freePort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { haproxy: 'haproxy' } }) !== null;
const N = 1000;

describe.skipIf(skip)('edge-sync <- real control plane -> HAProxy', () => {
  const dir = tempDir('slc-e2e-edge-');
  let cp: InProcessControlPlane;
  let a: CountingOrigin;
  let b: CountingOrigin;
  let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
  let edgeSync: SluiceProcess;
  let fe: number;
  let metricsPort: number;
  let lbId: string;
  const originIds: Record<string, string> = {};
  let edgeId: string;

  const runtimeWeights = async () => {
    const states = parseServersState(await haproxy.runtime.send('show servers state'));
    return Object.fromEntries(states.filter((s) => s.backend === `web_${fe}`).map((s) => [s.server, s.weight]));
  };
  const demandCounter = async (): Promise<number> => {
    const t = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const l = t.split('\n').find((x) => x.startsWith('sluice_edge_requests_total{') && x.includes('load_balancer="web"') && x.includes('edge="edge-lo"'));
    return l ? Number(l.split(' ').pop()) : 0;
  };
  const split = async () => {
    const counts = await sendRequests(fe, N, { concurrency: 16, deadlineMs: 60_000 });
    return { a: (counts.get('origin-a') ?? 0) / N, b: (counts.get('origin-b') ?? 0) / N };
  };

  beforeAll(async () => {
    cp = await startInProcess();
    a = await startCountingOrigin('origin-a');
    b = await startCountingOrigin('origin-b');
    fe = await freePort();
    metricsPort = await freePort();
    const sock = join(dir.path, 'admin.sock');
    const cfg = join(dir.path, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'global',
        `    stats socket ${sock} mode 600 level admin`,
        'defaults',
        '    mode http',
        '    timeout connect 2s',
        '    timeout client 10s',
        '    timeout server 10s',
        'frontend web',
        `    bind 127.0.0.1:${fe}`,
        `    default_backend web_${fe}`,
        `backend web_${fe}`,
        '    balance roundrobin',
        '',
      ].join('\n'),
    );
    haproxy = await startHaproxy(cfg, sock);

    lbId = (await http(`${cp.url}/api/v1/load-balancers`, { method: 'POST', body: { name: 'web', listeners: [{ vip: '127.0.0.1', port: fe, protocol: 'http' }] } })).json.id;
    for (const o of [a, b]) {
      const res = await http(`${cp.url}/api/v1/load-balancers/${lbId}/origins`, {
        method: 'POST',
        body: { name: o.name, region: 'lo', addresses: ['127.0.0.1'], port: o.port, location: { lat: 0, lon: 0 }, target_rps: 1000, max_rps: 1000 },
      });
      originIds[o.name] = res.json.id;
    }
    edgeId = (await http(`${cp.url}/api/v1/edges`, { method: 'POST', body: { name: 'edge-lo', region: 'lo', address: '127.0.0.1', location: { lat: 0, lon: 0 } } })).json.id;

    const yaml = join(dir.path, 'edge-sync.yaml');
    writeFileSync(
      yaml,
      [
        'api:',
        `  url: ${cp.url}`,
        `  edge_id: ${edgeId}`,
        '  wait: 5s',
        'dataplane:',
        '  - type: haproxy',
        `    admin_socket: ${sock}`,
        `    config_file: ${cfg}`,
        '    server_options: "check inter 200ms rise 1 fall 1"',
        'metrics:',
        `  listen: 127.0.0.1:${metricsPort}`,
        '  poll_interval: 200ms',
        'retry: { initial: 100ms, max: 1s }',
      ].join('\n'),
    );
    edgeSync = startSluice(['edge-sync', '--config', yaml], { env: { SLUICE_LOG_LEVEL: 'info' } });
  }, 60_000);

  afterAll(async () => {
    if (process.env.DEBUG_E2E) process.stderr.write(edgeSync?.output() ?? '');
    await edgeSync?.stop();
    await haproxy?.stop();
    await a?.close();
    await b?.close();
    await cp?.close();
    dir.remove();
  });

  it('applies published weights, quiesces an unhealthy origin at once, and exports demand the scheduler can read', async () => {
    // Nothing published yet: static weights (equal) apply.
    await waitFor(async () => Object.keys(await runtimeWeights()).length === 2, { timeoutMs: 20_000, what: `servers added; edge-sync: ${edgeSync.output()}` });
    expect(await runtimeWeights()).toEqual({ 'origin-a': 128, 'origin-b': 128 });

    await cp.store.publishWeights(lbId, { edges: { [edgeId]: { [originIds['origin-a']!]: 0.8, [originIds['origin-b']!]: 0.2 } } }, { load_balancer_id: lbId, reason: 'optimize' });
    await waitFor(async () => (await runtimeWeights())['origin-a'] === 205, { timeoutMs: 5_000, what: '80/20 in HAProxy' });
    await waitFor(async () => parseServersState(await haproxy.runtime.send('show servers state')).filter((s) => s.backend === `web_${fe}`).every((s) => s.opState === 2), { timeoutMs: 10_000, what: 'servers up' });
    const r = await split();
    expect(Math.abs(r.a - 0.8)).toBeLessThanOrEqual(0.03);

    // The health checker marks origin-a down: the edge config changes at once, HAProxy quiesces it.
    await cp.store.setOriginHealth(originIds['origin-a']!, false, 'test: failed');
    await waitFor(async () => (await runtimeWeights())['origin-a'] === 0, { timeoutMs: 5_000, what: 'origin-a quiesced' });
    // Demand counter once its stats poll has caught up with the first run (it counts from its first
    // look at a backend, so the first run is partly baseline); the second run must then count exactly.
    let before = -1;
    await waitFor(async () => {
      const now = await demandCounter();
      const settled = now > 0 && now === before;
      before = now;
      return settled;
    }, { timeoutMs: 10_000, intervalMs: 500, what: 'demand counter to settle' });
    const after = await split();
    expect(after.a).toBe(0);
    expect(after.b).toBe(1);

    // Demand, labelled as the scheduler's default edge_demand query expects, counting every request.
    expect(DEFAULT_QUERIES.edge_demand).toContain('sluice_edge_requests_total{load_balancer="$lb"}');
    await waitFor(async () => (await demandCounter()) === before + N, { timeoutMs: 10_000, what: `demand counter to count the second run exactly (${before} + ${N})` });
  }, 90_000);
});
