// `sluice dns --config FILE`: the authoritative DNS server. One process (workers: 1) or a node:cluster
// primary with N serving workers; see dns/README.md for the worker model.
import cluster, { type Worker } from 'node:cluster';
import { accessSync, constants } from 'node:fs';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type metric = MetricObjectWithValues<MetricValue<string>>;
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import type { DnsView } from '../model/views.ts';
import { loadDnsConfig, type DnsConfig } from './config.ts';
import { registerViewMetrics, type ViewMetrics } from './metrics.ts';
import { fromWire, loadKeys, openGeo, preParsed, splitCompactView } from './server/engine.ts';
import type { ListenAddress } from './server/listeners.ts';
import { ServingProcess } from './server/serving.ts';
import { claimUdpAddresses, resolveUdpIo, type UdpIo } from './server/udp-io.ts';
import { ViewCache } from './view-cache.ts';
import { ApiViewSource, FileViewSource, readViewFile, type ViewListener, type ViewSource } from './view-source.ts';
import type { ViewDelta } from './view-changes.ts';
import type { CompactDnsView } from '../model/view-changes.ts';
import { compactTablesOf, compactViewOf, withTables, type PackedView } from './packed/packed-view.ts';
import { ConfigError } from '../lib/config-file.ts';
import type https from 'node:https';
import { readSecretLine } from '../lib/secret-file.ts';
import { loadingFilesOf, loadServerTls } from '../lib/tls.ts';
import { clientTls, warnCleartextToken } from '../lib/tls-client.ts';
import { createHttpServer, schemeOf, type TlsServing } from '../lib/tls-server.ts';
import { KeyDirectoryWatch } from './dnssec/key-watch.ts';
import { collectSoon } from '../lib/collect-garbage.ts';

const USAGE = `usage: sluice dns --config FILE
       sluice dns keygen|ds|settime|keys ...   (DNSSEC keys; "sluice dns keygen --help")

Authoritative DNS for the load balancers' hostnames: per-client-subnet weighted answers (EDNS Client
Subnet), geolocation when nothing is learned, static weights last; signed online (DNSSEC) for zones
with keys. See dns/README.md.

options:
  -c, --config FILE   YAML config (see examples/dns.yaml)
  -h, --help          this text`;

const KEY_COMMANDS = new Set(['keygen', 'ds', 'settime', 'keys']);

type Msg =
  /**
   * `summary`: this worker logs what indexing the view found (one worker per view does). Compact (the
   * distinct weight maps once, then CIDRs and map indexes): half the bytes of the view's JSON, and the
   * worker's parse makes no object per subnet.
   */
  | { type: 'sluice-dns-view'; view: CompactDnsView; summary: boolean }
  /** How the view moved on from the one the worker holds; applied by the worker to its own copy. */
  | { type: 'sluice-dns-view-delta'; delta: ViewDelta }
  /** The worker does not hold the delta's base: it needs the whole view. */
  | { type: 'sluice-dns-view-resync'; have: string | null }
  | { type: 'sluice-dns-view-refused'; version: string; error: string }
  /** The worker indexed this full view (the primary's fallback to the view before can go once all have). */
  | { type: 'sluice-dns-view-installed'; version: string }
  | { type: 'sluice-dns-metrics-request'; id: number }
  | { type: 'sluice-dns-metrics'; id: number; metrics: metric[] }
  | { type: 'sluice-dns-ready'; bound: string[] }
  | { type: 'sluice-dns-hello' }
  | { type: 'sluice-dns-no-view' }
  | { type: 'sluice-dns-reload-keys' };

/** How long a worker waits for its first view from the primary before it listens anyway (answering SERVFAIL). */
const FIRST_VIEW_WAIT_MS = 10_000;

/**
 * Resolves when `hasView()` turns true or after `ms`; polls cheaply (startup only). Then, with still
 * no view, the source's cached one if it has a usable one (view-cache.ts).
 */
async function firstView(hasView: () => boolean, ms: number, log: Logger, source?: ViewSource): Promise<void> {
  const deadline = Date.now() + ms;
  while (!hasView() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (hasView() || source?.resumeFromCache?.()) return;
  log.warn({ waited_ms: ms }, 'no view yet; listening anyway and answering SERVFAIL until one arrives');
}

/** The API source's wait (api.first_view_wait); a static file is read before this. */
const firstViewWait = (config: DnsConfig) => config.api?.first_view_wait ?? FIRST_VIEW_WAIT_MS;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] && KEY_COMMANDS.has(argv[0])) return (await import('./dnssec/key-command.ts')).runKeyCommand(argv[0], argv.slice(1));
  const args = parseCommandLine(argv, { config: { type: 'string', short: 'c' } }, USAGE);
  if (!args) return 0;
  const file = args.values.config;
  if (!file) throw new UsageError(`--config FILE is required\n\n${USAGE}`);
  const config = loadDnsConfig(file);
  const log = createLogger(cluster.isWorker ? `dns-worker-${cluster.worker?.id}` : 'dns', config.log_level);
  const io = resolveUdpIo(config, file);
  if (cluster.isWorker) return runWorker(config, file, log, io);
  log.info({ udp_io: io, configured: config.udp_io }, 'UDP path');
  let first: DnsView | null = null;
  if (config.view_file) {
    // A static view that cannot be read at start is a config error: fail before listening. The view
    // read here is the one installed first (read twice, a million-subnet view's parse leaves twice the garbage).
    try {
      first = readViewFile(config.view_file);
    } catch (err) {
      throw new ConfigError(file, [{ key: 'view_file', message: (err as Error).message }]);
    }
  }
  if (config.view_cache) {
    // A cache that can never be written would be found missing only when it is needed: at a restart
    // during an outage. Say so now.
    const where = dirname(config.view_cache.file);
    try {
      accessSync(where, constants.W_OK);
    } catch (err) {
      throw new ConfigError(file, [{ key: 'view_cache.file', message: `directory ${where} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): create it for the user sluice dns runs as` }]);
    }
  }
  if (config.api) warnCleartextToken(log, config.api.urls ?? [config.api.url!], Boolean(config.api.token || config.api.token_file));
  const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
  // With a metrics listener or a view cache, even one serving worker runs beside a primary: rendering
  // metrics, parsing views (megabytes with 100k learned subnets) and writing the cache (0.35 s of one
  // piece at 1M: the table's key list) then never stall the loop that answers queries.
  return workers <= 1 && !config.metrics && !config.view_cache ? runSingle(config, file, log, io, first) : runPrimary(config, file, log, workers, io, first);
}

function untilSignal(onHup?: () => void): Promise<string> {
  return new Promise((resolve) => {
    const done = (sig: string) => {
      process.off('SIGHUP', hup);
      resolve(sig);
    };
    const hup = () => onHup?.();
    process.once('SIGTERM', () => done('SIGTERM'));
    process.once('SIGINT', () => done('SIGINT'));
    process.on('SIGHUP', hup);
  });
}

/** The token file (permissions checked) and TLS files are read here, before anything listens. */
function makeSource(config: DnsConfig, file: string, install: ViewListener, metrics: ViewMetrics, log: Logger, first: DnsView | null): ViewSource & { reload?: () => void } {
  // The delta passes through: without it the primary would send every worker the whole view (and
  // each would rebuild its index) on every publish, whatever came over the wire.
  const onView: ViewListener = (v, delta, compact) => {
    install(v, delta, compact);
    logFailOpen(v.view, log);
  };
  if (config.view_file) return new FileViewSource(config.view_file, onView, metrics, log, first);
  const api = config.api!;
  return loadingFilesOf(file, () => {
    const token = api.token_file ? readSecretLine('api.token_file', api.token_file) : api.token;
    const cache = config.view_cache ? new ViewCache(config.view_cache, metrics, log) : undefined;
    return new ApiViewSource(api, token, onView, metrics, log, clientTls(api.tls, 'api.tls', log), cache);
  });
}

let failingOpen = '';
/**
 * Names whose every enabled origin is down by quorum are answered with all of them (fail open,
 * answer/view-index.ts), never with nothing: said loudly, once per change of which names.
 */
function logFailOpen(view: DnsView, log: Logger): void {
  const names = view.zones.flatMap((z) => z.records.filter((r) => r.origins.some((o) => o.admin_state !== 'disabled') && r.origins.every((o) => o.admin_state === 'disabled' || !o.healthy)).map((r) => r.hostname));
  const key = names.join(',');
  if (key === failingOpen) return;
  failingOpen = key;
  if (names.length > 0) log.error({ names }, 'every origin of these names is down by quorum: answering with all of them (fail open), never with none');
  else log.warn('fail-open over: every name has a healthy origin again');
}

/** Re-reads the keys when their directory changes (dnssec.key_check_interval), as SIGHUP does. */
function watchKeys(config: DnsConfig, log: Logger, reload: () => void): KeyDirectoryWatch | undefined {
  const d = config.dnssec;
  if (!d || d.key_check_interval === 0) return undefined;
  return new KeyDirectoryWatch(d.key_directory, d.key_check_interval, () => {
    log.info({ key_directory: d.key_directory }, 'DNSSEC key directory changed: re-reading the keys');
    reload();
  }).start();
}

/** metrics.tls, loaded before anything listens (a bad file: exit 2 naming the key). */
function metricsTls(config: DnsConfig, file: string, log: Logger, metrics: ViewMetrics): TlsServing | undefined {
  const tls = config.metrics?.tls;
  return tls ? { config: tls, loaded: loadingFilesOf(file, () => loadServerTls(tls, 'metrics.tls')), prefix: 'metrics.tls', log, metrics: metrics.tls } : undefined;
}

function startMetricsServer(config: DnsConfig, log: Logger, render: () => Promise<{ text: string; contentType: string }>, tls: TlsServing | undefined): Promise<http.Server | https.Server | null> {
  if (!config.metrics) return Promise.resolve(null);
  const server = createHttpServer((req, res) => {
    if (req.url === '/metrics' || req.url?.startsWith('/metrics?')) {
      render().then(
        ({ text, contentType }) => res.writeHead(200, { 'content-type': contentType }).end(text),
        (err: Error) => res.writeHead(500).end(`metrics unavailable: ${err.message}\n`),
      );
    } else if (req.url === '/healthz') res.writeHead(200).end('ok\n');
    else res.writeHead(404).end('not found\n');
  }, tls);
  const { host, port } = config.metrics.listen;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      log.info({ metrics: `${schemeOf(server)}://${host}:${(server.address() as { port: number }).port}/metrics` }, 'metrics listening');
      resolve(server);
    });
  });
}

/** One process does everything: fetch views and answer (no metrics listener configured). */
async function runSingle(config: DnsConfig, file: string, log: Logger, io: UdpIo, first: DnsView | null): Promise<number> {
  const serving = new ServingProcess(config, file, log, io);
  const registry = new Registry();
  serving.registerMetrics(registry);
  const viewMetrics = registerViewMetrics(registry);
  const tls = metricsTls(config, file, log, viewMetrics);
  // The view source holds the view packed (packed/packed-view.ts); this process's index and its UDP
  // thread's copy are updated from a delta as a cluster worker's are, and a full index is built from
  // the compact tables (never from an object keyed by subnet).
  let held: PackedView | null = null;
  const source = makeSource(
    config,
    file,
    (view, delta) => {
      if (!delta || !serving.installDelta(withTables(delta, view))) serving.install(view.view, true, { tables: compactTablesOf(view) });
      held = view;
    },
    viewMetrics,
    log,
    first,
  );
  // The UDP thread missed a delta's base: it gets the whole view, rendered from the one held.
  serving.onNeedView = () => held && serving.resyncThread({ view: held.view, tables: compactTablesOf(held) });
  // Listen only once there is something to answer from (bounded wait): no SERVFAIL burst on restart.
  source.start();
  await firstView(() => serving.hasView(), firstViewWait(config), log, source);
  let listeners;
  try {
    const addresses = io === 'recvmmsg' ? await claimUdpAddresses(config.listen) : config.listen;
    listeners = await serving.listen(addresses, udpThreadDied(log));
  } catch (err) {
    log.fatal({ err: (err as Error).message, listen: config.listen }, 'cannot listen');
    source.stop();
    return 1;
  }
  const metricsServer = await startMetricsServer(config, log, async () => ({ text: await registry.metrics(), contentType: registry.contentType }), tls);
  log.info({ listen: listeners.bound, workers: 1 }, 'sluice dns ready');
  const keyWatch = watchKeys(config, log, () => serving.reloadKeys());
  const sig = await untilSignal(() => {
    source.reload?.();
    serving.reloadKeys();
  });
  log.info({ signal: sig }, 'shutting down');
  keyWatch?.stop();
  source.stop();
  metricsServer?.close();
  await listeners.close();
  return 0;
}

/** A process whose UDP thread died cannot answer UDP: exit non-zero (a cluster primary starts a new worker). */
function udpThreadDied(log: Logger): (code: number) => void {
  return (code) => {
    log.fatal({ code }, 'the batched UDP thread ended unexpectedly; exiting');
    process.exit(70);
  };
}

/** Addresses a cluster primary claimed for the batched path, handed to its workers (see udp-io.ts). */
const CLAIMED_ENV = 'SLUICE_DNS_CLAIMED_LISTEN';

/** A serving worker: views and metric requests over IPC; UDP per `io` (see ServingProcess). */
async function runWorker(config: DnsConfig, file: string, log: Logger, io: UdpIo): Promise<number> {
  const serving = new ServingProcess(config, file, log, io);
  const registry = new Registry();
  serving.registerMetrics(registry);
  let primaryHasNoView = false;
  // The worker keeps only its index and the view's skeleton: its UDP thread's resync comes from the primary.
  serving.onNeedView = () => process.send?.({ type: 'sluice-dns-view-resync', have: serving.heldVersion() } satisfies Msg);
  process.on('message', (m: Msg) => {
    if (m.type === 'sluice-dns-no-view') primaryHasNoView = true;
    else if (m.type === 'sluice-dns-reload-keys') serving.reloadKeys();
    else if (m.type === 'sluice-dns-view') {
      try {
        // Indexed from the compact tables as they came: no object with a subnet per key in this process.
        const { view, tables } = splitCompactView(m.view);
        serving.install(view, m.summary, { tables });
        process.send?.({ type: 'sluice-dns-view-installed', version: m.view.version } satisfies Msg);
      } catch (err) {
        log.error({ err: (err as Error).message, version: m.view.version }, 'cannot index the view; keeping the last good one');
        process.send?.({ type: 'sluice-dns-view-refused', version: m.view.version, error: (err as Error).message } satisfies Msg);
      }
    } else if (m.type === 'sluice-dns-view-delta') {
      try {
        if (!serving.installDelta(fromWire(m.delta))) process.send?.({ type: 'sluice-dns-view-resync', have: serving.heldVersion() } satisfies Msg);
      } catch (err) {
        log.error({ err: (err as Error).message, version: m.delta.header.version }, 'cannot apply the view delta; keeping the last good index');
        process.send?.({ type: 'sluice-dns-view-refused', version: m.delta.header.version, error: (err as Error).message } satisfies Msg);
      }
    } else if (m.type === 'sluice-dns-metrics-request') {
      void registry.getMetricsAsJSON().then((metrics) => process.send?.({ type: 'sluice-dns-metrics', id: m.id, metrics } satisfies Msg));
    }
  });
  // Ask for the current view and bind only once it is indexed, so a fresh worker never answers
  // SERVFAIL while its siblings answer from the view.
  process.send?.({ type: 'sluice-dns-hello' } satisfies Msg);
  await firstView(() => serving.hasView() || primaryHasNoView, FIRST_VIEW_WAIT_MS, log);
  let listeners;
  try {
    const claimed = process.env[CLAIMED_ENV];
    listeners = await serving.listen(claimed ? (JSON.parse(claimed) as ListenAddress[]) : config.listen, udpThreadDied(log));
  } catch (err) {
    log.fatal({ err: (err as Error).message, listen: config.listen }, 'cannot listen');
    leaveCluster();
    return 1;
  }
  process.send?.({ type: 'sluice-dns-ready', bound: listeners.bound } satisfies Msg);
  await new Promise<void>((resolve) => {
    process.once('disconnect', () => resolve()); // the primary went away
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await listeners.close();
  leaveCluster();
  return 0;
}

/** A worker's IPC channel keeps its event loop alive: close it so the process can end. */
function leaveCluster(): void {
  if (cluster.worker?.isConnected()) cluster.worker.disconnect();
}

/** The primary: fetches views, hands them to workers, restarts workers, merges their metrics. */
async function runPrimary(config: DnsConfig, file: string, log: Logger, count: number, io: UdpIo, first: DnsView | null): Promise<number> {
  openGeo(config, file); // fail fast on a bad database, before forking
  if (config.dnssec) loadKeys(config, file); // and on bad keys (each worker reads them itself)
  const registry = new Registry();
  const viewMetrics = registerViewMetrics(registry);
  const tls = metricsTls(config, file, log, viewMetrics); // and on a bad certificate
  // The primary only parses views (the schema is their validation) and hands them on: indexing is the
  // workers' (and their UDP threads'), so a publish costs each server two index builds, not three.
  let latest: PackedView | null = null;
  /**
   * The view before `latest`: what a new worker gets instead when a worker could not index `latest`
   * (none after a delta). Only until every worker has indexed `latest` (`installedBy`): a
   * million-subnet view is ~100 MB of heap, and holding two after every full view cost that much.
   */
  let previous: PackedView | null = null;
  /**
   * `latest` in the compact encoding as it came from the control plane (a full view), for the workers
   * that have not indexed it yet (at start, every one: they are forked after it came): encoding the
   * view again per worker cost ~0.2 s and its garbage (a collection of ~0.8 s at 1M) each time.
   * Dropped with `previous`, or at once by a delta.
   */
  let latestCompact: CompactDnsView | null = null;
  /** Workers that said they indexed the full view `latest`. */
  const installedBy = new Set<number>();
  /** A view came whose summary no worker was asked to log yet (one worker logs it, not every one). */
  let summaryOwed = false;
  let stopping = false;
  const workers = new Set<Worker>();
  const ready = new Set<number>();
  let nextRequest = 1;
  const waiting = new Map<number, { got: metric[][]; need: number; done: (m: metric[][]) => void }>();

  // A worker that dies before it ever listened (port taken, bad address) would die again: give up
  // after a few in a row instead of restarting forever.
  let earlyExits = 0;
  let giveUp: ((code: number) => void) | null = null;
  const gaveUp = new Promise<number>((resolve) => (giveUp = resolve));
  const send = (w: Worker, view: CompactDnsView) => {
    w.send({ type: 'sluice-dns-view', view, summary: summaryOwed } satisfies Msg);
    summaryOwed = false;
  };
  /** A delta crosses to the workers instead of the view when there is one (a worker without its base asks for the view). */
  const broadcast = (view: PackedView, delta?: ViewDelta) => {
    // Made once per full view (not kept: a delta changes the view in place and would leave it stale).
    const compact = delta ? null : (latestCompact ?? compactViewOf(view));
    // Workers keep no subnets: a record the delta rebuilds crosses whole (packed-view.ts withTables);
    // the others' subnets cross parsed, once for every worker (engine.ts preParsed).
    const sent = delta && preParsed(withTables(delta, view));
    for (const w of workers) {
      if (!w.isConnected()) continue;
      if (sent) w.send({ type: 'sluice-dns-view-delta', delta: sent } satisfies Msg);
      else send(w, compact!);
    }
  };
  let claimed: ListenAddress[] | null = null;
  const fork = () => {
    const w = cluster.fork(claimed ? { [CLAIMED_ENV]: JSON.stringify(claimed) } : {});
    workers.add(w);
    w.on('message', (m: Msg) => {
      if (m.type === 'sluice-dns-hello' || m.type === 'sluice-dns-view-resync') {
        if (latest) {
          send(w, latestCompact ?? compactViewOf(latest));
          if (!latestCompact) collectSoon(); // the compact copy and its JSON (lib/collect-garbage.ts)
        } else w.send({ type: 'sluice-dns-no-view' } satisfies Msg);
      } else if (m.type === 'sluice-dns-ready') {
        ready.add(w.id);
        earlyExits = 0;
        if (ready.size === count) log.info({ listen: m.bound, workers: count }, 'sluice dns ready');
      } else if (m.type === 'sluice-dns-view-installed') {
        if (latest?.view.version !== m.version || (previous === null && latestCompact === null)) return;
        installedBy.add(w.id);
        if ([...workers].every((x) => !x.isConnected() || installedBy.has(x.id))) {
          previous = null;
          latestCompact = null;
          collectSoon();
        }
      } else if (m.type === 'sluice-dns-view-refused') {
        // Counted once per view (every worker indexes the same view alike); the workers keep answering
        // from their last good index, and a worker started later gets that view, not this one.
        if (latest?.view.version !== m.version) return;
        viewMetrics.errors.inc({ kind: 'invalid' });
        log.error({ version: m.version, err: m.error }, 'the workers cannot index this view; keeping the last good one');
        latest = previous;
        previous = null;
        latestCompact = null;
      } else if (m.type === 'sluice-dns-metrics') {
        const req = waiting.get(m.id);
        if (req) {
          req.got.push(m.metrics);
          if (req.got.length >= req.need) req.done(req.got);
        }
      }
    });
    w.on('exit', (code, signal) => {
      workers.delete(w);
      const wasReady = ready.delete(w.id);
      if (stopping) return;
      if (!wasReady && ++earlyExits >= 3) {
        log.fatal({ worker: w.id, code, signal }, 'DNS workers keep exiting before they listen; giving up');
        giveUp?.(1);
        return;
      }
      log.error({ worker: w.id, code, signal }, 'DNS worker exited; starting a new one');
      setTimeout(() => !stopping && fork(), 500);
    });
  };

  const source = makeSource(
    config,
    file,
    (view, delta, compact) => {
      // A delta updated the view held in place: the one before it is gone, nothing older to fall back on.
      previous = delta ? null : latest;
      latest = view;
      latestCompact = delta ? null : (compact ?? null);
      installedBy.clear();
      summaryOwed = !delta;
      broadcast(view, delta);
      // A full view's parse leaves several times its size as garbage (lib/collect-garbage.ts), collected
      // once the view source's frames (the response text, the parse) have returned.
      if (!delta) collectSoon();
    },
    viewMetrics,
    log,
    first,
  );
  source.start();
  await firstView(() => latest !== null, firstViewWait(config), log, source);
  if (io === 'recvmmsg') {
    // Every worker's thread binds its own SO_REUSEPORT socket: check once that no one else holds
    // the ports, and fix port 0 to one port for all of them.
    try {
      claimed = await claimUdpAddresses(config.listen);
    } catch (err) {
      log.fatal({ err: (err as Error).message, listen: config.listen }, 'cannot listen');
      source.stop();
      return 1;
    }
  }
  for (let i = 0; i < count; i++) fork();

  const render = async () => {
    const live = [...workers].filter((w) => w.isConnected());
    const id = nextRequest++;
    const fromWorkers = await new Promise<metric[][]>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(got);
      }, 2000);
      const got: metric[][] = [];
      waiting.set(id, {
        got,
        need: live.length,
        done: (m) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(m);
        },
      });
      for (const w of live) w.send({ type: 'sluice-dns-metrics-request', id } satisfies Msg);
      if (live.length === 0) resolve([]);
    });
    const merged = AggregatorRegistry.aggregate([...fromWorkers, await registry.getMetricsAsJSON()]);
    return { text: await merged.metrics(), contentType: merged.contentType };
  };
  const metricsServer = await startMetricsServer(config, log, render, tls);

  const onHup = () => {
    (source as { reload?: () => void }).reload?.();
    if (config.dnssec) for (const w of workers) if (w.isConnected()) w.send({ type: 'sluice-dns-reload-keys' } satisfies Msg);
  };
  const keyWatch = watchKeys(config, log, () => {
    for (const w of workers) if (w.isConnected()) w.send({ type: 'sluice-dns-reload-keys' } satisfies Msg);
  });
  const outcome = await Promise.race([untilSignal(onHup), gaveUp]);
  if (typeof outcome === 'string') log.info({ signal: outcome }, 'shutting down');
  keyWatch?.stop();
  stopping = true;
  source.stop();
  metricsServer?.close();
  await Promise.all(
    [...workers].map(
      (w) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => (w.process.kill('SIGKILL'), resolve()), 3000);
          w.once('exit', () => (clearTimeout(t), resolve()));
          w.process.kill('SIGTERM');
        }),
    ),
  );
  return typeof outcome === 'number' ? outcome : 0;
}
