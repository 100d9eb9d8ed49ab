// Control-plane high availability on real parts: three `sluice control-plane` processes on one real
// PostgreSQL. Writes through any replica are visible on all and wake long-polls on the others within a
// second; kill -9 of the scheduler leader moves leadership within lease TTL + one cycle with no weights
// version lost, duplicated or out of order and no acknowledged write lost (10 times); a leader frozen
// (SIGSTOP) past its lease cannot publish when it resumes and says so; a database restart under load
// loses nothing acknowledged while `sluice dns` (following all three) never stops answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { api, Cluster, EdgeMetricsPage, ADMIN_TOKEN } from './helpers/ha-cluster.ts';
import { freePort, freeServerPort } from './helpers/ports.ts';
import { postgresUnavailable, startPostgres, type RunningPostgres } from './helpers/postgres.ts';
import { runSluice, startSluice } from './helpers/sluice-process.ts';
import { tempDir } from './helpers/control-plane.ts';
import { waitFor } from './helpers/wait.ts';
import { writeFileSync } from 'node:fs';
import { PG_MIGRATIONS } from '../api/store/pg-migrations.ts';
import { join } from 'node:path';

const INTERVAL_MS = 300;
const LEASE_TTL_MS = 1500;
const LB = {
  name: 'app',
  dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 5 },
  listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }],
  policy: 'latency',
  max_latency_ms: 500,
  max_shift: 0.1,
  deadband: 0.001,
};
const ORIGIN = { port: 443, target_rps: 1000, max_rps: 1000 };

const skip = postgresUnavailable();

describe.skipIf(skip)('control plane: several replicas on one PostgreSQL', () => {
  let pg: RunningPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await pg?.destroy();
  });

  /** A cluster with the load balancer, two origins and one edge created through replica A. */
  async function setup(opts: { replicas?: number; inputTimeoutMs?: number } = {}) {
    const dbUrl = await pg.createDatabase();
    const metrics = await new EdgeMetricsPage({ edge: 'sfo', lb: 'app', upstreams: ['198.51.100.1:443', '198.51.100.2:443'], demandRps: 100, flipMs: 1500 }).start();
    const cluster = await Cluster.start({ pg, dbUrl, replicas: opts.replicas ?? 3, intervalMs: INTERVAL_MS, leaseTtlMs: LEASE_TTL_MS, scrapeTargets: [metrics.url], ...(opts.inputTimeoutMs ? { inputTimeoutMs: opts.inputTimeoutMs } : {}) });
    const a = cluster.replicas[0]!;
    const lb = (await api(a, 'POST', '/api/v1/load-balancers', LB)).json as { id: string };
    for (const [name, addr] of [['us', '198.51.100.1'], ['eu', '198.51.100.2']] as const) {
      const r = await api(a, 'POST', `/api/v1/load-balancers/${lb.id}/origins`, { ...ORIGIN, name, region: name, addresses: [addr], location: { lat: 0, lon: 0 } });
      expect(r.status).toBe(201);
    }
    expect((await api(a, 'POST', '/api/v1/edges', { name: 'sfo', region: 'us-west', address: '203.0.113.5', location: { lat: 37.6, lon: -122.4 } })).status).toBe(201);
    const db = new URL(dbUrl).pathname.slice(1);
    // BIGINTs come back from the admin pool as strings.
    const published = async () =>
      (
        await pg.query<{ id: string; weights_version: string; leader_epoch: string; created_at: string }>(
          'SELECT id, weights_version, leader_epoch, created_at FROM decisions WHERE weights_version IS NOT NULL ORDER BY id',
          [],
          db,
        )
      ).map((d) => ({ id: Number(d.id), weights_version: Number(d.weights_version), leader_epoch: Number(d.leader_epoch), created_at: d.created_at }));
    const firstOfEpochAfter = async (epoch: number) =>
      (await pg.query<{ created_at: string; weights_version: number | null }>('SELECT created_at, weights_version FROM decisions WHERE leader_epoch > $1 ORDER BY id LIMIT 1', [epoch], db))[0];
    return { cluster, metrics, lbId: lb.id, db, published, firstOfEpochAfter, async stop() { await cluster.stop(); await metrics.stop(); } };
  }

  it('--migrate-only applies the schema once; a newer schema, a wrong password or no database stop the start with one line and no password', async () => {
    const dbUrl = await pg.createDatabase();
    const dir = tempDir('sluice-ha-migrate-');
    try {
      const cfg = (extra: string[], url = dbUrl) => {
        const file = join(dir.path, `cp-${Math.random().toString(36).slice(2)}.yaml`);
        writeFileSync(file, ['postgres:', `  url: ${url}`, ...extra, 'scheduler: {enabled: false}'].join('\n'));
        return file;
      };
      const good = cfg([`  password_file: ${pg.passwordFile}`]);
      const first = await runSluice(['control-plane', '--config', good, '--migrate-only']);
      expect(first).toMatchObject({ code: 0 });
      const latest = PG_MIGRATIONS.length;
      expect(first.stdout).toContain(`schema version ${latest} (applied ${PG_MIGRATIONS.map((_, i) => i + 1).join(', ')})`);
      expect((await runSluice(['control-plane', '--config', good, '--migrate-only'])).stdout).toContain(`schema version ${latest} (up to date)`);

      const wrong = await runSluice(['control-plane', '--config', cfg(['  password_env: SLUICE_TEST_DB_PW']), '--migrate-only'], { env: { SLUICE_TEST_DB_PW: 'not-the-password-xyz' } });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/password authentication failed/);
      expect(wrong.stderr + wrong.stdout).not.toContain('not-the-password-xyz');
      const inUrl = new URL(dbUrl);
      inUrl.password = 'in-url-secret-123';
      const leaked = await runSluice(['control-plane', '--config', cfg([], inUrl.toString()), '--listen', '127.0.0.1:0']);
      expect(leaked.code).toBe(1);
      expect(leaked.stderr + leaked.stdout).not.toContain('in-url-secret-123');
      const missingFile = await runSluice(['control-plane', '--config', cfg(['  password_file: /nonexistent/pw'])]);
      expect(missingFile).toMatchObject({ code: 2 });
      expect(missingFile.stderr).toMatch(/postgres\.password_file: cannot read \/nonexistent\/pw/);
      const nobody = await runSluice(['control-plane', '--config', cfg([`  password_file: ${pg.passwordFile}`, '  connect_timeout: 1s'], `postgres://sluice@127.0.0.1:${await freePort()}/x`), '--migrate-only']);
      expect(nobody.code).toBe(1);
      expect(nobody.stderr).toMatch(/ECONNREFUSED/);

      await pg.query('INSERT INTO sluice_schema (version) VALUES (99)', [], new URL(dbUrl).pathname.slice(1));
      const newer = await runSluice(['control-plane', '--config', good, '--listen', '127.0.0.1:0']);
      expect(newer.code).toBe(1);
      expect(newer.stderr).toContain(`written by a newer sluice (schema 99, this one knows ${latest})`);
    } finally {
      dir.remove();
    }
  }, 120_000);

  it('replicas starting at once on an empty database migrate it once (advisory lock)', async () => {
    const dbUrl = await pg.createDatabase();
    const metrics = await new EdgeMetricsPage({ edge: 'sfo', lb: 'app', upstreams: ['198.51.100.1:443', '198.51.100.2:443'], demandRps: 100, flipMs: 1500 }).start();
    const cluster = await Cluster.start({ pg, dbUrl, replicas: 3, intervalMs: INTERVAL_MS, leaseTtlMs: LEASE_TTL_MS, scrapeTargets: [metrics.url] });
    try {
      expect(await pg.query('SELECT version FROM sluice_schema ORDER BY version', [], new URL(dbUrl).pathname.slice(1))).toEqual(PG_MIGRATIONS.map((_, i) => ({ version: i + 1 })));
      for (const r of cluster.replicas) expect((await api(r, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await cluster.stop();
      await metrics.stop();
    }
  }, 120_000);

  it('serves every write on every replica, and a long-poll on B wakes within 1 s of a write on A', async () => {
    const { cluster, lbId, stop } = await setup();
    try {
      const [a, b, c] = cluster.replicas as [NonNullable<(typeof cluster.replicas)[0]>, NonNullable<(typeof cluster.replicas)[0]>, NonNullable<(typeof cluster.replicas)[0]>];
      // Created on A; read on B and C.
      for (const r of [b, c]) expect((await api(r, 'GET', `/api/v1/load-balancers/${lbId}`)).json).toMatchObject({ id: lbId, revision: 1 });
      // Revisions are one sequence: If-Match "1" wins on B, the same ETag then loses on C.
      expect((await api(b, 'PUT', `/api/v1/load-balancers/${lbId}`, { ...LB, max_shift: 0.2 }, { 'if-match': '"1"' })).status).toBe(200);
      expect((await api(c, 'PUT', `/api/v1/load-balancers/${lbId}`, { ...LB, max_shift: 0.3 }, { 'if-match': '"1"' })).status).toBe(412);
      expect((await api(a, 'GET', `/api/v1/load-balancers/${lbId}`)).json).toMatchObject({ revision: 2, max_shift: 0.2 });

      const latencies: number[] = [];
      // The leader publishes weights every cycle (300 ms) while the edge's demand flips every 1.5 s, and
      // each publish changes the edge's config: a poll can be answered by one of those before this test
      // sees it parked (under load a /metrics read takes longer than the window). Such a round proves
      // nothing about A's write and is taken again (bounded).
      let raced = 0;
      for (let i = 0; i < 5; i++) {
        const first = await api(b, 'GET', '/api/v1/edges/' + (await api(b, 'GET', '/api/v1/edges')).json.items[0].id + '/config');
        const etag = first.headers.get('etag')!;
        // Wait until B's long-poll is parked, then write through A.
        let answered = false;
        const poll = api(b, 'GET', `/api/v1/edges/${first.json.edge.id}/config?wait=20`, undefined, { 'if-none-match': etag }).then((res) => ((answered = true), { res, at: Date.now() }));
        await waitFor(async () => answered || /^sluice_api_long_poll_waiters [1-9]/m.test((await api(b, 'GET', '/metrics')).text), { timeoutMs: 5000, intervalMs: 20, what: 'the long-poll to park on B' });
        if (answered) {
          expect(++raced, 'rounds whose poll a scheduler publish answered before it was seen parked').toBeLessThan(20);
          i--;
          continue;
        }
        const w = await api(a, 'POST', `/api/v1/load-balancers/${lbId}/origins`, { ...ORIGIN, name: `extra-${i}`, region: 'x', addresses: [`198.51.100.${10 + i}`], location: { lat: 0, lon: 0 } });
        const ackAt = Date.now();
        expect(w.status).toBe(201);
        const { res, at } = await poll;
        expect(res.status).toBe(200);
        expect(res.headers.get('etag')).not.toBe(etag);
        expect(Number(res.headers.get('sluice-change-seq'))).toBeGreaterThan(Number(first.headers.get('sluice-change-seq')));
        latencies.push(at - ackAt);
      }
      process.stderr.write(`long-poll on B after a write on A: ${latencies.map((l) => `${l} ms`).join(', ')} (${raced} round(s) answered by a publish first, taken again)\n`);
      expect(Math.max(...latencies)).toBeLessThan(1000);

      // Each replica reports itself, the store and the one leader.
      const l = await cluster.waitForLeader();
      for (const r of cluster.replicas) {
        const h = (await api(r, 'GET', '/api/v1/health')).json;
        expect(h.control_plane).toMatchObject({ replica: r.id, store: 'postgres', scheduler: { leader: l.holder, epoch: l.epoch, this_replica: r === l.replica } });
        expect((await api(r, 'GET', '/readyz')).status).toBe(200);
      }
    } finally {
      await stop();
    }
  }, 120_000);

  it('kill -9 of the leader while it publishes (10 times): the next decision comes within TTL + one cycle; no version lost, duplicated or reordered; no acknowledged write lost', async () => {
    const { cluster, published, firstOfEpochAfter, stop } = await setup();
    const acknowledged: string[] = [];
    let writing = true;
    let w = 0;
    const writer = (async () => {
      // Writes through whichever replica is up, round robin, until told to stop.
      while (writing) {
        const live = cluster.alive();
        const r = live[w % live.length];
        w++;
        if (!r) continue;
        try {
          const res = await api(r, 'POST', '/api/v1/edges', { name: `w-${w}`, region: 'r', address: '192.0.2.99', location: { lat: 0, lon: 0 } });
          if (res.status === 201) acknowledged.push(res.json.id as string);
        } catch {
          // the replica died under the request: not acknowledged
        }
        await new Promise((r2) => setTimeout(r2, 20));
      }
    })();
    const takeovers: number[] = [];
    const firstPublish: number[] = [];
    try {
      for (let i = 0; i < 10; i++) {
        const leader = await cluster.waitForLeader();
        // It is publishing: a new version since we looked.
        const before = (await published()).length;
        await waitFor(async () => (await published()).length > before + 1, { timeoutMs: 15_000, what: 'the leader to publish' });
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * INTERVAL_MS)));
        const killedAt = Date.now();
        leader.replica.proc.child.kill('SIGKILL');
        // The next decision (the new leader's first cycle), then its first published version.
        const next = await waitFor(() => firstOfEpochAfter(leader.epoch), { timeoutMs: 20_000, intervalMs: 20, what: `a decision by a new leader after killing ${leader.replica.id}` });
        takeovers.push(Date.parse(next.created_at) - killedAt);
        const pub = await waitFor(async () => (await published()).find((d) => d.leader_epoch > leader.epoch), { timeoutMs: 20_000, intervalMs: 20, what: `a publish by a new leader after killing ${leader.replica.id}` });
        firstPublish.push(Date.parse(pub.created_at) - killedAt);
        await cluster.restart(leader.replica.id);
      }
    } finally {
      writing = false;
      await writer;
    }
    try {
      process.stderr.write(`after kill -9 (TTL ${LEASE_TTL_MS} ms, cycle ${INTERVAL_MS} ms): next decision ${takeovers.map((t) => `${t}`).join(', ')} ms; first new version ${firstPublish.join(', ')} ms\n`);
      // TTL + one cycle, plus the time a cycle takes to read, solve and write on this shared machine.
      expect(Math.max(...takeovers)).toBeLessThan(LEASE_TTL_MS + INTERVAL_MS + 1000);

      // The audit log: versions in id order are strictly increasing and contiguous (none lost, none twice);
      // epochs never go back.
      const log = await published();
      const versions = log.map((d) => d.weights_version);
      expect(versions.length).toBeGreaterThan(20);
      versions.forEach((v, i) => expect(v).toBe(versions[0]! + i));
      log.forEach((d, i) => i > 0 && expect(d.leader_epoch).toBeGreaterThanOrEqual(log[i - 1]!.leader_epoch));
      expect(new Set(log.map((d) => d.leader_epoch)).size).toBeGreaterThanOrEqual(11);
      const any = cluster.alive()[0]!;
      const lbs = (await api(any, 'GET', '/api/v1/load-balancers')).json.items as { id: string }[];
      // The weights in force are a version the log has. The leader keeps publishing (every 300 ms) while
      // this reads, so it may be one published after the log above was read: look it up in a later read.
      const inForce = (await api(any, 'GET', `/api/v1/load-balancers/${lbs[0]!.id}/weights`)).json.version as number;
      expect(inForce).toBeGreaterThanOrEqual(versions[versions.length - 1]!);
      expect((await published()).map((d) => d.weights_version)).toContain(inForce);

      // Every acknowledged write is there.
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const page: { json: { items: { id: string }[]; next_cursor: string | null } } = await api(any, 'GET', `/api/v1/edges?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        for (const e of page.json.items) seen.add(e.id);
        cursor = page.json.next_cursor;
      } while (cursor);
      expect(acknowledged.length).toBeGreaterThan(20);
      expect(acknowledged.filter((id) => !seen.has(id))).toEqual([]);
    } finally {
      await stop();
    }
  }, 400_000);

  it('a leader frozen (SIGSTOP) past its lease cannot publish when it resumes, and says so in its log and metrics', async () => {
    const { cluster, metrics, published, db, stop } = await setup({ inputTimeoutMs: 20_000 });
    try {
      const leader = await cluster.waitForLeader();
      await waitFor(async () => (await published()).some((d) => d.leader_epoch === leader.epoch), { timeoutMs: 15_000, what: 'the leader to publish' });
      // Catch the leader inside a cycle: holding the lease, waiting for its inputs.
      metrics.stall();
      await waitFor(() => metrics.heldCount > 0, { timeoutMs: 10_000, what: 'the leader to ask for its inputs' });
      leader.replica.proc.child.kill('SIGSTOP');
      // Its inputs arrive while it is frozen (they wait in its socket buffer); the others scrape normally.
      metrics.release();
      const next = await cluster.waitForLeader({ not: leader.holder, timeoutMs: 20_000 });
      expect(next.epoch).toBe(leader.epoch + 1);
      await waitFor(async () => (await published()).some((d) => d.leader_epoch === next.epoch), { timeoutMs: 15_000, what: 'the new leader to publish' });
      const resumedAt = Date.now();
      leader.replica.proc.child.kill('SIGCONT');

      // The old leader finishes its cycle: its write carries epoch N and the database refuses it.
      await waitFor(() => /"msg":"lost the scheduler lease mid-cycle: the store refused this write \(fenced\)/.test(leader.replica.log()), { timeoutMs: 15_000, what: 'the fenced log line' });
      const scraped = await (await fetch(`${leader.replica.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
      expect(Number(/^sluice_scheduler_fenced_writes_total (\d+)/m.exec(scraped)?.[1])).toBeGreaterThanOrEqual(1);
      expect(/^sluice_scheduler_leader 0/m.test(scraped)).toBe(true);
      // Nothing of epoch N was written after epoch N+1 began, and versions stay contiguous.
      const log = await published();
      const firstNew = log.findIndex((d) => d.leader_epoch === next.epoch);
      expect(log.slice(firstNew).every((d) => d.leader_epoch >= next.epoch)).toBe(true);
      log.forEach((d, i) => expect(d.weights_version).toBe(log[0]!.weights_version + i));
      const late = await pg.query('SELECT id FROM decisions WHERE leader_epoch = $1 AND created_at > $2', [leader.epoch, new Date(resumedAt).toISOString()], db);
      expect(late).toEqual([]);
      // It rejoins as a follower.
      expect((await cluster.leader())?.holder).not.toBe(leader.holder);
    } finally {
      await stop();
    }
  }, 120_000);

  it('a database restart under load: replicas reconnect, nothing acknowledged is lost, sluice dns never stops answering', async () => {
    const { cluster, stop } = await setup();
    const dir = tempDir('sluice-ha-dns-');
    const dnsPort = await freeServerPort();
    const dnsCfg = join(dir.path, 'dns.yaml');
    writeFileSync(
      dnsCfg,
      [
        `listen: ["127.0.0.1:${dnsPort}"]`,
        'api:',
        `  urls: [${cluster.replicas.map((r) => `"${r.url}"`).join(', ')}]`,
        `  token: ${ADMIN_TOKEN}`,
        '  wait: 5s',
        '  retry: 200ms',
        '  timeout: 2s',
        'geoip:',
        '  cidr_mappings: [{ cidr: 0.0.0.0/0, location: { lat: 0, lon: 0 } }]',
      ].join('\n'),
    );
    const dns = startSluice(['dns', '--config', dnsCfg], { env: { SLUICE_LOG_LEVEL: 'warn' } });
    const query = buildQuery({ name: 'app.example.com', qtype: 1, id: 7 });
    const ask = async () => {
      try {
        const d = decodeResponse(await udpExchange(dnsPort, query, { timeoutMs: 500 }));
        return d.answers.length > 0;
      } catch {
        return false;
      }
    };
    try {
      await waitFor(ask, { timeoutMs: 30_000, what: 'sluice dns to answer from the control plane' });
      const acknowledged: string[] = [];
      let unanswered = 0;
      let asked = 0;
      let running = true;
      let n = 0;
      const load = (async () => {
        while (running) {
          const r = cluster.replicas[n++ % cluster.replicas.length]!;
          const [w, answered] = await Promise.all([
            api(r, 'POST', '/api/v1/edges', { name: `db-${n}`, region: 'r', address: '192.0.2.98', location: { lat: 0, lon: 0 } }).catch(() => null),
            ask(),
          ]);
          asked++;
          if (!answered) unanswered++;
          if (w?.status === 201) acknowledged.push(w.json.id);
          await new Promise((r2) => setTimeout(r2, 25));
        }
      })();
      await waitFor(() => acknowledged.length > 20, { timeoutMs: 20_000, what: 'writes before the restart' });
      const beforeRestart = acknowledged.length;
      await pg.stop();
      // While it is down: not ready, no writes acknowledged, DNS still answers.
      await waitFor(async () => (await api(cluster.replicas[1]!, 'GET', '/readyz')).status === 503, { timeoutMs: 10_000, what: 'replicas to report not ready' });
      const downAt = acknowledged.length;
      await new Promise((r) => setTimeout(r, 1500));
      expect(acknowledged.length - downAt).toBe(0);
      await pg.start();
      const upAt = Date.now();
      for (const r of cluster.replicas) await waitFor(async () => (await api(r, 'GET', '/readyz')).status === 200, { timeoutMs: 20_000, what: `${r.id} ready again` });
      process.stderr.write(`replicas ready again ${Date.now() - upAt} ms after the database came back\n`);
      await waitFor(() => acknowledged.length > beforeRestart + 40, { timeoutMs: 30_000, what: 'writes after the restart' });
      // The change feed reconnected: a write on A wakes B again.
      for (const r of cluster.replicas) {
        const m = await (await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
        await waitFor(async () => /^sluice_api_store_listening 1/m.test(await (await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text()), { timeoutMs: 15_000, what: `${r.id} listening again` });
        expect(m).toMatch(/sluice_api_store_up/);
      }
      running = false;
      await load;
      process.stderr.write(`DNS during the database restart: ${asked - unanswered}/${asked} queries answered\n`);
      expect(unanswered).toBe(0);
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const page: { json: { items: { id: string }[]; next_cursor: string | null } } = await api(cluster.replicas[2]!, 'GET', `/api/v1/edges?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        for (const e of page.json.items) seen.add(e.id);
        cursor = page.json.next_cursor;
      } while (cursor);
      expect(acknowledged.filter((id) => !seen.has(id))).toEqual([]);
      // A leader again, publishing.
      await cluster.waitForLeader({ timeoutMs: 20_000 });
    } catch (err) {
      for (const r of cluster.replicas) if (r.proc.child.exitCode !== null) process.stderr.write(`${r.id} exited ${r.proc.child.exitCode}:\n${r.log().slice(-3000)}\n`);
      throw err;
    } finally {
      await dns.stop();
      dir.remove();
      await stop();
    }
  }, 180_000);
});
