// Wires the live loop from config: the input reader (Prometheus, or embedded scraping), the solver
// worker, the subnet locator and metrics.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { SchedulerStore } from './store.ts';
import type { SchedulerConfig } from '../config.ts';
import type { RejectReason } from '../inputs/guard.ts';
import { PromqlInputReader } from '../inputs/promql.ts';
import { ScrapeInputReader } from '../inputs/scrape.ts';
import type { InputReader } from '../inputs/types.ts';
import { clientTls, type ClientTls } from '../../lib/tls-client.ts';
import { DecisionWorker } from '../solver/client.ts';
import { createLocator } from './locate.ts';
import { SchedulerLoop } from './loop.ts';
import { createSchedulerMetrics } from './metrics.ts';

export interface RunningScheduler {
  loop: SchedulerLoop;
  stop(): Promise<void>;
}

/** The TLS client files of the input readers, loaded now (a bad file stops the start, naming its key). */
export interface InputsTls {
  prometheus?: ClientTls | undefined;
  scrape?: ClientTls | undefined;
}

export function loadInputsTls(config: SchedulerConfig, log?: Logger): InputsTls {
  return { prometheus: clientTls(config.prometheus?.tls, 'scheduler.prometheus.tls', log), scrape: clientTls(config.scrape.tls, 'scheduler.scrape.tls', log) };
}

export async function startScheduler(config: SchedulerConfig, store: SchedulerStore, registry: Registry, log: Logger, reader?: InputReader, replicaId?: string, tls: InputsTls = loadInputsTls(config, log)): Promise<RunningScheduler> {
  const metrics = createSchedulerMetrics(registry);
  const counter = {
    reject(input: string, reason: RejectReason) {
      metrics.rejected.inc({ input, reason });
    },
    scrapeFailed(target: string, detail: string) {
      metrics.scrapeErrors.inc({ target });
      log.warn({ target, detail }, 'scrape failed');
    },
  };
  const inputs: InputReader =
    reader ??
    (config.prometheus
      ? new PromqlInputReader(
          {
            ...(config.prometheus.url !== undefined ? { url: config.prometheus.url } : {}),
            ...(config.prometheus.shards ? { shards: config.prometheus.shards } : {}),
            shardHoldMs: config.prometheus.shard_hold,
            shardEvents: {
              shardFailed(shard, kind, detail, standIn) {
                metrics.shardFailures.inc({ shard, kind, stand_in: standIn });
                log.warn({ shard, kind, detail, stand_in: standIn }, standIn === 'last_good' ? 'Prometheus shard failed: its last good answers stand in' : 'Prometheus shard failed: the cycle holds');
              },
              duplicateSeries(input, count) {
                metrics.duplicateSeries.inc({ input }, count);
              },
            },
            recorded: config.prometheus.recording_rules,
            timeoutMs: config.prometheus.timeout,
            windowSeconds: Math.round(config.prometheus.window / 1000),
            staleSeconds: Math.round(config.prometheus.stale / 1000),
            headers: config.prometheus.headers,
            tls: tls.prometheus,
            queries: config.prometheus.queries,
            perLoadBalancer: Object.fromEntries(Object.entries(config.prometheus.load_balancers).map(([k, v]) => [k, v.queries])),
          },
          counter,
        )
      : new ScrapeInputReader({ targets: config.scrape.targets, timeoutMs: config.scrape.timeout, minIntervalMs: Math.max(100, config.interval / 2), tls: tls.scrape }, counter));
  const solver = new DecisionWorker().start(); // booting while the first inputs are read
  const loop = new SchedulerLoop({
    store,
    reader: inputs,
    solve: (p) => solver.decide(p),
    prepare: (rows, cols, policy) => solver.prepare(rows, cols, policy),
    log,
    metrics,
    intervalMs: config.interval,
    inputTimeoutMs: config.input_timeout,
    leaseTtlMs: config.lease_ttl ?? 3 * config.interval,
    holdCycles: config.hold_cycles,
    mergeResolutionMs: config.merge_resolution_ms,
    latencyTtlMs: config.latency_ttl,
    decisionRetentionMs: config.decision_retention,
    locate: await createLocator(config.geoip),
    // Unique per process (a restarted replica is a new holder, so it gets a new epoch).
    ...(replicaId ? { holder: `${replicaId}/${process.pid}/${Math.random().toString(36).slice(2, 8)}` } : {}),
  });
  loop.start();
  log.info({ mode: reader ? 'custom' : config.prometheus ? `prometheus ${config.prometheus.url ?? config.prometheus.shards!.map((x) => `${x.name}=${x.url}`).join(', ')}` : `scrape ${config.scrape.targets.length} target(s)`, interval_ms: config.interval, holder: loop.holder }, 'scheduler started');
  return {
    loop,
    async stop() {
      await loop.stop();
      await inputs.close?.();
      await solver.close();
    },
  };
}
