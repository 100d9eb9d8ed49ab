// `sluice control-plane`: the API, the store, active health checks (and, when configured, the
// scheduler loop) in one process. Any number of these may run on one PostgreSQL database: each serves
// the whole API, each runs health checks, and the scheduler lease makes one of them the scheduler.
import { ConfigError, validateConfig, loadConfigFile } from '../lib/config-file.ts';
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { createLogger } from '../lib/log.ts';
import { parseHostPort } from '../model/primitives.ts';
import { existsSync, statSync } from 'node:fs';
import type https from 'node:https';
import { loadingFilesOf, loadServerTls, logCertificate, TlsReloader } from '../lib/tls.ts';
import { observeCertificate, reloadObserver } from '../lib/tls-metrics.ts';
import { assertSafeBind, authEnabled, tokenSets, type CertificateRoles } from './auth.ts';
import { ControlPlaneConfig } from './config.ts';
import { HealthChecker } from './health/checker.ts';
import { HealthEvaluator } from './health/evaluator.ts';
import { createHealthMetrics } from './health/metrics.ts';
import type { QuorumPolicy } from './health/quorum.ts';
import { createApiMetrics } from './metrics.ts';
import { buildServer } from './server.ts';
import { loadInputsTls, startScheduler } from '../scheduler/loop/start.ts';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { keysIn } from '../dns/dnssec/key-admin.ts';
import { KeyFileError } from '../dns/dnssec/keys.ts';
import { Replica } from './replica.ts';
import { openStore } from './store/open.ts';
import { migrateOnly } from './store/postgres.ts';
import { openSqliteStore } from './store/sqlite.ts';

const USAGE = `usage: sluice control-plane [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--migrate-only]

Runs the REST API (with OpenAPI at /openapi.json and Swagger UI at /docs), the store (SQLite in the
data dir, or PostgreSQL with a postgres: block), the origins' active health checks and the scheduler
loop. With no --config the embedded defaults apply: 127.0.0.1:8080, ./data, no tokens (loopback only).
Beyond loopback it needs auth tokens (or client certificate roles) and TLS (tls.cert_file, key_file),
or insecure: true to serve plain HTTP knowingly.

  --migrate-only   apply pending schema migrations to the configured store, print the schema version, exit`;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, { config: { type: 'string', short: 'c' }, listen: { type: 'string' }, 'data-dir': { type: 'string' }, 'migrate-only': { type: 'boolean' } }, USAGE);
  if (!args) return 0;
  const config = args.values.config ? loadConfigFile(ControlPlaneConfig, args.values.config) : validateConfig(ControlPlaneConfig, {}, '(embedded defaults)');
  if (args.values.listen) {
    const hp = parseHostPort(args.values.listen);
    if (!hp) throw new UsageError(`--listen: expected HOST:PORT such as 127.0.0.1:8080, got "${args.values.listen}"`);
    config.listen = hp;
  }
  if (args.values['data-dir']) config.data_dir = args.values['data-dir'];
  if (config.dnssec && args.values.config) config.dnssec.key_directory = resolve(dirname(args.values.config), config.dnssec.key_directory);
  if (config.dnssec) checkKeyDirectory(config.dnssec.key_directory, args.values.config ?? '(embedded defaults)');

  const log = createLogger('control-plane', config.log_level);
  const configFile = args.values.config ?? '(embedded defaults)';
  const replicaId = config.replica_id ?? `${hostname()}:${config.listen.port || process.pid}`;
  try {
    if (args.values['migrate-only']) return await migrate(config, replicaId);
    return await serve(config, configFile, replicaId, log);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) throw err;
    // The store could not be opened (unreachable, refused credentials, a newer schema): one line, exit 1.
    process.stderr.write(`sluice control-plane: ${(err as Error).message}\n`);
    return 1;
  }
}

/**
 * Keys the API would list must be readable and protected, as the dns servers require (exit 2 naming
 * the file, before listening); a directory not made yet is fine: the first POST makes it (0700).
 */
function checkKeyDirectory(dir: string, configFile: string): void {
  if (!existsSync(dir)) return;
  try {
    keysIn(dir);
  } catch (err) {
    if (err instanceof KeyFileError) throw new ConfigError(configFile, [{ key: 'dnssec.key_directory', message: err.message }]);
    throw err;
  }
}

async function serve(config: ControlPlaneConfig, configFile: string, replicaId: string, log: ReturnType<typeof createLogger>): Promise<number> {
  const tokens = tokenSets(config.auth);
  const certificateRoles: CertificateRoles | undefined = config.auth.client_certificates
    ? { admin: new Set(config.auth.client_certificates.admin_ous), report: new Set(config.auth.client_certificates.report_ous), read: new Set(config.auth.client_certificates.read_ous) }
    : undefined;
  const auth = { tokens, certificateRoles, clientAuth: config.tls?.client_auth_type };
  const insecure = assertSafeBind(config.listen.host, auth, { tls: config.tls !== undefined, insecure: config.insecure });
  if (!authEnabled(auth)) log.warn('no auth tokens configured: the API is open to anyone who can reach it, so it listens on loopback only');
  if (insecure) log.warn(`INSECURE: serving plain HTTP on ${config.listen.host} (insecure: true): bearer tokens and views cross the network in clear; set tls.cert_file and tls.key_file`);
  warnPlainTokensReadable(config, configFile, log);
  const tls = config.tls ? loadingFilesOf(configFile, () => loadServerTls(config.tls!, 'tls')) : undefined;
  const inputsTls = loadingFilesOf(configFile, () => loadInputsTls(config.scheduler, log));
  if (tls) logCertificate(log, 'tls', tls.certificate);

  const { store, kind, where } = await openStore(config, replicaId, log, configFile);
  log.info({ replica: replicaId, store: kind, where }, 'store open');
  const metrics = createApiMetrics();
  let scheduler: Awaited<ReturnType<typeof startScheduler>> | undefined;
  const hc = config.health;
  const policy: QuorumPolicy = { quorum: hc.quorum, min_down: hc.min_down, stale_after_ms: hc.stale_after, forget_after_ms: hc.forget_after, hold_down_ms: hc.hold_down };
  // Every replica runs one; the holder of the health lease decides (see health/evaluator.ts).
  const evaluator = new HealthEvaluator({
    store,
    log,
    metrics: createHealthMetrics(metrics.registry),
    holder: `${replicaId}/${process.pid}/${Math.random().toString(36).slice(2, 8)}`,
    policy,
    intervalMs: hc.evaluate_interval,
    leaseTtlMs: hc.lease_ttl ?? Math.max(3000, 3 * hc.evaluate_interval),
    retentionMs: hc.observation_retention,
  });
  const replica = new Replica({
    id: replicaId,
    store,
    storeKind: kind,
    log,
    registry: metrics.registry,
    schedulerHolder: () => scheduler?.loop.holder,
    healthHolder: () => (evaluator.leading ? evaluator.holder : undefined),
    ...('listening' in store ? { listening: () => (store as { listening: boolean }).listening } : {}),
  });
  await replica.start();
  const app = await buildServer({
    store,
    metrics,
    tokens,
    bodyLimitBytes: config.api.body_limit_bytes,
    longPollMaxMs: config.api.long_poll_max,
    longPollsPerClient: config.api.long_poll_per_client,
    headerTimeoutMs: config.api.header_timeout,
    requestTimeoutMs: config.api.request_timeout,
    docs: config.api.docs,
    logger: log,
    replica,
    health: { policy, onReport: () => evaluator.wake() },
    https: tls?.options,
    clientAuth: config.tls?.client_auth_type,
    certificateRoles,
    ...(config.dnssec ? { dnssec: { keyDirectory: config.dnssec.key_directory } } : {}),
  });
  // A renewed certificate on disk is served to the next connection; open ones (long-polls) keep theirs.
  if (tls) observeCertificate(metrics.tls, config.tls!.cert_file, tls);
  const reloader = config.tls ? new TlsReloader(config.tls, 'tls', (next) => (app.server as unknown as https.Server).setSecureContext(next.context), log, reloadObserver(metrics.tls, config.tls.cert_file)).start() : undefined;
  const health = config.health_checks.enabled ? new HealthChecker({ store, log, checks: metrics.healthChecks, vantage: replicaId, reportIntervalMs: hc.report_interval, onVerdictChange: () => evaluator.wake() }) : undefined;
  await health?.start();
  evaluator.start();
  scheduler = config.scheduler.enabled ? await startScheduler(config.scheduler, store, metrics.registry, log, undefined, replicaId, inputsTls) : undefined;

  const address = await app.listen({ host: config.listen.host, port: config.listen.port });
  log.info({ address, replica: replicaId, store: kind, where }, 'control plane listening');
  // Tests and scripts read this line to learn the port when --listen asked for port 0.
  process.stdout.write(`sluice control-plane listening on ${address}\n`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  log.info('shutting down');
  reloader?.stop();
  await scheduler?.stop();
  await health?.stop();
  await evaluator.stop();
  await app.close();
  replica.stop();
  await store.close();
  return 0;
}

/**
 * Plain tokens in a config file others on the host can read are as good as published: say so (the
 * file stays usable; "sha256:<hex>" digests are safe to leave readable).
 */
function warnPlainTokensReadable(config: ControlPlaneConfig, configFile: string, log: ReturnType<typeof createLogger>): void {
  const plain = [...config.auth.admin_tokens, ...config.auth.read_tokens].filter((t) => !t.startsWith('sha256:')).length;
  if (plain === 0) return;
  let mode: number;
  try {
    mode = statSync(configFile).mode & 0o777;
  } catch {
    return; // embedded defaults or a vanished file: nothing to check
  }
  if (mode & 0o004) log.warn({ file: configFile, mode: `0${mode.toString(8)}`, plain_tokens: plain }, 'the config holds plain bearer tokens and every user on this host can read it: write them as "sha256:<hex>" (printf %s TOKEN | sha256sum) or chmod 0640');
}

/** --migrate-only: bring the store's schema up to this binary's and exit (run once before a rolling upgrade). */
async function migrate(config: ControlPlaneConfig, replicaId: string): Promise<number> {
  if (config.postgres) {
    const r = await migrateOnly(config.postgres, replicaId);
    process.stdout.write(`${r.display}: schema version ${r.version}${r.applied.length > 0 ? ` (applied ${r.applied.join(', ')})` : ' (up to date)'}\n`);
    return 0;
  }
  const store = openSqliteStore(config.data_dir);
  process.stdout.write(`${store.path}: schema version ${store.schemaVersion} (up to date)\n`);
  await store.close();
  return 0;
}
