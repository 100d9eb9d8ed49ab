// Prometheus metrics of online signing, read at scrape time from the signer and its DnssecStats (the
// query path only increments a typed array). Labels are zones and key tags: a handful each.
//
// With cluster workers, each worker's values are merged by the primary (AggregatorRegistry): counters
// summed; per key and per zone gauges by `min` (the next signature expiry: the worst worker) or `max`
// (key age: the same in every worker).
import { Counter, Gauge, type Registry } from 'prom-client';
import { fixedBucketHistogram } from '../fixed-histogram.ts';
import { keyRole } from './key-admin.ts';
import type { OnlineSigner } from './online.ts';
import { SIGN_BUCKETS, type DnssecStats } from './stats.ts';

/**
 * `others`: the stats of serving threads that sign with their own OnlineSigner over the same key
 * directory (shared memory); their counters are added and their expiries taken into account.
 */
export function registerDnssecMetrics(registry: Registry, signer: OnlineSigner, others: readonly DnssecStats[] = []): void {
  const all = [signer.stats, ...others];
  const sum = (f: (s: DnssecStats) => number) => all.reduce((acc, s) => acc + f(s), 0);
  const stats = {
    get signatures() { return sum((s) => s.signatures); },
    get hits() { return sum((s) => s.hits); },
    get misses() { return sum((s) => s.misses); },
    get unsignedAnswers() { return sum((s) => s.unsignedAnswers); },
    get signSeconds() {
      const each = all.map((s) => s.signSeconds);
      return { sum: each.reduce((a, e) => a + e.sum, 0), count: each.reduce((a, e) => a + e.count, 0), buckets: each[0]!.buckets.map((_, i) => each.reduce((a, e) => a + e.buckets[i]!, 0)) };
    },
  };
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  counter('sluice_dns_dnssec_signatures_total', 'RRSIGs made (each one ECDSA P-256 signature)', () => stats.signatures);
  counter('sluice_dns_dnssec_cache_hits_total', 'RRsets of DO answers whose signatures were found cached', () => stats.hits);
  counter('sluice_dns_dnssec_cache_misses_total', 'RRsets of DO answers that had to be signed (hit ratio: hits / (hits + misses))', () => stats.misses);
  counter('sluice_dns_dnssec_unsigned_answers_total', 'RRsets sent without RRSIGs in a signed zone because no key signs it and no valid signature was left', () => stats.unsignedAnswers);
  registry.registerMetric(fixedBucketHistogram('sluice_dns_dnssec_sign_duration_seconds', 'Time to make one signature', SIGN_BUCKETS, () => stats.signSeconds) as never);
  new Gauge({
    name: 'sluice_dns_dnssec_cache_entries',
    help: 'RRsets whose signatures are cached (per process; summed over workers)',
    registers: [registry],
    aggregator: 'sum',
    collect() {
      this.set(sum((s) => s.cacheEntries));
    },
  });
  new Gauge({
    name: 'sluice_dns_dnssec_signing_keys',
    help: 'Keys signing the zone\'s data right now (0: answers can no longer be signed once cached signatures expire)',
    labelNames: ['zone'],
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.reset();
      for (const z of signer.zoneList()) this.set({ zone: z.zone }, z.dataSigners.length);
    },
  });
  new Gauge({
    name: 'sluice_dns_dnssec_next_signature_expiry_timestamp_seconds',
    help: 'Earliest expiration among the signatures served since the last scrape (signatures are re-made once refresh_before is left, so this stays that far ahead unless signing fails)',
    labelNames: ['zone'],
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.reset();
      for (const [zone, t] of signer.takeServedExpiries(others)) this.set({ zone }, t);
    },
  });
  const keyGauge = (name: string, help: string, aggregator: 'max' | 'min', value: (k: { created?: number; inactive?: number }, now: number) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['zone', 'key_tag', 'role'],
      registers: [registry],
      aggregator,
      collect() {
        this.reset();
        const now = signer.now();
        for (const z of signer.zoneList()) {
          for (const k of z.keys) {
            const v = value({ created: k.timing.Created, inactive: k.timing.Inactive }, now);
            if (v === undefined) continue;
            this.set({ zone: z.zone, key_tag: String(k.tag), role: keyRole(k, z.keys) }, v);
          }
        }
      },
    });
  keyGauge('sluice_dns_dnssec_key_age_seconds', 'Seconds since the key was created (its Created time)', 'max', (k, now) => (k.created === undefined ? undefined : now - k.created));
  keyGauge('sluice_dns_dnssec_key_inactive_timestamp_seconds', 'When the key stops signing (its Inactive time; keys without one are not listed)', 'min', (k) => k.inactive);
}
