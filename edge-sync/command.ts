// `sluice edge-sync --config FILE [--dry-run] [--once]`
import { parseCommandLine } from '../lib/cli-args.ts';
import { loadingFilesOf, loadServerTls } from '../lib/tls.ts';
import { warnCleartextToken } from '../lib/tls-client.ts';
import { createLogger } from '../lib/log.ts';
import { apiTls, apiToken, createDataPlane, createSource } from './build.ts';
import { HealthReporter } from './health/reporter.ts';
import { loadEdgeSyncConfig } from './config.ts';
import { isNoop } from './dataplane.ts';
import { readStateFile, SyncLoop } from './loop.ts';
import { EdgeMetrics, serveMetrics } from './metrics.ts';
import { describeChange } from './plan/diff.ts';
import { type ConfigSource, SourceError } from './source.ts';
import type { EdgeConfig } from '../model/views.ts';

const USAGE = `usage: sluice edge-sync --config FILE [--dry-run] [--once]

Keeps this edge's data planes (HAProxy runtime API + haproxy.cfg, nginx upstreams, IPVS via ipvsadm)
equal to the control plane's EdgeConfig, and exports edge demand on /metrics.

  --config FILE   edge-sync YAML (see examples/edge-sync.yaml)
  --dry-run       fetch the config once, print the changes that would be made (deletions of
                  listeners gone since the state_file's config included), change nothing
                  (exit 1 when the config is invalid, a data plane cannot be read or a listener
                  cannot be applied)
  --once          fetch and apply once, then exit (0 = the data planes match, 1 = something failed)`;

/**
 * One fetch for --once and --dry-run. A config that cannot be fetched or is invalid (truncated JSON, a
 * negative weight, a port out of range) is one line on stderr, and nothing is touched.
 */
async function fetchOnce(source: ConfigSource): Promise<EdgeConfig | null> {
  try {
    const got = await source.next({ wait: false });
    if (got.kind === 'config') return got.config;
    process.stderr.write(`sluice edge-sync: ${source.describe()} answered 304 to a request without If-None-Match\n`);
  } catch (err) {
    if (!(err instanceof SourceError)) throw err;
    process.stderr.write(`sluice edge-sync: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`);
  }
  return null;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv, { config: { type: 'string', short: 'c' }, 'dry-run': { type: 'boolean' }, once: { type: 'boolean' } }, USAGE);
  if (!args) return 0;
  const file = args.values.config;
  if (!file) {
    process.stderr.write(`sluice edge-sync: --config FILE is required\n\n${USAGE}\n`);
    return 2;
  }
  const cfg = loadEdgeSyncConfig(file);
  const log = createLogger('edge-sync');
  const source = createSource(cfg, file, log);
  const metricsTls = cfg.metrics.enabled && cfg.metrics.tls ? loadingFilesOf(file, () => loadServerTls(cfg.metrics.tls!, 'metrics.tls')) : undefined;
  if (cfg.api) warnCleartextToken(log, cfg.api.urls ?? [cfg.api.url!], Boolean(cfg.api.token || cfg.api.token_file));
  const dataplanes = cfg.dataplane.map(createDataPlane);

  if (args.values['dry-run']) {
    const config = await fetchOnce(source);
    if (!config) return 1;
    // What the loop would remove: listeners of the last applied config (state_file) that are gone.
    const previous = cfg.state_file ? readStateFile(cfg.state_file, log) : null;
    let failed = false;
    for (const dp of dataplanes) {
      try {
        const plan = await dp.plan(config, previous);
        process.stdout.write(`# ${dp.type} "${dp.name}": ${isNoop(plan) ? 'no changes' : `${plan.changes.length} change(s), ${plan.files.length} file(s)`} for config ${config.version}\n`);
        for (const c of plan.changes) process.stdout.write(`#   ${describeChange(c)}\n`);
        for (const line of plan.preview) process.stdout.write(`${line}\n`);
        for (const h of plan.held) process.stdout.write(`# held ${h.pool}: ${h.reason}\n`);
        for (const p of plan.problems) process.stdout.write(`# PROBLEM: ${p}\n`);
        if (plan.problems.length > 0) failed = true;
      } catch (err) {
        failed = true;
        process.stdout.write(`# ${dp.type} "${dp.name}": cannot read its state: ${(err as Error).message}\n`);
      }
    }
    return failed ? 1 : 0;
  }

  const metrics = new EdgeMetrics(cfg.edge ?? cfg.api?.edge_id ?? 'edge');
  const loop = new SyncLoop({ source, dataplanes, metrics, log, retry: cfg.retry, dryRun: cfg.dry_run, edgeLabelFixed: cfg.edge !== undefined, ...(cfg.state_file ? { stateFile: cfg.state_file } : {}) });

  if (args.values.once) {
    const config = await fetchOnce(source);
    if (!config) return 1;
    if (!cfg.edge) metrics.setEdge(config.edge.name);
    return (await loop.syncOnce(config)) ? 0 : 1;
  }

  const server = cfg.metrics.enabled
    ? await serveMetrics(metrics.registry, cfg.metrics.listen.host, cfg.metrics.listen.port, () => loop.status(), metricsTls ? { config: cfg.metrics.tls!, loaded: metricsTls, prefix: 'metrics.tls', log, metrics: metrics.tls } : undefined)
    : null;
  // This edge as a health vantage point: reports to every replica in turn; the local fallback when none hears it.
  const reporter =
    cfg.api && cfg.health.report && !cfg.dry_run
      ? new HealthReporter({
          urls: cfg.api.urls ?? [cfg.api.url!],
          token: apiToken(cfg, file),
          tls: apiTls(cfg, file, log),
          edgeId: cfg.api.edge_id,
          dataplanes,
          config: () => loop.configInForce(),
          pools: (name) => loop.poolsOf(name),
          metrics,
          log,
          pollMs: cfg.health.poll_interval,
          reportIntervalMs: cfg.health.report_interval,
          timeoutMs: cfg.health.timeout,
          ...(cfg.health.local_fallback ? { onLocalFallback: (down: ReadonlySet<string> | null) => loop.setLocalFallback(down) } : {}),
        })
      : null;
  log.info({ source: source.describe(), dataplanes: dataplanes.map((d) => `${d.type}:${d.name}`), metrics: cfg.metrics.enabled ? `${metricsTls ? 'https' : 'http'}://${cfg.metrics.listen.host}:${cfg.metrics.listen.port}` : 'off', dry_run: cfg.dry_run, health_reports: reporter !== null }, 'edge-sync started');
  loop.start();
  reporter?.start();
  let collecting = false;
  const statsTimer = setInterval(() => {
    if (collecting) return;
    collecting = true;
    loop.collectStats().finally(() => (collecting = false));
  }, cfg.metrics.poll_interval);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info('stopping; the data planes keep the weights in force');
  clearInterval(statsTimer);
  await reporter?.stop();
  await loop.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  return 0;
}
