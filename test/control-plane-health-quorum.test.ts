// Health by quorum on several real control-plane replicas (one PostgreSQL): every replica checks the
// origin and records its own vote; one replica — the holder of the health lease — decides, with the
// votes behind the decision; every replica serves that same decision; when the deciding replica is
// killed another takes over the lease and decides (the recovery, after the hold-down).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, Cluster } from './helpers/ha-cluster.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from './helpers/postgres.ts';
import { waitFor } from './helpers/wait.ts';

const skip = postgresUnavailable();

describe.skipIf(skip)('health by quorum across control-plane replicas', () => {
  let pg: RunningPostgres;
  let origin: Server;
  let healthy = true;
  let port: number;
  beforeAll(async () => {
    pg = await startPostgres();
    origin = createServer((req, res) => res.writeHead(req.url === '/health' && !healthy ? 503 : 200, { connection: 'close' }).end());
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', () => r()));
    port = (origin.address() as AddressInfo).port;
  }, 60_000);
  afterAll(async () => {
    await new Promise<void>((r) => origin.close(() => r()));
    await pg?.destroy();
  });

  it('every replica votes, one decides (with the votes), all serve the same decision; the decider killed, another takes over', async () => {
    const cluster = await Cluster.start({ pg, dbUrl: await pg.createDatabase(), replicas: 3, intervalMs: 1000, leaseTtlMs: 3000, scrapeTargets: [], fastHealth: true });
    try {
      const [a] = cluster.replicas as [NonNullable<(typeof cluster.replicas)[0]>];
      const lb = (await api(a, 'POST', '/api/v1/load-balancers', { name: 'app', listeners: [{ vip: '192.0.2.10', port: 80, protocol: 'http' }] })).json as { id: string };
      const o = (await api(a, 'POST', `/api/v1/load-balancers/${lb.id}/origins`, { name: 'lo', region: 'lo', addresses: ['127.0.0.1'], port, location: { lat: 0, lon: 0 }, target_rps: 10, max_rps: 10, health_check: { type: 'http', path: '/health', interval_ms: 200, timeout_ms: 150, rise: 2, fall: 2 } })).json as { id: string };
      type Body = { items: { origin_id: string; healthy: boolean; reason: string; votes: { vantage: string; healthy: boolean; fresh: boolean }[] }[]; origins: { origin_id: string; quorum: { fresh: number; required: number } }[]; control_plane: { health: { leader: string | null } } };
      const view = async (r: { url: string }) => (await api(r, 'GET', '/api/v1/health')).json as Body;
      // Three fresh votes, one from each replica.
      await waitFor(async () => (await view(a)).origins.find((x) => x.origin_id === o.id)?.quorum.fresh === 3, { timeoutMs: 20_000, what: 'a fresh vote from every replica' });
      const leader = await waitFor(() => cluster.healthLeader(), { timeoutMs: 10_000, what: 'a health leader' });

      healthy = false;
      for (const r of cluster.replicas) {
        const down = await waitFor(async () => (await view(r)).items.find((i) => i.origin_id === o.id && !i.healthy), { timeoutMs: 10_000, what: `${r.id} to serve the unhealthy decision` });
        expect(down.reason).toBe('quorum_down');
        expect(down.votes.filter((v) => v.fresh && !v.healthy).length).toBeGreaterThanOrEqual(2);
      }
      // One decision, written once, by the leader (fenced by its lease), in the decision log.
      const log = (await api(a, 'GET', `/api/v1/decisions?load_balancer_id=${lb.id}&limit=50`)).json.items as { reason: string; inputs: { health?: { healthy: boolean } } }[];
      expect(log.filter((d) => d.reason === 'health' && d.inputs.health?.healthy === false)).toHaveLength(1);
      for (const r of cluster.replicas) expect((await view(r)).control_plane.health.leader).toContain(`${leader.id}/`);

      // The deciding replica dies; another takes the lease and brings the origin back after the hold-down.
      leader.proc.child.kill('SIGKILL');
      await leader.proc.exited;
      const next = await waitFor(async () => {
        const l = await cluster.healthLeader();
        return l && l.id !== leader.id ? l : null;
      }, { timeoutMs: 15_000, what: 'another health leader' });
      healthy = true;
      const up = await waitFor(async () => (await view(next)).items.find((i) => i.origin_id === o.id && i.healthy), { timeoutMs: 15_000, what: 'healthy again, decided by the new leader' });
      expect(up.reason).toBe('quorum_up');
      // The dead replica's vote went stale and counts no more: two fresh votes now, both needed.
      const q = await waitFor(async () => {
        const x = (await view(next)).origins.find((y) => y.origin_id === o.id)!.quorum;
        return x.fresh === 2 ? x : null;
      }, { timeoutMs: 10_000, what: 'the dead replica’s vote to go stale' });
      expect(q).toMatchObject({ fresh: 2, required: 2 });
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});
