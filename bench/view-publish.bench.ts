// `npm run bench -- view-publish [--sizes 100k,1m] [--changed 0.02] [--store sqlite|postgres] [--dns 10 --dns-size 100k [--publishes 3]]`:
// issue 15, one publish through the control plane as it runs: the scheduler's publishWeights into a
// real SQLite store (file, WAL, its publish worker) and then the DNS view's delta rendered by the
// route's cache (api/routes/views.ts viewCache: readWorld, build + version, history diff, delta encoded)
// (`--store postgres`: the same on a real PostgreSQL this bench starts, two stores on one database), on
//   leader    the replica that published (the store's own publish is known to it), and
//   follower  a second store on the same file (an HA replica that did not publish: it reads the
//             change rows after the version it rendered before and applies them, api/store/weights-chain.ts).
// The first publish has no memo to write a change row against: it writes a full base, as a
// compaction does (one publish in ~12 at 2 % changed): `publish_base`; it is also what a new leader's
// first publish cost before it could start from the head it read as a follower. `failover_publish`:
// the follower, having read the leader's last publish, takes over: its scheduler reads the weights in
// force (getWeights) and publishes the next table (2 % changed), fenced by the lease it took: a change
// row; bytes written of both.
// The bench asserts what it measures: deltas on both replicas, equal versions, one incremental read.
// VIEW_PUBLISH_FOLLOWER_PROFILE / VIEW_PUBLISH_LEADER_PROFILE / VIEW_PUBLISH_FAILOVER_PROFILE=file.cpuprofile:
// a V8 CPU profile of this thread during the follower's / the leader's delta render / the failover's publish.
// Same synthetic subnets as view-delta/view-render (N /24s and /48s, 5,000 distinct weight maps, 2 %
// changed, 0.1 % added and removed); the published tables have their key list known, and the maps
// the scheduler's splitWeightsSteps builds: fresh ones where the weights changed, the very maps of the
// previous publish elsewhere (`publish_fresh_maps`: every map fresh, as before 2026-11-29), handed to
// publishWeights with the change hint the scheduler gives (the keys whose maps are fresh or gone:
// the store walks only those, api/store/hinted-weights.ts; `publish_fresh_maps` and a failover's
// publish take the full pass). The follower's copy of its table made while idle (api/store/spare-table.ts)
// is waited for before the publish, as the time between publishes would, and its cost measured apart
// on a table of the same size (`follower_idle_copy`). CPU time (process.cpuUsage) beside
// wall time, the longest event-loop stall, and the load average: the machine is shared.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { viewCache } from '../api/routes/views.ts';
import { tokenSets } from '../api/auth.ts';
import { buildServer } from '../api/server.ts';
import { freePort, freeServerPort } from '../test/helpers/ports.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { childPids, treeRssBytes } from '../test/helpers/rss.ts';
import { startProfile } from './lib/cpu-profile.ts';
import { startSluice, type SluiceProcess } from '../test/helpers/sluice-process.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { openSqliteStore, type SqliteStore } from '../api/store/sqlite.ts';
import { openPostgresStore, type PostgresStore } from '../api/store/postgres.ts';
import { PostgresConfig } from '../api/store/pg-connection.ts';
import { startPostgres, type RunningPostgres } from '../test/helpers/postgres.ts';
import { pino } from 'pino';
import Database from 'better-sqlite3';
import type { WeightMap } from '../model/index.ts';
import type { WeightsChangeHint } from '../scheduler/loop/store.ts';
import { seededRandom } from '../lib/prng.ts';
import { knownKeys } from '../lib/json-steps.ts';
import { runPaced } from '../lib/steps.ts';
import { copyTableSteps } from '../api/store/spare-table.ts';
import { recordResult } from './lib/results.ts';
import { cidrOf, mapPool } from './lib/synthetic-view.ts';
import { nextSubnets, perSize, SIZES } from './view-delta.bench.ts';
import { stalls } from './view-render.bench.ts';

/** As the scheduler's first publish has them (splitWeightsSteps): one fresh map per subnet, the key list known to keysOnce. */
const fresh = (s: Record<string, WeightMap>) => {
  const out: Record<string, WeightMap> = {};
  const keys: string[] = [];
  for (const k in s) {
    out[k] = { ...s[k]! };
    keys.push(k);
  }
  knownKeys(out, keys);
  return out;
};

/**
 * As the scheduler publishes the next table (splitWeightsSteps with the weights in force): the very map
 * objects it published before where the weights did not change, fresh maps elsewhere.
 */
const sharing = (next: Record<string, WeightMap>, before: Record<string, WeightMap>, published: Record<string, WeightMap>) => {
  const out: Record<string, WeightMap> = {};
  const keys: string[] = [];
  // What the scheduler hands publishWeights beside the table (splitWeightsChangeSteps): every key whose map is not `published`'s.
  const changed: string[] = [];
  for (const k in next) {
    const reuse = next[k] === before[k] && Object.hasOwn(published, k);
    out[k] = reuse ? published[k]! : { ...next[k]! };
    if (!reuse) changed.push(k);
    keys.push(k);
  }
  for (const k in published) if (!Object.hasOwn(out, k)) changed.push(k);
  knownKeys(out, keys);
  hints.set(out, { from: published, keys: changed });
  return out;
};

/** The change hint of each table `sharing` built (publishWeights' last argument). */
const hints = new WeakMap<Record<string, WeightMap>, WeightsChangeHint>();

/**
 * A load balancer with 200 origins in `store`, and three publishes of n subnets: the first, the second
 * changing `changed` of them (unchanged maps shared with the first, as the scheduler hands them), and a
 * third changing as many again with every map a fresh object (as the scheduler handed them until
 * 2026-11-29: the store then checks and compares every map).
 */
async function publishes(store: SqliteStore | PostgresStore, n: number, changed: number) {
  const lb = await store.createLoadBalancer({ name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 20, answers: 1 }, listeners: [], policy: 'latency', max_latency_ms: 300, min_samples: 5, max_shift: 1, deadband: 0, gain: 0.5, enabled: true });
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) ids.push((await store.createOrigin(lb.id, { name: `origin-${i}`, region: `r${i % 20}`, addresses: [`10.200.${i >> 8}.${i & 255}`], port: 443, admin_state: 'active', static_weight: 1, priority: 0, location: { lat: (i % 180) - 90, lon: ((i * 7) % 360) - 180 }, target_rps: 1000, max_rps: 1200 })).id);
  const rand = seededRandom(15);
  const pool = mapPool(rand, ids);
  const s1: Record<string, WeightMap> = {};
  for (let i = 0; i < n; i++) s1[cidrOf(i)] = pool[Math.floor(rand() * pool.length)]!;
  const s1f = fresh(s1);
  const next = nextSubnets(s1, n, changed, rand, pool);
  const s2 = sharing(next, s1, s1f);
  const raw3 = nextSubnets(next, n, changed, rand, pool);
  const s3 = fresh(raw3);
  const decision = { load_balancer_id: lb.id, reason: 'optimize' as const };
  // Publishes after s2, each changing `changed` of the one before and sharing its unchanged maps.
  let raw = next;
  let published = s2;
  const following = () => {
    const after = nextSubnets(raw, n, changed, rand, pool);
    published = sharing(after, raw, published);
    raw = after;
    return published;
  };
  /** After s3: the next table (`changed` of it moved), sharing its unchanged maps with `inForce` (the weights in force as the publisher got them). */
  const afterS3 = (inForce: Record<string, WeightMap>) => sharing(nextSubnets(raw3, n, changed, rand, pool), raw3, inForce);
  return { lb, ids, s1: s1f, s2, s3, decision, following, afterS3 };
}

/** What the publish of `version` wrote for the weights: its change row's JSON, or the base body when it wrote one. */
async function weightsWritten(store: SqliteStore | PostgresStore, pg: RunningPostgres | null, db: string, lbId: string, version: number): Promise<{ kind: 'change_row' | 'base'; bytes: number }> {
  const change = `SELECT length(subnets) + length(edges) + length(deleted) AS n FROM weights_changes WHERE load_balancer_id = '${lbId}' AND version = ${version}`;
  const base = `SELECT length(body) AS n FROM weights_base JOIN weights USING (load_balancer_id) WHERE load_balancer_id = '${lbId}' AND base_version = ${version}`;
  const query = async (sql: string) => {
    if (pg) return (await pg.query<{ n: number }>(sql, [], db))[0]?.n;
    const raw = new Database((store as SqliteStore).path, { readonly: true });
    try {
      return (raw.prepare(sql).get() as { n: number } | undefined)?.n;
    } finally {
      raw.close();
    }
  };
  const c = await query(change);
  if (c !== undefined) return { kind: 'change_row', bytes: Number(c) };
  const b = await query(base);
  if (b === undefined) throw new Error(`version ${version} of ${lbId} is neither a change row nor the base`);
  return { kind: 'base', bytes: Number(b) };
}

/** The two stores of one run: SQLite (one file) or PostgreSQL (one database of `pg`). */
async function storePair(pg: RunningPostgres | null): Promise<{ leader: SqliteStore | PostgresStore; follower: SqliteStore | PostgresStore; db: string; done: () => void }> {
  if (!pg) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-view-publish-'));
    return { leader: openSqliteStore(dir), follower: openSqliteStore(dir), db: '', done: () => rmSync(dir, { recursive: true, force: true }) };
  }
  const url = await pg.createDatabase();
  const open = (replica: string) => openPostgresStore({ config: PostgresConfig.parse({ url, password_file: pg.passwordFile, change_poll: '1s' }), replica, log: pino({ level: 'silent' }) });
  return { leader: await open('leader'), follower: await open('follower'), db: new URL(url).pathname.slice(1), done: () => undefined };
}

async function one(label: string, n: number, changed: number, pg: RunningPostgres | null) {
  const { leader, follower, db, done } = await storePair(pg);
  try {
    const { lb, s1, s2, s3, decision, afterS3 } = await publishes(leader, n, changed);
    const publishBase = await stalls(() => leader.publishWeights(lb.id, { subnets: s1 }, decision));
    const leaderViews = viewCache(leader);
    const followerViews = viewCache(follower);
    const first = await stalls(async () => (await leaderViews.dnsChanges(null)).json.length);
    const followerFirst = await stalls(async () => (await followerViews.dnsChanges(null)).json.length);
    const v1 = (await leaderViews.dnsView()).version;
    if ((await followerViews.dnsView()).version !== v1) throw new Error('leader and follower render different versions of the same content');

    // The follower, idle until the next publish, copies the table it holds (api/store/spare-table.ts): timed apart.
    const followerSpare = await stalls(() => follower.weightsWork.settled());
    // What that copy costs, measured apart (the follower made it while rendering its first view): a copy of a table of n keys.
    const idleCopy = await stalls(async () => (await runPaced(copyTableSteps(s1))) !== s1);
    const publish = await stalls(() => leader.publishWeights(lb.id, { subnets: s2 }, decision, undefined, hints.get(s2)));
    // The scheduler's change hint (the keys whose maps are not the last publish's): the publish walked only those.
    if (leader.weightsWork.hints.used !== 1) throw new Error(`leader: expected the publish to use its change hint, got ${JSON.stringify(leader.weightsWork.hints)}`);
    // VIEW_PUBLISH_LEADER_PROFILE=file.cpuprofile: this thread during the publishing replica's render of the delta.
    const leaderProfile = process.env.VIEW_PUBLISH_LEADER_PROFILE ? await startProfile(Number(process.env.VIEW_PUBLISH_PROFILE_INTERVAL_US ?? 0)) : null;
    const render = await stalls(async () => (await leaderViews.dnsChanges(v1)).json);
    if (leaderProfile) writeFileSync(process.env.VIEW_PUBLISH_LEADER_PROFILE!, JSON.stringify(await leaderProfile()));
    if (!render.value.startsWith('{"kind":"delta"')) throw new Error(`leader: expected a delta, got ${render.value.slice(0, 80)}`);
    // VIEW_PUBLISH_FOLLOWER_PROFILE=file.cpuprofile: this thread during the follower's render of the delta.
    const followerProfile = process.env.VIEW_PUBLISH_FOLLOWER_PROFILE ? await startProfile(Number(process.env.VIEW_PUBLISH_PROFILE_INTERVAL_US ?? 0)) : null;
    const followerRender = await stalls(async () => (await followerViews.dnsChanges(v1)).json);
    if (followerProfile) writeFileSync(process.env.VIEW_PUBLISH_FOLLOWER_PROFILE!, JSON.stringify(await followerProfile()));
    if (!followerRender.value.startsWith('{"kind":"delta"')) throw new Error(`follower: expected a delta, got ${followerRender.value.slice(0, 80)}`);
    const followerReads = follower.weightsReads;
    if (follower.weightsWork.spares.taken !== 1) throw new Error(`follower: expected its read to change its idle copy in place, got ${JSON.stringify(follower.weightsWork.spares)}`);
    if (followerReads.incremental !== 1) throw new Error(`follower: expected one incremental read of the change row, got ${JSON.stringify(followerReads)}`);
    const v2 = (await leaderViews.dnsView()).version;
    const versionsEqual = v2 === (await followerViews.dnsView()).version && render.value === followerRender.value;
    if (!versionsEqual) throw new Error('leader and follower rendered different deltas or versions');
    const publishFresh = await stalls(() => leader.publishWeights(lb.id, { subnets: s3 }, decision));
    const baseWritten = await weightsWritten(leader, pg, db, lb.id, publishBase.value.version);
    // A failover: the follower's views read the leader's last publish (the change row after what they
    // held), then it takes over. Its scheduler's first cycle reads the weights in force (getWeights:
    // the table its store holds) and publishes the next table, unchanged maps shared with that one.
    const v3 = (await leaderViews.dnsView()).version;
    await followerViews.dnsChanges(v2);
    // The lease passes to the follower (SQLite: its publish worker starts then, and is ready by the time
    // a first cycle's inputs and solve are done: waited for here).
    const grant = (await follower.acquireLease('scheduler', 'follower', 60_000))!;
    if ('publishWorkerWarm' in follower) await follower.publishWorkerWarm();
    if ((await followerViews.dnsView()).version !== v3) throw new Error('the follower renders another version than the leader before the failover');
    // Its idle copy of the table just read is made before a first cycle's inputs and solve are done (not timed with the publish).
    await follower.weightsWork.settled();
    const inForce = await stalls(async () => (await follower.getWeights(lb.id))!.subnets);
    const s4 = afterS3(inForce.value);
    // VIEW_PUBLISH_FAILOVER_PROFILE=file.cpuprofile: this thread during the failover's publish.
    const profile = process.env.VIEW_PUBLISH_FAILOVER_PROFILE ? await startProfile(Number(process.env.VIEW_PUBLISH_PROFILE_INTERVAL_US ?? 0)) : null;
    const failover = await stalls(() => follower.publishWeights(lb.id, { subnets: s4 }, decision, grant, hints.get(s4)));
    if (profile) writeFileSync(process.env.VIEW_PUBLISH_FAILOVER_PROFILE!, JSON.stringify(await profile()));
    const failoverWritten = await weightsWritten(follower, pg, db, lb.id, failover.value.version);
    const failoverRender = await stalls(async () => (await followerViews.dnsChanges(v3)).json);
    if (!failoverRender.value.startsWith('{"kind":"delta"')) throw new Error(`new leader: expected a delta, got ${failoverRender.value.slice(0, 80)}`);
    const strip = <T extends { value: unknown }>({ value: _, ...x }: T): Omit<T, 'value'> => x;
    const r = {
      subnets: n,
      publish: strip(publish),
      publish_base: strip(publishBase),
      publish_fresh_maps: strip(publishFresh),
      publish_base_written: baseWritten,
      failover_weights_in_force: strip(inForce),
      failover_publish: strip(failover),
      failover_written: failoverWritten,
      failover_render: strip(failoverRender),
      follower_reads: followerReads,
      publish_hints: { leader: leader.weightsWork.hints, follower: follower.weightsWork.hints },
      leader_render: strip(render),
      follower_render: strip(followerRender),
      follower_idle_copy: strip(idleCopy),
      follower_idle_copy_waited: strip(followerSpare),
      publish_to_delta_leader: { wall_ms: round(publish.wall_ms + render.wall_ms), cpu_ms: round(publish.cpu_ms + render.cpu_ms) },
      delta_bytes: render.value.length,
      first_render: { leader: strip(first), follower: strip(followerFirst) },
      versions_equal: versionsEqual,
    };
    process.stdout.write(`${label}: ${JSON.stringify(r)}\n`);
    return r;
  } finally {
    await leader.close();
    await follower.close();
    done();
  }
}

const round = (x: number) => Math.round(x * 10) / 10;
const READ_TOKEN = 'view-publish-read-token';

/** CPU ms (user + system) a process tree has used so far, from /proc (Linux; clock ticks of 10 ms). */
function treeCpuMs(pid: number): number {
  let ms = 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    ms = (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
  return ms + childPids(pid).reduce((sum, c) => sum + treeCpuMs(c), 0);
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

const changesByKind = (text: string) => Object.fromEntries([...text.matchAll(/^sluice_dns_view_changes_total\{kind="(\w+)",reason="(\w+)"\} (\d+)/gm)].map((m) => [`${m[1]}/${m[2]}`, Number(m[3])]));

/** A subnet outside the synthetic tables (198.18.0.0/15, benchmarking): each publish sends it whole to another origin. */
const PROBE = '198.18.0.0/24';
/** Origin k's address as publishes() creates it. */
const originAddress = (k: number) => `10.200.${k >> 8}.${k & 255}`;

/** The address `port`'s server answers app.example.com with for the probe subnet (ECS), or null. */
async function probeAnswer(port: number): Promise<string | null> {
  const reply = await udpExchange(port, buildQuery({ name: 'app.example.com', edns: { ecs: { address: '198.18.0.1', source: 24 } } }), { timeoutMs: 1000 }).catch(() => null);
  if (!reply || reply.length < 12) return null;
  const a = decodeResponse(reply).answers.find((r) => r.type === 1);
  return a?.value ?? null;
}

/**
 * publish -> `servers` real `sluice dns` processes serving the new version, each following the API's
 * long-poll (GET /dns/view/changes) on an in-process API over SQLite. "Serving" is read from the
 * answers themselves: every publish moves one probe subnet whole to another origin, and a server
 * serves the publish once its ECS answer for that subnet names the new origin: what clients see, read
 * from the thread that answers them, for microseconds of its CPU (a scrape of /metrics makes the
 * primary gather every worker's registry over IPC, and was polled every 25 ms). The first publish
 * brings every server its full view; the next ones (2 % changed) are timed, from publishWeights' call
 * to the last server serving it. CPU of the API process and of the DNS process trees (from /proc)
 * beside wall time.
 */
async function toServers(label: string, n: number, changed: number, servers: number, rounds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-view-publish-dns-'));
  const store = openSqliteStore(dir);
  const procs: { proc: SluiceProcess; metricsPort: number; dnsPort: number }[] = [];
  const app = await buildServer({ store, tokens: tokenSets({ admin_tokens: [], read_tokens: [READ_TOKEN], report_tokens: [] }), docs: false });
  try {
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const { lb, ids, s1, s2, decision, following } = await publishes(store, n, changed);
    // In place (each round's table is a fresh object), before the round's clocks start; its key list
    // registered again for the store's serialiser (knownKeys: it must be exactly Object.keys).
    const probed = (table: Record<string, WeightMap>, round: number) => {
      table[PROBE] = { [ids[round % 2]!]: 1 };
      knownKeys(table, Object.keys(table));
      const hint = hints.get(table);
      if (hint) hints.set(table, { ...hint, keys: [...hint.keys, PROBE] });
      return table;
    };
    const first = await store.publishWeights(lb.id, { subnets: probed(s1, 0) }, decision);
    writeFileSync(join(dir, 'token'), READ_TOKEN, { mode: 0o600 });
    for (let d = 0; d < servers; d++) {
      const metricsPort = await freePort();
      const dnsPort = await freeServerPort();
      const cfg = { listen: [`127.0.0.1:${dnsPort}`], api: { url, token_file: join(dir, 'token'), wait: '30s' }, metrics: { listen: `127.0.0.1:${metricsPort}` } };
      writeFileSync(join(dir, `dns-${d}.yaml`), JSON.stringify(cfg));
      procs.push({ proc: startSluice(['dns', '--config', join(dir, `dns-${d}.yaml`)], { env: { SLUICE_LOG_LEVEL: 'warn' } }), metricsPort, dnsPort });
    }
    // A server once seen serving the round's answer is not asked again.
    const allOn = (round: number, what: string) => {
      const waiting = new Set(procs);
      const expected = originAddress(round % 2);
      return waitFor(
        async () => {
          await Promise.all([...waiting].map(async (p) => (await probeAnswer(p.dnsPort)) === expected && waiting.delete(p)));
          return waiting.size === 0;
        },
        { timeoutMs: 900_000, intervalMs: 10, what: `${what}; output: ${procs.map((p) => p.proc.output().slice(-400)).join(' | ')}` },
      );
    };
    const t0 = performance.now();
    await allOn(0, 'every DNS server on the first (full) view');
    const firstMs = performance.now() - t0;
    const rss = procs.map((p) => Math.round(treeRssBytes(p.proc.child.pid!) / 1e6));
    // VIEW_PUBLISH_PROFILE=file.cpuprofile: this process's main thread, publish -> all serving (first round).
    const profile = process.env.VIEW_PUBLISH_PROFILE ? await startProfile(Number(process.env.VIEW_PUBLISH_PROFILE_INTERVAL_US ?? 0)) : null;
    // `rounds` publishes in a row, each timed from publishWeights' call to the last server serving it.
    const timed: { publish_ms: number; publish_to_all_serving_ms: number; api_process_cpu_ms: number; dns_cpu_ms_each: number[] }[] = [];
    for (let round = 0; round < rounds; round++) {
      const table = probed(round === 0 ? s2 : following(), round + 1);
      const dnsCpu0 = procs.map((p) => treeCpuMs(p.proc.child.pid!));
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      const published = await store.publishWeights(lb.id, { subnets: table }, decision, undefined, hints.get(table));
      const publishMs = performance.now() - t;
      await allOn(round + 1, `every DNS server on publish ${round + 2}`);
      const propagateMs = performance.now() - t;
      const apiCpu = process.cpuUsage(cpu0);
      if (profile && round === 0) writeFileSync(process.env.VIEW_PUBLISH_PROFILE!, JSON.stringify(await profile()));
      timed.push({
        publish_ms: Math.round(publishMs),
        publish_to_all_serving_ms: Math.round(propagateMs),
        api_process_cpu_ms: Math.round((apiCpu.user + apiCpu.system) / 1000),
        dns_cpu_ms_each: procs.map((p, i) => treeCpuMs(p.proc.child.pid!) - dnsCpu0[i]!),
      });
    }
    const kinds = await Promise.all(procs.map(async (p) => changesByKind(await metricsText(p.metricsPort))));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const r = {
      subnets: n,
      dns_servers: servers,
      first_full_view_all_serving_ms: Math.round(firstMs),
      ...timed[0]!,
      rounds: timed,
      publish_to_all_serving_ms_median: median(timed.map((x) => x.publish_to_all_serving_ms)),
      dns_rss_mb_each: rss,
      views_by_kind: kinds,
      loadavg: loadavg()[0],
    };
    process.stdout.write(`${label} -> ${servers} sluice dns: ${JSON.stringify(r)}\n`);
    return r;
  } finally {
    await Promise.all(procs.map((p) => p.proc.stop()));
    await app.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(args: string[]): Promise<void> {
  const storeKind = args.includes('--store') ? args[args.indexOf('--store') + 1] : 'sqlite';
  if (storeKind !== 'sqlite' && storeKind !== 'postgres') throw new Error(`--store: expected sqlite or postgres, got ${storeKind}`);
  const pg = storeKind === 'postgres' ? await startPostgres() : null;
  const { arg, sizes, load, results } = await perSize(args, (label, n, changed) => one(label, n, changed, pg)).finally(() => pg?.destroy());
  // --dns 10 --dns-size 100k: publish -> that many real sluice dns serving it.
  const servers = Number(arg('--dns', '0'));
  const dnsSize = arg('--dns-size', '100k');
  const served = servers > 0 ? await toServers(dnsSize, SIZES[dnsSize] ?? Number(dnsSize), Number(arg('--changed', '0.02')), servers, Math.max(1, Number(arg('--publishes', '1')))) : null;
  // `--sizes ''`: only the servers, recorded on their own (the peer: the full view every server took first).
  if (sizes.length === 0) {
    if (served) recordServed(served, dnsSize, Number(arg('--warmup', '2')), load);
    return;
  }
  const big = results[sizes.at(-1)!]!;
  const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.1)) * 10) / 10;
  recordResult(
    storeKind === 'postgres' ? 'view-publish-postgres' : 'view-publish',
    {
      comparison: `one publish (2 % changed) through a real ${storeKind === 'postgres' ? 'PostgreSQL' : 'SQLite'} store and the route's cache: the DNS view delta rendered by the replica that published (leader) vs by a replica that did not (follower: applies the change row to the tables it held); the publish as a change row vs as a full base`,
      ratios: {
        render_cpu_follower_over_leader: ratio(big.follower_render.cpu_ms, big.leader_render.cpu_ms),
        publish_cpu_base_over_change_row: ratio(big.publish_base.cpu_ms, big.publish.cpu_ms),
        // A failover's first publish as a base (no memo: what it was) over the same with the head held.
        failover_cpu_base_over_held_head: ratio(big.publish_base.cpu_ms, big.failover_publish.cpu_ms),
        failover_bytes_base_over_held_head: ratio(big.publish_base_written.bytes, big.failover_written.bytes),
      },
      details: { sizes: results, served, loadavg_1m: load, loadavg_end: loadavg()[0] },
    },
    sizes
      .map((s) => {
        const x = results[s]!;
        const f = (y: { wall_ms: number; cpu_ms: number }) => `${y.wall_ms} ms wall / ${y.cpu_ms} ms CPU`;
        return `${s}: publish (store commit, a change row) ${f(x.publish)} (every map a fresh object: ${f(x.publish_fresh_maps)}; a full base: ${f(x.publish_base)}); delta rendered: leader ${f(x.leader_render)} (longest stall ${x.leader_render.max_stall_ms} ms), follower ${f(x.follower_render)} (its copy of the table, made while idle: ${f(x.follower_idle_copy)}); publish -> delta on the leader ${f(x.publish_to_delta_leader)}; delta ${(x.delta_bytes / 1e6).toFixed(2)} MB; failover, the new leader's first publish: ${f(x.failover_publish)}, ${x.failover_written.kind === 'change_row' ? 'a change row' : 'a base'} of ${(x.failover_written.bytes / 1e6).toFixed(2)} MB (a base: ${(x.publish_base_written.bytes / 1e6).toFixed(2)} MB), its delta rendered ${f(x.failover_render)}`;
      })
      .join('; ') +
      (served ? `; ${dnsSize} -> ${served.dns_servers} sluice dns: publish -> all serving ${served.rounds.map((x) => x.publish_to_all_serving_ms).join(' / ')} ms over ${served.rounds.length} publish(es) (first: publish ${served.publish_ms} ms; API process ${served.api_process_cpu_ms} ms CPU, each DNS server ${Math.min(...served.dns_cpu_ms_each)}-${Math.max(...served.dns_cpu_ms_each)} ms CPU; RSS ${Math.min(...served.dns_rss_mb_each)}-${Math.max(...served.dns_rss_mb_each)} MB each; first full view to all ${served.first_full_view_all_serving_ms} ms)` : '') +
      `; load ${load.toFixed(1)}`,
  );
}

/**
 * Publish -> N real servers, recorded beside its peer in the same run: the full view each server took
 * first. The first `warmup` publishes after that full view are reported apart (each server collects the
 * full view's garbage and V8 compiles the delta path then: 2-4x the CPU of later deltas), never left out.
 */
function recordServed(served: NonNullable<Awaited<ReturnType<typeof toServers>>>, dnsSize: string, warmup: number, load: number): void {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const all = served.rounds.map((x) => x.publish_to_all_serving_ms);
  const steady = served.rounds.slice(warmup);
  const steadyMedian = steady.length > 0 ? median(steady.map((x) => x.publish_to_all_serving_ms)) : null;
  const span = (xs: number[]) => `${Math.min(...xs)}-${Math.max(...xs)}`;
  const fullOverDelta = Math.round((served.first_full_view_all_serving_ms / Math.max(served.publish_to_all_serving_ms_median, 1)) * 10) / 10;
  recordResult(
    `view-publish-servers-${dnsSize}`,
    {
      comparison: `one publish (2 % changed) to ${served.dns_servers} real sluice dns following an in-process API over SQLite, publish -> every server answering from it (read from their ECS answers), vs the full view each server took first (the peer, same run)`,
      ratios: { full_view_over_delta_median: fullOverDelta },
      details: { ...served, warmup_rounds: warmup, steady_median_ms: steadyMedian, loadavg_start: load },
    },
    `${dnsSize} -> ${served.dns_servers} sluice dns, ${served.rounds.length} publishes: publish -> all serving ${all.join(' / ')} ms (median ${served.publish_to_all_serving_ms_median}; after the first ${warmup}: ${steady.map((x) => x.publish_to_all_serving_ms).join(' / ') || '-'}, median ${steadyMedian ?? '-'}); publish ${span(served.rounds.map((x) => x.publish_ms))} ms; API process ${span(served.rounds.map((x) => x.api_process_cpu_ms))} ms CPU a publish; each server ${span(steady.flatMap((x) => x.dns_cpu_ms_each))} ms CPU a publish after the first ${warmup} (${span(served.rounds.slice(0, warmup).flatMap((x) => x.dns_cpu_ms_each))} before); first full view to all ${served.first_full_view_all_serving_ms} ms (x${fullOverDelta} the median publish); RSS ${span(served.dns_rss_mb_each)} MB each; load ${load.toFixed(1)} -> ${(served.loadavg ?? 0).toFixed(1)}`,
  );
}
